//! Sign-up: request a code, resend it, verify it.

use crate::store::Store;
use serde::Serialize;

use super::secret::{self, Token};
use super::{
    code, validate, Device, Minted, NewSession, Timestamp, CODE_TTL_SECS, LOGIN_LOCK_MAX_SECS, RESEND_COOLDOWN_SECS,
};
use crate::error::{Error, Flow, Result};
use crate::mail::{CodeEmail, Delivery, Letter, Mailer, Recipient};
use crate::store::login_throttle::{LockPolicy, Reservation};
use crate::store::pending_signups::{self, NewPending, PendingRow};
use crate::store::users::UserRow;

pub struct SignupRequest<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The sign-up id this window got for an earlier request ("Wrong address? Go back"): that
    /// pending sign-up, and only that one, is replaced.
    pub replaces: Option<&'a str>,
}

/// A code is on its way.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CodeSent {
    pub email: String,
    pub delivery: Delivery,
    /// When a resend will be allowed, and when the code stops working (seconds since the epoch).
    pub resend_at: Timestamp,
    pub expires_at: Timestamp,
    /// Sign-up only: the opaque id that proves, with the code, that the caller started this
    /// sign-up (needed to verify and to resend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signup_id: Option<String>,
    /// Password reset only: the same for a reset, which belongs to whoever asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_id: Option<String>,
}

impl CodeSent {
    pub fn signup_id(&self) -> &str {
        self.signup_id.as_deref().unwrap_or_default()
    }
}

/// Names a sign-up's outbox file: the first 8 bytes of its owner hash, hex.
fn outbox_tag(owner_hash: &[u8]) -> String {
    owner_hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Outbox mode: code files of sign-ups that are over (verified, replaced, cancelled, expired)
/// are removed. Nothing to do with a mail server.
pub async fn sweep_outbox(pool: &impl Store, mailer: &Mailer) -> Result<()> {
    // Files first, then the live sign-ups: a sign-up's row is written before its file, so a file
    // listed here whose tag is not live belongs to a sign-up that is over, never to one just begun.
    let files = mailer.sign_up_files();
    if files.is_empty() {
        return Ok(());
    }
    let live: std::collections::HashSet<String> = pool.pending_signup_tags().await?.into_iter().collect();
    let over: Vec<_> = files.into_iter().filter(|(tag, _)| !live.contains(tag)).map(|(_, path)| path).collect();
    mailer.discard(&over);
    Ok(())
}

pub async fn request_code(
    pool: &impl Store,
    mailer: &Mailer,
    req: SignupRequest<'_>,
    requester: &str,
    now: Timestamp,
) -> Result<CodeSent> {
    let username = validate::username(req.username)?;
    let email = validate::email(req.email)?;
    let password = validate::password(req.password, &username.display, &email.display)?;
    pool.purge_expired(now).await?;
    // A username is public, so a taken one is said; asking for names is counted per requester as
    // sign-ins are, so the list of names cannot be read off quickly.
    let probes = format!("signup:{requester}");
    match pool.reserve_login_attempt(&probes, NAME_PROBES, now).await? {
        Reservation::Granted { .. } => {}
        Reservation::Locked { until } => return Err(Error::RateLimited { seconds: until - now }),
        Reservation::LockedForGood => return Err(Error::RateLimited { seconds: LOGIN_LOCK_MAX_SECS }),
    }
    if pool.username_exists(&username.key, &username.skeleton).await? {
        return Err(Error::UsernameTaken);
    }
    pool.clear_login_throttle(&probes).await?;
    // An address that is an account's username would let one sign-in name two accounts.
    if pool.address_is_a_username(&email.key).await? {
        return Err(Error::EmailTaken);
    }
    // An address that has an account is not said: the same work, answer and cooldown as a new
    // one, and its owner is told instead of sent a code.
    let owner = pool.find_user_by_email(&email.key).await?;
    let slot = code::claim_mail_slot(pool, &email.key, requester, now).await?;
    let code = code::new_code(owner.is_some())?;
    let (password_hash, code_hash) = secret::run_limited({
        let code = code.clone();
        move || Ok((secret::hash(&password)?, secret::hash(&code)?))
    })
    .await?;
    let signup_id = Token::generate()?;
    let expires_at = now + CODE_TTL_SECS;
    let owner_hash = signup_id.digest();
    let pending = NewPending {
        username: &username.display,
        username_key: &username.key,
        email: &email.display,
        email_key: &email.key,
        password_hash: &password_hash,
        code_hash: &code_hash,
        owner_hash: &owner_hash,
        now,
        expires_at,
    };
    let replaces = req.replaces.map(code::owner_hash_of);
    let id = pool.insert_pending_signup(&pending, replaces.as_ref().map(|h| &h[..])).await?;
    let to =
        SignupMail { username: &username.display, email: &email.display, code: &code, tag: &outbox_tag(&owner_hash) };
    let delivery = match send_signup_mail(mailer, owner.as_ref(), to).await {
        Ok(delivery) => delivery,
        Err(e) => {
            // A retry must start clean.
            pool.delete_code(pending_signups::TABLE, id).await?;
            pool.release_mail_slot(slot).await?;
            return Err(e);
        }
    };
    sweep_outbox(pool, mailer).await?; // a replaced or purged sign-up's file
    Ok(CodeSent {
        email: email.display,
        delivery,
        resend_at: now + RESEND_COOLDOWN_SECS,
        expires_at,
        signup_id: Some(signup_id.expose().to_string()),
        reset_id: None,
    })
}

/// Taken usernames answered to one requester: locked like sign-ins after five in a row (30 s,
/// doubling to 15 minutes), never for good; a free name clears the count.
const NAME_PROBES: LockPolicy = LockPolicy {
    free: super::LOGIN_FREE_FAILURES,
    base_secs: super::LOGIN_LOCK_BASE_SECS,
    max_secs: LOGIN_LOCK_MAX_SECS,
    hard_limit: i64::MAX,
};

struct SignupMail<'a> {
    username: &'a str,
    email: &'a str,
    code: &'a str,
    tag: &'a str,
}

/// The code to a new address, or the notice to the owner of one that has an account; both
/// awaited, so the answer takes as long either way.
async fn send_signup_mail(mailer: &Mailer, owner: Option<&UserRow>, mail: SignupMail<'_>) -> Result<Delivery> {
    match owner {
        Some(user) => {
            let to = Recipient { name: &user.username, address: &user.email };
            mailer.send_tagged(to, Letter::SignupAttempt, Some(mail.tag)).await
        }
        None => {
            let message = CodeEmail {
                username: mail.username,
                to: mail.email,
                code: mail.code,
                valid_minutes: CODE_TTL_SECS / 60,
            };
            mailer.send_sign_up_code(&message, Some(mail.tag)).await
        }
    }
}

/// The caller's pending sign-up, by the id it was given.
async fn owned(pool: &impl Store, signup_id: &str) -> Result<PendingRow> {
    let owner = code::owner_of(signup_id).ok_or(Error::NoPendingSignup)?;
    pool.find_pending_by_owner(&owner).await?.ok_or(Error::NoPendingSignup)
}

pub async fn resend_code(
    pool: &impl Store,
    mailer: &Mailer,
    signup_id: &str,
    requester: &str,
    now: Timestamp,
) -> Result<CodeSent> {
    let row = owned(pool, signup_id).await?;
    let owner = pool.find_user_by_email(&row.email_key).await?;
    let resent = code::resend(pool, row.held(), requester, Flow::Signup, now, owner.is_some()).await?;
    let tag = outbox_tag(&code::owner_hash_of(signup_id));
    let mail = SignupMail { username: &row.username, email: &row.email, code: &resent.code, tag: &tag };
    match send_signup_mail(mailer, owner.as_ref(), mail).await {
        Ok(delivery) => Ok(CodeSent {
            email: row.email.clone(),
            delivery,
            resend_at: now + RESEND_COOLDOWN_SECS,
            expires_at: resent.expires_at,
            signup_id: Some(signup_id.to_string()),
            reset_id: None,
        }),
        Err(e) => {
            code::undo(pool, row.held(), &resent, now).await?;
            Err(e)
        }
    }
}

/// The code, with the sign-up id that proves the caller started this sign-up.
pub async fn verify(
    pool: &impl Store,
    mailer: &Mailer,
    signup_id: &str,
    code: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    let result = async {
        let code = validate::code(code)?;
        check_and_complete(pool, owned(pool, signup_id).await?, code, device, now).await
    };
    finish_verify(pool, mailer, result.await).await
}

/// What the original API's clients send instead of a sign-up id: the address, name and password
/// of the sign-up. The password proves the caller started it, as the id does.
pub struct SignupCredentials<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
}

/// The code, with the address, name and password the sign-up was requested with. A sign-up that
/// does not exist and a wrong password get the same answer and the same hashing work.
pub async fn verify_with_credentials(
    pool: &impl Store,
    mailer: &Mailer,
    credentials: SignupCredentials<'_>,
    code: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    let result = async {
        let code = validate::code(code)?;
        check_and_complete(pool, owned_by_credentials(pool, &credentials).await?, code, device, now).await
    };
    finish_verify(pool, mailer, result.await).await
}

async fn owned_by_credentials(pool: &impl Store, credentials: &SignupCredentials<'_>) -> Result<PendingRow> {
    let email_key = validate::email(credentials.email).map(|e| e.key).map_err(|_| Error::NoPendingSignup)?;
    let username_key = validate::username_key(credentials.username);
    if credentials.password.is_empty() || credentials.password.chars().count() > validate::PASSWORD_MAX {
        return Err(Error::NoPendingSignup);
    }
    let password: String = unicode_normalization::UnicodeNormalization::nfkc(credentials.password).collect();
    // One pending sign-up per request, the newest for this address and name: one hash however
    // many match, and the same one hash for every miss (no sign-up, a wrong password, an older
    // sign-up's password).
    let rows = pool.find_pending_by_address(&email_key, &username_key).await?;
    let newest = rows.into_iter().max_by_key(|r| r.id);
    let hash = newest.as_ref().map_or_else(|| secret::DUMMY_HASH.to_string(), |r| r.password_hash.clone());
    let matched = secret::verify_blocking(password, hash).await?;
    match newest {
        Some(row) if matched => Ok(row),
        _ => Err(Error::NoPendingSignup),
    }
}

async fn finish_verify(pool: &impl Store, mailer: &Mailer, result: Result<NewSession>) -> Result<NewSession> {
    // Verified or cancelled, the code file is no longer needed.
    if !matches!(result, Err(Error::InvalidCode { .. } | Error::InvalidInput { .. })) {
        sweep_outbox(pool, mailer).await?;
    }
    result
}

async fn check_and_complete(
    pool: &impl Store,
    row: PendingRow,
    code: String,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    code::check(pool, row.held(), code, Flow::Signup, now).await?;
    let minted = Minted::new(device)?;
    let skeleton = validate::username_skeleton(&row.username);
    match pool.complete_signup(&row, &skeleton, &minted.row(device, now)).await {
        Ok(profile) => Ok(minted.into_session(profile)),
        Err(e @ (Error::UsernameTaken | Error::EmailTaken)) => {
            // Someone else took the name meanwhile; this sign-up can never finish.
            pool.delete_code_if(pending_signups::TABLE, row.id, &row.code_hash).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::login;
    use crate::auth::SESSION_TTL_SECS;
    use crate::auth::TEST_DEVICE;
    use crate::auth::THIS_WINDOW;
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
        SignupRequest { username, email, password: "a long enough password", replaces: None }
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
        let sent = request_code(&db.pool, &mailer, req("Ann", "Ann@Example.com"), THIS_WINDOW, T0).await.unwrap();
        assert_eq!((sent.resend_at, sent.expires_at), (T0 + 60, T0 + 600));
        let session = verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0 + 30)
            .await
            .unwrap();
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
        let sent = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let code = code_of(&sent);
        // One second before the edge a wrong code is still judged as wrong, not expired.
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &wrong(&code), TEST_DEVICE, T0 + 599).await,
            Err(Error::InvalidCode { .. })
        ));
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code, TEST_DEVICE, T0 + 600).await,
            Err(Error::CodeExpired(Flow::Signup))
        ));
        // The expired row is gone.
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code, TEST_DEVICE, T0 + 601).await,
            Err(Error::NoPendingSignup)
        ));
    }

    #[tokio::test]
    async fn right_code_at_the_last_second_works() {
        let db = test_db().await;
        let sent =
            request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        assert!(verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0 + 599)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn fifth_wrong_code_cancels_the_signup() {
        let db = test_db().await;
        let sent =
            request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let code = code_of(&sent);
        for left in (1..=4).rev() {
            match verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &wrong(&code), TEST_DEVICE, T0 + 1).await {
                Err(Error::InvalidCode { attempts_left }) => assert_eq!(attempts_left, left),
                other => panic!("expected invalid_code, got {other:?}"),
            }
        }
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &wrong(&code), TEST_DEVICE, T0 + 1).await,
            Err(Error::TooManyAttempts(Flow::Signup))
        ));
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code, TEST_DEVICE, T0 + 2).await,
            Err(Error::NoPendingSignup)
        ));
        assert_eq!(count(&db, "users").await, 0);
    }

    #[tokio::test]
    async fn fourth_wrong_code_still_leaves_the_right_one_working() {
        let db = test_db().await;
        let sent =
            request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let code = code_of(&sent);
        for _ in 0..4 {
            assert!(verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &wrong(&code), TEST_DEVICE, T0 + 1)
                .await
                .is_err());
        }
        assert!(verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code, TEST_DEVICE, T0 + 2).await.is_ok());
    }

    #[tokio::test]
    async fn resend_waits_sixty_seconds_and_replaces_the_code() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let first = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let old = code_of(&first);
        assert!(verify(&db.pool, &outbox_mailer(&db), first.signup_id(), &wrong(&old), TEST_DEVICE, T0 + 5)
            .await
            .is_err());
        match resend_code(&db.pool, &mailer, first.signup_id(), THIS_WINDOW, T0 + 59).await {
            Err(Error::ResendTooSoon { seconds }) => assert_eq!(seconds, 1),
            other => panic!("expected resend_too_soon, got {other:?}"),
        }
        let second = resend_code(&db.pool, &mailer, first.signup_id(), THIS_WINDOW, T0 + 60).await.unwrap();
        assert_eq!((second.resend_at, second.expires_at), (T0 + 120, T0 + 660));
        let new = code_of(&second);
        if new != old {
            assert!(matches!(
                verify(&db.pool, &outbox_mailer(&db), first.signup_id(), &old, TEST_DEVICE, T0 + 61).await,
                Err(Error::InvalidCode { attempts_left: 4 })
            ));
        }
        // The window restarted: valid past the first code's ten minutes.
        assert!(verify(&db.pool, &outbox_mailer(&db), first.signup_id(), &new, TEST_DEVICE, T0 + 650).await.is_ok());
    }

    #[tokio::test]
    async fn a_window_replaces_only_its_own_pending_signup() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let first = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let old = code_of(&first);
        let again = SignupRequest { replaces: Some(first.signup_id()), ..req("ann", "ann@example.com") };
        let second = request_code(&db.pool, &mailer, again, THIS_WINDOW, T0 + 60).await.unwrap();
        assert_eq!(count(&db, "pending_signups").await, 1);
        assert_ne!(first.signup_id(), second.signup_id());
        let new = code_of(&second);
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), first.signup_id(), &old, TEST_DEVICE, T0 + 61).await,
            Err(Error::NoPendingSignup)
        ));
        assert!(verify(&db.pool, &outbox_mailer(&db), second.signup_id(), &new, TEST_DEVICE, T0 + 62).await.is_ok());
    }

    #[tokio::test]
    async fn outbox_files_go_when_their_signup_is_verified_replaced_or_purged() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let files = || std::fs::read_dir(db.dir.path().join("outbox")).map(|d| d.count()).unwrap_or(0);
        let path = |sent: &CodeSent| match &sent.delivery {
            Delivery::Outbox { path } => path.clone(),
            Delivery::Smtp => panic!("outbox expected"),
        };
        let first = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        assert!(path(&first).exists());
        let again = SignupRequest { replaces: Some(first.signup_id()), ..req("ann", "ann@example.com") };
        let second = request_code(&db.pool, &mailer, again, THIS_WINDOW, T0 + 60).await.unwrap();
        assert!(!path(&first).exists(), "replaced");
        assert_eq!(files(), 1);
        verify(&db.pool, &mailer, second.signup_id(), &code_of(&second), TEST_DEVICE, T0 + 61).await.unwrap();
        assert_eq!(files(), 0, "verified");
        let bob = request_code(&db.pool, &mailer, req("bob", "bob@example.com"), THIS_WINDOW, T0 + 100).await.unwrap();
        let cyd = request_code(&db.pool, &mailer, req("cyd", "cyd@example.com"), THIS_WINDOW, T0 + 700).await.unwrap();
        assert!(!path(&bob).exists() && path(&cyd).exists(), "bob's sign-up expired and was purged");
        for _ in 0..5 {
            let _ = verify(&db.pool, &mailer, cyd.signup_id(), &wrong(&code_of(&cyd)), TEST_DEVICE, T0 + 701).await;
        }
        assert_eq!(files(), 0, "cancelled by too many wrong codes");
    }

    #[tokio::test]
    async fn nobody_can_cancel_or_take_over_someone_elses_pending_signup() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        // Ann starts; Bob then submits Ann's address with his own name.
        let ann = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let bob = request_code(&db.pool, &mailer, req("bob", "ann@example.com"), THIS_WINDOW, T0 + 60).await.unwrap();
        assert_eq!(count(&db, "pending_signups").await, 2, "Bob's request made its own, Ann's stays");
        // Bob cannot use Ann's code with his id, nor resend hers without her id.
        let stolen = verify(&db.pool, &outbox_mailer(&db), bob.signup_id(), &code_of(&ann), TEST_DEVICE, T0 + 61).await;
        assert!(code_of(&ann) == code_of(&bob) || matches!(stolen, Err(Error::InvalidCode { .. })));
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), "guessed-id", &code_of(&ann), TEST_DEVICE, T0 + 61).await,
            Err(Error::NoPendingSignup)
        ));
        // Ann enters her code: the account on her address is hers.
        let session =
            verify(&db.pool, &outbox_mailer(&db), ann.signup_id(), &code_of(&ann), TEST_DEVICE, T0 + 62).await.unwrap();
        assert_eq!(session.profile.username, "ann");
        assert!(matches!(
            verify(&db.pool, &outbox_mailer(&db), bob.signup_id(), &code_of(&bob), TEST_DEVICE, T0 + 63).await,
            Err(Error::EmailTaken)
        ));
    }

    #[tokio::test]
    async fn verification_with_credentials_checks_one_pending_signup_whatever_matches() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        // Three requests for one name and address, each with its own password.
        let passwords = ["violet umbrella one", "violet umbrella two", "violet umbrella three"];
        let mut newest_code = String::new();
        for (i, password) in passwords.iter().enumerate() {
            let request = SignupRequest { username: "ann", email: "ann@example.com", password, replaces: None };
            newest_code =
                code_of(&request_code(&db.pool, &mailer, request, THIS_WINDOW, T0 + 60 * i as i64).await.unwrap());
        }
        let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM pending_signups ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(hashes.len(), 3);
        let work = || hashes.iter().map(|h| secret::counted::times_verified(h)).collect::<Vec<_>>();
        let verify = |password: &'static str, code: String| {
            let (pool, mailer) = (&db.pool, &mailer);
            async move {
                let credentials = SignupCredentials { email: "ann@example.com", username: "ann", password };
                verify_with_credentials(pool, mailer, credentials, &code, TEST_DEVICE, T0 + 200).await
            }
        };

        // A wrong password: one hash (the newest sign-up's), not one per match.
        assert!(matches!(verify("not the password", newest_code.clone()).await, Err(Error::NoPendingSignup)));
        assert_eq!(work(), [0, 0, 1]);
        // An older sign-up's password is a miss like any other, after the same single hash.
        assert!(matches!(verify(passwords[0], newest_code.clone()).await, Err(Error::NoPendingSignup)));
        assert_eq!(work(), [0, 0, 2]);
        // The newest one's password reaches its code.
        assert!(matches!(verify(passwords[2], wrong(&newest_code)).await, Err(Error::InvalidCode { .. })));
        assert_eq!(work(), [0, 0, 3]);
        let session = verify(passwords[2], newest_code.clone()).await.unwrap();
        assert_eq!(session.profile.username, "ann");
        assert_eq!(work(), [0, 0, 4]);
    }

    #[tokio::test]
    async fn code_mail_to_one_address_is_limited_whatever_starts_it() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        match request_code(&db.pool, &mailer, req("bob", "ANN@example.com"), THIS_WINDOW, T0 + 30).await {
            Err(Error::ResendTooSoon { seconds }) => assert_eq!(seconds, 30),
            other => panic!("expected resend_too_soon, got {other:?}"),
        }
        assert!(
            request_code(&db.pool, &mailer, req("cyd", "cyd@example.com"), THIS_WINDOW, T0 + 30).await.is_ok(),
            "per address"
        );
        for (i, user) in ["bob", "dee", "eve", "fay"].iter().enumerate() {
            let at = T0 + 60 * (i as i64 + 1);
            assert!(
                request_code(&db.pool, &mailer, req(user, "ann@example.com"), THIS_WINDOW, at).await.is_ok(),
                "{user}"
            );
        }
        // Five in the hour: the sixth waits until the first is an hour old.
        match request_code(&db.pool, &mailer, req("gus", "ann@example.com"), THIS_WINDOW, T0 + 300).await {
            Err(Error::ResendTooSoon { seconds }) => assert_eq!(seconds, 3300),
            other => panic!("expected resend_too_soon, got {other:?}"),
        }
    }

    /// A username is public, so a taken one is said. An address is not: a sign-up for one that has
    /// an account answers exactly as a new one, and its owner is told instead of sent a code.
    #[tokio::test]
    async fn taken_usernames_are_refused_and_taken_addresses_are_never_told() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let sent = request_code(&db.pool, &mailer, req("Ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0).await.unwrap();
        assert!(matches!(
            request_code(&db.pool, &mailer, req("aNN", "x@example.com"), THIS_WINDOW, T0).await,
            Err(Error::UsernameTaken)
        ));
        let fresh =
            request_code(&db.pool, &mailer, req("carl", "carl@example.com"), THIS_WINDOW, T0 + 60).await.unwrap();
        let taken = request_code(&db.pool, &mailer, req("bob", "ANN@EXAMPLE.COM"), THIS_WINDOW, T0 + 60).await.unwrap();
        assert_eq!((taken.resend_at, taken.expires_at), (fresh.resend_at, fresh.expires_at));
        assert!(taken.signup_id.is_some() && matches!(taken.delivery, Delivery::Outbox { .. }));
        let Delivery::Outbox { path } = &taken.delivery else { unreachable!() };
        let notice = std::fs::read_to_string(path).unwrap();
        assert!(notice.contains("To: Ann <ann@example.com>") && notice.contains("tried to create"), "{notice}");
        assert!(code_of_message(&notice).is_none(), "the owner gets no code");
        // The code step answers as for any wrong code, and no account can come of it.
        for code in ["000000", "123456", "999999"] {
            let r = verify(&db.pool, &mailer, taken.signup_id(), code, TEST_DEVICE, T0 + 61).await;
            assert!(matches!(r, Err(Error::InvalidCode { .. })), "{r:?}");
        }
        assert_eq!(count(&db, "users").await, 1);
    }

    /// The code in a message, if it has one.
    pub(crate) fn code_of_message(message: &str) -> Option<&str> {
        message
            .lines()
            .find_map(|l| l.strip_prefix("    ").filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())))
    }

    #[tokio::test]
    async fn mail_failure_leaves_nothing_behind_and_a_retry_works() {
        let db = test_db().await;
        let failed = request_code(&db.pool, &broken_mailer(), req("ann", "ann@example.com"), THIS_WINDOW, T0).await;
        assert!(matches!(failed, Err(Error::MailFailed(_))));
        assert_eq!(count(&db, "pending_signups").await, 0);
        let sent = request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0 + 1)
            .await
            .unwrap();
        assert!(verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0 + 2)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn failed_resend_keeps_the_previous_code() {
        let db = test_db().await;
        let sent =
            request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let failed = resend_code(&db.pool, &broken_mailer(), sent.signup_id(), THIS_WINDOW, T0 + 60).await;
        assert!(matches!(failed, Err(Error::MailFailed(_))));
        assert!(verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0 + 61)
            .await
            .is_ok());
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
            match request_code(
                &db.pool,
                &mailer,
                SignupRequest { username, email, password, replaces: None },
                THIS_WINDOW,
                T0,
            )
            .await
            {
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
        let sent =
            request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let code = code_of(&sent);
        let (pw, ch): (String, String) =
            sqlx::query_as("SELECT password_hash, code_hash FROM pending_signups").fetch_one(&db.pool).await.unwrap();
        assert!(pw.starts_with("$argon2id$") && ch.starts_with("$argon2id$"));
        assert!(!pw.contains("a long enough password") && !ch.contains(&code));
    }

    #[tokio::test]
    async fn concurrent_right_codes_create_exactly_one_account() {
        let db = test_db().await;
        let sent =
            request_code(&db.pool, &outbox_mailer(&db), req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let code = code_of(&sent);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (pool, code, id, mailer) =
                    (db.pool.clone(), code.clone(), sent.signup_id().to_string(), outbox_mailer(&db));
                tokio::spawn(async move { verify(&pool, &mailer, &id, &code, TEST_DEVICE, T0 + 1).await })
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

    /// A username that is someone's address (an account's or a pending sign-up's), or an address
    /// that is someone's username, would let one sign-in name two accounts.
    #[tokio::test]
    async fn names_and_addresses_never_cross() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let sent = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        let pending =
            request_code(&db.pool, &mailer, req("carol", "carol@example.com"), THIS_WINDOW, T0).await.unwrap();
        verify(&db.pool, &mailer, sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0).await.unwrap();
        for (name, email) in [("Ann@Example.com", "x1@example.org"), ("carol@example.com", "x2@example.org")] {
            let r = request_code(&db.pool, &mailer, req(name, email), THIS_WINDOW, T0 + 1).await;
            assert!(matches!(r, Err(Error::UsernameTaken)), "{name}: {r:?}");
        }
        let r = request_code(&db.pool, &mailer, req("dave", "ANN@example.org"), THIS_WINDOW, T0 + 1).await;
        assert!(r.is_ok(), "another domain is another address: {r:?}");
        let bob = request_code(&db.pool, &mailer, req("bob@example.org", "bob@example.com"), THIS_WINDOW, T0 + 1)
            .await
            .unwrap();
        verify(&db.pool, &mailer, bob.signup_id(), &code_of(&bob), TEST_DEVICE, T0 + 1).await.unwrap();
        let r = request_code(&db.pool, &mailer, req("eve", "Bob@Example.org"), THIS_WINDOW, T0 + 2).await;
        assert!(matches!(r, Err(Error::EmailTaken)), "{r:?}");
        assert!(pending.signup_id.is_some());
    }

    /// Usernames are public, but reading the list off one name at a time is slowed as guessing
    /// passwords is: five taken names in a row lock that requester's sign-ups (30 s, doubling),
    /// never another requester's; a free name clears the count.
    #[tokio::test]
    async fn asking_for_taken_names_is_throttled_per_requester_like_sign_ins() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let sent = request_code(&db.pool, &mailer, req("ann", "ann@example.com"), THIS_WINDOW, T0).await.unwrap();
        verify(&db.pool, &mailer, sent.signup_id(), &code_of(&sent), TEST_DEVICE, T0).await.unwrap();
        for _ in 0..5 {
            let r = request_code(&db.pool, &mailer, req("ANN", "x@example.org"), "prober", T0 + 1).await;
            assert!(matches!(r, Err(Error::UsernameTaken)), "{r:?}");
        }
        let locked = request_code(&db.pool, &mailer, req("bea", "bea@example.org"), "prober", T0 + 2).await;
        assert!(matches!(locked, Err(Error::RateLimited { seconds: 29 })), "{locked:?}");
        // Another requester is not held back.
        assert!(request_code(&db.pool, &mailer, req("cid", "cid@example.org"), THIS_WINDOW, T0 + 2).await.is_ok());
        // After the lock, a free name clears the count.
        assert!(request_code(&db.pool, &mailer, req("bea", "bea@example.org"), "prober", T0 + 31).await.is_ok());
        let again = request_code(&db.pool, &mailer, req("ANN", "y@example.org"), "prober", T0 + 32).await;
        assert!(matches!(again, Err(Error::UsernameTaken)), "{again:?}");
    }
}
