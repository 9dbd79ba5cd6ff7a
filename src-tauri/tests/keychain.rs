//! The session token in the real Secret Service (gnome-keyring on a private D-Bus session), and
//! that it goes only to the server that issued it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use latchkey_lib::auth::secret::Token;
use latchkey_lib::config::Config;
use latchkey_lib::keychain::Keychain;
use latchkey_lib::App;
use serde_json::{json, Value};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{Manager, WebviewWindow};

fn secret_tool_lookup(service: &str, account: &str) -> Option<String> {
    let out = Command::new("secret-tool").args(["lookup", "service", service, "username", account]).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

/// The token an entry holds, and the server it names (`None`: this data folder's own accounts).
fn record_in(service: &str, account: &str) -> Option<(String, Option<String>)> {
    let record: Value = serde_json::from_str(&secret_tool_lookup(service, account)?).unwrap();
    Some((record["token"].as_str().unwrap().to_string(), record["server"].as_str().map(str::to_string)))
}

#[tokio::test]
async fn token_round_trips_through_the_secret_service_and_is_really_stored() {
    common::require_session_bus();
    let keychain = Keychain::new("latchkey-test", "round-trip");
    keychain.clear().await.unwrap();
    assert!(keychain.load().await.unwrap().is_none());

    let token = Token::generate().unwrap();
    keychain.store(&token).await.unwrap();
    // A second, independent client (libsecret's secret-tool) sees it: not an in-memory mock. The
    // entry names no server: the session is this data folder's own.
    assert_eq!(record_in("latchkey-test", "round-trip"), Some((token.expose().to_string(), None)));
    // A fresh handle reads it back.
    let again = Keychain::new("latchkey-test", "round-trip").load().await.unwrap();
    assert_eq!(again.as_ref().map(Token::expose), Some(token.expose()));

    keychain.clear().await.unwrap();
    assert!(secret_tool_lookup("latchkey-test", "round-trip").is_none());
    assert!(keychain.load().await.unwrap().is_none());
    // Clearing twice is fine.
    keychain.clear().await.unwrap();
}

#[tokio::test]
async fn a_new_token_replaces_the_old_one() {
    common::require_session_bus();
    let keychain = Keychain::new("latchkey-test", "replace");
    let (first, second) = (Token::generate().unwrap(), Token::generate().unwrap());
    keychain.store(&first).await.unwrap();
    keychain.store(&second).await.unwrap();
    assert_eq!(record_in("latchkey-test", "replace"), Some((second.expose().to_string(), None)));
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "latchkey-test", "username", "replace"])
        .output()
        .unwrap();
    let items = String::from_utf8_lossy(&out.stdout).matches("[/").count()
        + String::from_utf8_lossy(&out.stderr).matches("[/").count();
    assert_eq!(items, 1, "exactly one keychain item");
    keychain.clear().await.unwrap();
}

// ---- A session goes only to the server that issued it ----

const SERVICE: &str = "latchkey-test";
const PASSWORD: &str = "correct horse battery";

/// A server on loopback that records the head of every request it gets. It answers a login with
/// a session for its own token, who-am-i with a profile for that token, a logout as done, and
/// anything else as not signed in.
struct Recorder {
    url: String,
    token: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(token: &str) -> Recorder {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (seen, own) = (heads.clone(), token.to_string());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut raw = Vec::new();
                let mut chunk = [0u8; 4096];
                let head = loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    raw.extend_from_slice(&chunk[..n]);
                    if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        break String::from_utf8_lossy(&raw[..end]).to_string();
                    }
                    if n == 0 {
                        break String::from_utf8_lossy(&raw).to_string();
                    }
                };
                seen.lock().unwrap().push(head.clone());
                let profile = json!({"username": "ann", "email": "ann@example.com", "is_active": true,
                                     "is_admin": false, "date_joined": 1, "session_expires_at": 4_000_000_000_i64});
                let (status, body) = if head.starts_with("POST /users/login/") {
                    (
                        "200 OK",
                        json!({"success": true, "detail": "Signed in as ann.", "token": own, "profile": profile}),
                    )
                } else if head.starts_with("POST /users/logout/") {
                    ("200 OK", json!({"success": true, "detail": "You have signed out."}))
                } else if head.starts_with("GET /users/who_am_i/") && head.contains(&format!("Bearer {own}")) {
                    let mut reply = profile.clone();
                    reply["success"] = json!(true);
                    reply["detail"] = json!("Signed in as ann.");
                    ("200 OK", reply)
                } else {
                    let body = json!({"success": false, "code": "not_authenticated", "detail": "Please sign in."});
                    ("401 Unauthorized", body)
                };
                let body = body.to_string();
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Recorder { url, token: token.to_string(), heads }
    }

    fn requests(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// Every Authorization header this server was sent.
    fn authorizations(&self) -> Vec<String> {
        let requests = self.requests();
        requests
            .iter()
            .flat_map(|head| head.split("\r\n"))
            .filter(|line| line.to_ascii_lowercase().starts_with("authorization:"))
            .map(str::to_string)
            .collect()
    }
}

/// The desktop app on `data` through Tauri's mock runtime, with this keychain account, pointed
/// at `server` (or keeping its accounts in the data folder).
struct Desktop {
    app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
}

impl Desktop {
    fn open(data: &Path, account: &str, server: Option<&str>) -> Desktop {
        let env: HashMap<&str, String> =
            server.map(|url| ("LATCHKEY_SERVER_URL", url.to_string())).into_iter().collect();
        let config = Config::from_lookup(|key| env.get(key).cloned()).unwrap();
        let keychain = Keychain::new(SERVICE, account);
        let clock = latchkey_lib::state::system_clock();
        let state = tauri::async_runtime::block_on(App::open(&config, data, keychain, clock)).unwrap();
        let app = latchkey_lib::builder(mock_builder()).manage(state).build(mock_context(noop_assets())).unwrap();
        let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
        Desktop { app, window }
    }

    fn call(&self, cmd: &str, request: Value) -> Result<Value, Value> {
        common::invoke(&self.window, cmd, request)
    }

    fn screen(&self) -> String {
        self.call("startup", json!({})).unwrap()["screen"].as_str().unwrap().to_string()
    }

    /// Whether the keychain kept the session of the last sign-in (its write finishes after the
    /// answer).
    fn remembered(&self) -> bool {
        self.call("session_remembered", json!({})).unwrap()["remembered"].as_bool().unwrap()
    }

    fn token(&self) -> Option<Token> {
        self.remembered();
        tauri::async_runtime::block_on(self.app.state::<App>().keychain().load()).unwrap()
    }
}

/// The keychain account of the data folder `data` (its database's install id in the name).
fn account_of(data: &Path, account: &str) -> String {
    tauri::async_runtime::block_on(async {
        let pool = latchkey_lib::store::open(&data.join("latchkey.db")).await.unwrap();
        let id = latchkey_lib::store::meta::install_id(&pool).await.unwrap();
        pool.close().await;
        format!("{account}-{id}")
    })
}

#[test]
fn a_session_from_one_server_is_never_sent_to_another() {
    common::require_session_bus();
    let smtp = common::SmtpServer::start();
    let server_db = latchkey_testkit::TestDatabase::sqlite();
    let server_a = tauri::async_runtime::block_on(common::start_server(smtp.port, &server_db));
    let data = tempfile::tempdir().unwrap();

    // Signed up and signed in on server A.
    let on_a = Desktop::open(data.path(), "two-servers", Some(&server_a));
    assert_eq!(on_a.screen(), "login");
    let sent =
        on_a.call("request_signup", json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD}));
    let code = common::code_in(&smtp.wait_for_message(1));
    on_a.call("verify_signup", json!({"signup_id": sent.unwrap()["signup_id"], "code": code})).unwrap();
    let token_a = on_a.token().expect("A's session is in the keychain");
    assert_eq!(on_a.screen(), "profile");
    drop(on_a);

    // The same data folder, now pointed at server B: A's token is not sent there, and is gone.
    let server_b = Recorder::start("token-of-b");
    let on_b = Desktop::open(data.path(), "two-servers", Some(&server_b.url));
    assert_eq!(on_b.screen(), "login");
    assert_eq!(on_b.call("whoami", json!({})).unwrap_err()["code"], "not_authenticated");
    let sent_to_b = server_b.authorizations();
    assert!(sent_to_b.iter().all(|h| !h.contains(token_a.expose())), "A's token went to B: {sent_to_b:?}");
    assert!(secret_tool_lookup(SERVICE, &account_of(data.path(), "two-servers")).is_none(), "the entry is gone");

    // Signing in on B keeps B's session, named after B, which B (and only B) is then sent.
    on_b.call("login", json!({"identifier": "ann", "password": PASSWORD})).unwrap();
    assert!(on_b.remembered());
    let entry = record_in(SERVICE, &account_of(data.path(), "two-servers"));
    assert_eq!(entry, Some((server_b.token.clone(), Some(server_b.url.clone()))));
    drop(on_b);
    let again = Desktop::open(data.path(), "two-servers", Some(&server_b.url));
    assert_eq!(again.screen(), "profile");
    assert_eq!(server_b.authorizations(), [format!("Authorization: Bearer {}", server_b.token)]);
    assert!(server_b.requests().iter().all(|head| !head.contains(token_a.expose())));
    again.call("logout", json!({})).unwrap();
}

#[test]
fn a_local_session_is_never_sent_to_a_server() {
    common::require_session_bus();
    let data = tempfile::tempdir().unwrap();
    let server = Recorder::start("token-of-the-server");

    // Signed in in the data folder's own accounts (outbox mail), then pointed at a server.
    let local = Desktop::open(data.path(), "local-then-server", None);
    let sent = local
        .call("request_signup", json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD}))
        .unwrap();
    let code = common::code_in(&std::fs::read_to_string(sent["delivery"]["path"].as_str().unwrap()).unwrap());
    local.call("verify_signup", json!({"signup_id": sent["signup_id"], "code": code})).unwrap();
    let local_token = local.token().unwrap();
    drop(local);
    let remote = Desktop::open(data.path(), "local-then-server", Some(&server.url));
    assert_eq!(remote.screen(), "login");
    assert_eq!(remote.call("whoami", json!({})).unwrap_err()["code"], "not_authenticated");
    assert!(server.requests().iter().all(|head| !head.contains(local_token.expose())), "{:?}", server.requests());
    let account = account_of(data.path(), "local-then-server");
    assert!(secret_tool_lookup(SERVICE, &account).is_none(), "the local session's entry is gone");
}

#[test]
fn an_entry_from_before_entries_named_their_server_is_never_sent() {
    common::require_session_bus();
    let data = tempfile::tempdir().unwrap();
    let server = Recorder::start("token-of-the-server");
    drop(Desktop::open(data.path(), "legacy-entry", Some(&server.url))); // makes the data folder
    let account = account_of(data.path(), "legacy-entry");

    // What the previous version wrote in client mode: the token alone.
    let legacy = "a-token-from-before-entries-named-their-server";
    keyring::Entry::new(SERVICE, &account).unwrap().set_password(legacy).unwrap();
    let desktop = Desktop::open(data.path(), "legacy-entry", Some(&server.url));
    assert_eq!(desktop.screen(), "login");
    assert_eq!(desktop.call("whoami", json!({})).unwrap_err()["code"], "not_authenticated");
    assert!(server.requests().iter().all(|head| !head.contains(legacy)), "{:?}", server.requests());
    assert!(server.authorizations().is_empty(), "{:?}", server.authorizations());
    assert!(secret_tool_lookup(SERVICE, &account).is_none(), "the old entry is deleted");
}

#[test]
fn an_entry_from_before_is_still_read_by_the_data_folder_that_wrote_it() {
    // Without a server nothing leaves the computer: a local session in the old format is checked
    // against this data folder's database only, so upgrading signs nobody out.
    common::require_session_bus();
    let data = tempfile::tempdir().unwrap();
    let local = Desktop::open(data.path(), "local-legacy", None);
    let sent = local
        .call("request_signup", json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD}))
        .unwrap();
    let code = common::code_in(&std::fs::read_to_string(sent["delivery"]["path"].as_str().unwrap()).unwrap());
    local.call("verify_signup", json!({"signup_id": sent["signup_id"], "code": code})).unwrap();
    let token = local.token().unwrap();
    drop(local);
    let account = account_of(data.path(), "local-legacy");
    keyring::Entry::new(SERVICE, &account).unwrap().set_password(token.expose()).unwrap();
    let again = Desktop::open(data.path(), "local-legacy", None);
    assert_eq!(again.screen(), "profile");
    again.call("logout", json!({})).unwrap();
    assert!(secret_tool_lookup(SERVICE, &account).is_none());
}
