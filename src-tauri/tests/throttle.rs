//! Login throttling and the argon2 limit under load, through the command layer (Tauri's mock
//! runtime) on a real SQLite file. Its own test binary, so its peak memory is its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::WebviewWindow;

use latchkey_lib::auth::signup;
use latchkey_lib::config::{Config, DEFAULT_FROM};
use latchkey_lib::keychain::Keychain;
use latchkey_lib::mail::{Delivery, Mailer};
use latchkey_lib::App;

const T0: i64 = 1_900_000_000;

/// The process's peak resident memory so far (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

fn call(window: &WebviewWindow<MockRuntime>, cmd: &str, request: Value) -> Result<Value, Value> {
    common::invoke(window, cmd, request)
}

/// `n` logins at once, one thread each; returns how many were answered with each code.
fn storm(window: &Arc<WebviewWindow<MockRuntime>>, n: usize, identifier: impl Fn(usize) -> String) -> (usize, usize) {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (window, barrier, id) = (window.clone(), barrier.clone(), identifier(i));
            std::thread::spawn(move || {
                barrier.wait();
                call(&window, "login", json!({"identifier": id, "password": "wrong horse battery"}))
            })
        })
        .collect();
    let (mut wrong, mut throttled) = (0, 0);
    for t in threads {
        let e = t.join().unwrap().expect_err("no wrong password may sign in");
        match e["code"].as_str() {
            Some("invalid_credentials") => wrong += 1,
            Some("login_throttled") => throttled += 1,
            other => panic!("unexpected {other:?}: {e}"),
        }
    }
    (wrong, throttled)
}

#[test]
fn two_hundred_concurrent_wrong_logins_check_five_passwords_and_argon2_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_lookup(|_| None).unwrap();
    let state = tauri::async_runtime::block_on(App::open(
        &config,
        dir.path(),
        Keychain::new("latchkey-test", "throttle-storm"),
        Arc::new(|| T0),
    ))
    .unwrap();
    let app = latchkey_lib::builder(mock_builder()).manage(state).build(mock_context(noop_assets())).unwrap();
    let window = Arc::new(tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap());
    // One account, made through the domain on the same database file.
    tauri::async_runtime::block_on(async {
        let pool = latchkey_lib::store::open(&dir.path().join("latchkey.db")).await.unwrap();
        let outbox = Mailer::outbox(&dir.path().join("outbox"), DEFAULT_FROM).unwrap();
        let req = signup::SignupRequest {
            username: "storm",
            email: "storm@example.com",
            password: "correct horse battery",
            replaces: None,
        };
        let sent = signup::request_code(&pool, &outbox, req, latchkey_lib::auth::THIS_WINDOW, T0).await.unwrap();
        let Delivery::Outbox { path } = &sent.delivery else { panic!("outbox expected") };
        let code = common::code_in(&std::fs::read_to_string(path).unwrap());
        signup::verify(
            &pool,
            &outbox,
            sent.signup_id(),
            &code,
            latchkey_lib::auth::Device { label: "Test desktop", ip: None },
            T0,
        )
        .await
        .unwrap();
    });

    // One account under attack by its username and its email at once.
    let (checked, throttled) =
        storm(&window, 200, |i| if i % 2 == 0 { "storm".into() } else { "STORM@example.com".into() });
    println!(
        "figure: throttle: 200 concurrent wrong logins for one account (by username and email) -> {checked} password checks, {throttled} refused as login_throttled"
    );
    assert_eq!((checked, throttled), (5, 195));

    // 200 different unknown names: each may be checked, so every one costs argon2's 19 MiB; the
    // limit lets only about as many run at once as there are cores.
    let before = peak_rss_mib();
    let (checked, _) = storm(&window, 200, |i| format!("nobody{i}"));
    let after = peak_rss_mib();
    let cores = std::thread::available_parallelism().unwrap().get();
    println!(
        "figure: argon2 limit: 200 concurrent wrong logins for 200 names -> {checked} checks, at most {cores} at once; peak resident memory {before:.0} -> {after:.0} MiB (+{:.0} MiB; 200 at once would need {} MiB)",
        after - before,
        200 * 19
    );
    assert_eq!(checked, 200);
    assert!(after - before < (cores as f64 + 8.0) * 19.0, "peak grew by {:.0} MiB", after - before);
}
