//! Hardening seen from the window: secrets never reach the logs, the webview is locked down, and
//! start-up faults give a clear error screen instead of a crash.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::{kept_token, Fixture, PASSWORD};
use common::{contains_bytes, files_below};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_at_trace_level_leaves_no_secret_in_logs_or_files() {
    let f = Fixture::with_env(&[("RUST_LOG", "trace".into())]);
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    let code = f.request_code(&w, "sam_secret", "sam.secret@example.com").await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    w.fill("verify-code", &wrong).await;
    w.click("verify-submit").await;
    w.wait_message("invalid_code").await;
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    let first_token = kept_token(None).await;
    w.close().await;
    let w = f.launch().await;
    w.wait_screen("profile-screen").await;
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.fill("login-username", "sam_secret").await;
    w.fill("login-password", PASSWORD).await;
    w.click("login-submit").await;
    w.wait_screen("profile-screen").await;
    let second_token = kept_token(None).await;
    w.close().await;

    let log = std::fs::read(&f.log).unwrap();
    assert!(contains_bytes(&log, b"latchkey_lib"), "the app's own log lines are in the captured output");
    let secrets = [PASSWORD, code.as_str(), wrong.as_str(), first_token.as_str(), second_token.as_str()];
    let files = files_below(f.data.path());
    let mut found = vec![];
    for (name, bytes) in std::iter::once(("the log".to_string(), log.clone()))
        .chain(files.iter().map(|file| (file.display().to_string(), std::fs::read(file).unwrap())))
    {
        found.extend(secrets.iter().filter(|secret| contains_bytes(&bytes, secret.as_bytes())).map(|_| name.clone()));
    }
    println!(
        "figure: secrets: {} log bytes at trace level and {} data files scanned for {} secrets: {} found",
        log.len(),
        files.len(),
        secrets.len(),
        found.len()
    );
    assert!(found.is_empty(), "secrets found in: {found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webview_refuses_inline_script_eval_remote_fetches_and_foreign_commands() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    let probe = r#"
        const done = arguments[arguments.length - 1];
        (async () => {
            const violations = [];
            document.addEventListener('securitypolicyviolation', e => violations.push(e.effectiveDirective || e.violatedDirective));
            const s = document.createElement('script');
            s.textContent = 'window.__inlineRan = true;';
            document.head.appendChild(s);
            let evalResult;
            try { window.eval('window.__evalRan = true'); evalResult = window.__evalRan ? 'ran' : 'no effect'; }
            catch (e) { evalResult = 'blocked: ' + e.name; }
            let fnResult;
            try { new Function('return 1')(); fnResult = 'ran'; } catch (e) { fnResult = 'blocked: ' + e.name; }
            let fetchResult;
            try { await fetch('https://example.com/'); fetchResult = 'fetched'; } catch (e) { fetchResult = 'blocked: ' + e.name; }
            let plugin;
            try { await window.__TAURI_INTERNALS__.invoke('plugin:app|version'); plugin = 'allowed'; } catch (e) { plugin = String(e); }
            let own;
            try { own = (await window.__TAURI_INTERNALS__.invoke('startup', {})).success; } catch (e) { own = String(e); }
            setTimeout(() => done({ inline: !!window.__inlineRan, evalResult, fnResult, fetchResult, plugin, own, violations }), 300);
        })();
    "#;
    let result = w.0.execute_async(probe, vec![]).await.unwrap();
    println!("figure: webview: {result}");
    assert_eq!(result["inline"], false, "inline script ran: {result}");
    assert!(result["evalResult"].as_str().unwrap().starts_with("blocked"), "{result}");
    assert!(result["fnResult"].as_str().unwrap().starts_with("blocked"), "{result}");
    assert!(result["fetchResult"].as_str().unwrap().starts_with("blocked"), "{result}");
    let violations = result["violations"].to_string();
    assert!(violations.contains("script-src"), "{violations}");
    assert!(violations.contains("connect-src"), "{violations}");
    assert!(result["plugin"].as_str().unwrap().contains("not allowed"), "{result}");
    assert_eq!(result["own"], true, "the app's own commands still work: {result}");
    w.close().await;
}

fn is_root() -> bool {
    // `id -u` rather than another nix feature.
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// A small tmpfs, owner-only like a data folder, unmounted on drop. Needs root (CI runs as root).
struct Tmpfs {
    point: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when this machine will not mount one (not root, or no tmpfs).
    fn try_mount(options: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let point = dir.path().join("mnt");
        std::fs::create_dir(&point).unwrap();
        let options = format!("{options},mode=0700");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "latchkey-test"])
            .arg(&point)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { point, _dir: dir })
    }

    fn mount(options: &str) -> Tmpfs {
        Tmpfs::try_mount(options).unwrap_or_else(|| panic!("mount -t tmpfs -o {options} failed"))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.point).status();
    }
}

/// Starts the app on `data_dir`, expects the error screen, returns its sentence.
async fn startup_error(data_dir: &Path, shot: Option<&str>) -> String {
    let f = Fixture::with_env(&[("LATCHKEY_DATA_DIR", data_dir.display().to_string())]);
    let w = f.launch().await;
    w.wait_screen("error-screen").await;
    let detail = w.wait_message("startup_failed").await;
    assert!(w.text("error-title").await.contains("could not start"));
    if let Some(name) = shot {
        w.axe("start-up error").await;
        w.screenshot(name).await;
    }
    w.close().await;
    detail
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_gives_an_error_screen_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("latchkey.db");
    let garbage: Vec<u8> = (0..16_384u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let detail = startup_error(dir.path(), Some("error-startup")).await;
    assert!(detail.contains("damaged") && detail.contains("left untouched"), "{detail}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the damaged file is not overwritten");
    println!("figure: start-up faults: damaged database -> error screen, file unchanged ({} bytes)", garbage.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_or_missing_data_folder_gives_an_error_screen() {
    let (_mount, read_only) = if is_root() {
        let m = Tmpfs::mount("ro,size=1m");
        let p = m.point.clone();
        (Some(m), p)
    } else {
        let d = tempfile::tempdir().unwrap().keep();
        let mut perms = std::fs::metadata(&d).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
        std::fs::set_permissions(&d, perms).unwrap();
        (None, d)
    };
    let detail = startup_error(&read_only, None).await;
    assert!(detail.contains("cannot write to its data folder"), "{detail}");
    // Missing, and impossible to create there.
    let detail = startup_error(&read_only.join("missing/deeper"), None).await;
    assert!(detail.contains("cannot write to its data folder"), "{detail}");
    println!("figure: start-up faults: read-only and missing data folders -> error screen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_an_error_screen() {
    let Some(disk) = Tmpfs::try_mount("size=256k") else {
        println!("figure: start-up faults: full disk not tested (this machine will not mount a small tmpfs)");
        return;
    };
    // Fill it to the last byte.
    let filler = disk.point.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k", "count=1000"])
        .arg(format!("of={}", filler.display()))
        .output();
    let detail = startup_error(&disk.point, None).await;
    assert!(detail.contains("is full"), "the disk-full sentence, not just 'cannot write': {detail}");
    println!("figure: start-up faults: full disk -> error screen: {detail}");
}
