//! Before Tauri's own build: assembles the one page that ships, `ui/dist/index.html`, from the
//! files under `ui/src/` (see `ui/src/index.html`). Each line `/* include NAME */` becomes the
//! text of `ui/src/NAME`, so the styles and the scripts arrive inline with the page: the first
//! screen waits for no further request, and Tauri's embedding step puts the hash of each inline
//! script and style of the result in the Content-Security-Policy.

use std::error::Error;
use std::fs;
use std::path::Path;

const SOURCE: &str = "../ui/src";
const DIST: &str = "../ui/dist";
/// Copied as they are.
const ASSETS: &[&str] = &["icon.png"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={SOURCE}");
    let (source, dist) = (Path::new(SOURCE), Path::new(DIST));
    let page = assemble(source, &fs::read_to_string(source.join("index.html"))?)?;
    fs::create_dir_all(dist)?;
    write_if_changed(&dist.join("index.html"), page.as_bytes())?;
    for asset in ASSETS {
        write_if_changed(&dist.join(asset), &fs::read(source.join(asset))?)?;
    }
    tauri_build::build();
    Ok(())
}

fn assemble(source: &Path, template: &str) -> Result<String, Box<dyn Error>> {
    let mut page = String::with_capacity(64 * 1024);
    for line in template.lines() {
        match line.trim().strip_prefix("/* include ").and_then(|rest| rest.strip_suffix(" */")) {
            Some(name) => {
                let text = fs::read_to_string(source.join(name)).map_err(|e| format!("ui/src/{name}: {e}"))?;
                page.push_str(text.trim_end());
            }
            None => page.push_str(line),
        }
        page.push('\n');
    }
    Ok(page)
}

/// Leaves an unchanged file's time alone, so Tauri does not embed the assets again for nothing.
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes)
}
