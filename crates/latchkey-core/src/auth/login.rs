//! Login, sessions and logout.

use crate::store::Store;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::secret::{self, Token};
use super::{
    validate, Device, Minted, NewSession, Profile, Timestamp, LOGIN_FREE_FAILURES, LOGIN_HARD_LIMIT,
    LOGIN_LOCK_BASE_SECS, LOGIN_LOCK_MAX_SECS,
};
use crate::error::{Error, Result};
use crate::limits::THROTTLED_EVENT_EVERY_SECS;
use crate::store::login_throttle::{LockPolicy, Reservation};
use crate::store::{EventKind, NewEvent, UserRow};

/// A sign-in as people make it: the password checked, a session begun, and the owner told when
/// it comes from a device and network the account has not used in 90 days.
pub async fn sign_in(
    pool: &impl Store,
    mailer: &crate::mail::Mailer,
    identifier: &str,
    password: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    let (session, user, new_device) = authenticate(pool, identifier, password, device, now).await?;
    if new_device {
        super::devices::tell_new_device_later(pool, mailer, &user, device, now);
    }
    Ok(session)
}

/// The password checked and a session begun (its device noted, but no new-device notice: see
/// `sign_in`).
pub async fn login(
    pool: &impl Store,
    identifier: &str,
    password: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    Ok(authenticate(pool, identifier, password, device, now).await?.0)
}

async fn authenticate(
    pool: &impl Store,
    identifier: &str,
    password: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<(NewSession, UserRow, bool)> {
    let identifier = identifier.trim();
    if identifier.is_empty() {
        return Err(Error::invalid("identifier", "Enter your username or email address."));
    }
    // Longer than any username or email could be: refused before any database work.
    if identifier.chars().count() > validate::USERNAME_MAX.max(validate::EMAIL_MAX) {
        return Err(Error::invalid("identifier", "That is longer than any username or email address."));
    }
    if password.is_empty() {
        return Err(Error::invalid("password", "Enter your password."));
    }
    let username_key = identifier.nfkc().collect::<String>().to_lowercase();
    let candidates = pool.find_users_for_login(&username_key, &identifier.to_lowercase()).await?;
    if candidates.is_empty() {
        // Counted the same way as for an account, so the answer reveals nothing.
        reserve_attempt(pool, &format!("id:{username_key}"), now).await?;
        return check_credentials(pool, candidates, password, device, now).await;
    }
    // An identifier can name two accounts (one's username is the other's address): the attempt
    // counts against each, and the password is checked only against those not locked, so one
    // account's successes never hide guesses at the other's password.
    let mut open = Vec::with_capacity(candidates.len());
    let mut locked = None;
    for user in candidates {
        match reserve_attempt(pool, &account_throttle_key(user.id), now).await {
            Ok(()) => open.push(user),
            Err(e @ Error::LoginThrottled { .. }) => {
                let refused = event(user.id, EventKind::SignInThrottled, device, now);
                pool.record_event_at_most_every(&refused, THROTTLED_EVENT_EVERY_SECS).await?;
                locked = locked.or(Some(e));
            }
            Err(e) => return Err(e),
        }
    }
    match (open.is_empty(), locked) {
        (true, Some(lock)) => Err(lock),
        _ => check_credentials(pool, open, password, device, now).await,
    }
}

/// The throttle key of an account, shared by its username and email.
pub(crate) fn account_throttle_key(user_id: i64) -> String {
    format!("user:{user_id}")
}

const LOCK_POLICY: LockPolicy = LockPolicy {
    free: LOGIN_FREE_FAILURES,
    base_secs: LOGIN_LOCK_BASE_SECS,
    max_secs: LOGIN_LOCK_MAX_SECS,
    hard_limit: LOGIN_HARD_LIMIT,
};

/// Counts the attempt before the password is checked (a success clears the count), or refuses
/// while the key is locked.
pub(crate) async fn reserve_attempt(pool: &impl Store, key: &str, now: Timestamp) -> Result<()> {
    match pool.reserve_login_attempt(key, LOCK_POLICY, now).await? {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Locked { until } => Err(Error::LoginThrottled { seconds: Some(until - now) }),
        Reservation::LockedForGood => Err(Error::LoginThrottled { seconds: None }),
    }
}

/// An event of this device with no session.
fn event<'a>(user_id: i64, kind: EventKind, device: Device<'a>, now: Timestamp) -> NewEvent<'a> {
    NewEvent { user_id, at: now, kind, device: Some(device.label), ip: device.ip, session_id: None }
}

async fn check_credentials(
    pool: &impl Store,
    candidates: Vec<UserRow>,
    password: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<(NewSession, UserRow, bool)> {
    let password: String = password.nfkc().collect();
    if candidates.is_empty() || password.chars().count() > validate::PASSWORD_MAX {
        // The same argon2 work as a real check, so timing does not tell whether the account exists.
        secret::verify_blocking(password, secret::DUMMY_HASH.to_string()).await?;
        return Err(Error::InvalidCredentials);
    }
    let mut failed = Vec::new();
    for mut user in candidates {
        if !secret::verify_blocking(password.clone(), user.password_hash.clone()).await? || !user.is_active {
            failed.push(user.id);
            continue;
        }
        // What the right password must still pass, in one read: the operator's `require-reset`
        // (the password alone no longer signs in) and a second factor (a code comes next).
        let gates = pool.sign_in_gates(user.id).await?;
        if gates.reset_required {
            return Err(Error::PasswordResetRequired);
        }
        if secret::needs_rehash(&user.password_hash) {
            let rehashed = secret::hash_blocking(password.clone()).await?;
            if !pool.rehash_password(user.seen(), &rehashed).await? {
                continue; // the account changed while its password was checked
            }
            user.password_hash = rehashed;
        }
        if gates.second_factor {
            return Err(super::second_factor::challenge(pool, &user, now).await);
        }
        let minted = Minted::new(device)?;
        // One step, only if the account is still the one whose password was checked: the session
        // begins and this account's count is cleared (never another's).
        let key = account_throttle_key(user.id);
        let known_since = super::devices::known_since(now);
        match pool.complete_login(&key, user.seen(), &minted.row(device, now), known_since).await? {
            Some(done) => return Ok((minted.into_session(done.profile), user, done.new_device)),
            None => continue,
        }
    }
    // Recorded after the answer, so a wrong password for an account takes no longer to refuse
    // than one for a name no account has (the attempt itself was counted before the check).
    let pool = pool.clone();
    let (label, ip) = (device.label.to_string(), device.ip.map(str::to_string));
    tokio::spawn(async move {
        for user_id in failed {
            let device = Device { label: &label, ip: ip.as_deref() };
            if let Err(e) = pool.record_event(&event(user_id, EventKind::SignInFailed, device, now)).await {
                log::warn!("a failed sign-in was not recorded: {e}");
            }
        }
    });
    Err(Error::InvalidCredentials)
}

/// The profile behind the session. Its last use is recorded at most once every
/// `TOUCH_EVERY_SECS`, so most calls only read.
pub async fn whoami(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<Profile> {
    let token = token.ok_or(Error::NotAuthenticated)?;
    let digest = token.digest();
    let Some(profile) = pool.find_session_profile(&digest, now).await? else {
        return Err(no_session(pool, token).await);
    };
    if now - profile.last_seen_at >= TOUCH_EVERY_SECS {
        pool.touch_session(&digest, now).await?;
    }
    Ok(profile)
}

/// How often a session's last use is written, at most.
pub const TOUCH_EVERY_SECS: i64 = 5 * 60;

/// Why a token opens no session: ended from another device (`signed_out_elsewhere`, so the app
/// can say so), or not a live session at all.
pub(crate) async fn no_session(pool: &impl Store, token: &Token) -> Error {
    match pool.session_was_ended(&token.digest()).await {
        Ok(true) => Error::SignedOutElsewhere,
        Ok(false) => Error::NotAuthenticated,
        Err(e) => e,
    }
}

pub async fn logout(pool: &impl Store, token: &Token) -> Result<()> {
    pool.delete_session(&token.digest()).await?;
    Ok(())
}

/// Which screen the app opens on.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Screen {
    Signup,
    Login,
    Profile,
}

#[derive(Debug, Clone, Serialize)]
pub struct Startup {
    pub screen: Screen,
    pub profile: Option<Profile>,
    /// A remembered token that no longer opens a session (expired, revoked): forget it.
    #[serde(skip)]
    pub stale_token: bool,
    /// The remembered session was ended from another device: the sign-in screen says so.
    pub signed_out_elsewhere: bool,
}

/// Purges what has expired, then decides the first screen. The remembered token is asked for only
/// when there are accounts at all, so a first start never waits on the keychain.
pub async fn startup<F>(
    pool: &impl Store,
    mailer: &crate::mail::Mailer,
    now: Timestamp,
    remembered: impl FnOnce() -> F,
) -> Result<Startup>
where
    F: std::future::Future<Output = Option<Token>>,
{
    pool.purge_expired(now).await?;
    let events_before = now - crate::limits::EVENT_RETENTION_DAYS * 86_400;
    pool.purge_events(events_before, events_before).await?;
    super::signup::sweep_outbox(pool, mailer).await?;
    if pool.count_users().await? == 0 {
        return Ok(Startup { screen: Screen::Signup, profile: None, stale_token: false, signed_out_elsewhere: false });
    }
    let token = remembered().await;
    match whoami(pool, token.as_ref(), now).await {
        Ok(profile) => Ok(Startup {
            screen: Screen::Profile,
            profile: Some(profile),
            stale_token: false,
            signed_out_elsewhere: false,
        }),
        Err(e @ (Error::NotAuthenticated | Error::SignedOutElsewhere)) => Ok(Startup {
            screen: Screen::Login,
            profile: None,
            stale_token: token.is_some(),
            signed_out_elsewhere: matches!(e, Error::SignedOutElsewhere),
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::signup::{self, tests::outbox_mailer, SignupRequest};
    use crate::auth::SESSION_TTL_SECS;
    use crate::auth::TEST_DEVICE;
    use crate::auth::THIS_WINDOW;
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;

    async fn account(db: &TestDb) -> NewSession {
        let req = SignupRequest {
            username: "Ann",
            email: "Ann@Example.com",
            password: "correct horse battery",
            replaces: None,
        };
        let sent = signup::request_code(&db.pool, &outbox_mailer(db), req, THIS_WINDOW, T0).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        let code = signup::tests::code_in(&std::fs::read_to_string(path).unwrap());
        signup::verify(&db.pool, &outbox_mailer(db), sent.signup_id(), &code, TEST_DEVICE, T0).await.unwrap()
    }

    #[tokio::test]
    async fn login_by_username_or_email_in_any_case() {
        let db = test_db().await;
        account(&db).await;
        for id in ["Ann", "ann", " ANN ", "ann@example.com", "Ann@Example.COM"] {
            let s = login(&db.pool, id, "correct horse battery", TEST_DEVICE, T0 + 5).await.unwrap();
            assert_eq!(s.profile.username, "Ann", "{id}");
            assert_eq!(s.profile.session_expires_at, T0 + 5 + SESSION_TTL_SECS);
        }
    }

    #[tokio::test]
    async fn failures_are_indistinguishable() {
        let db = test_db().await;
        account(&db).await;
        let wrong_password = login(&db.pool, "ann", "wrong horse battery", TEST_DEVICE, T0).await.unwrap_err();
        let unknown_user = login(&db.pool, "nobody", "correct horse battery", TEST_DEVICE, T0).await.unwrap_err();
        sqlx::query("UPDATE users SET is_active = 0").execute(&db.pool).await.unwrap();
        let inactive = login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, T0).await.unwrap_err();
        let shapes: Vec<_> =
            [wrong_password, unknown_user, inactive].iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        assert!(shapes.iter().all(|s| s == &shapes[0]), "{shapes:?}");
        assert!(shapes[0].contains("invalid_credentials"));
    }

    async fn fail(db: &TestDb, id: &str, at: Timestamp) -> Error {
        login(&db.pool, id, "wrong horse battery", TEST_DEVICE, at).await.unwrap_err()
    }

    #[tokio::test]
    async fn five_failures_lock_the_identifier_with_a_doubling_capped_delay() {
        let db = test_db().await;
        account(&db).await;
        for _ in 0..5 {
            assert!(matches!(fail(&db, "ann", T0).await, Error::InvalidCredentials));
        }
        // Locked for 30 s: even the right password is not checked.
        match login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, T0 + 1).await {
            Err(Error::LoginThrottled { seconds }) => assert_eq!(seconds, Some(29)),
            other => panic!("expected login_throttled, got {other:?}"),
        }
        // The next failure after the lock doubles it; then it keeps doubling up to 15 minutes.
        let mut at = T0 + 30;
        for expected in [60, 120, 240, 480, 900, 900] {
            assert!(matches!(fail(&db, "ann", at).await, Error::InvalidCredentials));
            match fail(&db, "ann", at).await {
                Error::LoginThrottled { seconds } => assert_eq!(seconds, Some(expected)),
                other => panic!("expected login_throttled, got {other:?}"),
            }
            at += expected;
        }
        // A success resets the counter.
        login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, at).await.unwrap();
        assert!(matches!(fail(&db, "ann", at).await, Error::InvalidCredentials));
    }

    #[tokio::test]
    async fn unknown_identifiers_are_throttled_exactly_like_real_ones() {
        let db = test_db().await;
        account(&db).await;
        let mut answers = vec![];
        for id in ["ann", "nobody"] {
            for _ in 0..5 {
                fail(&db, id, T0).await;
            }
            answers.push(serde_json::to_value(fail(&db, id, T0 + 10).await).unwrap());
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0]["code"], "login_throttled");
        // Per account: the account's email shares the username's count, so the two names do not
        // give 5 + 5 guesses.
        assert!(matches!(
            login(&db.pool, "ANN@example.com", "correct horse battery", TEST_DEVICE, T0 + 10).await,
            Err(Error::LoginThrottled { .. })
        ));
    }

    #[tokio::test]
    async fn username_and_email_share_one_count() {
        let db = test_db().await;
        account(&db).await;
        for id in ["ann", "ann@example.com", "ANN", "Ann@Example.com", "ann"] {
            assert!(matches!(fail(&db, id, T0).await, Error::InvalidCredentials), "{id}");
        }
        assert!(matches!(fail(&db, "ann@example.com", T0).await, Error::LoginThrottled { seconds: Some(30) }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn fifty_parallel_wrong_logins_check_at_most_five_passwords() {
        let db = test_db().await;
        account(&db).await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let pool = db.pool.clone();
                let id = if i % 2 == 0 { "ann" } else { "ann@example.com" };
                tokio::spawn(async move { login(&pool, id, "wrong horse battery", TEST_DEVICE, T0).await })
            })
            .collect();
        let mut checked = 0;
        for t in tasks {
            match t.await.unwrap() {
                Err(Error::InvalidCredentials) => checked += 1,
                Err(Error::LoginThrottled { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(checked, LOGIN_FREE_FAILURES);
        let failures: i64 =
            sqlx::query_scalar("SELECT failures FROM login_throttle").fetch_one(&db.pool).await.unwrap();
        assert_eq!(failures, LOGIN_FREE_FAILURES);
    }

    #[tokio::test]
    async fn a_hundred_failures_lock_until_a_password_reset() {
        let db = test_db().await;
        account(&db).await;
        // 99 failures in a row so far (spread over days, each after its lock ran out).
        sqlx::query("INSERT INTO login_throttle SELECT 'user:' || id, 99, 0, 0 FROM users")
            .execute(&db.pool)
            .await
            .unwrap();
        assert!(matches!(fail(&db, "ann", T0).await, Error::InvalidCredentials));
        let later = T0 + 30 * 86_400;
        crate::store::purge_expired(&db.pool, later).await.unwrap();
        match login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, later).await {
            Err(e @ Error::LoginThrottled { seconds: None }) => {
                assert!(e.to_string().contains("Forgot password?"), "{e}")
            }
            other => panic!("expected a lock until reset, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn identifiers_longer_than_any_name_are_refused_before_any_database_work() {
        let db = test_db().await;
        let long = "a".repeat(1_000_000);
        match login(&db.pool, &long, "whatever", TEST_DEVICE, T0).await {
            Err(Error::InvalidInput { field: "identifier", .. }) => {}
            other => panic!("expected invalid_input, got {other:?}"),
        }
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM login_throttle").fetch_one(&db.pool).await.unwrap();
        assert_eq!(rows, 0);
    }

    #[tokio::test]
    async fn throttling_survives_a_restart() {
        let db = test_db().await;
        account(&db).await;
        for _ in 0..5 {
            fail(&db, "ann", T0).await;
        }
        db.pool.close().await;
        let pool = crate::store::open(&db.path()).await.unwrap();
        assert!(matches!(
            login(&pool, "ann", "correct horse battery", TEST_DEVICE, T0 + 5).await,
            Err(Error::LoginThrottled { .. })
        ));
    }

    #[tokio::test]
    async fn a_weaker_hash_is_upgraded_on_the_next_successful_login() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let db = test_db().await;
        account(&db).await;
        let weak = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(4096, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(&[9; 16]).unwrap();
        let old = weak.hash_password(b"correct horse battery", &salt).unwrap();
        sqlx::query("UPDATE users SET password_hash = ?").bind(old.to_string()).execute(&db.pool).await.unwrap();
        login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, T0).await.unwrap();
        let now: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&db.pool).await.unwrap();
        assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
        assert!(login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, T0 + 1).await.is_ok());
    }

    #[tokio::test]
    async fn sessions_last_thirty_days_to_the_second() {
        let db = test_db().await;
        let s = account(&db).await;
        assert!(whoami(&db.pool, Some(&s.token), T0 + SESSION_TTL_SECS - 1).await.is_ok());
        assert!(matches!(whoami(&db.pool, Some(&s.token), T0 + SESSION_TTL_SECS).await, Err(Error::NotAuthenticated)));
        assert!(matches!(whoami(&db.pool, None, T0).await, Err(Error::NotAuthenticated)));
    }

    #[tokio::test]
    async fn logout_ends_the_session() {
        let db = test_db().await;
        let s = account(&db).await;
        logout(&db.pool, &s.token).await.unwrap();
        assert!(matches!(whoami(&db.pool, Some(&s.token), T0).await, Err(Error::NotAuthenticated)));
    }

    #[tokio::test]
    async fn startup_picks_the_screen_and_purges_expired_sessions() {
        let db = test_db().await;
        let asked = std::cell::Cell::new(false);
        let remembered = |token: Option<Token>| {
            asked.set(true);
            async move { token }
        };
        assert_eq!(
            startup(&db.pool, &outbox_mailer(&db), T0, || remembered(None)).await.unwrap().screen,
            Screen::Signup
        );
        assert!(!asked.get(), "no accounts: the keychain is not asked");
        let s = account(&db).await;
        let t = || remembered(Some(s.token.clone()));
        assert_eq!(startup(&db.pool, &outbox_mailer(&db), T0 + 1, t).await.unwrap().screen, Screen::Profile);
        assert_eq!(
            startup(&db.pool, &outbox_mailer(&db), T0 + 1, || remembered(None)).await.unwrap().screen,
            Screen::Login
        );
        let later = startup(&db.pool, &outbox_mailer(&db), T0 + SESSION_TTL_SECS, t).await.unwrap();
        assert_eq!(later.screen, Screen::Login);
        assert!(later.stale_token);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db.pool).await.unwrap();
        assert_eq!(left, 0);
    }

    /// Mallory's username is Ann's address (an old account: sign-up refuses that now). Typing it
    /// names both accounts: every wrong guess counts against Ann too, and Mallory's own right
    /// password, typed every fourth try, clears only her count.
    #[tokio::test]
    async fn a_guess_counts_against_every_account_the_identifier_names() {
        let db = test_db().await;
        account(&db).await;
        let req = SignupRequest {
            username: "mallory",
            email: "mallory@example.org",
            password: "plum orchard lantern",
            replaces: None,
        };
        let sent = signup::request_code(&db.pool, &outbox_mailer(&db), req, THIS_WINDOW, T0).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        let code = signup::tests::code_in(&std::fs::read_to_string(path).unwrap());
        signup::verify(&db.pool, &outbox_mailer(&db), sent.signup_id(), &code, TEST_DEVICE, T0).await.unwrap();
        sqlx::query("UPDATE users SET username = 'ann@example.com', username_key = 'ann@example.com' WHERE username = 'mallory'")
            .execute(&db.pool)
            .await
            .unwrap();

        for round in 0..6 {
            for guess in 0..4 {
                let _ =
                    login(&db.pool, "ann@example.com", &format!("guess {round} {guess} at ann"), TEST_DEVICE, T0).await;
            }
            let _ = login(&db.pool, "ann@example.com", "plum orchard lantern", TEST_DEVICE, T0).await;
        }
        // The 25th guess is Ann's password: her account stopped taking guesses after five.
        let found = login(&db.pool, "ann@example.com", "correct horse battery", TEST_DEVICE, T0).await;
        assert!(!matches!(&found, Ok(s) if s.profile.username == "Ann"), "guess 25 opened Ann's account");
        assert!(matches!(
            login(&db.pool, "ann", "correct horse battery", TEST_DEVICE, T0).await,
            Err(Error::LoginThrottled { .. })
        ));
    }
}
