//! Every command through Tauri's mock runtime: the success and error shapes the UI relies on.
//! Real SQLite file, real outbox files, real Secret Service; the clock is injected.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{Manager, WebviewWindow};

use latchkey_lib::config::Config;
use latchkey_lib::keychain::Keychain;
use latchkey_lib::App;

const T0: i64 = 1_900_000_000;

struct Harness {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    clock: Arc<AtomicI64>,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new(account: &str) -> Harness {
        common::require_session_bus();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(AtomicI64::new(T0));
        let config = Config::from_lookup(|_| None).unwrap();
        let keychain = Keychain::new("latchkey-test", account);
        tauri::async_runtime::block_on(keychain.clear()).unwrap();
        let tick = clock.clone();
        let state = tauri::async_runtime::block_on(App::open(
            &config,
            dir.path(),
            keychain,
            Arc::new(move || tick.load(Ordering::SeqCst)),
        ))
        .unwrap();
        let app = latchkey_lib::builder(mock_builder()).manage(state).build(mock_context(noop_assets())).unwrap();
        let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
        Harness { _app: app, window, clock, dir }
    }

    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        common::invoke_with_body(&self.window, cmd, args)
    }

    fn ok(&self, cmd: &str, request: Value) -> Value {
        let reply = self.call(cmd, json!({ "request": request })).unwrap_or_else(|e| panic!("{cmd} failed: {e}"));
        assert_eq!(reply["success"], true, "{reply}");
        assert!(reply["detail"].is_string());
        reply
    }

    fn err(&self, cmd: &str, request: Value) -> Value {
        let error = self.call(cmd, json!({ "request": request })).expect_err("expected an error");
        assert_eq!(error["success"], false, "{error}");
        assert!(error["code"].is_string() && error["detail"].as_str().is_some_and(|d| !d.is_empty()), "{error}");
        error
    }

    /// This data folder's own keychain entry (its name carries the database's install id).
    fn keychain(&self) -> Keychain {
        self._app.state::<App>().keychain().clone()
    }

    /// Whether the keychain kept the last sign-in's session, once its write (after the answer)
    /// is done: what the page asks next.
    fn remembered(&self) -> bool {
        let reply = self.call("session_remembered", json!({})).unwrap();
        assert_eq!(reply["success"], true, "{reply}");
        reply["remembered"].as_bool().unwrap()
    }

    fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    fn code_from(&self, reply: &Value) -> String {
        assert_eq!(reply["delivery"]["mode"], "outbox");
        let path = reply["delivery"]["path"].as_str().unwrap();
        assert!(path.starts_with(self.dir.path().to_str().unwrap()));
        common::code_in(&std::fs::read_to_string(path).unwrap())
    }

    fn sign_up(&self, username: &str, email: &str) -> Value {
        let sent = self
            .ok("request_signup", json!({"username": username, "email": email, "password": "correct horse battery"}));
        let code = self.code_from(&sent);
        let verified = self.ok("verify_signup", json!({"signup_id": sent["signup_id"], "code": code}));
        assert!(self.remembered());
        verified
    }
}

fn other(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[test]
fn startup_opens_on_signup_when_there_are_no_accounts() {
    let h = Harness::new("cmd-startup");
    let reply = h.call("startup", json!({})).unwrap();
    assert_eq!(reply["success"], true);
    assert_eq!(reply["screen"], "signup");
    assert!(reply["profile"].is_null());
}

#[test]
fn signup_verify_whoami_logout_login_round_trip() {
    let h = Harness::new("cmd-round-trip");
    let sent = h.ok(
        "request_signup",
        json!({"username": "Ann", "email": "ann@example.com", "password": "correct horse battery"}),
    );
    assert_eq!(sent["email"], "ann@example.com");
    assert_eq!(sent["resend_at"], T0 + 60);
    assert_eq!(sent["expires_at"], T0 + 600);
    assert!(sent["detail"].as_str().unwrap().contains("Mail delivery is not set up"));
    let code = h.code_from(&sent);
    assert!(!sent.to_string().contains(&code), "the code never reaches the UI");

    let verified = h.ok("verify_signup", json!({"signup_id": sent["signup_id"], "code": code}));
    assert!(verified.get("remembered").is_none(), "the keychain's answer comes after: {verified}");
    assert!(h.remembered());
    assert_eq!(verified["profile"]["username"], "Ann");
    assert_eq!(verified["profile"]["is_active"], true);
    assert_eq!(verified["profile"]["is_admin"], false);
    assert_eq!(verified["profile"]["date_joined"], T0);
    assert_eq!(verified["profile"]["session_expires_at"], T0 + 30 * 86_400);
    assert!(verified["profile"].get("password_hash").is_none());

    let me = h.call("whoami", json!({})).unwrap();
    assert_eq!((me["success"].clone(), me["email"].clone()), (json!(true), json!("ann@example.com")));

    let out = h.call("logout", json!({})).unwrap();
    assert_eq!(out["success"], true);
    let gone = h.call("whoami", json!({})).unwrap_err();
    assert_eq!(gone["code"], "not_authenticated");
    assert_eq!(h.call("startup", json!({})).unwrap()["screen"], "login");

    let back = h.ok("login", json!({"identifier": "ANN@example.com", "password": "correct horse battery"}));
    assert_eq!(back["profile"]["username"], "Ann");
    assert_eq!(h.call("startup", json!({})).unwrap()["screen"], "profile");
    h.call("logout", json!({})).unwrap();
}

#[test]
fn error_codes_and_shapes() {
    let h = Harness::new("cmd-errors");
    let e = h.err(
        "request_signup",
        json!({"username": "a", "email": "ann@example.com", "password": "correct horse battery"}),
    );
    assert_eq!((e["code"].clone(), e["field"].clone()), (json!("invalid_input"), json!("username")));
    let e = h.err("request_signup", json!({"username": "ann", "email": 5, "password": "correct horse battery"}));
    assert_eq!((e["code"].clone(), e["field"].clone()), (json!("invalid_input"), json!("email")));
    let e = h.call("request_signup", json!({})).unwrap_err();
    assert_eq!((e["code"].clone(), e["field"].clone()), (json!("invalid_input"), json!("request")));
    let e = h.call("request_signup", json!({"request": "not an object"})).unwrap_err();
    assert_eq!(e["code"], "invalid_input");

    assert_eq!(
        h.err("verify_signup", json!({"signup_id": "not-a-sign-up-id", "code": "123456"}))["code"],
        "no_pending_signup"
    );
    assert_eq!(h.err("resend_code", json!({"signup_id": "not-a-sign-up-id"}))["code"], "no_pending_signup");
    assert_eq!(h.err("verify_signup", json!({"email": "ann@example.com", "code": "123456"}))["field"], "signup_id");

    let sent = h.ok(
        "request_signup",
        json!({"username": "ann", "email": "ann@example.com", "password": "correct horse battery"}),
    );
    let code = h.code_from(&sent);
    let e = h.err("resend_code", json!({"signup_id": sent["signup_id"]}));
    assert_eq!((e["code"].clone(), e["retry_after"].clone()), (json!("resend_too_soon"), json!(60)));
    let e = h.err("verify_signup", json!({"signup_id": sent["signup_id"], "code": other(&code)}));
    assert_eq!((e["code"].clone(), e["attempts_left"].clone()), (json!("invalid_code"), json!(4)));
    assert!(e["detail"].as_str().unwrap().contains("4 attempts left"));
    for _ in 0..3 {
        h.err("verify_signup", json!({"signup_id": sent["signup_id"], "code": other(&code)}));
    }
    assert_eq!(
        h.err("verify_signup", json!({"signup_id": sent["signup_id"], "code": other(&code)}))["code"],
        "too_many_attempts"
    );
    assert_eq!(
        h.err("verify_signup", json!({"signup_id": sent["signup_id"], "code": code}))["code"],
        "no_pending_signup"
    );

    h.advance(60); // one code mail a minute per address
    let sent = h.ok(
        "request_signup",
        json!({"username": "ann", "email": "ann@example.com", "password": "correct horse battery"}),
    );
    h.advance(600);
    let e = h.err("verify_signup", json!({"signup_id": sent["signup_id"], "code": h.code_from(&sent)}));
    assert_eq!(e["code"], "code_expired");

    h.sign_up("bob", "bob@example.com");
    let taken = |u: &str, m: &str| {
        h.err("request_signup", json!({"username": u, "email": m, "password": "correct horse battery"}))["code"].clone()
    };
    assert_eq!(taken("BOB", "x@example.com"), "username_taken");
    // An address is never said to have an account: the code step, as for a new one.
    h.advance(60);
    let quiet = h.ok(
        "request_signup",
        json!({"username": "bobby", "email": "Bob@Example.com", "password": "correct horse battery"}),
    );
    assert!(quiet["signup_id"].is_string(), "{quiet}");

    let wrong = h.err("login", json!({"identifier": "bob", "password": "wrong horse battery"}));
    let unknown = h.err("login", json!({"identifier": "nobody", "password": "wrong horse battery"}));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
    h.call("logout", json!({})).unwrap();
}

#[test]
fn input_rules_answer_on_their_fields_and_never_as_mail_failures() {
    let h = Harness::new("cmd-input");
    let signup = |u: &str, m: &str, p: &str| h.err("request_signup", json!({"username": u, "email": m, "password": p}));
    let on = |e: Value| (e["code"].as_str().unwrap().to_string(), e["field"].as_str().unwrap_or("").to_string());
    let field = |f: &str| ("invalid_input".to_string(), f.to_string());
    // 63 letters is a valid label, but too long for DNS once encoded: the form says so, not the mail.
    let too_long = format!("ann@{}.io", "\u{fc}".repeat(63));
    assert_eq!(on(signup("ann", &too_long, "correct horse battery")), field("email"));
    // A Cyrillic "а" in a Latin name.
    assert_eq!(on(signup("\u{430}nn", "ann@example.com", "correct horse battery")), field("username"));
    assert_eq!(on(signup("ann", "ann@example.com", "asdfghqwerty")), field("password"));
    // All-Cyrillic "асе" is one script, but it looks like the account "ace".
    h.sign_up("ace", "ace@example.com");
    assert_eq!(signup("\u{430}\u{441}\u{435}", "new@example.com", "correct horse battery")["code"], "username_taken");
}

#[test]
fn expired_session_opens_on_login_and_is_forgotten() {
    let h = Harness::new("cmd-expiry");
    h.sign_up("ann", "ann@example.com");
    h.advance(30 * 86_400 - 1);
    assert_eq!(h.call("startup", json!({})).unwrap()["screen"], "profile");
    h.advance(1);
    assert_eq!(h.call("startup", json!({})).unwrap()["screen"], "login");
    assert_eq!(h.call("whoami", json!({})).unwrap_err()["code"], "not_authenticated");
    let stored = tauri::async_runtime::block_on(h.keychain().load()).unwrap();
    assert!(stored.is_none(), "the keychain entry is removed with the expired session");
}

#[test]
fn no_secret_is_stored_in_plaintext() {
    let h = Harness::new("cmd-plaintext");
    let sent = h.ok(
        "request_signup",
        json!({"username": "ann", "email": "ann@example.com", "password": "correct horse battery"}),
    );
    let code = h.code_from(&sent);
    h.ok("verify_signup", json!({"signup_id": sent["signup_id"], "code": code}));
    assert!(h.remembered());
    let token = tauri::async_runtime::block_on(h.keychain().load()).unwrap().unwrap();
    for file in common::files_below(h.dir.path()) {
        if file.starts_with(h.dir.path().join("outbox")) {
            continue; // the outgoing message itself carries the code, by design
        }
        let bytes = std::fs::read(&file).unwrap();
        for secret in ["correct horse battery", code.as_str(), token.expose()] {
            assert!(!common::contains_bytes(&bytes, secret.as_bytes()), "{} holds a secret", file.display());
        }
    }
    h.call("logout", json!({})).unwrap();
}

/// The newest file in the outbox folder a reset reply names (the reply itself names no file).
fn newest_in(folder: &str) -> String {
    let mut files: Vec<_> = std::fs::read_dir(folder).unwrap().flatten().map(|e| e.path()).collect();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    std::fs::read_to_string(files.last().unwrap()).unwrap()
}

#[test]
fn the_account_life_commands_answer_in_the_documented_shapes() {
    let h = Harness::new("cmd-account-life");
    h.sign_up("Ann", "ann@example.com");
    let keychain = h.keychain();
    let token = |k: &Keychain| tauri::async_runtime::block_on(k.load()).unwrap().map(|t| t.expose().to_string());
    let first = token(&keychain).unwrap();

    // Change password: a fresh token replaces the old one in the keychain.
    let e =
        h.err("change_password", json!({"current_password": "nope nope nope", "new_password": "violet tundra marble"}));
    assert_eq!(e["code"], "wrong_password");
    let e = h.err("change_password", json!({"current_password": "correct horse battery"}));
    assert_eq!((e["code"].as_str(), e["field"].as_str()), (Some("invalid_input"), Some("new_password")));
    let changed = h.ok(
        "change_password",
        json!({"current_password": "correct horse battery", "new_password": "violet tundra marble"}),
    );
    assert_eq!((changed["profile"]["username"].as_str(), changed["notice_sent"].as_bool()), (Some("Ann"), Some(true)));
    assert!(h.remembered());
    let second = token(&keychain).unwrap();
    assert_ne!(first, second);

    // Change email: pending on the profile, then confirmed by code.
    h.advance(1);
    let e = h.err("request_email_change", json!({"password": "violet tundra marble", "new_email": "nope"}));
    assert_eq!(e["field"], "new_email");
    let started =
        h.ok("request_email_change", json!({"password": "violet tundra marble", "new_email": "ann@new.example"}));
    assert_eq!(
        (started["email"].as_str(), started["profile"]["pending_email"].as_str()),
        (Some("ann@new.example"), Some("ann@new.example"))
    );
    let code = h.code_from(&started);
    assert_eq!(h.err("resend_email_change", json!({}))["code"], "resend_too_soon");
    let e = h.err("verify_email_change", json!({"code": other(&code)}));
    assert_eq!((e["code"].as_str(), e["attempts_left"].as_i64()), (Some("invalid_code"), Some(4)));
    let done = h.ok("verify_email_change", json!({"code": code}));
    assert_eq!(
        (done["profile"]["email"].as_str(), done["notice_sent"].as_bool()),
        (Some("ann@new.example"), Some(true))
    );
    assert!(done["profile"]["pending_email"].is_null());
    assert_eq!(h.err("verify_email_change", json!({"code": code}))["code"], "no_pending_email_change");
    assert!(h.ok("cancel_email_change", json!({}))["profile"]["pending_email"].is_null());

    // Forgot password, signed out: the reply names the outbox folder, never a file.
    h.ok("logout", json!({}));
    assert_eq!(
        h.err("change_password", json!({"current_password": "a", "new_password": "b"}))["code"],
        "not_authenticated"
    );
    h.advance(61);
    let sent = h.ok("request_password_reset", json!({"email": "ANN@new.example"}));
    let folder = sent["delivery"]["path"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&folder).is_dir(), "{folder}");
    assert!(sent["detail"].as_str().unwrap().contains("If an account uses"));
    let reset_id = sent["reset_id"].as_str().unwrap().to_string();
    assert_eq!(h.err("resend_password_reset", json!({"reset_id": reset_id}))["code"], "resend_too_soon");
    assert_eq!(h.err("resend_password_reset", json!({"reset_id": "someone-elses"}))["code"], "no_pending_reset");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mail = loop {
        let newest = newest_in(&folder);
        if newest.contains("password reset code") {
            break newest;
        }
        assert!(std::time::Instant::now() < deadline, "no reset mail");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let e = h.err("reset_password", json!({"reset_id": reset_id, "code": common::code_in(&mail), "password": "short"}));
    assert_eq!(e["field"], "password");
    let reset = h.ok(
        "reset_password",
        json!({"reset_id": reset_id, "code": common::code_in(&mail), "password": "amber quarry lantern"}),
    );
    assert_eq!(reset["profile"]["username"], "Ann");
    assert!(h.remembered());
    assert!(token(&keychain).is_some());

    // Delete: the keychain entry goes with the account.
    let e = h.err("delete_account", json!({"password": "amber quarry lantern", "confirm": "bob"}));
    assert_eq!((e["code"].as_str(), e["field"].as_str()), (Some("invalid_input"), Some("confirm")));
    let gone = h.ok("delete_account", json!({"password": "amber quarry lantern", "confirm": "ann"}));
    assert_eq!(gone["notice_sent"], true);
    assert!(gone["detail"].as_str().unwrap().contains("deleted"));
    assert_eq!(token(&keychain), None);
    assert_eq!(h.call("startup", json!({})).unwrap()["screen"], "signup");
}

fn sessions_in(h: &Harness) -> i64 {
    tauri::async_runtime::block_on(async {
        let pool = latchkey_lib::store::open(&h.dir.path().join("latchkey.db")).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    })
}

#[test]
fn two_data_folders_of_one_person_never_sign_each_other_out() {
    // The same keychain service and account name: only the data folders differ.
    let (a, b) = (Harness::new("cmd-two-folders"), Harness::new("cmd-two-folders"));
    a.sign_up("ann", "ann@example.com");
    b.sign_up("bea", "bea@example.com");
    assert_ne!(format!("{:?}", a.keychain()), format!("{:?}", b.keychain()));
    a.ok("logout", json!({}));
    assert!(tauri::async_runtime::block_on(a.keychain().load()).unwrap().is_none());
    assert!(tauri::async_runtime::block_on(b.keychain().load()).unwrap().is_some(), "b's entry is untouched");
    assert_eq!(b.call("startup", json!({})).unwrap()["screen"], "profile");
}

#[test]
fn signing_in_again_ends_the_session_it_replaces() {
    let h = Harness::new("cmd-replace-session");
    h.sign_up("ann", "ann@example.com");
    assert_eq!(sessions_in(&h), 1);
    h.ok("login", json!({"identifier": "ann", "password": "correct horse battery"}));
    // Ended after the answer, with the keychain's write (the page's next question waits for both).
    assert!(h.remembered());
    assert_eq!(sessions_in(&h), 1, "the replaced token's session row is gone");
}

#[test]
fn the_data_folder_is_made_private_and_an_unsafe_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let config = Config::from_lookup(|_| None).unwrap();
    let open = |dir: &std::path::Path| {
        tauri::async_runtime::block_on(App::open(
            &config,
            dir,
            Keychain::new("latchkey-test", "cmd-folder"),
            Arc::new(|| T0),
        ))
    };
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("app.latchkey.desktop");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap(); // as Tauri makes it
    assert!(open(&dir).is_ok());
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = open(&dir).err().expect("a folder others can write to is refused").to_string();
    assert!(refused.contains("writable by other users") && refused.contains(&dir.display().to_string()), "{refused}");
}

/// How many sessions the database holds for this token.
fn sessions_with(h: &Harness, token: &latchkey_lib::auth::secret::Token) -> i64 {
    tauri::async_runtime::block_on(async {
        let pool = latchkey_lib::store::open(&h.dir.path().join("latchkey.db")).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE token_hash = ?")
            .bind(token.digest().to_vec())
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    })
}

/// Every item the Secret Service holds for this data folder's entry, as libsecret's own client
/// (not this app's) finds them.
fn keychain_items(h: &Harness, account: &str) -> usize {
    let install_id = tauri::async_runtime::block_on(async {
        let pool = latchkey_lib::store::open(&h.dir.path().join("latchkey.db")).await.unwrap();
        let id = latchkey_lib::store::meta::install_id(&pool).await.unwrap();
        pool.close().await;
        id
    });
    let username = format!("{account}-{install_id}");
    let out = std::process::Command::new("secret-tool")
        .args(["search", "--all", "service", "latchkey-test", "username", &username])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).matches("[/").count()
        + String::from_utf8_lossy(&out.stderr).matches("[/").count()
}

#[test]
fn a_session_the_window_is_told_of_is_already_in_the_database_and_then_in_the_keychain() {
    let h = Harness::new("cmd-told");
    h.sign_up("ann", "ann@example.com");
    h.ok("logout", json!({}));
    for _ in 0..5 {
        assert_eq!(sessions_in(&h), 0);
        // Answered before the keychain write ends: the session is in the database by then.
        h.ok("login", json!({"identifier": "ann", "password": "correct horse battery"}));
        assert_eq!(sessions_in(&h), 1, "the session the window shows is in the database");
        assert!(h.remembered());
        let kept = tauri::async_runtime::block_on(h.keychain().load()).unwrap().unwrap();
        assert_eq!(sessions_with(&h, &kept), 1, "the keychain holds the session the database knows");
        assert_eq!(keychain_items(&h, "cmd-told"), 1);
        h.ok("logout", json!({}));
    }
}

#[test]
fn signing_out_right_after_signing_in_leaves_nothing_in_the_keychain() {
    let h = Harness::new("cmd-race");
    h.sign_up("ann", "ann@example.com");
    h.ok("logout", json!({}));
    for _ in 0..10 {
        // The sign-out comes while the sign-in's keychain write may still be under way.
        h.ok("login", json!({"identifier": "ann", "password": "correct horse battery"}));
        h.ok("logout", json!({}));
        assert_eq!(keychain_items(&h, "cmd-race"), 0, "the keychain holds no session");
        assert_eq!(sessions_in(&h), 0);
    }
    // Nor later: a write that lost its turn never lands.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(keychain_items(&h, "cmd-race"), 0);
    assert!(tauri::async_runtime::block_on(h.keychain().load()).unwrap().is_none());
}

#[test]
fn a_second_sign_in_replaces_the_first_everywhere() {
    let h = Harness::new("cmd-twice");
    h.sign_up("ann", "ann@example.com");
    let first = tauri::async_runtime::block_on(h.keychain().load()).unwrap().unwrap();
    // Two sign-ins in a row, the keychain not waited for: only the last session stays anywhere.
    h.ok("login", json!({"identifier": "ann", "password": "correct horse battery"}));
    h.ok("login", json!({"identifier": "ann", "password": "correct horse battery"}));
    assert!(h.remembered());
    let last = tauri::async_runtime::block_on(h.keychain().load()).unwrap().unwrap();
    assert_ne!(first.expose(), last.expose());
    // The first login's step may still be ending the sign-up's session when the last is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while sessions_in(&h) != 1 {
        assert!(std::time::Instant::now() < deadline, "the replaced sessions were not ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(sessions_with(&h, &last), 1);
    assert_eq!(keychain_items(&h, "cmd-twice"), 1);
    h.ok("logout", json!({}));
}
