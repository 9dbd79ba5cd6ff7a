//! Sign-up: request a code, resend it, verify it.

use serde::Serialize;
use sqlx::SqlitePool;

use super::secret::{self, Token};
use super::{
    validate, NewSession, Timestamp, CODE_TTL_SECS, MAX_CODE_ATTEMPTS, RESEND_COOLDOWN_SECS, SESSION_TTL_SECS,
};
use crate::error::{Error, Flow, Result};
use crate::mail::{CodeEmail, Delivery, Mailer};
use crate::store::{self, pending_signups, pending_signups::CodeState, pending_signups::NewPending, users};

pub struct SignupRequest<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// A code is on its way.
#[derive(Debug, Clone, Serialize)]
pub struct CodeSent {
    pub email: String,
    pub delivery: Delivery,
    /// When a resend will be allowed, and when the code stops working (seconds since the epoch).
    pub resend_at: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn request_code(
    pool: &SqlitePool,
    mailer: &Mailer,
    req: SignupRequest<'_>,
    now: Timestamp,
) -> Result<CodeSent> {
    let username = validate::username(req.username)?;
    let email = validate::email(req.email)?;
    let password = validate::password(req.password, &username.display, &email.display)?;
    store::purge_expired(pool, now).await?;
    if users::username_exists(pool, &username.key, &username.skeleton).await? {
        return Err(Error::UsernameTaken);
    }
    if users::email_exists(pool, &email.key).await? {
        return Err(Error::EmailTaken);
    }
    let code = secret::new_code()?;
    let (password_hash, code_hash) = tokio::task::spawn_blocking({
        let code = code.clone();
        move || Ok::<_, Error>((secret::hash(&password)?, secret::hash(&code)?))
    })
    .await??;
    let expires_at = now + CODE_TTL_SECS;
    let pending = NewPending {
        username: &username.display,
        username_key: &username.key,
        email: &email.display,
        email_key: &email.key,
        password_hash: &password_hash,
        code_hash: &code_hash,
        now,
        expires_at,
    };
    let id = pending_signups::replace(pool, &pending).await?;
    let message =
        CodeEmail { username: &username.display, to: &email.display, code: &code, valid_minutes: CODE_TTL_SECS / 60 };
    let delivery = match mailer.send_code(&message).await {
        Ok(delivery) => delivery,
        Err(e) => {
            // A retry must start clean.
            pending_signups::delete(pool, id).await?;
            return Err(e);
        }
    };
    Ok(CodeSent { email: email.display, delivery, resend_at: now + RESEND_COOLDOWN_SECS, expires_at })
}

pub async fn resend_code(pool: &SqlitePool, mailer: &Mailer, email: &str, now: Timestamp) -> Result<CodeSent> {
    let email = validate::email(email)?;
    let row = pending_signups::find_by_email(pool, &email.key).await?.ok_or(Error::NoPendingSignup)?;
    if now >= row.expires_at {
        pending_signups::delete(pool, row.id).await?;
        return Err(Error::CodeExpired(Flow::Signup));
    }
    let wait = row.last_sent_at + RESEND_COOLDOWN_SECS - now;
    if wait > 0 {
        return Err(Error::ResendTooSoon { seconds: wait });
    }
    let code = secret::new_code()?;
    let code_hash = secret::hash_blocking(code.clone()).await?;
    let old = CodeState {
        code_hash: &row.code_hash,
        attempts: row.attempts,
        last_sent_at: row.last_sent_at,
        expires_at: row.expires_at,
    };
    let new = CodeState { code_hash: &code_hash, attempts: 0, last_sent_at: now, expires_at: now + CODE_TTL_SECS };
    // Claiming the row first makes two simultaneous resends send one email, not two.
    if !pending_signups::swap_code(pool, row.id, &old, &new).await? {
        return Err(Error::ResendTooSoon { seconds: RESEND_COOLDOWN_SECS });
    }
    let message = CodeEmail { username: &row.username, to: &row.email, code: &code, valid_minutes: CODE_TTL_SECS / 60 };
    match mailer.send_code(&message).await {
        Ok(delivery) => Ok(CodeSent {
            email: row.email,
            delivery,
            resend_at: now + RESEND_COOLDOWN_SECS,
            expires_at: new.expires_at,
        }),
        Err(e) => {
            // Nothing changes when the email could not be sent: the previous code keeps working.
            pending_signups::swap_code(pool, row.id, &new, &old).await?;
            Err(e)
        }
    }
}

pub async fn verify(pool: &SqlitePool, email: &str, code: &str, now: Timestamp) -> Result<NewSession> {
    let email = validate::email(email)?;
    let code = validate::code(code)?;
    let row = pending_signups::find_by_email(pool, &email.key).await?.ok_or(Error::NoPendingSignup)?;
    if now >= row.expires_at {
        pending_signups::delete(pool, row.id).await?;
        return Err(Error::CodeExpired(Flow::Signup));
    }
    // No attempt left while the last ones are still being checked: those decide the row's fate.
    let Some(attempt) = pending_signups::reserve_attempt(pool, row.id, &row.code_hash, MAX_CODE_ATTEMPTS).await? else {
        return Err(Error::TooManyAttempts(Flow::Signup));
    };
    if !secret::verify_blocking(code, row.code_hash.clone()).await? {
        if attempt >= MAX_CODE_ATTEMPTS {
            pending_signups::delete_if_code(pool, row.id, &row.code_hash).await?;
            return Err(Error::TooManyAttempts(Flow::Signup));
        }
        return Err(Error::InvalidCode { attempts_left: u32::try_from(MAX_CODE_ATTEMPTS - attempt).unwrap_or(0) });
    }
    let token = Token::generate()?;
    let skeleton = validate::username_skeleton(&row.username);
    match store::sessions::complete_signup(pool, &row, &skeleton, &token.digest(), now, now + SESSION_TTL_SECS).await {
        Ok(profile) => Ok(NewSession { token, profile }),
        Err(e @ (Error::UsernameTaken | Error::EmailTaken)) => {
            // Someone else took the name meanwhile; this sign-up can never finish.
            pending_signups::delete_if_code(pool, row.id, &row.code_hash).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::login;
    use crate::config::{SmtpSettings, DEFAULT_FROM};
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;

    pub(crate) fn outbox_mailer(db: &TestDb) -> Mailer {
        Mailer::outbox(&db.dir.path().join("outbox"), DEFAULT_FROM).unwrap()
    }

    /// A mailer whose server is not there: every send fails.
    fn broken_mailer() -> Mailer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let smtp = SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            security: crate::config::Security::None,
        };
        Mailer::smtp(&smtp, DEFAULT_FROM).unwrap()
    }

    /// The code in a message: the line that is four spaces and six digits.
    pub(crate) fn code_in(message: &str) -> String {
        message
            .lines()
            .find_map(|l| l.strip_prefix("    ").filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())))
            .expect("a code line")
            .to_string()
    }

    fn code_of(sent: &CodeSent) -> String {
        let Delivery::Outbox { path } = &sent.delivery else { panic!("outbox expected") };
        code_in(&std::fs::read_to_string(path).unwrap())
    }

    fn req<'a>(username: &'a str, email: &'a str) -> SignupRequest<'a> {
        SignupRequest { username, email, password: "a long enough password" }
    }

    fn wrong(code: &str) -> String {
        format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
    }

    async fn count(db: &TestDb, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&db.pool).await.unwrap()
    }

    #[tokio::test]
    async fn full_flow_creates_the_account_and_signs_in() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let sent = request_code(&db.pool, &mailer, req("Ann", "Ann@Example.com"), T0).await.unwrap();
        assert_eq!((sent.resend_at, sent.expires_at), (T0 + 60, T0 + 600));
        let session = verify(&db.pool, "ann@example.com", &code_of(&sent), T0 + 30).await.unwrap();
        assert_eq!(session.profile.username, "Ann");
        assert_eq!(session.profile.session_expires_at, T0 + 30 + SESSION_TTL_SECS);
        assert!(!session.profile.is_admin && session.profile.is_active);
        let me = login::whoami(&db.pool, Some(&session.token), T0 + 31).await.unwrap();
        assert_eq!(me, session.profile);
        assert_eq!((count(&db, "users").await, count(&db, "pending_signups").await), (1, 0));
    }

    #[tokio::test]
    async fn code_is_valid_until_the_ten_minute_edge() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let sent = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), T0).await.unwrap();
        let code = code_of(&sent);
        // One second before the edge a wrong code is still judged as wrong, not expired.
        assert!(matches!(
            verify(&db.pool, "ann@example.com", &wrong(&code), T0 + 599).await,
            Err(Error::InvalidCode { .. })
        ));
        assert!(matches!(
            verify(&db.pool, "ann@example.com", &code, T0 + 600).await,
            Err(Error::CodeExpired(Flow::Signup))
        ));
        // The expired row is gone.
        assert!(matches!(verify(&db.pool, "ann@example.com", &code, T0 + 601).await, Err(Error::NoPendingSignup)));
    }

    #[tokio::test]
    async fn right_code_at_the_last_second_works() {
        let db = test_db().await;
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0).await.unwrap();
        assert!(verify(&db.pool, "ann@example.com", &code_of(&sent), T0 + 599).await.is_ok());
    }

    #[tokio::test]
    async fn fifth_wrong_code_cancels_the_signup() {
        let db = test_db().await;
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0).await.unwrap();
        let code = code_of(&sent);
        for left in (1..=4).rev() {
            match verify(&db.pool, "ann@example.com", &wrong(&code), T0 + 1).await {
                Err(Error::InvalidCode { attempts_left }) => assert_eq!(attempts_left, left),
                other => panic!("expected invalid_code, got {other:?}"),
            }
        }
        assert!(matches!(
            verify(&db.pool, "ann@example.com", &wrong(&code), T0 + 1).await,
            Err(Error::TooManyAttempts(Flow::Signup))
        ));
        assert!(matches!(verify(&db.pool, "ann@example.com", &code, T0 + 2).await, Err(Error::NoPendingSignup)));
        assert_eq!(count(&db, "users").await, 0);
    }

    #[tokio::test]
    async fn fourth_wrong_code_still_leaves_the_right_one_working() {
        let db = test_db().await;
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0).await.unwrap();
        let code = code_of(&sent);
        for _ in 0..4 {
            assert!(verify(&db.pool, "ann@example.com", &wrong(&code), T0 + 1).await.is_err());
        }
        assert!(verify(&db.pool, "ann@example.com", &code, T0 + 2).await.is_ok());
    }

    #[tokio::test]
    async fn resend_waits_sixty_seconds_and_replaces_the_code() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let first = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), T0).await.unwrap();
        let old = code_of(&first);
        assert!(verify(&db.pool, "ann@example.com", &wrong(&old), T0 + 5).await.is_err());
        match resend_code(&db.pool, &mailer, "ann@example.com", T0 + 59).await {
            Err(Error::ResendTooSoon { seconds }) => assert_eq!(seconds, 1),
            other => panic!("expected resend_too_soon, got {other:?}"),
        }
        let second = resend_code(&db.pool, &mailer, "ANN@example.com", T0 + 60).await.unwrap();
        assert_eq!((second.resend_at, second.expires_at), (T0 + 120, T0 + 660));
        let new = code_of(&second);
        if new != old {
            assert!(matches!(
                verify(&db.pool, "ann@example.com", &old, T0 + 61).await,
                Err(Error::InvalidCode { attempts_left: 4 })
            ));
        }
        // The window restarted: valid past the first code's ten minutes.
        assert!(verify(&db.pool, "ann@example.com", &new, T0 + 650).await.is_ok());
    }

    #[tokio::test]
    async fn a_new_request_replaces_an_earlier_pending_signup() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let first = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), T0).await.unwrap();
        let second = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), T0 + 10).await.unwrap();
        assert_eq!(count(&db, "pending_signups").await, 1);
        let (old, new) = (code_of(&first), code_of(&second));
        if old != new {
            assert!(matches!(verify(&db.pool, "ann@example.com", &old, T0 + 11).await, Err(Error::InvalidCode { .. })));
        }
        assert!(verify(&db.pool, "ann@example.com", &new, T0 + 12).await.is_ok());
    }

    #[tokio::test]
    async fn taken_usernames_and_emails_are_refused_case_insensitively() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let sent = request_code(&db.pool, &mailer, req("Ann", "ann@example.com"), T0).await.unwrap();
        verify(&db.pool, "ann@example.com", &code_of(&sent), T0).await.unwrap();
        assert!(matches!(
            request_code(&db.pool, &mailer, req("aNN", "x@example.com"), T0).await,
            Err(Error::UsernameTaken)
        ));
        assert!(matches!(
            request_code(&db.pool, &mailer, req("bob", "ANN@EXAMPLE.COM"), T0).await,
            Err(Error::EmailTaken)
        ));
        assert_eq!(count(&db, "pending_signups").await, 0);
    }

    #[tokio::test]
    async fn mail_failure_leaves_nothing_behind_and_a_retry_works() {
        let db = test_db().await;
        let failed = request_code(&db.pool, &broken_mailer(), req("ann", "ann@example.com"), T0).await;
        assert!(matches!(failed, Err(Error::MailFailed(_))));
        assert_eq!(count(&db, "pending_signups").await, 0);
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0 + 1).await.unwrap();
        assert!(verify(&db.pool, "ann@example.com", &code_of(&sent), T0 + 2).await.is_ok());
    }

    #[tokio::test]
    async fn failed_resend_keeps_the_previous_code() {
        let db = test_db().await;
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0).await.unwrap();
        let failed = resend_code(&db.pool, &broken_mailer(), "ann@example.com", T0 + 60).await;
        assert!(matches!(failed, Err(Error::MailFailed(_))));
        assert!(verify(&db.pool, "ann@example.com", &code_of(&sent), T0 + 61).await.is_ok());
    }

    #[tokio::test]
    async fn invalid_input_names_the_field_and_changes_nothing() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let cases = [
            ("a", "ann@example.com", "long enough pw", "username"),
            ("ann", "nope", "long enough pw", "email"),
            ("ann", "ann@example.com", "short", "password"),
        ];
        for (username, email, password, expected) in cases {
            match request_code(&db.pool, &mailer, SignupRequest { username, email, password }, T0).await {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, expected),
                other => panic!("expected invalid_input, got {other:?}"),
            }
        }
        assert_eq!(count(&db, "pending_signups").await, 0);
        assert!(!db.dir.path().join("outbox").exists());
    }

    #[tokio::test]
    async fn the_pending_row_holds_only_hashes() {
        let db = test_db().await;
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0).await.unwrap();
        let code = code_of(&sent);
        let (pw, ch): (String, String) =
            sqlx::query_as("SELECT password_hash, code_hash FROM pending_signups").fetch_one(&db.pool).await.unwrap();
        assert!(pw.starts_with("$argon2id$") && ch.starts_with("$argon2id$"));
        assert!(!pw.contains("a long enough password") && !ch.contains(&code));
    }

    #[tokio::test]
    async fn concurrent_right_codes_create_exactly_one_account() {
        let db = test_db().await;
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), T0).await.unwrap();
        let code = code_of(&sent);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (pool, code) = (db.pool.clone(), code.clone());
                tokio::spawn(async move { verify(&pool, "ann@example.com", &code, T0 + 1).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 1);
        assert_eq!((count(&db, "users").await, count(&db, "sessions").await), (1, 1));
    }
}
