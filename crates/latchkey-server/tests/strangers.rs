//! What a stranger who knows only an address can do to its owner, over real HTTP on PostgreSQL:
//! not keep the owner from resetting the password, and not learn that the address has an account.
//! Each client is told apart by the proxy header the service is configured to trust.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::Server;
use latchkey_testkit::{code_in, code_of, header, SmtpServer, TestDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "violet tundra marble kite";
const OWNER: &str = "198.51.100.7";
const ATTACKER: &str = "203.0.113.9";
/// Where the accounts were made (a day before, as far as the mail limits go).
const EARLIER: &str = "192.0.2.1";

struct World {
    smtp: SmtpServer,
    _db: TestDatabase,
    server: Server,
    http: reqwest::Client,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl World {
    async fn new() -> World {
        let db = TestDatabase::postgres().await;
        let smtp = SmtpServer::start();
        let extra = [("LATCHKEY_CLIENT_IP_HEADER", "X-Forwarded-For"), ("LATCHKEY_IP_LIMIT", "100000")];
        let server = Server::start(&db, smtp.port, &extra);
        World { smtp, _db: db, server, http: reqwest::Client::new() }
    }

    /// A request from the client at `from`, optionally signed in with a bearer token.
    async fn post(&self, from: &str, path: &str, body: Value, token: Option<&str>) -> Answer {
        let mut request = self.http.post(self.server.url(path)).header("X-Forwarded-For", from).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        Answer { status, body: response.json().await.unwrap_or(Value::Null) }
    }

    async fn sign_up(&self, username: &str, email: &str) -> String {
        let body = json!({"username": username, "email": email, "password": PASSWORD});
        let sent = self.post(EARLIER, "/users/signup/", body, None).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        let code = code_in(&self.smtp.wait_for_mail(email, "verification code").await);
        let body = json!({"email": email, "otp": code, "username": username, "password": PASSWORD});
        let made = self.post(EARLIER, "/users/verification/", body, None).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        made.body["token"].as_str().unwrap().to_string()
    }

    /// Waits until `n` messages have been delivered in all (mail goes out in the background).
    fn delivered(&self, n: usize) -> String {
        self.smtp.wait_for_message(n)
    }
}

/// An attacker who knows Ann's address asks for resets, enters wrong codes and fails sign-ins
/// the whole time; Ann's own reset still goes through and signs her in.
#[tokio::test]
async fn nobody_can_keep_the_owner_from_resetting_the_password() {
    let w = World::new().await;
    w.sign_up("ann", "ann@example.org").await;
    w.delivered(1);

    // The attacker's reset requests: one code mail goes out (to Ann), the rest are refused.
    let mut sent = 0;
    for _ in 0..6 {
        let asked = w.post(ATTACKER, "/users/password/reset/", json!({"email": "ann@example.org"}), None).await;
        sent += usize::from(asked.status == StatusCode::OK);
    }
    assert!(sent <= 1, "the attacker got {sent} code mails in a minute");
    w.delivered(1 + sent);

    // Ann asks from her own computer while the attacker keeps guessing.
    let mine = w.post(OWNER, "/users/password/reset/", json!({"email": "ann@example.org"}), None).await;
    assert_eq!(mine.status, StatusCode::OK, "Ann's own reset request was refused: {}", mine.body);
    let code = code_in(&w.delivered(2 + sent));
    let attack = async {
        for i in 0..30 {
            let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
            let body = json!({"email": "ann@example.org", "code": wrong, "password": NEW_PASSWORD});
            w.post(ATTACKER, "/users/password/reset/confirm/", body, None).await;
            let login = json!({"username": "ann", "password": format!("guess number {i}")});
            w.post(ATTACKER, "/users/login/", login, None).await;
        }
    };
    let reset_id = mine.body["reset_id"].as_str().unwrap_or_default().to_string();
    let owner = async {
        let body = json!({"email": "ann@example.org", "reset_id": reset_id, "code": code, "password": NEW_PASSWORD});
        w.post(OWNER, "/users/password/reset/confirm/", body, None).await
    };
    let ((), done) = tokio::join!(attack, owner);
    assert_eq!(done.status, StatusCode::OK, "Ann's reset failed: {}", done.body);
    let token = done.body["token"].as_str().unwrap();
    let me = w.http.get(w.server.url("/users/who_am_i/")).header("X-Forwarded-For", OWNER).bearer_auth(token);
    assert_eq!(me.send().await.unwrap().status(), StatusCode::OK);
}

/// A sign-up for an address that has an account answers exactly as one for a new address, goes
/// to the code step as usual, and tells the owner instead of sending a code; the same for an
/// email change to a taken address.
#[tokio::test]
async fn a_taken_address_is_never_told_to_a_stranger() {
    let w = World::new().await;
    let ann = w.sign_up("ann", "ann@example.org").await;
    w.delivered(1);

    let fresh = w
        .post(
            ATTACKER,
            "/users/signup/",
            json!({"username": "eve", "email": "eve@example.org", "password": PASSWORD}),
            None,
        )
        .await;
    w.delivered(2);
    let taken = w
        .post(
            ATTACKER,
            "/users/signup/",
            json!({"username": "eve2", "email": "ann@example.org", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(taken.status, fresh.status, "{}", taken.body);
    let keys = |a: &Answer| {
        let mut keys: Vec<String> = a.body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&taken), keys(&fresh));
    let notice = w.delivered(3);
    assert!(header(&notice, "To").unwrap().contains("ann@example.org"));
    assert!(header(&notice, "Subject").unwrap().contains("tried to sign up"), "{notice}");
    assert!(code_of(&notice).is_none(), "the notice carries no code");
    // The code step answers as for any wrong code.
    let id = taken.body["signup_id"].as_str().unwrap_or_default();
    let verify = w.post(ATTACKER, "/users/verification/", json!({"signup_id": id, "code": "123456"}), None).await;
    assert_eq!(verify.code(), "invalid_code", "{}", verify.body);

    // Eve, signed in, asks to move her account to Ann's address: "code sent", and Ann is told.
    let eve_code = code_in(&w.smtp.wait_for_mail("eve@example.org", "verification code").await);
    let eve = w
        .post(ATTACKER, "/users/verification/", json!({"signup_id": fresh.body["signup_id"], "code": eve_code}), None)
        .await;
    let eve_token = eve.body["token"].as_str().unwrap().to_string();
    let change = json!({"password": PASSWORD, "new_email": "ann@example.org"});
    let moved = w.post(ATTACKER, "/users/email/change/", change, Some(&eve_token)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let notice = w.delivered(4);
    assert!(header(&notice, "To").unwrap().contains("ann@example.org"));
    assert!(code_of(&notice).is_none(), "the notice carries no code");
    assert!(!ann.is_empty());
}
