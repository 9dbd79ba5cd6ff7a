//! One suite, every implementation of `Accounts`: `DatabaseAccounts` on a SQLite file (the desktop app
//! without a server), `DatabaseAccounts` on PostgreSQL (what the service runs), and `Remote` (the desktop
//! app's client, talking to a real `latchkey-server` process over HTTP, on either database). All
//! must give the same answers. Real mail (aiosmtpd), real databases with the real migrations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use latchkey_core::auth::account::ResetRequest;
use latchkey_core::auth::signup::SignupRequest;
use latchkey_core::auth::{Device, THIS_WINDOW};
use latchkey_core::config::ServerUrl;
use latchkey_core::contract::{system_clock, Accounts, DatabaseAccounts};
use latchkey_core::error::Error;
use latchkey_core::remote::Remote;
use latchkey_testkit::{code_in, free_port, other_code, SmtpServer, TestDatabase};

/// The device the test's sessions are recorded for.
const HERE: Device<'static> = Device { label: "Test desktop", ip: None };

const PASSWORD: &str = "correct horse battery staple";
const CHANGED: &str = "violet umbrella marathon 42";
const RESET: &str = "quiet harbour lantern 17";

/// Lets the per-address mail limit (one code a minute) pass the next code at once.
async fn age_mail_sends(db: &TestDatabase) {
    db.execute("UPDATE mail_sends SET sent_at = sent_at - 3600").await;
}

/// The whole life of an account, asked of `accounts`; `db` is the database behind it.
async fn suite(accounts: &impl Accounts, smtp: &SmtpServer, db: &TestDatabase) {
    let startup = accounts.startup(|| async { None }).await.unwrap();
    assert!(startup.profile.is_none() && !startup.stale_token);

    let request = SignupRequest { username: "Ann", email: "ann@example.org", password: PASSWORD, replaces: None };
    let sent = accounts.request_signup(request, THIS_WINDOW).await.unwrap();
    assert_eq!((sent.email.as_str(), sent.expires_at - sent.resend_at), ("ann@example.org", 540));
    let id = sent.signup_id().to_string();
    let code = code_in(&smtp.wait_for_mail("ann@example.org", "verification code").await);
    assert!(matches!(accounts.resend_signup(&id, THIS_WINDOW).await, Err(Error::ResendTooSoon { .. })));
    let wrong = accounts.verify_signup(&id, &other_code(&code), HERE).await.unwrap_err();
    assert!(matches!(wrong, Error::InvalidCode { attempts_left: 4 }), "{wrong:?}");
    assert!(matches!(accounts.verify_signup("someone-elses", &code, HERE).await, Err(Error::NoPendingSignup)));
    let first = accounts.verify_signup(&id, &code, HERE).await.unwrap();
    assert_eq!((first.profile.username.as_str(), first.profile.email.as_str()), ("Ann", "ann@example.org"));

    let taken = SignupRequest { username: "ann", email: "other@example.org", password: PASSWORD, replaces: None };
    assert!(matches!(accounts.request_signup(taken, THIS_WINDOW).await, Err(Error::UsernameTaken)));
    let weak = SignupRequest { username: "bo", email: "bo@example.org", password: PASSWORD, replaces: None };
    assert!(matches!(
        accounts.request_signup(weak, THIS_WINDOW).await,
        Err(Error::InvalidInput { field: "username", .. })
    ));

    let me = accounts.whoami(Some(&first.token)).await.unwrap();
    assert_eq!(me, first.profile);
    assert!(matches!(accounts.whoami(None).await, Err(Error::NotAuthenticated)));
    let startup = accounts.startup(|| async { Some(first.token.clone()) }).await.unwrap();
    assert_eq!(startup.profile.as_ref().map(|p| p.username.as_str()), Some("Ann"));

    assert!(matches!(accounts.login("ann", "wrong password!", HERE).await, Err(Error::InvalidCredentials)));
    assert!(matches!(accounts.login("nobody", PASSWORD, HERE).await, Err(Error::InvalidCredentials)));
    let second = accounts.login("ANN@example.org", PASSWORD, HERE).await.unwrap();

    // A new password ends every other session at its next request.
    let refused = accounts.change_password(Some(&first.token), "not it at all", CHANGED, HERE).await.unwrap_err();
    assert!(matches!(refused, Error::WrongPassword), "{refused:?}");
    let changed = accounts.change_password(Some(&first.token), PASSWORD, CHANGED, HERE).await.unwrap();
    assert!(changed.notice_sent);
    assert!(matches!(accounts.whoami(Some(&second.token)).await, Err(Error::NotAuthenticated)));
    let startup = accounts.startup(|| async { Some(second.token.clone()) }).await.unwrap();
    assert!(startup.stale_token && startup.profile.is_none());
    accounts.whoami(Some(&changed.session.token)).await.unwrap();

    // Forgotten password.
    age_mail_sends(db).await;
    let asked = accounts.request_reset("ann@example.org", THIS_WINDOW).await.unwrap();
    let reset_id = asked.reset_id.as_deref().unwrap();
    let code = code_in(&smtp.wait_for_mail("ann@example.org", "password reset code").await);
    // The reset is this requester's: an id it was not given cannot enter the code.
    let forged = ResetRequest { reset_id: "someone-elses", code: &code, password: RESET };
    assert!(matches!(accounts.reset_password(forged, HERE).await, Err(Error::NoPendingReset)));
    let wrong = ResetRequest { reset_id, code: &other_code(&code), password: RESET };
    assert!(matches!(accounts.reset_password(wrong, HERE).await, Err(Error::InvalidCode { attempts_left: 4 })));
    let right = ResetRequest { reset_id, code: &code, password: RESET };
    let reset = accounts.reset_password(right, HERE).await.unwrap();
    assert!(matches!(accounts.whoami(Some(&changed.session.token)).await, Err(Error::NotAuthenticated)));
    let token = reset.session.token;

    // Email change, then cancelled and started again.
    let started = accounts.request_email_change(Some(&token), RESET, "ann@example.net").await.unwrap();
    assert_eq!(started.profile.pending_email.as_deref(), Some("ann@example.net"));
    let profile = accounts.cancel_email_change(Some(&token)).await.unwrap();
    assert_eq!(profile.pending_email, None);
    age_mail_sends(db).await;
    accounts.request_email_change(Some(&token), RESET, "ann@example.net").await.unwrap();
    let code = code_in(&smtp.wait_for_mail("ann@example.net", "Confirm your new").await);
    let wrong = accounts.verify_email_change(Some(&token), &other_code(&code), HERE).await.unwrap_err();
    assert!(matches!(wrong, Error::InvalidCode { attempts_left: 4 }), "{wrong:?}");
    let changed = accounts.verify_email_change(Some(&token), &code, HERE).await.unwrap();
    assert_eq!(changed.session.profile.email, "ann@example.net");
    // A new address, like a new password, ends every session; this window has a fresh one.
    assert!(matches!(accounts.whoami(Some(&token)).await, Err(Error::NotAuthenticated)));
    let token = changed.session.token;

    // Devices: this one, then a second sign-in, ended from here.
    let elsewhere = accounts.login("ann", RESET, HERE).await.unwrap();
    let devices = accounts.sessions(Some(&token)).await.unwrap();
    assert_eq!(devices.iter().filter(|d| d.current).count(), 1);
    let other = devices.iter().find(|d| !d.current).unwrap();
    accounts.revoke_session(Some(&token), &other.id).await.unwrap();
    assert!(matches!(accounts.whoami(Some(&elsewhere.token)).await, Err(Error::SignedOutElsewhere)));
    assert!(matches!(accounts.revoke_session(Some(&token), "nobody's").await, Err(Error::NoSuchSession)));
    let kinds: Vec<String> =
        accounts.activity(Some(&token), None, None).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("session_revoked"), "{kinds:?}");

    // A second factor: the password then waits for a code; the code signs in once.
    let enrolment = accounts.second_factor_setup(Some(&token), RESET).await.unwrap();
    let now = latchkey_testkit::unix_now();
    let enrol_code = latchkey_testkit::authenticator_code(&enrolment.secret, now - 30);
    let codes = accounts.second_factor_confirm(Some(&token), &enrol_code).await.unwrap();
    assert_eq!(codes.recovery_codes.len(), 10);
    let challenge = match accounts.login("ann", RESET, HERE).await {
        Err(Error::SecondFactorRequired { challenge }) => challenge,
        other => panic!("{other:?}"),
    };
    assert!(challenge.len() >= 40);
    let refused = accounts.login_second_factor(&challenge, &enrol_code, HERE).await;
    assert!(matches!(refused, Err(Error::InvalidSecondFactor)), "{refused:?}");
    let code = latchkey_testkit::authenticator_code(&enrolment.secret, now);
    let signed = accounts.login_second_factor(&challenge, &code, HERE).await.unwrap();
    assert!(signed.profile.second_factor);
    assert!(accounts.second_factor_disable(Some(&token), RESET, &codes.recovery_codes[0]).await.unwrap());

    // Delete: the name is free again.
    let refused = accounts.delete_account(Some(&token), RESET, "someone").await.unwrap_err();
    assert!(matches!(refused, Error::InvalidInput { field: "confirm", .. }), "{refused:?}");
    assert!(accounts.delete_account(Some(&token), RESET, "Ann").await.unwrap());
    assert!(matches!(accounts.login("ann", RESET, HERE).await, Err(Error::InvalidCredentials)));
    assert!(matches!(accounts.whoami(Some(&token)).await, Err(Error::NotAuthenticated)));
    accounts.logout(&token).await.unwrap();
}

#[tokio::test]
async fn the_contract_holds_on_this_computers_database() {
    let smtp = SmtpServer::start();
    let db = TestDatabase::sqlite();
    let TestDatabase::Sqlite { path, .. } = &db else { unreachable!() };
    let pool = latchkey_core::store::open(path).await.unwrap();
    suite(&DatabaseAccounts { pool, mailer: common::mailer(&smtp), clock: system_clock() }, &smtp, &db).await;
}

#[tokio::test]
async fn the_contract_holds_on_postgresql() {
    let smtp = SmtpServer::start();
    let db = TestDatabase::postgres().await;
    let pool = latchkey_core::store::postgres::open(&db.url()).await.unwrap();
    suite(&DatabaseAccounts { pool, mailer: common::mailer(&smtp), clock: system_clock() }, &smtp, &db).await;
}

async fn through_the_server(db: TestDatabase) {
    let smtp = SmtpServer::start();
    let server = common::Server::start(&db, smtp.port, &[]);
    let remote = Remote::new(ServerUrl::parse(&server.base).unwrap()).unwrap();
    suite(&remote, &smtp, &db).await;
}

#[tokio::test]
async fn the_contract_holds_through_the_server_on_postgresql() {
    through_the_server(TestDatabase::postgres().await).await;
}

#[tokio::test]
async fn the_contract_holds_through_the_server_on_sqlite() {
    through_the_server(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_server_unreachable() {
    let remote = |url: String| Remote::new(ServerUrl::parse(&url).unwrap()).unwrap();
    // Nothing listening.
    let closed = remote(format!("http://127.0.0.1:{}", free_port()));
    let e = closed.login("ann", PASSWORD, HERE).await.unwrap_err();
    assert!(matches!(e, Error::ServerUnreachable(_)), "{e:?}");
    assert_eq!(serde_json::to_value(&e).unwrap()["code"], "server_unreachable");

    // Something that is not a latchkey-server (an SMTP server), plainly and over TLS.
    let smtp = SmtpServer::start();
    for url in [format!("http://127.0.0.1:{}", smtp.port), format!("https://127.0.0.1:{}", smtp.port)] {
        let e = remote(url.clone()).login("ann", PASSWORD, HERE).await.unwrap_err();
        assert!(matches!(e, Error::ServerUnreachable(_)), "{url}: {e:?}");
    }
}
