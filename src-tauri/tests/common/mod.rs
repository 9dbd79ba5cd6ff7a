//! The desktop app's test helpers; the real services every crate's tests share (SMTP server,
//! process groups, ports, mail readers) are in `latchkey-testkit`.
#![allow(dead_code)] // each test binary uses a different part

pub mod fixture;
pub mod ui;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::collections::HashMap;

use latchkey_lib::config::{Config, Security, SmtpSettings};
use latchkey_lib::mail::Mailer;
pub use latchkey_testkit::*;

type MockWindow = tauri::WebviewWindow<tauri::test::MockRuntime>;

/// One command through Tauri's IPC on the mock runtime, as the page sends it: `{request}`.
pub fn invoke(
    window: &MockWindow,
    cmd: &str,
    request: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    invoke_with_body(window, cmd, serde_json::json!({ "request": request }))
}

/// One command with the arguments given whole (to send what the page would not).
pub fn invoke_with_body(
    window: &MockWindow,
    cmd: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    let request = tauri::webview::InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    };
    tauri::test::get_ipc_response(window, request).map(|body| body.deserialize::<serde_json::Value>().unwrap())
}

/// A mailer for a test SMTP server: no login, the given host name and security.
pub fn smtp_mailer(host: &str, port: u16, security: Security) -> Mailer {
    let settings = SmtpSettings { host: host.into(), port, username: None, password: None, security };
    Mailer::smtp(&settings, "Latchkey <no-reply@latchkey.test>").unwrap()
}

/// `tests/support/smtp_fault.py`: a server that refuses the recipient or drops the connection
/// in the middle of the message.
pub struct FaultySmtp {
    pub port: u16,
    _process: Group,
}

impl FaultySmtp {
    pub fn start(mode: &str) -> FaultySmtp {
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_fault.py");
        let mut command = Command::new("/usr/bin/python3");
        command.arg(script).args([&port.to_string(), mode]).stdout(Stdio::null()).stderr(Stdio::null());
        let process = Group::spawn(&mut command);
        wait_for_port(port, "smtp_fault.py");
        FaultySmtp { port, _process: process }
    }
}

/// Every file below `dir`, for "no secret in plaintext" checks.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The tests that need the Secret Service run inside `scripts/with-test-services.sh`.
pub fn require_session_bus() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests through `make test` (scripts/with-test-services.sh)"
    );
}

/// A latchkey-server in this test's process, on `db`, mailing through `smtp_port` on loopback;
/// spawned on the runtime the caller runs on. Returns its base URL.
pub async fn start_server(smtp_port: u16, db: &TestDatabase) -> String {
    let port = free_port();
    let env: HashMap<&str, String> = HashMap::from([
        ("LATCHKEY_LISTEN", format!("127.0.0.1:{port}")),
        ("DATABASE_URL", db.url()),
        ("SMTP_HOST", "127.0.0.1".to_string()),
        ("SMTP_PORT", smtp_port.to_string()),
        ("SMTP_SECURITY", "none".to_string()),
    ]);
    let lookup = |key: &str| env.get(key).cloned();
    let settings = latchkey_server::Settings::from_parts(lookup, Config::from_lookup(lookup).unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(latchkey_server::open_and_serve(settings, listener, None, std::future::pending()));
    format!("http://127.0.0.1:{port}")
}
