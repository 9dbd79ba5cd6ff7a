//! The operator's commands (`latchkey-server admin`) as an operator runs them: the real binary,
//! with the service's settings, against the database a running service uses (PostgreSQL and a
//! SQLite file), and the accounts' mail on a real SMTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::Server;
use latchkey_testkit::{code_in, metric_is, metric_samples, MetricSample, SmtpServer, TestDatabase};
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

/// A service with its admin port on a port of its own (loopback).
fn with_admin_port(db: &TestDatabase, smtp: &SmtpServer) -> (Server, String) {
    let port = latchkey_testkit::free_port();
    let server = Server::start(db, smtp.port, &[("LATCHKEY_ADMIN_LISTEN", &port.to_string())]);
    latchkey_testkit::wait_for_port(port, "the admin port");
    (server, format!("http://127.0.0.1:{port}"))
}

/// A request to the admin port (or any base), with a bearer token if given.
async fn call(base: &str, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut request = match method {
        "GET" => client.get(format!("{base}{path}")),
        _ => client.post(format!("{base}{path}")).json(&body.unwrap_or(json!({}))),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

fn code(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["code"].as_str().unwrap_or("-"))
}

#[tokio::test]
async fn the_admin_port_needs_a_fresh_password_of_an_active_administrator_and_is_not_on_the_public_port() {
    let db = TestDatabase::postgres().await;
    let smtp = SmtpServer::start();
    let (server, port) = with_admin_port(&db, &smtp);
    let ann = sign_up(&server, &smtp, "ann").await;
    let bob = sign_up(&server, &smtp, "bob").await;

    // Nothing of it on the public port, whoever asks.
    json_of(&admin(&db, &smtp, &["grant-admin", "ann", "--json"]));
    for (method, path) in [("GET", "/metrics"), ("GET", "/admin/users/"), ("POST", "/admin/reauth/")] {
        let body = Some(json!({"password": PASSWORD}));
        let answer = call(&server.base, method, path, Some(&ann), body).await;
        assert_eq!(code(&answer), (StatusCode::NOT_FOUND, "not_found"), "{path} on the public port");
    }

    // No session, a cookie instead of a bearer token, a session that is not an administrator's.
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/", None, None).await),
        (StatusCode::UNAUTHORIZED, "not_authenticated")
    );
    let cookie = reqwest::Client::new()
        .get(format!("{port}/admin/users/"))
        .header("Cookie", format!("__Host-sessionid={ann}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), StatusCode::UNAUTHORIZED, "a browser's cookie never opens the admin port");
    let reauth = json!({"password": PASSWORD});
    assert_eq!(
        code(&call(&port, "POST", "/admin/reauth/", Some(&bob), Some(reauth.clone())).await),
        (StatusCode::FORBIDDEN, "not_admin")
    );
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/", Some(&bob), None).await),
        (StatusCode::FORBIDDEN, "not_admin")
    );

    // An administrator's session, before re-entering the password and with a wrong one.
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/", Some(&ann), None).await),
        (StatusCode::FORBIDDEN, "reauth_required")
    );
    let wrong = json!({"password": "not my password"});
    assert_eq!(
        code(&call(&port, "POST", "/admin/reauth/", Some(&ann), Some(wrong)).await),
        (StatusCode::FORBIDDEN, "wrong_password")
    );
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/", Some(&ann), None).await),
        (StatusCode::FORBIDDEN, "reauth_required")
    );
    let (status, opened) = call(&port, "POST", "/admin/reauth/", Some(&ann), Some(reauth.clone())).await;
    assert_eq!((status, opened["valid_for"].as_i64()), (StatusCode::OK, Some(300)));

    // Now the commands: the same answers as the command line's --json.
    let (status, found) = call(&port, "GET", "/admin/users/?search=BO&limit=10", Some(&ann), None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        found["accounts"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob"]);
    let (_, shown) = call(&port, "GET", "/admin/users/bob@example.org/", Some(&ann), None).await;
    assert_eq!((shown["account"]["username"].clone(), shown["account"]["sessions"].clone()), (json!("bob"), json!(1)));
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/nobody/", Some(&ann), None).await),
        (StatusCode::NOT_FOUND, "no_such_account")
    );
    assert_eq!(
        code(&call(&port, "POST", "/admin/users/bob/explode/", Some(&ann), None).await),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let bad_page = call(&port, "GET", "/admin/users/?limit=many", Some(&ann), None).await;
    assert_eq!(code(&bad_page), (StatusCode::BAD_REQUEST, "invalid_input"));

    let (status, off) = call(&port, "POST", "/admin/users/bob/deactivate/", Some(&ann), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((off["account"]["is_active"].clone(), off["notice_sent"].clone()), (json!(false), json!(true)));
    assert_eq!(who_am_i(&server, &bob).await, StatusCode::UNAUTHORIZED);
    let right = post(&server, "/users/login/", json!({"username": "bob", "password": PASSWORD}), None).await;
    assert_eq!((right.0, right.1["code"].as_str()), (StatusCode::NOT_FOUND, Some("invalid_credentials")));
    smtp.wait_for_mail("bob@example.org", "An administrator changed").await;
    let named = db.number("SELECT count(*) FROM security_events WHERE device = 'operator ann (admin port)'").await;
    assert_eq!(named, 1, "the account's activity names the administrator");

    // Revoking the right takes effect on the next request, fresh password or not.
    json_of(&admin(&db, &smtp, &["revoke-admin", "ann", "--json"]));
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/", Some(&ann), None).await),
        (StatusCode::FORBIDDEN, "not_admin")
    );
    assert_eq!(
        code(&call(&port, "POST", "/admin/users/bob/reactivate/", Some(&ann), None).await),
        (StatusCode::FORBIDDEN, "not_admin")
    );
    assert_eq!(db.number("SELECT count(*) FROM users WHERE username = 'bob' AND is_active").await, 0);

    // Another session of the administrator needs its own password: the fresh one was this one's.
    json_of(&admin(&db, &smtp, &["grant-admin", "ann", "--json"]));
    let (_, other) = post(&server, "/users/login/", json!({"username": "ann", "password": PASSWORD}), None).await;
    let other = other["token"].as_str().unwrap();
    assert_eq!(
        code(&call(&port, "GET", "/admin/users/", Some(other), None).await),
        (StatusCode::FORBIDDEN, "reauth_required")
    );
}

/// The value of the sample named `name` whose labels include `with` (0 when there is none: a
/// counter not yet counted is not written).
fn value(samples: &[MetricSample], name: &str, with: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples.iter().filter(|s| metric_is(s, name, with)).map(|s| s.2).collect();
    assert!(found.len() <= 1, "{name} {with:?}: {found:?}");
    found.first().copied().unwrap_or(0.0)
}

async fn metrics_text(port: &str) -> String {
    let response = reqwest::get(format!("{port}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_requests_exactly() {
    let db = TestDatabase::postgres().await;
    let mut smtp = SmtpServer::start();
    let (server, port) = with_admin_port(&db, &smtp);

    // Two sign-ups (two codes), a resend too soon, three right sign-ins, two wrong passwords and
    // an unknown user, a reset code, and a who-am-i.
    let ann = sign_up(&server, &smtp, "ann").await;
    sign_up(&server, &smtp, "bob").await;
    let (_, asked) = post(
        &server,
        "/users/signup/",
        json!({"username": "cyd", "email": "cyd@example.org", "password": PASSWORD}),
        None,
    )
    .await;
    assert!(asked["signup_id"].is_string(), "{asked}");
    let again = post(&server, "/users/signup/resend/", json!({"signup_id": asked["signup_id"]}), None).await;
    assert_eq!(code(&again), (StatusCode::TOO_MANY_REQUESTS, "resend_too_soon"));
    for name in ["ann", "bob", "ann"] {
        assert_eq!(
            post(&server, "/users/login/", json!({"username": name, "password": PASSWORD}), None).await.0,
            StatusCode::OK
        );
    }
    for (name, password) in [("ann", "wrong one"), ("bob", "wrong two"), ("nobody", PASSWORD)] {
        let answer = post(&server, "/users/login/", json!({"username": name, "password": password}), None).await;
        assert_eq!(code(&answer), (StatusCode::NOT_FOUND, "invalid_credentials"));
    }
    // One mail a minute to an address from one requester: bob's sign-up code was just now.
    db.execute("UPDATE mail_sends SET sent_at = sent_at - 3600").await;
    let reset = post(&server, "/users/password/reset/", json!({"email": "bob@example.org"}), None).await;
    assert_eq!(reset.0, StatusCode::OK, "{}", reset.1);
    smtp.wait_for_mail("bob@example.org", "password reset code").await;
    assert_eq!(who_am_i(&server, &ann).await, StatusCode::OK);

    let samples = metric_samples(&metrics_text(&port).await);
    let logins = |result: &str| value(&samples, "latchkey_logins_total", &[("step", "password"), ("result", result)]);
    assert_eq!((logins("ok"), logins("invalid_credentials")), (3.0, 3.0));
    let codes = |purpose: &str| value(&samples, "latchkey_codes_sent_total", &[("purpose", purpose)]);
    assert_eq!((codes("signup"), codes("password_reset"), codes("email_change")), (3.0, 1.0, 0.0));
    assert_eq!(value(&samples, "latchkey_rate_limited_requests_total", &[("reason", "resend_too_soon")]), 1.0);
    let login_route = [("route", "/users/login/"), ("method", "POST")];
    let requests = |status: &str| {
        value(&samples, "latchkey_http_requests_total", &[login_route[0], login_route[1], ("status", status)])
    };
    assert_eq!((requests("200"), requests("404")), (3.0, 3.0));
    assert_eq!(value(&samples, "latchkey_http_request_duration_seconds", &login_route), 6.0, "every login timed");
    let who = [("route", "/users/who_am_i/"), ("method", "GET"), ("status", "200")];
    assert_eq!(value(&samples, "latchkey_http_requests_total", &who), 1.0);
    // Each sign-up hashes its password and its code, each verification and login one secret.
    assert!(value(&samples, "latchkey_argon2_wait_seconds", &[]) >= 13.0);
    assert_eq!(value(&samples, "latchkey_argon2_queue_length", &[]), 0.0, "nothing waits at rest");
    assert!(value(&samples, "latchkey_db_connections_max", &[]) >= 1.0);
    assert_eq!(value(&samples, "latchkey_mail_failures_total", &[]), 0.0);

    // The mail server goes away: a reset's mail fails and is counted, nothing else changes.
    smtp.stop();
    db.execute("UPDATE mail_sends SET sent_at = sent_at - 3600").await;
    post(&server, "/users/password/reset/", json!({"email": "ann@example.org"}), None).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let failed = loop {
        let samples = metric_samples(&metrics_text(&port).await);
        let failed = value(&samples, "latchkey_mail_failures_total", &[("letter", "password_reset")]);
        if failed > 0.0 || std::time::Instant::now() > deadline {
            break failed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(failed, 1.0);

    // No label carries a name, an address or a client's IP.
    let text = metrics_text(&port).await;
    for private in ["ann", "bob", "example.org", "127.0.0.1", "nobody"] {
        assert!(!text.contains(private), "{private} in /metrics");
    }
}
