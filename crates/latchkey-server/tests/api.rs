//! The original API over real HTTP: the `latchkey-server` binary as a process on loopback, on a
//! real PostgreSQL database (and a real SQLite file where the file itself is looked at) with the
//! real migrations, real mail through aiosmtpd.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

mod common;

use common::{held_smtp, slow_smtp, Server};
use latchkey_testkit::{code_in, other_code, SmtpServer, TestDatabase};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

struct World {
    smtp: SmtpServer,
    db: TestDatabase,
    server: Server,
    http: reqwest::Client,
}

impl World {
    /// The service on PostgreSQL, as it is deployed for several desktops.
    async fn new() -> World {
        World::with(TestDatabase::postgres().await, &[])
    }

    fn with(db: TestDatabase, extra: &[(&str, &str)]) -> World {
        let smtp = SmtpServer::start();
        let server = Server::start(&db, smtp.port, extra);
        World { smtp, db, server, http: reqwest::Client::new() }
    }

    async fn post(&self, path: &str, body: Value, auth: Auth<'_>) -> Answer {
        self.post_to(&self.server, path, body, auth).await
    }

    async fn post_to(&self, server: &Server, path: &str, body: Value, auth: Auth<'_>) -> Answer {
        let request = auth.apply(self.http.post(server.url(path)).json(&body));
        Answer::from(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str, auth: Auth<'_>) -> Answer {
        Answer::from(auth.apply(self.http.get(self.server.url(path))).send().await.unwrap()).await
    }

    /// Sign-up and verification as the original's clients send them; returns the session token.
    async fn sign_up(&self, username: &str, email: &str) -> String {
        let sent = self
            .post("/users/signup/", json!({"username": username, "email": email, "password": PASSWORD}), Auth::None)
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        let code = code_in(&self.smtp.wait_for_mail(email, "verification code").await);
        let body = json!({"email": email, "otp": code, "username": username, "password": PASSWORD});
        let made = self.post("/users/verification/", body, Auth::None).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        made.body["token"].as_str().unwrap().to_string()
    }

    async fn users(&self) -> i64 {
        self.db.number("SELECT count(*) FROM users").await
    }

    /// Moves every recorded code mail an hour into the past, so the per-address mail limit (one a
    /// minute) lets the next code through at once.
    async fn age_mail_sends(&self) {
        self.db.execute("UPDATE mail_sends SET sent_at = sent_at - 3600").await;
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

impl Auth<'_> {
    fn apply(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Bearer(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            Auth::Cookie(token) => request.header(COOKIE, format!("__Host-sessionid={token}")),
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    async fn from(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, headers, body }
    }

    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    fn cookie(&self) -> String {
        self.headers.get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

#[tokio::test]
async fn the_original_four_endpoints_with_their_request_shapes_on_postgresql() {
    the_original_four_endpoints(World::new().await).await;
}

#[tokio::test]
async fn the_original_four_endpoints_with_their_request_shapes_on_sqlite() {
    the_original_four_endpoints(World::with(TestDatabase::sqlite(), &[])).await;
}

async fn the_original_four_endpoints(w: World) {
    let health = w.get("/healthz", Auth::None).await;
    assert_eq!((health.status, &health.body["success"]), (StatusCode::OK, &json!(true)));

    let sent = w
        .post(
            "/users/signup/",
            json!({"username": "ada", "email": "ada@example.org", "password": PASSWORD}),
            Auth::None,
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert_eq!(sent.body["success"], true);
    assert!(sent.body["detail"].as_str().unwrap().contains("ada@example.org"));
    assert!(sent.body["signup_id"].as_str().is_some_and(|id| id.len() >= 32));
    let code = code_in(&w.smtp.wait_for_message(1));

    // The original's clients prove the sign-up is theirs with the same name and password.
    let verification = |otp: &str, username: &str, password: &str| json!({"email": "ada@example.org", "otp": otp, "username": username, "password": password});
    let wrong_password =
        w.post("/users/verification/", verification(&code, "ada", "not the password"), Auth::None).await;
    assert_eq!((wrong_password.status, wrong_password.code()), (StatusCode::BAD_REQUEST, "no_pending_signup"));
    let wrong_name = w.post("/users/verification/", verification(&code, "adb", PASSWORD), Auth::None).await;
    assert_eq!((wrong_name.status, wrong_name.code()), (StatusCode::BAD_REQUEST, "no_pending_signup"));
    let wrong_code =
        w.post("/users/verification/", verification(&other_code(&code), "ada", PASSWORD), Auth::None).await;
    assert_eq!((wrong_code.status, wrong_code.code()), (StatusCode::BAD_REQUEST, "invalid_code"));
    assert_eq!(wrong_code.body["attempts_left"], 4);
    assert_eq!(w.users().await, 0);

    let made = w.post("/users/verification/", verification(&code, "ada", PASSWORD), Auth::None).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["profile"]["username"], "ada");
    let token = made.body["token"].as_str().unwrap().to_string();
    let cookie = made.cookie();
    assert!(cookie.starts_with(&format!("__Host-sessionid={token};")), "{cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age=2592000", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} in {cookie}");
    }
    assert_eq!(w.users().await, 1);

    for auth in [Auth::Cookie(&token), Auth::Bearer(&token)] {
        let me = w.get("/users/who_am_i/", auth).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!((me.body["success"].as_bool(), me.body["username"].as_str()), (Some(true), Some("ada")));
        assert_eq!(me.body["email"], "ada@example.org");
    }
    let anonymous = w.get("/users/who_am_i/", Auth::None).await;
    assert_eq!((anonymous.status, anonymous.code()), (StatusCode::UNAUTHORIZED, "not_authenticated"));
    assert_eq!(anonymous.headers.get(WWW_AUTHENTICATE).unwrap(), "Bearer");
    let forged = w.get("/users/who_am_i/", Auth::Bearer("forged-token")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    // Login by name or by address; both kinds of failure are "not found", as in the original.
    let by_name = w.post("/users/login/", json!({"username": "ada", "password": PASSWORD}), Auth::None).await;
    assert_eq!(by_name.status, StatusCode::OK);
    let by_email = w.post("/users/login/", json!({"email": "ADA@example.org", "password": PASSWORD}), Auth::None).await;
    assert_eq!(by_email.status, StatusCode::OK);
    assert!(by_email.cookie().starts_with("__Host-sessionid="));
    let wrong = w.post("/users/login/", json!({"username": "ada", "password": "wrong password!"}), Auth::None).await;
    let unknown = w.post("/users/login/", json!({"username": "nobody", "password": PASSWORD}), Auth::None).await;
    for failed in [&wrong, &unknown] {
        assert_eq!((failed.status, failed.code()), (StatusCode::NOT_FOUND, "invalid_credentials"));
        assert_eq!(failed.body["success"], false);
    }
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);

    // Only the token's SHA-256 is stored.
    match &w.db {
        TestDatabase::Sqlite { path, .. } => {
            let bytes = std::fs::read(path).unwrap();
            assert!(!bytes.windows(token.len()).any(|window| window == token.as_bytes()));
        }
        TestDatabase::Postgres { .. } => {
            // Tokens are URL-safe base64, so they can sit in the statement.
            let hashed = format!("SELECT count(*) FROM sessions WHERE token_hash = sha256('{token}'::bytea)");
            assert_eq!(w.db.number(&hashed).await, 1);
            // The text columns are the devices list's (public id, device, address); none holds it.
            let text_columns = "SELECT count(*) FROM information_schema.columns
                                WHERE table_name = 'sessions' AND data_type <> 'bytea' AND data_type <> 'bigint'
                                AND column_name NOT IN ('public_id', 'device', 'ip')";
            assert_eq!(w.db.number(text_columns).await, 0);
            let in_text = format!(
                "SELECT count(*) FROM sessions WHERE strpos(public_id || device || coalesce(ip, ''), '{token}') > 0"
            );
            assert_eq!(w.db.number(&in_text).await, 0);
        }
    }

    let out = w.post("/users/logout/", json!({}), Auth::Cookie(&token)).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.cookie().starts_with("__Host-sessionid=;") && out.cookie().contains("Max-Age=0"));
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&token)).await.status, StatusCode::UNAUTHORIZED);
    let other = by_name.body["token"].as_str().unwrap();
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(other)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_error_has_its_code_and_status() {
    let w = World::new().await;
    w.sign_up("grace", "grace@example.org").await;

    let missing = w.post("/users/signup/", json!({"username": "x1y"}), Auth::None).await;
    assert_eq!(
        (missing.status, missing.code(), missing.body["field"].as_str()),
        (StatusCode::BAD_REQUEST, "invalid_input", Some("email"))
    );
    let not_json = w.http.post(w.server.url("/users/login/")).header(CONTENT_TYPE, "application/json").body("{");
    let not_json = Answer::from(not_json.send().await.unwrap()).await;
    assert_eq!((not_json.status, not_json.code()), (StatusCode::BAD_REQUEST, "invalid_input"));
    let weak = w
        .post(
            "/users/signup/",
            json!({"username": "bob", "email": "bob@example.org", "password": "password"}),
            Auth::None,
        )
        .await;
    assert_eq!(
        (weak.status, weak.code(), weak.body["field"].as_str()),
        (StatusCode::BAD_REQUEST, "invalid_input", Some("password"))
    );
    let taken = w
        .post(
            "/users/signup/",
            json!({"username": "Grace", "email": "g2@example.org", "password": PASSWORD}),
            Auth::None,
        )
        .await;
    assert_eq!((taken.status, taken.code()), (StatusCode::CONFLICT, "username_taken"));
    // An address is never said to be an account's; one that is a (public) username is refused.
    w.sign_up("lee@example.org", "lee@example.net").await;
    let email_taken = w
        .post(
            "/users/signup/",
            json!({"username": "grace2", "email": "Lee@example.org", "password": PASSWORD}),
            Auth::None,
        )
        .await;
    assert_eq!((email_taken.status, email_taken.code()), (StatusCode::CONFLICT, "email_taken"));

    let first = w
        .post(
            "/users/signup/",
            json!({"username": "hopper", "email": "hopper@example.org", "password": PASSWORD}),
            Auth::None,
        )
        .await;
    let id = first.body["signup_id"].as_str().unwrap();
    let soon = w.post("/users/signup/resend/", json!({"signup_id": id}), Auth::None).await;
    assert_eq!((soon.status, soon.code()), (StatusCode::TOO_MANY_REQUESTS, "resend_too_soon"));
    let wait: i64 = soon.headers.get(RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait) && soon.body["retry_after"] == wait, "{wait} {}", soon.body);
    let nobody = w.post("/users/signup/resend/", json!({"signup_id": "not-an-id"}), Auth::None).await;
    assert_eq!((nobody.status, nobody.code()), (StatusCode::BAD_REQUEST, "no_pending_signup"));

    // Five failures lock the name; the sixth try is refused with how long to wait.
    for _ in 0..5 {
        let failed =
            w.post("/users/login/", json!({"username": "grace", "password": "wrong password!"}), Auth::None).await;
        assert_eq!(failed.code(), "invalid_credentials");
    }
    let locked = w.post("/users/login/", json!({"username": "grace", "password": PASSWORD}), Auth::None).await;
    assert_eq!((locked.status, locked.code()), (StatusCode::TOO_MANY_REQUESTS, "login_throttled"));
    assert!(locked.headers.get(RETRY_AFTER).is_some());

    let none = w.get("/users/no_such_thing/", Auth::None).await;
    assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "not_found"));
    let code = w.post("/users/email/change/verify/", json!({"code": "123456"}), Auth::None).await;
    assert_eq!((code.status, code.code()), (StatusCode::UNAUTHORIZED, "not_authenticated"));
}

#[tokio::test]
async fn an_accounts_whole_life_over_http() {
    let w = World::new().await;
    let first = w.sign_up("lin", "lin@example.org").await;
    let second = w.post("/users/login/", json!({"username": "lin", "password": PASSWORD}), Auth::None).await;
    let second = second.body["token"].as_str().unwrap().to_string();

    // A password change ends the other sessions at their next request.
    let new_password = "violet umbrella marathon 42";
    let wrong = w
        .post(
            "/users/password/change/",
            json!({"current_password": "nope nope nope", "new_password": new_password}),
            Auth::Bearer(&first),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "wrong_password"));
    let changed = w
        .post(
            "/users/password/change/",
            json!({"current_password": PASSWORD, "new_password": new_password}),
            Auth::Bearer(&first),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let renewed = changed.body["token"].as_str().unwrap().to_string();
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&second)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(w.get("/users/who_am_i/", Auth::Cookie(&renewed)).await.status, StatusCode::OK);

    // Forgotten password: code by mail, then a new password and a new session.
    w.age_mail_sends().await;
    let asked = w.post("/users/password/reset/", json!({"email": "lin@example.org"}), Auth::None).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let code = code_in(&w.smtp.wait_for_mail("lin@example.org", "password reset code").await);
    let reset_password = "quiet harbour lantern 17";
    let reset = w
        .post(
            "/users/password/reset/confirm/",
            json!({"reset_id": asked.body["reset_id"], "code": code, "password": reset_password}),
            Auth::None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert!(reset.cookie().starts_with("__Host-sessionid="));
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&renewed)).await.status, StatusCode::UNAUTHORIZED);
    let token = reset.body["token"].as_str().unwrap().to_string();

    // Email change: the code goes to the new address.
    let asked = w
        .post(
            "/users/email/change/",
            json!({"password": reset_password, "new_email": "lin@example.net"}),
            Auth::Bearer(&token),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let mail = w.smtp.wait_for_mail("lin@example.net", "Confirm your new").await;
    let changed = w.post("/users/email/change/verify/", json!({"code": code_in(&mail)}), Auth::Bearer(&token)).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    // A new address ends every session, this one too; the answer carries a fresh one.
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&token)).await.status, StatusCode::UNAUTHORIZED);
    assert!(changed.cookie().starts_with("__Host-sessionid="), "{}", changed.cookie());
    let token = changed.body["token"].as_str().unwrap().to_string();
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&token)).await.body["email"], "lin@example.net");

    // Deleting needs the password and the name typed again; then the name is free.
    let deleted =
        w.post("/users/delete/", json!({"password": reset_password, "confirm": "lin"}), Auth::Bearer(&token)).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(deleted.cookie().contains("Max-Age=0"));
    assert_eq!(w.users().await, 0);
    let gone = w.post("/users/login/", json!({"username": "lin", "password": reset_password}), Auth::None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_per_address_limit_counts_the_configured_header_only() {
    let limits = [("LATCHKEY_IP_LIMIT", "4"), ("LATCHKEY_CLIENT_IP_HEADER", "X-Forwarded-For")];
    let w = World::with(TestDatabase::postgres().await, &limits);
    let login = |ip: &'static str| {
        w.http
            .post(w.server.url("/users/login/"))
            .header("X-Forwarded-For", format!("203.0.113.9, {ip}"))
            .json(&json!({"username": "nobody", "password": PASSWORD}))
    };
    for _ in 0..4 {
        assert_eq!(login("198.51.100.1").send().await.unwrap().status(), StatusCode::NOT_FOUND);
    }
    let limited = Answer::from(login("198.51.100.1").send().await.unwrap()).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(limited.headers.get(RETRY_AFTER).is_some());
    // Another client behind the same proxy is not held back; the health check never is.
    assert_eq!(login("198.51.100.2").send().await.unwrap().status(), StatusCode::NOT_FOUND);
    for _ in 0..6 {
        assert_eq!(w.get("/healthz", Auth::None).await.status, StatusCode::OK);
    }
}

/// Two processes on one database are one service: one account from 20 simultaneous right codes,
/// and login failures counted across both.
#[tokio::test]
async fn two_processes_on_one_postgresql_database_behave_as_one() {
    two_processes_behave_as_one(TestDatabase::postgres().await).await;
}

#[tokio::test]
async fn two_processes_on_one_sqlite_file_behave_as_one() {
    two_processes_behave_as_one(TestDatabase::sqlite()).await;
}

async fn two_processes_behave_as_one(db: TestDatabase) {
    let w = World::with(db, &[]);
    let other = Server::start(&w.db, w.smtp.port, &[]);
    let sent = w
        .post(
            "/users/signup/",
            json!({"username": "twin", "email": "twin@example.org", "password": PASSWORD}),
            Auth::None,
        )
        .await;
    let id = sent.body["signup_id"].as_str().unwrap().to_string();
    let code = code_in(&w.smtp.wait_for_message(1));
    let servers = [&w.server, &other];
    let attempts = (0..20).map(|i| {
        let (id, code) = (id.clone(), code.clone());
        w.post_to(servers[i % 2], "/users/verification/", json!({"signup_id": id, "otp": code}), Auth::None)
    });
    // All on the wire together before any answer is awaited.
    let answers = futures::future::join_all(attempts).await;
    let made = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    assert_eq!(made, 1, "{:?}", answers.iter().map(|a| a.code().to_string()).collect::<Vec<_>>());
    assert_eq!(w.users().await, 1);

    for i in 0..5 {
        let failed = w
            .post_to(
                servers[i % 2],
                "/users/login/",
                json!({"username": "twin", "password": "wrong password!"}),
                Auth::None,
            )
            .await;
        assert_eq!(failed.code(), "invalid_credentials");
    }
    for server in servers {
        let locked =
            w.post_to(server, "/users/login/", json!({"username": "twin", "password": PASSWORD}), Auth::None).await;
        assert_eq!(locked.code(), "login_throttled");
    }
}

#[tokio::test]
async fn a_flood_beyond_argon2s_queue_is_refused_at_once_with_retry_after() {
    let smtp = SmtpServer::start();
    let (smtp_port, arrived, release) = held_smtp(smtp.port);
    let db = TestDatabase::sqlite();
    let server = Server::start(&db, smtp_port, &[("LATCHKEY_HASH_QUEUE", "1")]);
    let http = reqwest::Client::new();

    // A sign-up takes the one place and keeps it while its mail waits.
    let body = json!({"username": "first", "email": "first@example.org", "password": PASSWORD});
    let signup = tokio::spawn(http.post(server.url("/users/signup/")).json(&body).send());
    tokio::task::spawn_blocking(move || arrived.recv_timeout(Duration::from_secs(60)).unwrap()).await.unwrap();

    // Twenty logins at once: each answered at once with 503 server_busy and when to come back.
    let flood = (0..20).map(|i| {
        let request =
            http.post(server.url("/users/login/")).json(&json!({"username": format!("u{i}"), "password": PASSWORD}));
        async move { Answer::from(request.send().await.unwrap()).await }
    });
    for answer in futures::future::join_all(flood).await {
        assert_eq!((answer.status, answer.code()), (StatusCode::SERVICE_UNAVAILABLE, "server_busy"), "{}", answer.body);
        let retry_after: i64 = answer.headers[RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!(retry_after >= 1, "{retry_after}");
        assert_eq!(answer.body["retry_after"], retry_after);
        assert_eq!(answer.body["detail"], "The server is busy; try again in a few seconds.");
    }
    // What does not hash is not held up.
    let who = Answer::from(http.get(server.url("/users/who_am_i/")).send().await.unwrap()).await;
    assert_eq!(who.status, StatusCode::UNAUTHORIZED);

    release.send(()).unwrap();
    assert_eq!(signup.await.unwrap().unwrap().status(), StatusCode::OK, "the admitted sign-up finishes");
    assert!(smtp.wait_for_message(1).contains("first@example.org"));
    // Its place is free again: the next login is checked.
    let login = http.post(server.url("/users/login/")).json(&json!({"username": "first", "password": PASSWORD}));
    let login = Answer::from(login.send().await.unwrap()).await;
    assert_eq!((login.status, login.code()), (StatusCode::NOT_FOUND, "invalid_credentials"));
}

#[tokio::test]
async fn a_client_that_goes_away_gives_its_place_in_argon2s_queue_back() {
    let smtp = SmtpServer::start();
    let (smtp_port, arrived, _release) = held_smtp(smtp.port);
    let db = TestDatabase::sqlite();
    let server = Server::start(&db, smtp_port, &[("LATCHKEY_HASH_QUEUE", "1")]);
    let http = reqwest::Client::new();
    let login = || {
        let request = http.post(server.url("/users/login/")).json(&json!({"username": "nobody", "password": PASSWORD}));
        async move { Answer::from(request.send().await.unwrap()).await }
    };

    // A sign-up takes the one place, and its client goes away while the mail is held.
    let mut client = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    let body = json!({"username": "gone", "email": "gone@example.org", "password": PASSWORD}).to_string();
    let request = format!(
        "POST /users/signup/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.write_all(request.as_bytes()).unwrap();
    tokio::task::spawn_blocking(move || arrived.recv_timeout(Duration::from_secs(60)).unwrap()).await.unwrap();
    assert_eq!(login().await.code(), "server_busy", "the place is taken");
    drop(client);

    // The server drops the abandoned request, and with it its place (the mail is still held).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = login().await;
        if answer.code() == "invalid_credentials" {
            break;
        }
        assert_eq!(answer.code(), "server_busy");
        assert!(std::time::Instant::now() < deadline, "the place was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    let smtp = SmtpServer::start();
    let db = TestDatabase::postgres().await;
    let server = Server::start(&db, slow_smtp(smtp.port, Duration::from_secs(1)), &[]);
    let http = reqwest::Client::new();
    let request = http
        .post(server.url("/users/signup/"))
        .json(&json!({"username": "late", "email": "late@example.org", "password": PASSWORD}))
        .send();
    let pid = nix::unistd::Pid::from_raw(server.process.0.id() as i32);
    let signal = async {
        tokio::time::sleep(Duration::from_millis(400)).await; // the request is waiting on the mail
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    };
    let (response, ()) = tokio::join!(request, signal);
    let response = response.expect("the request in flight was answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(smtp.wait_for_message(1).contains("late@example.org"));
    let mut process = server.process;
    let status = tokio::task::spawn_blocking(move || process.0.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
}

/// A request as a browser page at `origin` sends it (`None`: a native client, which sends no
/// `Origin`), with `auth` and a JSON body.
fn from_page(w: &World, path: &str, origin: Option<&str>, body: Value, auth: Auth<'_>) -> reqwest::RequestBuilder {
    let request = auth.apply(w.http.post(w.server.url(path)).json(&body));
    match origin {
        Some(origin) => request.header("Origin", origin),
        None => request,
    }
}

/// A form, as the original's Django form clients send one.
fn form(request: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body = serde_urlencoded::to_string(fields).unwrap();
    request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body)
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    Answer::from(request.send().await.unwrap()).await
}

const ELSEWHERE: &str = "https://evil.example";

#[tokio::test]
async fn a_cross_site_request_with_the_session_cookie_is_refused_and_changes_nothing() {
    let w = World::with(TestDatabase::sqlite(), &[]);
    let token = w.sign_up("mallory", "mallory@example.org").await;

    let out = send(from_page(&w, "/users/logout/", Some(ELSEWHERE), json!({}), Auth::Cookie(&token))).await;
    assert_eq!((out.status, out.code()), (StatusCode::FORBIDDEN, "cross_site_request"), "{}", out.body);
    assert!(out.cookie().is_empty(), "the cookie is not cleared: {}", out.cookie());
    assert_eq!(w.get("/users/who_am_i/", Auth::Cookie(&token)).await.status, StatusCode::OK, "the session lives");

    let change = json!({"current_password": PASSWORD, "new_password": "violet umbrella marathon 42"});
    let changed = send(from_page(&w, "/users/password/change/", Some(ELSEWHERE), change, Auth::Cookie(&token))).await;
    assert_eq!((changed.status, changed.code()), (StatusCode::FORBIDDEN, "cross_site_request"));
    // A sibling subdomain is another site too, and a browser that sends no Origin says so in
    // Sec-Fetch-Site.
    let sibling = from_page(&w, "/users/logout/", None, json!({}), Auth::Cookie(&token));
    let sibling = send(sibling.header("Sec-Fetch-Site", "same-site")).await;
    assert_eq!((sibling.status, sibling.code()), (StatusCode::FORBIDDEN, "cross_site_request"));
    let request = w
        .http
        .post(w.server.url("/users/delete/"))
        .header(COOKIE, format!("__Host-sessionid={token}"))
        .header("Sec-Fetch-Site", "cross-site");
    let deleted = send(form(request, &[("password", PASSWORD), ("confirm", "mallory")])).await;
    assert_eq!((deleted.status, deleted.code()), (StatusCode::FORBIDDEN, "cross_site_request"));

    // Nothing changed: the password is the old one, the account and the session are there.
    let login = w.post("/users/login/", json!({"username": "mallory", "password": PASSWORD}), Auth::None).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(w.get("/users/who_am_i/", Auth::Cookie(&token)).await.status, StatusCode::OK);
    assert_eq!(w.users().await, 1);
}

#[tokio::test]
async fn the_sites_own_pages_with_the_cookie_and_native_clients_with_the_token_still_work() {
    let w = World::with(TestDatabase::sqlite(), &[]);
    let bearer = w.sign_up("trent", "trent@example.org").await;
    let own = w.server.base.clone(); // http://127.0.0.1:port: the Host the test client sends

    // A page of the service itself, as the original's browser clients: JSON or a form.
    let login = w.http.post(w.server.url("/users/login/")).header("Origin", &own);
    let login = send(form(login, &[("username", "trent"), ("password", PASSWORD)])).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let cookie = login.body["token"].as_str().unwrap().to_string();
    let me = send(from_page(&w, "/users/email/change/cancel/", Some(&own), json!({}), Auth::Cookie(&cookie))).await;
    assert_eq!((me.status, me.body["profile"]["username"].as_str()), (StatusCode::OK, Some("trent")), "{}", me.body);
    // Behind a TLS proxy the page is https:// and the Host the public name.
    let proxied =
        from_page(&w, "/users/logout/", Some("https://accounts.example.org"), json!({}), Auth::Cookie(&cookie));
    let out = send(proxied.header("Host", "accounts.example.org")).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(w.get("/users/who_am_i/", Auth::Cookie(&cookie)).await.status, StatusCode::UNAUTHORIZED);
    // Plain http is this computer's only: a page at http://<public name> is another site.
    let plain = w.http.post(w.server.url("/users/login/")).header("Host", "accounts.example.org");
    let plain =
        plain.header("Origin", "http://accounts.example.org").json(&json!({"username": "trent", "password": PASSWORD}));
    assert_eq!(send(plain).await.code(), "cross_site_request");

    // A native client: the bearer token and no Origin (nor is one held against it).
    let change = json!({"current_password": PASSWORD, "new_password": "violet umbrella marathon 42"});
    let changed = send(from_page(&w, "/users/password/change/", None, change, Auth::Bearer(&bearer))).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let renewed = changed.body["token"].as_str().unwrap().to_string();
    let elsewhere = send(from_page(&w, "/users/logout/", Some(ELSEWHERE), json!({}), Auth::Bearer(&renewed))).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
}

#[tokio::test]
async fn signing_in_or_up_from_another_site_is_refused() {
    let w = World::with(TestDatabase::sqlite(), &[]);
    w.sign_up("peggy", "peggy@example.org").await;
    let login = json!({"username": "peggy", "password": PASSWORD});
    let refused = send(from_page(&w, "/users/login/", Some(ELSEWHERE), login.clone(), Auth::None)).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "cross_site_request"));
    assert!(refused.cookie().is_empty() && refused.body.get("token").is_none());
    let page = w.http.post(w.server.url("/users/login/")).header("Origin", ELSEWHERE);
    let by_form = send(form(page, &[("username", "peggy"), ("password", PASSWORD)])).await;
    assert_eq!((by_form.status, by_form.code()), (StatusCode::FORBIDDEN, "cross_site_request"));
    let signup = json!({"username": "victor", "email": "victor@example.org", "password": PASSWORD});
    let signup = send(from_page(&w, "/users/signup/", Some(ELSEWHERE), signup, Auth::None)).await;
    assert_eq!(signup.code(), "cross_site_request");
    let verify = json!({"email": "victor@example.org", "otp": "123456", "username": "victor", "password": PASSWORD});
    let verify = send(from_page(&w, "/users/verification/", Some("null"), verify, Auth::None)).await;
    assert_eq!(verify.code(), "cross_site_request");
    assert_eq!(w.smtp.messages().len(), 1, "no code was mailed for the refused sign-up");
    // The same login from nowhere in particular (a native client) still works.
    assert_eq!(send(from_page(&w, "/users/login/", None, login, Auth::None)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bodies_are_json_or_forms_and_nothing_else() {
    let w = World::with(TestDatabase::sqlite(), &[]);
    w.sign_up("wendy", "wendy@example.org").await;
    let body = r#"{"username": "wendy", "password": "correct horse battery staple"}"#;
    for other in ["text/plain", "text/plain; charset=utf-8", "multipart/form-data; boundary=x", "application/xml"] {
        let request = w.http.post(w.server.url("/users/login/")).header(CONTENT_TYPE, other).body(body);
        let refused = send(request).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            "{other}"
        );
    }
    let unstated = send(w.http.post(w.server.url("/users/login/")).body(body)).await;
    assert_eq!(unstated.code(), "unsupported_media_type");
    let json = w.http.post(w.server.url("/users/login/")).header(CONTENT_TYPE, "application/json; charset=utf-8");
    assert_eq!(send(json.body(body)).await.status, StatusCode::OK);
    let login = form(w.http.post(w.server.url("/users/login/")), &[("username", "wendy"), ("password", PASSWORD)]);
    assert_eq!(send(login).await.status, StatusCode::OK);
}

#[tokio::test]
async fn two_session_cookies_are_refused_and_the_cookie_is_host_only() {
    let w = World::with(TestDatabase::sqlite(), &[]);
    let token = w.sign_up("oscar", "oscar@example.org").await;
    let login = w.post("/users/login/", json!({"username": "oscar", "password": PASSWORD}), Auth::None).await;
    let set: Vec<&str> = login.headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    let session = set.iter().find(|c| c.starts_with("__Host-sessionid=")).expect("the session cookie");
    let attributes: Vec<&str> = session.split("; ").collect();
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(attributes.contains(&attribute), "{attribute} in {session}");
    }
    assert!(!session.to_ascii_lowercase().contains("domain"), "{session}");
    let other = login.body["token"].as_str().unwrap();

    for cookies in [
        vec![format!("__Host-sessionid={token}; __Host-sessionid={other}")],
        vec![format!("__Host-sessionid={token}"), format!("__Host-sessionid={other}")],
    ] {
        let mut request = w.http.get(w.server.url("/users/who_am_i/"));
        for line in &cookies {
            request = request.header(COOKIE, line);
        }
        let refused = send(request).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, "duplicate_session_cookie"),
            "{cookies:?}"
        );
    }
    // The old name is not a session: left over beside the new one, it is ignored; alone, it
    // signs nobody in.
    let leftover = w
        .http
        .get(w.server.url("/users/who_am_i/"))
        .header(COOKIE, format!("sessionid={other}; __Host-sessionid={token}"));
    assert_eq!(send(leftover).await.status, StatusCode::OK);
    let old = w.http.get(w.server.url("/users/who_am_i/")).header(COOKIE, format!("sessionid={token}"));
    assert_eq!(send(old).await.status, StatusCode::UNAUTHORIZED);
}

/// A login for nobody (404 when let through) from behind the proxy, with these lines of the
/// client-address header.
async fn login_through_proxy(w: &World, lines: &[&str]) -> Answer {
    let mut request = w.http.post(w.server.url("/users/login/"));
    for line in lines {
        request = request.header("X-Forwarded-For", *line);
    }
    send(request.json(&json!({"username": "nobody", "password": PASSWORD}))).await
}

fn behind_proxy(limit: &'static str) -> World {
    World::with(
        TestDatabase::sqlite(),
        &[("LATCHKEY_IP_LIMIT", limit), ("LATCHKEY_CLIENT_IP_HEADER", "X-Forwarded-For")],
    )
}

#[tokio::test]
async fn the_proxys_own_line_names_the_client_not_a_line_the_client_sent() {
    let w = behind_proxy("3");
    // HAProxy appends its own line after whatever the client sent: a client changing its own
    // line on every request still counts as the address the proxy saw.
    for i in 0..3 {
        let forged = format!("10.0.0.{i}");
        let answer = login_through_proxy(&w, &[&forged, "198.51.100.7"]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    }
    let limited = login_through_proxy(&w, &["10.0.0.99", "198.51.100.7"]).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(limited.headers.get(RETRY_AFTER).is_some());
    // The same within one line: the last entry is the proxy's.
    let listed = login_through_proxy(&w, &["10.0.0.98, 198.51.100.7"]).await;
    assert_eq!(listed.code(), "rate_limited");
    assert_eq!(login_through_proxy(&w, &["198.51.100.7", "198.51.100.8"]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn addresses_with_ports_count_for_their_own_client() {
    let w = behind_proxy("2");
    for port in ["5000", "5001"] {
        let answer = login_through_proxy(&w, &[&format!("198.51.100.1:{port}")]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    }
    assert_eq!(login_through_proxy(&w, &["198.51.100.1:5002"]).await.code(), "rate_limited");
    // Another client behind the same proxy is not held back (before, every ip:port fell back to
    // the proxy's own address: one bucket for everyone).
    assert_eq!(login_through_proxy(&w, &["198.51.100.2:5000"]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(login_through_proxy(&w, &["[2001:db8::1]:443"]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(login_through_proxy(&w, &["[2001:db8::1]"]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(login_through_proxy(&w, &["2001:db8::1"]).await.code(), "rate_limited");
}

#[tokio::test]
async fn ipv6_counts_per_64_and_mapped_ipv4_as_its_ipv4_address() {
    let w = behind_proxy("2");
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"] {
        assert_eq!(login_through_proxy(&w, &[ip]).await.status, StatusCode::NOT_FOUND, "{ip}");
    }
    assert_eq!(login_through_proxy(&w, &["2001:db8:1:2:abcd::1"]).await.code(), "rate_limited", "same /64");
    assert_eq!(login_through_proxy(&w, &["2001:db8:1:3::1"]).await.status, StatusCode::NOT_FOUND, "another /64");

    for ip in ["::ffff:198.51.100.9", "198.51.100.9"] {
        assert_eq!(login_through_proxy(&w, &[ip]).await.status, StatusCode::NOT_FOUND, "{ip}");
    }
    assert_eq!(login_through_proxy(&w, &["[::ffff:198.51.100.9]:80"]).await.code(), "rate_limited");
}

#[tokio::test]
async fn a_client_address_the_header_does_not_give_is_refused_not_guessed() {
    let w = behind_proxy("100");
    for lines in [&[][..], &["unknown"], &["198.51.100.7, "], &["198.51.100.7", "garbage"], &["198.51.100.7:port"]] {
        let refused = login_through_proxy(&w, lines).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, "client_address_unreadable"),
            "{lines:?}: {}",
            refused.body
        );
    }
    // The health check answers whoever asks (a load balancer may ask directly).
    assert_eq!(w.get("/healthz", Auth::None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_per_client_limit_writes_nothing_to_the_database() {
    let w = World::with(TestDatabase::sqlite(), &[]);
    let token = w.sign_up("sybil", "sybil@example.org").await;
    let TestDatabase::Sqlite { path, .. } = &w.db else { unreachable!() };
    // Every commit appends to the write-ahead log (or, after a checkpoint, rewrites the file).
    let files = || {
        ["", "-wal"].map(|suffix| {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            std::fs::metadata(file).map(|m| (m.len(), m.modified().unwrap())).ok()
        })
    };
    let before = files();
    for _ in 0..3 {
        assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&token)).await.status, StatusCode::OK);
    }
    assert_eq!(files(), before, "who-am-i wrote to the database");
    assert_eq!(w.db.number("SELECT count(*) FROM sqlite_master WHERE name = 'ip_requests'").await, 0);
}

/// Devices over HTTP on PostgreSQL: two clients of one account, each named as it named itself
/// (or by its browser), the list marks the asking one; ending the other stops it at its next
/// request with the reason; the attacker, another account, can end none of them, not even with
/// many requests at once.
#[tokio::test]
async fn devices_are_listed_and_ended_only_by_their_own_account() {
    let w = World::new().await;
    let laptop = w.sign_up("ann", "ann@example.org").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let phone = w
        .http
        .post(w.server.url("/users/login/"))
        .header("user-agent", firefox)
        .json(&json!({"username": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let phone = Answer::from(phone).await.body["token"].as_str().unwrap().to_string();
    let named = w
        .http
        .post(w.server.url("/users/login/"))
        .header("x-latchkey-client", "ann-desktop (Linux)")
        .json(&json!({"username": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let named = Answer::from(named).await.body["token"].as_str().unwrap().to_string();

    let listed = w.get("/users/sessions/", Auth::Bearer(&phone)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let sessions = listed.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    let by_device = |name: &str| sessions.iter().find(|s| s["device"] == name).unwrap().clone();
    let (phone_row, named_row) = (by_device("Firefox on Linux"), by_device("ann-desktop (Linux)"));
    assert_eq!((phone_row["current"].clone(), named_row["current"].clone()), (json!(true), json!(false)));
    assert_eq!(phone_row["ip"], "127.0.0.1");
    for row in &sessions {
        let id = row["id"].as_str().unwrap();
        assert!(id.len() >= 22 && ![&laptop, &phone, &named].iter().any(|t| t.contains(id)));
        for key in ["created_at", "last_seen_at"] {
            assert!(row[key].as_i64().unwrap() > 0, "{key}");
        }
    }

    // The attacker: another account that learned the ids, many requests at once.
    let eve = w.sign_up("eve", "eve@example.org").await;
    let attempts = sessions.iter().flat_map(|row| {
        let id = row["id"].as_str().unwrap().to_string();
        (0..3).map(move |_| id.clone())
    });
    let attempts = attempts.map(|id| w.post("/users/sessions/revoke/", json!({"id": id}), Auth::Bearer(&eve)));
    for answer in futures::future::join_all(attempts).await {
        assert_eq!((answer.status, answer.code()), (StatusCode::NOT_FOUND, "no_such_session"));
    }
    let unknown = w.post("/users/sessions/revoke/", json!({"id": "nobody's"}), Auth::Bearer(&eve)).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "no_such_session"));
    let none = w.post("/users/sessions/revoke_others/", json!({}), Auth::Bearer(&eve)).await;
    assert_eq!(none.body["revoked"], 0);
    for token in [&laptop, &phone, &named] {
        assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(token)).await.status, StatusCode::OK);
    }
    let anonymous = w.get("/users/sessions/", Auth::None).await;
    assert_eq!((anonymous.status, anonymous.code()), (StatusCode::UNAUTHORIZED, "not_authenticated"));

    // The owner ends the named desktop: its next request says why.
    let id = named_row["id"].as_str().unwrap();
    let ended = w.post("/users/sessions/revoke/", json!({"id": id}), Auth::Bearer(&phone)).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    let after = w.get("/users/who_am_i/", Auth::Bearer(&named)).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "signed_out_elsewhere"));
    assert!(after.headers.contains_key(WWW_AUTHENTICATE));

    // Every other device: the laptop; the phone stays.
    let others = w.post("/users/sessions/revoke_others/", json!({}), Auth::Cookie(&phone)).await;
    assert_eq!((others.status, others.body["revoked"].clone()), (StatusCode::OK, json!(1)), "{}", others.body);
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&laptop)).await.code(), "signed_out_elsewhere");
    let left = w.get("/users/sessions/", Auth::Bearer(&phone)).await;
    assert_eq!(left.body["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(w.get("/users/who_am_i/", Auth::Bearer(&eve)).await.status, StatusCode::OK);
}

/// Sends a sign-in as a client naming itself `label` (`X-Latchkey-Client`); returns the token.
async fn sign_in_as(w: &World, label: &str) -> String {
    let request = w.http.post(w.server.url("/users/login/")).header("x-latchkey-client", label);
    let answer =
        Answer::from(request.json(&json!({"username": "ann", "password": PASSWORD})).send().await.unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["token"].as_str().unwrap().to_string()
}

fn notices(w: &World) -> Vec<String> {
    let is_notice = |m: &String| latchkey_testkit::header(m, "Subject").is_some_and(|s| s.contains("New sign-in"));
    w.smtp.messages().into_iter().filter(is_notice).collect()
}

/// New-sign-in notices over HTTP on PostgreSQL: none in the sign-up's first 10 minutes or for
/// the sign-up's own device; one for each device new to the account, even when it signs in
/// several times at once; none for one already known. The activity lists each event once.
#[tokio::test]
async fn a_new_device_is_told_to_the_owner_once_and_activity_lists_each_event_once() {
    let w = World::new().await;
    let token = w.sign_up("ann", "ann@example.org").await;
    // Within the sign-up's first 10 minutes: no notice, even for a new device.
    sign_in_as(&w, "Fresh phone").await;
    w.db.execute("UPDATE users SET date_joined = date_joined - 3600").await;
    // The sign-up's device and the one seen since are known.
    let _ = Answer::from(
        w.http
            .post(w.server.url("/users/login/"))
            .json(&json!({"username": "ann", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    sign_in_as(&w, "Fresh phone").await;

    // A new device, four sign-ins at once (through two processes): one notice.
    let other = Server::start(&w.db, w.smtp.port, &[]);
    let at_once = (0..4).map(|i| {
        let server = if i % 2 == 0 { &w.server } else { &other };
        let request = w.http.post(server.url("/users/login/")).header("x-latchkey-client", "Stolen laptop");
        request.json(&json!({"username": "ann", "password": PASSWORD})).send()
    });
    for answer in futures::future::join_all(at_once).await {
        assert_eq!(answer.unwrap().status(), StatusCode::OK);
    }
    let notice = w.smtp.wait_for_mail("ann@example.org", "New sign-in").await;
    let text = latchkey_testkit::unfolded(&notice);
    assert!(text.contains("Stolen laptop") && text.contains("127.0.0.1"), "{text}");
    assert!(text.contains("Forgot password?"), "{text}");
    assert!(!text.contains(&token));
    // The known device again: still one notice once everything sent has arrived.
    sign_in_as(&w, "Stolen laptop").await;
    sign_in_as(&w, "Another tablet").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while notices(&w).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no notice for the tablet");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let told: Vec<String> = notices(&w).iter().map(|m| latchkey_testkit::unfolded(m)).collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1].contains("Another tablet"));

    // Activity: every event once, newest first, the notices among them.
    let answer = w.get("/users/activity/", Auth::Bearer(&token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let events = answer.body["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!((count("signed_up"), count("sign_in"), count("new_device")), (1, 9, 2), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"signed_up"));
    assert!(events.iter().all(|e| e["ip"] == "127.0.0.1" && e["at"].as_i64().unwrap() > 0));
    let at: Vec<i64> = events.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(at.windows(2).all(|p| p[0] >= p[1]), "{at:?}");
    // Pages of two, then the rest.
    let page = w.get("/users/activity/?limit=2", Auth::Bearer(&token)).await;
    let next = page.body["next"].as_i64().unwrap();
    let rest = w.get(&format!("/users/activity/?before={next}&limit=100"), Auth::Bearer(&token)).await;
    assert_eq!(rest.body["events"].as_array().unwrap().len(), events.len() - 2);
    let bad = w.get("/users/activity/?limit=lots", Auth::Bearer(&token)).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_input"));
    assert_eq!(w.get("/users/activity/", Auth::None).await.status, StatusCode::UNAUTHORIZED);
}

/// "Download my data" over HTTP: the password again (a wrong one is `wrong_password` and counts
/// as a failed sign-in), then the same JSON the desktop saves, and a notice by mail.
#[tokio::test]
async fn my_data_is_answered_after_the_password_and_a_wrong_one_counts() {
    let w = World::new().await;
    let token = w.sign_up("ann", "ann@example.org").await;
    let wrong = w.post("/users/export/", json!({"password": "wrong password!"}), Auth::Bearer(&token)).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "wrong_password"));
    assert_eq!(w.db.number("SELECT failures FROM login_throttle").await, 1);
    let data = w.post("/users/export/", json!({"password": PASSWORD}), Auth::Bearer(&token)).await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.body);
    assert_eq!(data.body["format"], "latchkey-data-1");
    assert_eq!(data.body["profile"]["email"], "ann@example.org");
    assert_eq!(data.body["devices"][0]["current"], true);
    let kinds: Vec<&str> =
        data.body["activity"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["data_exported", "signed_up"]);
    assert_eq!(data.body["notice_sent"], true);
    assert!(!data.body.to_string().contains(&token) && !data.body.to_string().contains("argon2"));
    w.smtp.wait_for_mail("ann@example.org", "data was downloaded").await;
    let none = w.post("/users/export/", json!({"password": PASSWORD}), Auth::None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

/// A second factor over HTTP on PostgreSQL, two processes: set up and confirmed (the enrolment
/// uses up its step), a right password then answers 401 `second_factor_required` with a
/// challenge; one code sent with two challenges at once through the two processes signs in once;
/// a recovery code likewise.
#[tokio::test]
async fn a_second_factor_code_signs_in_once_through_two_processes() {
    use latchkey_testkit::{authenticator_code, unix_now};
    let w = World::new().await;
    let other = Server::start(&w.db, w.smtp.port, &[]);
    let token = w.sign_up("ann", "ann@example.org").await;
    let setup = w.post("/users/second_factor/setup/", json!({"password": PASSWORD}), Auth::Bearer(&token)).await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let key = setup.body["secret"].as_str().unwrap().to_string();
    let uri = setup.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Latchkey:ann?secret=") && uri.contains("issuer=Latchkey"), "{uri}");
    assert!(
        !uri.contains("SHA256") && !uri.contains("digits=8"),
        "SHA-1, 6 digits (the defaults every app reads): {uri}"
    );
    // The step before now (accepted): the sign-ins below use now's.
    let enrol_code = authenticator_code(&key, unix_now() - 30);
    let confirmed = w.post("/users/second_factor/confirm/", json!({"code": enrol_code}), Auth::Bearer(&token)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let recovery: Vec<String> =
        confirmed.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10);
    let me = w.get("/users/who_am_i/", Auth::Bearer(&token)).await;
    assert_eq!((me.body["second_factor"].clone(), me.body["recovery_codes_left"].clone()), (json!(true), json!(10)));

    // Each right password waits for its code and counts in the login throttle until one signs
    // in (so a stolen password gives no free guesses): two sign-ins at a time, as the issue's
    // replay needs, stay within the free attempts.
    for code in [authenticator_code(&key, unix_now()), recovery[0].clone()] {
        let waiting = challenges(&w, &other, 2).await;
        let servers = [&w.server, &other];
        let at_once = waiting.iter().enumerate().map(|(i, c)| {
            w.post_to(servers[i % 2], "/users/login/second_factor/", json!({"challenge": c, "code": code}), Auth::None)
        });
        let answers = futures::future::join_all(at_once).await;
        let signed_in: Vec<_> = answers.iter().filter(|a| a.status == StatusCode::OK).collect();
        assert_eq!(signed_in.len(), 1, "{:?}", answers.iter().map(|a| a.code().to_string()).collect::<Vec<_>>());
        assert!(signed_in[0].body["token"].is_string() && signed_in[0].cookie().starts_with("__Host-sessionid="));
        assert!(answers.iter().filter(|a| a.status != StatusCode::OK).all(|a| a.code() == "invalid_second_factor"));
    }
    w.smtp.wait_for_mail("ann@example.org", "recovery code was used").await;
    let me = w.get("/users/who_am_i/", Auth::Bearer(&token)).await;
    assert_eq!(me.body["recovery_codes_left"], 9);
    let sessions = w.db.number("SELECT count(*) FROM sessions").await;
    assert_eq!(sessions, 3, "the sign-up's and one for each code");
}

/// `n` sign-ins with the right password at once, through both processes: their challenges.
async fn challenges(w: &World, other: &Server, n: usize) -> Vec<String> {
    let servers = [&w.server, other];
    let logins = (0..n).map(|i| {
        w.post_to(servers[i % 2], "/users/login/", json!({"username": "ann", "password": PASSWORD}), Auth::None)
    });
    let answers = futures::future::join_all(logins).await;
    answers
        .iter()
        .map(|a| {
            assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "second_factor_required"), "{}", a.body);
            assert!(a.body.get("token").is_none());
            a.body["challenge"].as_str().unwrap().to_string()
        })
        .collect()
}

/// `make serve`'s way to try the service: no mail server, every mail an `.eml` file in
/// `LATCHKEY_OUTBOX`, which is refused at start on any address but loopback.
#[tokio::test]
async fn the_outbox_lets_one_machine_try_the_service_and_is_refused_on_a_public_address() {
    let db = TestDatabase::sqlite();
    let outbox = tempfile::tempdir().unwrap();
    let start = |listen: String| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-server"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LATCHKEY_LISTEN", listen)
            .env("DATABASE_URL", db.url())
            .env("LATCHKEY_OUTBOX", outbox.path());
        command
    };
    // A public address: refused at once, saying why.
    let refused = start(format!("0.0.0.0:{}", latchkey_testkit::free_port())).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("only for a service on loopback"), "{said}");

    let port = latchkey_testkit::free_port();
    let mut command = start(format!("127.0.0.1:{port}"));
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = latchkey_testkit::Group::spawn(&mut command);
    latchkey_testkit::wait_for_port(port, "latchkey-server");
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let body = json!({"username": "ann", "email": "ann@example.org", "password": PASSWORD});
    let sent = http.post(url("/users/signup/")).json(&body).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let mail = std::fs::read_dir(outbox.path()).unwrap().flatten().next().expect("an .eml file in the outbox");
    assert_eq!(mail.path().extension().and_then(|e| e.to_str()), Some("eml"));
    let code = code_in(&std::fs::read_to_string(mail.path()).unwrap());
    let body = json!({"email": "ann@example.org", "otp": code, "username": "ann", "password": PASSWORD});
    let made = http.post(url("/users/verification/")).json(&body).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    child.stop();
}
