//! The operator's commands (`latchkey-server admin`) as an operator runs them: the real binary,
//! with the service's settings, against the database a running service uses (PostgreSQL and a
//! SQLite file), and the accounts' mail on a real SMTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::Server;
use latchkey_testkit::{code_in, SmtpServer, TestDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

struct Run {
    status: i32,
    out: String,
    err: String,
}

/// `latchkey-server admin ARGS` with the settings the service runs with.
fn admin(db: &TestDatabase, smtp: &SmtpServer, args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-server"))
        .arg("admin")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", smtp.port.to_string())
        .env("SMTP_SECURITY", "none")
        .env("USER", "opal")
        .output()
        .unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_of(run: &Run) -> Value {
    assert_eq!(run.status, 0, "{}{}", run.out, run.err);
    serde_json::from_str(run.out.trim()).unwrap()
}

async fn post(server: &Server, path: &str, body: Value, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

async fn who_am_i(server: &Server, token: &str) -> StatusCode {
    reqwest::Client::new().get(server.url("/users/who_am_i/")).bearer_auth(token).send().await.unwrap().status()
}

async fn sign_up(server: &Server, smtp: &SmtpServer, name: &str) -> String {
    let email = format!("{name}@example.org");
    let (status, _) =
        post(server, "/users/signup/", json!({"username": name, "email": email, "password": PASSWORD}), None).await;
    assert_eq!(status, StatusCode::OK);
    let code = code_in(&smtp.wait_for_mail(&email, "verification code").await);
    let body = json!({"email": email, "otp": code, "username": name, "password": PASSWORD});
    let (status, made) = post(server, "/users/verification/", body, None).await;
    assert_eq!(status, StatusCode::CREATED);
    made["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_admin_command_on_postgresql() {
    every_admin_command(TestDatabase::postgres().await).await;
}

#[tokio::test]
async fn every_admin_command_on_sqlite() {
    every_admin_command(TestDatabase::sqlite()).await;
}

async fn every_admin_command(db: TestDatabase) {
    let smtp = SmtpServer::start();
    let server = Server::start(&db, smtp.port, &[]);
    let token = sign_up(&server, &smtp, "ann").await;
    sign_up(&server, &smtp, "anton").await;
    sign_up(&server, &smtp, "bea").await;

    // Finding accounts: a prefix of the name or the address, keyset pages.
    let found = json_of(&admin(&db, &smtp, &["users", "--search", "AN", "--json"]));
    let names: Vec<&str> =
        found["accounts"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["ann", "anton"]);
    let page = json_of(&admin(&db, &smtp, &["users", "--limit", "1", "--json"]));
    let next = page["next"].as_i64().unwrap().to_string();
    let rest = json_of(&admin(&db, &smtp, &["users", "--after", &next, "--json"]));
    assert_eq!(rest["accounts"].as_array().unwrap().len(), 2);
    assert!(admin(&db, &smtp, &["users", "--search", "%"]).out.contains("(no accounts)"), "LIKE's % is literal");
    let table = admin(&db, &smtp, &["show", "ann@example.org"]);
    assert_eq!(table.status, 0);
    assert!(table.out.contains("ann") && table.out.contains("active"), "{}", table.out);
    let shown = json_of(&admin(&db, &smtp, &["show", "ANN", "--json"]));
    assert_eq!((shown["is_active"].clone(), shown["sessions"].clone()), (json!(true), json!(1)));
    assert!(shown.get("password_hash").is_none());

    // An unknown account: a clear line and status 1.
    let unknown = admin(&db, &smtp, &["deactivate", "nobody"]);
    assert_eq!(unknown.status, 1);
    assert!(unknown.err.contains("no account has that username or email address"), "{}", unknown.err);
    assert_eq!(admin(&db, &smtp, &["frobnicate", "ann"]).status, 2);

    // Deactivated: every session ends, and sign-in answers exactly as a wrong password does.
    let off = json_of(&admin(&db, &smtp, &["deactivate", "ann", "--json"]));
    assert_eq!((off["account"]["is_active"].clone(), off["account"]["sessions"].clone()), (json!(false), json!(0)));
    assert_eq!(off["notice_sent"], true);
    assert_eq!(who_am_i(&server, &token).await, StatusCode::UNAUTHORIZED);
    let right = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    let wrong = post(&server, "/users/login/", json!({"username": "ann", "password": "wrong password!"}), None).await;
    assert_eq!((right.0, right.1["code"].clone()), (wrong.0, wrong.1["code"].clone()));
    assert_eq!(right.1["detail"], wrong.1["detail"]);
    let mail = smtp.wait_for_mail("ann@example.org", "An administrator changed").await;
    assert!(latchkey_testkit::unfolded(&mail).contains("was deactivated"));

    // Reactivated: sign-in works again; the old session does not come back.
    json_of(&admin(&db, &smtp, &["reactivate", "ann", "--json"]));
    assert_eq!(who_am_i(&server, &token).await, StatusCode::UNAUTHORIZED);
    let (status, signed) = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    assert_eq!(status, StatusCode::OK);
    let token = signed["token"].as_str().unwrap().to_string();

    // Unlock: the throttle cleared, the lock for good included.
    db.execute("DELETE FROM login_throttle").await;
    db.execute(
        "INSERT INTO login_throttle (identifier_key, failures, locked_until, updated_at)
         SELECT 'user:' || id, 100, 0, 0 FROM users WHERE username = 'ann'",
    )
    .await;
    let locked = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    assert_eq!(locked.1["code"], "login_throttled");
    json_of(&admin(&db, &smtp, &["unlock", "ann@example.org", "--json"]));
    let open = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    assert_eq!(open.0, StatusCode::OK);

    // Admin on and off; every session signed out.
    assert_eq!(json_of(&admin(&db, &smtp, &["grant-admin", "ann", "--json"]))["account"]["is_admin"], true);
    assert_eq!(json_of(&admin(&db, &smtp, &["revoke-admin", "ann", "--json"]))["account"]["is_admin"], false);
    let out = json_of(&admin(&db, &smtp, &["revoke-sessions", "ann", "--json"]));
    assert_eq!(out["account"]["sessions"], 0);
    assert_eq!(who_am_i(&server, &token).await, StatusCode::UNAUTHORIZED);
    json_of(&admin(&db, &smtp, &["reset-second-factor", "ann", "--json"]));

    // Require a reset: signed out everywhere; the right password is refused until an emailed reset.
    let (_, signed) = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    let token = signed["token"].as_str().unwrap().to_string();
    json_of(&admin(&db, &smtp, &["require-reset", "ann", "--json"]));
    assert_eq!(who_am_i(&server, &token).await, StatusCode::UNAUTHORIZED);
    let refused = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    assert_eq!((refused.0, refused.1["code"].clone()), (StatusCode::FORBIDDEN, json!("password_reset_required")));
    let wrong = post(&server, "/users/login/", json!({"username": "ann", "password": "wrong password!"}), None).await;
    assert_eq!(wrong.1["code"], "invalid_credentials", "a wrong password still says nothing more");
    db.execute("UPDATE mail_sends SET sent_at = sent_at - 3600").await;
    let (_, asked) = post(&server, "/users/password/reset/", json!({"email": "ann@example.org"}), None).await;
    let code = code_in(&smtp.wait_for_mail("ann@example.org", "password reset code").await);
    let reset_id = asked["reset_id"].as_str().unwrap();
    let body = json!({"reset_id": reset_id, "code": code, "password": "violet tundra marble 9"});
    let (status, _) = post(&server, "/users/password/reset/confirm/", body, None).await;
    assert_eq!(status, StatusCode::OK);
    let after =
        post(&server, "/users/login/", json!({"username": "ann", "password": "violet tundra marble 9"}), None).await;
    assert_eq!(after.0, StatusCode::OK);

    // Each action is in the account's activity, naming the operator.
    let kinds =
        db.number("SELECT count(*) FROM security_events WHERE kind LIKE 'admin_%' AND device = 'operator opal'").await;
    assert_eq!(kinds, 8);
}
