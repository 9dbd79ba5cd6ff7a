//! The `.deb` as people get it: install, start the installed binary, sign up with the outbox
//! default, relaunch still signed in, upgrade keeping the data, remove leaving nothing behind.
//! Run by `make test-dist` (it builds the package first): `LATCHKEY_DEB=... cargo test -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::{clear_keychain, kept_token, keychain_token, PASSWORD};
use common::ui::{Driver, Window};

const PACKAGE: &str = "latchkey";
const INSTALLED: &str = "/usr/bin/latchkey";

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn install(deb: &Path) {
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .arg(deb)
        .env("DEBIAN_FRONTEND", "noninteractive"));
}

fn installed_version() -> String {
    run(Command::new("dpkg-query").args(["-W", "-f=${Version}", PACKAGE]))
}

/// The same package with its version bumped: an upgrade as dpkg sees it, without a second release build.
fn bumped(deb: &Path, dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    let version = text.lines().find_map(|l| l.strip_prefix("Version: ")).unwrap().to_string();
    std::fs::write(&control, text.replace(&format!("Version: {version}"), &format!("Version: {version}+upgrade1")))
        .unwrap();
    let out = dir.join("latchkey-upgrade.deb");
    run(Command::new("dpkg-deb").args(["--root-owner-group", "-b"]).arg(&tree).arg(&out));
    out
}

/// The packages a `Depends` value names, and everything they depend on in turn (as installed here).
fn dependency_closure(depends: &str) -> std::collections::BTreeSet<String> {
    let names = |value: &str| -> Vec<String> {
        value
            .split([',', '|'])
            .filter_map(|d| d.split_whitespace().next())
            .map(|d| d.split(':').next().unwrap_or(d).to_string())
            .filter(|d| !d.is_empty())
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = names(depends);
    while let Some(package) = todo.pop() {
        if !seen.insert(package.clone()) {
            continue;
        }
        let out = Command::new("dpkg-query").args(["-W", "-f=${Depends},${Pre-Depends}", &package]).output().unwrap();
        todo.extend(names(&String::from_utf8_lossy(&out.stdout)));
    }
    seen
}

/// What dpkg-shlibdeps would check: each shared library the installed binary links against belongs
/// to a package that `Depends` pulls in, so installing the .deb on a bare system is enough to run it.
fn every_linked_library_is_a_declared_dependency(depends: &str) {
    let closure = dependency_closure(depends);
    let dynamic = run(Command::new("objdump").args(["-p", INSTALLED]));
    let needed: Vec<&str> = dynamic.lines().filter_map(|l| l.trim().strip_prefix("NEEDED")).map(str::trim).collect();
    assert!(needed.iter().any(|l| l.starts_with("libsqlite3")), "links the system SQLite: {needed:?}");
    let resolved = run(Command::new("ldd").arg(INSTALLED));
    for library in needed {
        let path = resolved
            .lines()
            .find_map(|l| l.trim().strip_prefix(library)?.trim().strip_prefix("=> ")?.split_whitespace().next())
            .unwrap_or_else(|| panic!("{library} does not resolve: {resolved}"));
        // dpkg records some libraries under /lib and some under /usr/lib (merged /usr): ask for each.
        let real = std::fs::canonicalize(path).unwrap().display().to_string();
        let candidates = [path.to_string(), real.clone(), real.replacen("/usr/lib/", "/lib/", 1)];
        let owner = candidates
            .iter()
            .find_map(|p| {
                let out = Command::new("dpkg").arg("-S").arg(p).env("LC_ALL", "C").output().ok()?;
                out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            })
            .unwrap_or_else(|| panic!("no package owns {library} ({candidates:?})"));
        let package = owner.split(':').next().unwrap().trim().to_string();
        assert!(
            closure.contains(&package),
            "{library} comes from {package}, which Depends ({depends}) does not pull in"
        );
    }
}

fn remove() {
    let _ =
        Command::new("apt-get").args(["purge", "-y", "-qq", PACKAGE]).env("DEBIAN_FRONTEND", "noninteractive").output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built .deb: run through `make test-dist`"]
async fn the_deb_installs_runs_upgrades_and_uninstalls_cleanly() {
    common::require_session_bus();
    let deb = PathBuf::from(std::env::var("LATCHKEY_DEB").expect("LATCHKEY_DEB: the .deb to test"));
    remove();
    clear_keychain();
    install(&deb);
    let files: Vec<PathBuf> = run(Command::new("dpkg").args(["-L", PACKAGE])).lines().map(PathBuf::from).collect();
    let installed_files = files.iter().filter(|f| f.is_file()).count();
    assert!(Path::new(INSTALLED).exists(), "the binary is installed");
    let desktop = files.iter().find(|f| f.extension().is_some_and(|e| e == "desktop")).expect("a desktop entry");
    let entry = std::fs::read_to_string(desktop).unwrap();
    assert!(
        entry.contains("Exec=latchkey") && entry.contains("Icon=latchkey") && entry.contains("Categories="),
        "{entry}"
    );
    let deps = run(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg("Depends"));
    assert!(
        deps.contains("libwebkit2gtk-4.1-0") && deps.contains("libgtk-3-0") && deps.contains("libdbus-1-3"),
        "{deps}"
    );
    every_linked_library_is_a_declared_dependency(&deps);

    // The user's data lives where the OS says (XDG), with no LATCHKEY_DATA_DIR and no SMTP: the defaults.
    let home = tempfile::tempdir().unwrap();
    let data_home = home.path().join("data");
    let data_dir = data_home.join("app.latchkey.desktop");
    let driver = Driver::start(&[
        ("XDG_DATA_HOME", data_home.display().to_string()),
        ("XDG_CONFIG_HOME", home.path().join("config").display().to_string()),
        ("SMTP_HOST", String::new()),
        ("LATCHKEY_DATA_DIR", String::new()),
    ]);
    let launch = || async { Window(driver.launch_binary(Path::new(INSTALLED)).await) };

    let w = launch().await;
    w.wait_screen("signup-screen").await;
    // The installed build under tauri-driver: a plain screenshot of a still screen comes back.
    w.plain_screenshot("the installed build's sign-up screen").await;
    w.fill_signup("packaged", "packaged@example.com", PASSWORD).await;
    w.click("signup-submit").await;
    w.wait_screen("verify-screen").await;
    w.plain_screenshot("the installed build's verify screen").await;
    let outbox = data_dir.join("outbox");
    let message = std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path();
    let code = common::code_in(&std::fs::read_to_string(message).unwrap());
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    w.plain_screenshot("the installed build's profile screen").await;
    kept_token(None).await;
    w.close().await;

    let w = launch().await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "packaged");
    w.close().await;

    // Upgrade: N+1 over N keeps the user's data and session.
    let work = tempfile::tempdir().unwrap();
    let before = installed_version();
    install(&bumped(&deb, work.path()));
    let after = installed_version();
    assert_ne!(before, after);
    let w = launch().await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "packaged");
    w.close().await;
    drop(driver);

    // Removal leaves nothing of the package; the user's data stays.
    remove();
    let still_known = Command::new("dpkg").args(["-s", PACKAGE]).output().unwrap().status.success();
    assert!(!still_known, "the package is gone from dpkg's database");
    let left: Vec<_> = files.iter().filter(|f| f.is_file() || f.is_symlink()).collect();
    assert!(left.is_empty(), "left on disk after removal: {left:?}");
    assert!(data_dir.join("latchkey.db").exists(), "the user's data survives removal");
    assert!(keychain_token().is_some(), "and so does the keychain entry");
    clear_keychain();
    println!(
        "figure: installer: {} installed {} files, upgrade {before} -> {after} kept the session, purge left 0 files",
        deb.file_name().unwrap().to_string_lossy(),
        installed_files
    );
}
