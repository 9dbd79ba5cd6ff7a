//! What SQLite's single writer gave the desktop app for free, PostgreSQL's transactions must give
//! the service: simultaneous requests for one account or one address count one after another.
//! The domain on a real PostgreSQL database (the test server `make test` starts), real mail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use latchkey_core::auth::signup::SignupRequest;
use latchkey_core::auth::{Device, THIS_WINDOW};
use latchkey_core::contract::{system_clock, Accounts, DatabaseAccounts};
use latchkey_core::error::Error;
use latchkey_core::store::{CodeStore, LimitStore, MailLimits, NewCode, Subject};
use latchkey_testkit::{code_in, SmtpServer, TestDatabase};
use sqlx::PgPool;

/// The device the test's sessions are recorded for.
const HERE: Device<'static> = Device { label: "Test desktop", ip: None };

const PASSWORD: &str = "correct horse battery staple";

async fn accounts(smtp: &SmtpServer, db: &TestDatabase) -> DatabaseAccounts<PgPool> {
    let pool = latchkey_core::store::postgres::open(&db.url()).await.unwrap();
    DatabaseAccounts { pool, mailer: common::mailer(smtp), clock: system_clock() }
}

async fn sign_up(accounts: &DatabaseAccounts<PgPool>, smtp: &SmtpServer, name: &str, email: &str) {
    let request = SignupRequest { username: name, email, password: PASSWORD, replaces: None };
    let sent = accounts.request_signup(request, THIS_WINDOW).await.unwrap();
    let code = code_in(&smtp.wait_for_mail(email, "verification code").await);
    accounts.verify_signup(sent.signup_id(), &code, HERE).await.unwrap();
}

/// Forty wrong passwords at once for one account (by name and by address, which share one count):
/// five are checked, the rest find the lock the fifth failure sets.
#[tokio::test]
async fn simultaneous_wrong_logins_check_only_five_passwords() {
    let (smtp, db) = (SmtpServer::start(), TestDatabase::postgres().await);
    let accounts = accounts(&smtp, &db).await;
    sign_up(&accounts, &smtp, "Ann", "ann@example.org").await;
    let attempts = (0..40).map(|i| {
        let identifier = if i % 2 == 0 { "ann" } else { "ann@example.org" };
        accounts.login(identifier, "not the password", HERE)
    });
    let answers = futures::future::join_all(attempts).await;
    let checked = answers.iter().filter(|a| matches!(a, Err(Error::InvalidCredentials))).count();
    let throttled = answers.iter().filter(|a| matches!(a, Err(Error::LoginThrottled { .. }))).count();
    assert_eq!((checked, throttled), (5, 35));
    assert_eq!(db.number("SELECT failures FROM login_throttle").await, 5);
}

/// A pool with `n` connections open, so that `n` statements really run at the same moment.
async fn warm(pool: &PgPool, n: usize) {
    let held: Vec<_> = futures::future::join_all((0..n).map(|_| pool.acquire())).await;
    assert!(held.iter().all(|c| c.is_ok()));
}

/// Twelve requests at the same moment for one address's mail slot (one a minute) and for its one
/// password reset: each is taken once. Read-count-write steps that SQLite's single writer made
/// atomic take an advisory lock here; without it several would win.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_claims_on_one_address_are_taken_once() {
    let db = TestDatabase::postgres().await;
    let pool = latchkey_core::store::postgres::open(&db.url()).await.unwrap();
    warm(&pool, 12).await;
    let limits = MailLimits { per_minute: 1, per_hour: 5, address_per_hour: 20 };
    let now = 1_900_000_000;
    let claims = (0..12).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move { pool.reserve_mail_slot("bea@example.org", "window", limits, now).await.unwrap() })
    });
    let slots: Vec<_> = futures::future::join_all(claims).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(slots.iter().filter(|s| s.is_ok()).count(), 1, "{slots:?}");
    assert_eq!(db.number("SELECT count(*) FROM mail_sends").await, 1);

    let codes = (0..12).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let hash = format!("code-hash-{i}");
            let new = NewCode {
                subject: Subject::Reset(&[7; 32]),
                user_id: None,
                email_key: "bea@example.org",
                new_email: None,
                code_hash: &hash,
                now,
                expires_at: now + 600,
            };
            pool.replace_account_code(&new, 60).await.unwrap()
        })
    });
    let codes: Vec<_> = futures::future::join_all(codes).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| c.is_ok()).count(), 1, "{codes:?}");
    assert!(codes.iter().filter_map(|c| c.err()).all(|wait| wait == 60));
    assert_eq!(db.number("SELECT count(*) FROM account_codes").await, 1);
}

/// Two names that look alike ("pop" in Latin and in Cyrillic letters) verified at once: one
/// account; the other gets `username_taken` from the skeleton index, not an internal error.
#[tokio::test]
async fn look_alike_names_verified_at_once_make_one_account() {
    let (smtp, db) = (SmtpServer::start(), TestDatabase::postgres().await);
    let accounts = accounts(&smtp, &db).await;
    let latin = SignupRequest { username: "pop", email: "m1@example.org", password: PASSWORD, replaces: None };
    let cyrillic = SignupRequest {
        username: "\u{0440}\u{043e}\u{0440}",
        email: "m2@example.org",
        password: PASSWORD,
        replaces: None,
    };
    let a = accounts.request_signup(latin, THIS_WINDOW).await.unwrap();
    let b = accounts.request_signup(cyrillic, THIS_WINDOW).await.unwrap();
    let code_a = code_in(&smtp.wait_for_mail("m1@example.org", "verification code").await);
    let code_b = code_in(&smtp.wait_for_mail("m2@example.org", "verification code").await);
    let (ra, rb) = tokio::join!(
        accounts.verify_signup(a.signup_id(), &code_a, HERE),
        accounts.verify_signup(b.signup_id(), &code_b, HERE)
    );
    let made = [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(made, 1, "{ra:?} {rb:?}");
    assert!(matches!((ra, rb), (Err(Error::UsernameTaken), _) | (_, Err(Error::UsernameTaken))));
    assert_eq!(db.number("SELECT count(*) FROM users").await, 1);
}
