//! Mail through lettre's SMTP transport to a real SMTP server process on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{code_in, SmtpServer};
use latchkey_lib::auth::signup::{self, SignupRequest};
use latchkey_lib::config::Security;
use latchkey_lib::mail::{CodeEmail, Delivery, Mailer};
use latchkey_lib::Error;

fn smtp_mailer(port: u16) -> Mailer {
    common::smtp_mailer("127.0.0.1", port, Security::None)
}

#[tokio::test]
async fn the_code_email_is_delivered_with_both_parts() {
    let server = SmtpServer::start();
    let mailer = smtp_mailer(server.port);
    let email = CodeEmail { username: "ann", to: "ann@example.com", code: "314159", valid_minutes: 10 };
    assert_eq!(mailer.send_code(&email).await.unwrap(), Delivery::Smtp);
    let message = server.wait_for_message(1);
    assert!(message.contains("Subject: Your Latchkey verification code"), "{message}");
    assert!(message.contains("From: Latchkey <no-reply@latchkey.test>"));
    assert!(message.contains("ann@example.com"));
    assert!(message.contains("multipart/alternative"));
    assert!(message.contains("text/plain") && message.contains("text/html"));
    assert_eq!(code_in(&message), "314159");
    assert!(message.contains("valid for 10 minutes"));
}

#[tokio::test]
async fn signup_through_smtp_then_verify_with_the_delivered_code() {
    let server = SmtpServer::start();
    let mailer = smtp_mailer(server.port);
    let dir = tempfile::tempdir().unwrap();
    let pool = latchkey_lib::store::open(&dir.path().join("latchkey.db")).await.unwrap();
    let req =
        SignupRequest { username: "bob", email: "bob@example.com", password: "a long enough password", replaces: None };
    let sent = signup::request_code(&pool, &mailer, req, latchkey_lib::auth::THIS_WINDOW, 1_000).await.unwrap();
    assert_eq!(sent.delivery, Delivery::Smtp);
    let code = code_in(&server.wait_for_message(1));
    let session = signup::verify(
        &pool,
        &mailer,
        sent.signup_id(),
        &code,
        latchkey_lib::auth::Device { label: "Test desktop", ip: None },
        1_010,
    )
    .await
    .unwrap();
    assert_eq!(session.profile.email, "bob@example.com");
}

#[tokio::test]
async fn server_down_gives_mail_failed_and_leaves_nothing_then_a_retry_works() {
    let mut server = SmtpServer::start();
    let mailer = smtp_mailer(server.port);
    server.stop();
    let dir = tempfile::tempdir().unwrap();
    let pool = latchkey_lib::store::open(&dir.path().join("latchkey.db")).await.unwrap();
    let req = || SignupRequest {
        username: "cyd",
        email: "cyd@example.com",
        password: "a long enough password",
        replaces: None,
    };
    let failed = signup::request_code(&pool, &mailer, req(), latchkey_lib::auth::THIS_WINDOW, 1_000).await;
    assert!(matches!(failed, Err(Error::MailFailed(_))), "{failed:?}");
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_signups").fetch_one(&pool).await.unwrap();
    assert_eq!(pending, 0);
    server.restart();
    signup::request_code(&pool, &mailer, req(), latchkey_lib::auth::THIS_WINDOW, 1_001).await.unwrap();
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn starttls_required_but_not_offered_fails_cleanly() {
    let server = SmtpServer::start();
    let mailer = common::smtp_mailer("127.0.0.1", server.port, Security::StartTls);
    let email = CodeEmail { username: "ann", to: "ann@example.com", code: "314159", valid_minutes: 10 };
    assert!(matches!(mailer.send_code(&email).await, Err(Error::MailFailed(_))));
    assert!(server.messages().is_empty());
}
