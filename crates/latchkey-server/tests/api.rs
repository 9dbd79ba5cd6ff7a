//! The original API over real HTTP: the `latchkey-server` binary as a process on loopback, on a
//! real PostgreSQL database (and a real SQLite file where the file itself is looked at) with the
//! real migrations, real mail through aiosmtpd.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

mod common;

use common::Server;
use latchkey_testkit::{code_in, other_code, SmtpServer, TestDatabase};
use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
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
            Auth::Cookie(token) => request.header(COOKIE, format!("sessionid={token}")),
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
    assert!(cookie.starts_with(&format!("sessionid={token};")), "{cookie}");
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
    assert!(by_email.cookie().starts_with("sessionid="));
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
            let text_columns = "SELECT count(*) FROM information_schema.columns
                                WHERE table_name = 'sessions' AND data_type <> 'bytea' AND data_type <> 'bigint'";
            assert_eq!(w.db.number(text_columns).await, 0);
        }
    }

    let out = w.post("/users/logout/", json!({}), Auth::Cookie(&token)).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.cookie().starts_with("sessionid=;") && out.cookie().contains("Max-Age=0"));
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
    let not_json = Answer::from(w.http.post(w.server.url("/users/login/")).body("{").send().await.unwrap()).await;
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
    let email_taken = w
        .post(
            "/users/signup/",
            json!({"username": "grace2", "email": "grace@example.org", "password": PASSWORD}),
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
            json!({"email": "lin@example.org", "code": code, "password": reset_password}),
            Auth::None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert!(reset.cookie().starts_with("sessionid="));
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

/// SMTP that answers a second late: a sign-up is still sending its mail when SIGTERM arrives.
fn slow_smtp(to: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                let server = TcpStream::connect(("127.0.0.1", to)).unwrap();
                let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pipe(&mut up_from, &mut up_to));
                let (mut down_from, mut down_to) = (server, client);
                pipe(&mut down_from, &mut down_to);
            });
        }
    });
    port
}

/// SMTP that holds each connection until the test lets it through, and says when one arrives: a
/// sign-up sending its mail keeps its place in argon2's queue meanwhile.
fn held_smtp(to: u16) -> (u16, std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let _ = arrived_tx.send(());
            if released.recv().is_err() {
                return; // the test is over
            }
            let server = TcpStream::connect(("127.0.0.1", to)).unwrap();
            let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(&mut up_from, &mut up_to));
            let (mut down_from, mut down_to) = (server, client);
            std::thread::spawn(move || pipe(&mut down_from, &mut down_to));
        }
    });
    (port, arrived, release)
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

fn pipe(from: &mut TcpStream, to: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    let smtp = SmtpServer::start();
    let db = TestDatabase::postgres().await;
    let server = Server::start(&db, slow_smtp(smtp.port), &[]);
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
