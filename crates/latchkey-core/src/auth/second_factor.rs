//! A second factor: authenticator-app codes (RFC 6238: SHA-1, 6 digits, 30-second steps, a
//! 20-byte secret, the parameters every common app reads) and ten one-use recovery codes.
//!
//! A code is accepted for the current step or the one before (never a later one), and only if
//! its step is later than the last one accepted for the account: the store claims the step in
//! one conditional statement, in the transaction that starts the session, so the same code never
//! works twice, not in two parallel requests, not through two server processes. Wrong codes count
//! in the account's login throttle, as wrong passwords do.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

use super::account::{confirm_password, notify, signed_in};
use super::login::{account_throttle_key, reserve_attempt};
use super::secret::{self, Token};
use super::{devices, Device, Minted, NewSession, Timestamp};
use crate::error::{Error, Result};
use crate::mail::{Letter, Mailer};
use crate::store::{EventKind, FactorChange, NewEvent, Proof, SecondFactorSignIn, SignedInRow, Store, UserRow};

pub const STEP_SECS: i64 = 30;
pub const DIGITS: usize = 6;
pub const SECRET_BYTES: usize = 20;
/// How long a right password waits for its code.
pub const CHALLENGE_TTL_SECS: i64 = 5 * 60;
pub const RECOVERY_CODES: usize = 10;
/// The profile warns when this few recovery codes are left.
pub const RECOVERY_LOW: i64 = 3;
/// Recovery codes are read and typed by people: no 0/O, 1/I/L, U.
const RECOVERY_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 characters of 30: 78 bits.
const RECOVERY_LENGTH: usize = 16;
const ISSUER: &str = "Latchkey";

/// What the set-up screen shows once: the secret as a QR code and as grouped base32 text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrolment {
    /// Base32 in groups of four, as people type it.
    pub secret: String,
    pub otpauth_uri: String,
    /// The QR code of `otpauth_uri` as an SVG drawing (nothing loaded from anywhere).
    #[serde(default)]
    pub qr_svg: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
    #[serde(default)]
    pub notice_sent: bool,
}

fn totp(secret: &[u8], account: &str) -> Result<TOTP> {
    // The account name may not contain ':' in an otpauth URI; usernames never do.
    TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECS as u64, secret.to_vec(), Some(ISSUER.into()), account.into())
        .map_err(|e| Error::internal("authenticator", e))
}

/// The code of `step` for `secret` (RFC 6238).
pub fn code_at(secret: &[u8], step: i64) -> Result<String> {
    Ok(totp(secret, "x")?.generate((step.max(0) * STEP_SECS) as u64))
}

/// The step `code` is right for: now's or the one before, never a later one.
fn matching_step(secret: &[u8], code: &str, now: Timestamp) -> Result<Option<i64>> {
    let totp = totp(secret, "x")?;
    let current = now / STEP_SECS;
    for step in [current, current - 1] {
        // `check` compares in constant time; skew 0 means this step only.
        if step >= 0 && totp.check(code, (step * STEP_SECS) as u64) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// What a person typed: six digits (spaces ignored) from the app, or a recovery code (case,
/// spaces and dashes ignored).
enum Typed {
    App(String),
    Recovery([u8; 32]),
}

fn typed(raw: &str) -> Result<Typed> {
    let kept: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if kept.len() == DIGITS && kept.chars().all(|c| c.is_ascii_digit()) {
        return Ok(Typed::App(kept));
    }
    let upper = kept.to_ascii_uppercase();
    if upper.len() == RECOVERY_LENGTH && upper.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
        return Ok(Typed::Recovery(Sha256::digest(upper.as_bytes()).into()));
    }
    Err(Error::invalid("code", "Enter the 6-digit code from your authenticator app, or one of your recovery codes."))
}

/// The proof a typed code gives, if it is right for this account now.
async fn proof<'t>(pool: &impl Store, user_id: i64, typed: &'t Typed, now: Timestamp) -> Result<Option<Proof<'t>>> {
    match typed {
        Typed::Recovery(hash) => Ok(Some(Proof::Recovery(hash))),
        Typed::App(code) => {
            let Some(factor) = pool.find_second_factor(user_id).await? else { return Ok(None) };
            Ok(matching_step(&factor.secret, code, now)?.map(Proof::Step))
        }
    }
}

fn new_recovery_codes() -> Result<(Vec<String>, Vec<[u8; 32]>)> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    while codes.len() < RECOVERY_CODES {
        let mut code = String::with_capacity(RECOVERY_LENGTH);
        while code.len() < RECOVERY_LENGTH {
            for b in secret::random_bytes::<32>()? {
                // Below 240 (8 × 30) each character is equally likely.
                if b < 240 && code.len() < RECOVERY_LENGTH {
                    code.push(RECOVERY_ALPHABET[usize::from(b) % RECOVERY_ALPHABET.len()] as char);
                }
            }
        }
        codes.push(code);
    }
    let hashes = codes.iter().map(|c| Sha256::digest(c.as_bytes()).into()).collect();
    // Shown in groups of four.
    let shown = codes.iter().map(|c| group(c)).collect();
    Ok((shown, hashes))
}

fn group(text: &str) -> String {
    text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

fn event(user: &UserRow, kind: EventKind, now: Timestamp) -> NewEvent<'static> {
    NewEvent { user_id: user.id, at: now, kind, device: None, ip: None, session_id: None }
}

/// Starts an enrolment: the password again, then a new secret (replacing one still waiting for
/// its first code). It is on only after a right code (`confirm`).
pub async fn setup(pool: &impl Store, token: Option<&Token>, password: &str, now: Timestamp) -> Result<Enrolment> {
    let user = signed_in(pool, token, now).await?;
    confirm_password(pool, &user, password, now).await?;
    let secret = secret::random_bytes::<SECRET_BYTES>()?;
    if !pool.start_second_factor(user.id, &secret, now).await? {
        return Err(Error::SecondFactorAlreadyOn);
    }
    let totp = totp(&secret, &user.username)?;
    let otpauth_uri = totp.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| Error::internal("QR code", e))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build();
    Ok(Enrolment { secret: group(&totp.get_secret_base32()), otpauth_uri, qr_svg })
}

/// The enrolment's first right code turns it on (its step used up too) and gives the recovery
/// codes, shown once.
pub async fn confirm(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    code: &str,
    now: Timestamp,
) -> Result<RecoveryCodes> {
    let user = signed_in(pool, token, now).await?;
    let Typed::App(code) = typed(code)? else {
        return Err(Error::invalid("code", "Enter the 6-digit code your authenticator app shows now."));
    };
    let factor = pool.find_second_factor(user.id).await?.filter(|f| f.enabled_at.is_none());
    let factor = factor.ok_or(Error::NoSecondFactorSetup)?;
    let key = account_throttle_key(user.id);
    reserve_attempt(pool, &key, now).await?;
    let step = matching_step(&factor.secret, &code, now)?.ok_or(Error::InvalidSecondFactor)?;
    let (codes, hashes) = new_recovery_codes()?;
    let on = event(&user, EventKind::SecondFactorOn, now);
    if !pool.change_second_factor(user.id, Proof::Step(step), FactorChange::TurnOn(&hashes), &on).await? {
        return Err(Error::InvalidSecondFactor);
    }
    pool.clear_login_throttle(&key).await?;
    let notice_sent = notify(mailer, &user, Letter::SecondFactorOn).await;
    Ok(RecoveryCodes { recovery_codes: codes, notice_sent })
}

/// Turning it off needs the password and a code (from the app or a recovery code).
pub async fn disable(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    password: &str,
    code: &str,
    now: Timestamp,
) -> Result<bool> {
    let (user, typed) = password_and_code(pool, token, password, code, true, now).await?;
    change_with_code(pool, &user, &typed, FactorChange::TurnOff, EventKind::SecondFactorOff, now).await?;
    Ok(notify(mailer, &user, Letter::SecondFactorOff).await)
}

/// New recovery codes in place of the old: the password and a code from the app.
pub async fn regenerate(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    password: &str,
    code: &str,
    now: Timestamp,
) -> Result<RecoveryCodes> {
    let (user, typed) = password_and_code(pool, token, password, code, false, now).await?;
    let (codes, hashes) = new_recovery_codes()?;
    let change = FactorChange::NewRecoveryCodes(&hashes);
    change_with_code(pool, &user, &typed, change, EventKind::RecoveryCodesRegenerated, now).await?;
    let notice_sent = notify(mailer, &user, Letter::RecoveryCodesRegenerated).await;
    Ok(RecoveryCodes { recovery_codes: codes, notice_sent })
}

/// Spends the typed code on `change` (recorded as `kind`) and, done, clears the count the code
/// was checked under; `invalid_second_factor` when the code is not right or used already.
async fn change_with_code(
    pool: &impl Store,
    user: &UserRow,
    typed: &Typed,
    change: FactorChange<'_>,
    kind: EventKind,
    now: Timestamp,
) -> Result<()> {
    let Some(proof) = proof(pool, user.id, typed, now).await? else { return Err(Error::InvalidSecondFactor) };
    if !pool.change_second_factor(user.id, proof, change, &event(user, kind, now)).await? {
        return Err(Error::InvalidSecondFactor);
    }
    pool.clear_login_throttle(&account_throttle_key(user.id)).await
}

/// The signed-in account with the factor on, its password checked, and what the code typed is
/// (`recovery`: whether a recovery code may stand in for the app's). Counted in the throttle.
async fn password_and_code(
    pool: &impl Store,
    token: Option<&Token>,
    password: &str,
    code: &str,
    recovery: bool,
    now: Timestamp,
) -> Result<(UserRow, Typed)> {
    let user = signed_in(pool, token, now).await?;
    let typed = typed(code)?;
    if !recovery && matches!(typed, Typed::Recovery(_)) {
        return Err(Error::invalid("code", "Enter the 6-digit code your authenticator app shows now."));
    }
    if !is_on(pool, user.id).await? {
        return Err(Error::SecondFactorNotOn);
    }
    confirm_password(pool, &user, password, now).await?;
    // The password was right and its count cleared; the code is counted on its own.
    reserve_attempt(pool, &account_throttle_key(user.id), now).await?;
    Ok((user, typed))
}

/// Whether signing in to this account needs a second factor.
pub(crate) async fn is_on(pool: &impl Store, user_id: i64) -> Result<bool> {
    Ok(pool.find_second_factor(user_id).await?.is_some_and(|f| f.enabled_at.is_some()))
}

/// A right password for an account with a second factor: no session yet, but a challenge that
/// its code completes within 5 minutes (`second_factor_required`).
pub(crate) async fn challenge(pool: &impl Store, user: &UserRow, now: Timestamp) -> Error {
    let challenge = match Token::generate() {
        Ok(challenge) => challenge,
        Err(e) => return e,
    };
    match pool.add_login_challenge(&challenge.digest(), user.seen(), now + CHALLENGE_TTL_SECS).await {
        Ok(()) => Error::SecondFactorRequired { challenge: challenge.expose().to_string() },
        Err(e) => e,
    }
}

/// The second step of a sign-in: the challenge and a code from the app (or a recovery code).
pub async fn sign_in(
    pool: &impl Store,
    mailer: &Mailer,
    challenge: &str,
    code: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    let typed = typed(code)?;
    let digest = Token::from_stored(challenge.to_string()).digest();
    let row = pool.find_login_challenge(&digest, now).await?.ok_or(Error::NoPendingSignIn)?;
    let user = pool.find_user(row.user_id).await?.ok_or(Error::NoPendingSignIn)?;
    let key = account_throttle_key(user.id);
    reserve_attempt(pool, &key, now).await?;
    let Some(proof) = proof(pool, user.id, &typed, now).await? else { return Err(Error::InvalidSecondFactor) };
    let seen = crate::store::Seen { id: row.user_id, password_hash: &row.password_hash };
    let minted = Minted::new(device)?;
    let (session, known_since) = (minted.row(device, now), devices::known_since(now));
    match pool.complete_second_factor_login(&digest, &key, seen, proof, &session, known_since).await? {
        SecondFactorSignIn::Done(SignedInRow { profile, new_device }) => {
            if new_device {
                devices::tell_new_device_later(pool, mailer, &user, device, now);
            }
            if let Proof::Recovery(_) = proof {
                let left = profile.recovery_codes_left;
                mailer.send_detached(
                    crate::mail::Recipient { name: &user.username, address: &user.email },
                    Letter::RecoveryCodeUsed { left },
                );
            }
            Ok(minted.into_session(profile))
        }
        SecondFactorSignIn::WrongCode => Err(Error::InvalidSecondFactor),
        SecondFactorSignIn::Stale => Err(Error::NoPendingSignIn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" at its test times (the
    /// last six digits of its eight-digit values).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(secret, time / STEP_SECS).unwrap(), expected, "{time}");
        }
    }

    #[test]
    fn a_code_is_right_now_and_one_step_back_never_ahead() {
        let secret = [7u8; SECRET_BYTES];
        let now = 1_800_000_015;
        let step = now / STEP_SECS;
        for (offset, expected) in [(0, Some(step)), (-1, Some(step - 1)), (1, None), (-2, None)] {
            let code = code_at(&secret, step + offset).unwrap();
            assert_eq!(matching_step(&secret, &code, now).unwrap(), expected, "{offset}");
        }
    }

    #[test]
    fn recovery_codes_are_ten_distinct_78_bit_codes_without_look_alikes() {
        let (codes, hashes) = new_recovery_codes().unwrap();
        assert_eq!((codes.len(), hashes.len()), (RECOVERY_CODES, RECOVERY_CODES));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), RECOVERY_LENGTH + 3, "{code}");
            assert!(!code.contains(['0', 'O', '1', 'I', 'L', 'U']), "{code}");
            let Typed::Recovery(hash) = typed(&code.to_lowercase()).unwrap() else { panic!() };
            assert!(hashes.contains(&hash));
        }
        let bits = RECOVERY_LENGTH as f64 * (RECOVERY_ALPHABET.len() as f64).log2();
        assert!(bits >= 60.0, "{bits}");
    }

    use crate::auth::signup::{self as signup_flow, tests::code_in, tests::outbox_mailer, SignupRequest};
    use crate::auth::{account, login, TEST_DEVICE, THIS_WINDOW};
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;
    const PW: &str = "correct horse battery";

    async fn account_with_factor(db: &TestDb) -> (NewSession, Vec<u8>, Vec<String>) {
        let req = SignupRequest { username: "ann", email: "ann@example.com", password: PW, replaces: None };
        let mailer = outbox_mailer(db);
        let sent = signup_flow::request_code(&db.pool, &mailer, req, THIS_WINDOW, T0).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        let code = code_in(&std::fs::read_to_string(path).unwrap());
        let me = signup_flow::verify(&db.pool, &mailer, sent.signup_id(), &code, TEST_DEVICE, T0).await.unwrap();
        let enrolment = setup(&db.pool, Some(&me.token), PW, T0 + 1).await.unwrap();
        let secret = totp_rs::Secret::Encoded(enrolment.secret.replace('-', "")).to_bytes().unwrap();
        assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/Latchkey:ann?secret="), "{}", enrolment.otpauth_uri);
        assert!(enrolment.qr_svg.starts_with("<?xml") && enrolment.qr_svg.contains("<svg"));
        let codes =
            confirm(&db.pool, &mailer, Some(&me.token), &code_at(&secret, (T0 + 1) / STEP_SECS).unwrap(), T0 + 1)
                .await
                .unwrap();
        (me, secret, codes.recovery_codes)
    }

    fn challenge_of(result: Result<NewSession>) -> String {
        match result {
            Err(Error::SecondFactorRequired { challenge }) => challenge,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_right_password_waits_for_a_code_that_works_once_never_early_never_the_enrolments() {
        let db = test_db().await;
        let (me, secret, _) = account_with_factor(&db).await;
        let mailer = outbox_mailer(&db);
        let profile = login::whoami(&db.pool, Some(&me.token), T0 + 2).await.unwrap();
        assert!(profile.second_factor && profile.recovery_codes_left == RECOVERY_CODES as i64);
        // A wrong password answers as ever.
        assert!(matches!(
            login::login(&db.pool, "ann", "wrong horse battery", TEST_DEVICE, T0 + 2).await,
            Err(Error::InvalidCredentials)
        ));
        let challenge = challenge_of(login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 2).await);
        // The enrolment's code (its step used up), and the next step's, are refused.
        let enrolment_code = code_at(&secret, (T0 + 1) / STEP_SECS).unwrap();
        let early = code_at(&secret, (T0 + 2) / STEP_SECS + 1).unwrap();
        for code in [enrolment_code, early] {
            let refused = sign_in(&db.pool, &mailer, &challenge, &code, TEST_DEVICE, T0 + 2).await;
            assert!(matches!(refused, Err(Error::InvalidSecondFactor)), "{refused:?}");
        }
        let later = T0 + 2 * STEP_SECS;
        let code = code_at(&secret, later / STEP_SECS).unwrap();
        let session = sign_in(&db.pool, &mailer, &challenge, &code, TEST_DEVICE, later).await.unwrap();
        assert_eq!(session.profile.username, "ann");
        // The same code again, with a new challenge: refused. The challenge is used up too.
        let again = challenge_of(login::login(&db.pool, "ann", PW, TEST_DEVICE, later).await);
        assert!(matches!(
            sign_in(&db.pool, &mailer, &again, &code, TEST_DEVICE, later).await,
            Err(Error::InvalidSecondFactor)
        ));
        assert!(matches!(
            sign_in(&db.pool, &mailer, &challenge, &code, TEST_DEVICE, later).await,
            Err(Error::NoPendingSignIn)
        ));
        // A challenge lasts 5 minutes.
        let next = code_at(&secret, later / STEP_SECS + 12).unwrap();
        let late = sign_in(&db.pool, &mailer, &again, &next, TEST_DEVICE, later + CHALLENGE_TTL_SECS).await;
        assert!(matches!(late, Err(Error::NoPendingSignIn)), "{late:?}");
    }

    #[tokio::test]
    async fn each_recovery_code_works_once_and_wrong_codes_count_in_the_throttle() {
        let db = test_db().await;
        let (_, _, codes) = account_with_factor(&db).await;
        let mailer = outbox_mailer(&db);
        let challenge = challenge_of(login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 2).await);
        let session =
            sign_in(&db.pool, &mailer, &challenge, &codes[0].to_lowercase(), TEST_DEVICE, T0 + 3).await.unwrap();
        assert_eq!(session.profile.recovery_codes_left, RECOVERY_CODES as i64 - 1);
        let again = challenge_of(login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 4).await);
        assert!(matches!(
            sign_in(&db.pool, &mailer, &again, &codes[0], TEST_DEVICE, T0 + 4).await,
            Err(Error::InvalidSecondFactor)
        ));
        // Wrong codes count with the sign-in that asked for them (a right password waiting for its
        // code is not yet a success): then the account is locked, right code or not.
        for i in 0..crate::limits::LOGIN_FREE_FAILURES - 2 {
            let wrong = sign_in(&db.pool, &mailer, &again, "000000", TEST_DEVICE, T0 + 5 + i).await;
            assert!(matches!(wrong, Err(Error::InvalidSecondFactor)), "{wrong:?}");
        }
        let locked = sign_in(&db.pool, &mailer, &again, &codes[1], TEST_DEVICE, T0 + 20).await;
        assert!(matches!(locked, Err(Error::LoginThrottled { .. })), "{locked:?}");
    }

    #[tokio::test]
    async fn a_reset_keeps_the_second_factor_and_signing_in_still_needs_it() {
        let db = test_db().await;
        let (_, secret, _) = account_with_factor(&db).await;
        let mailer = outbox_mailer(&db);
        let sent = account::request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0 + 100).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        // Sent in the background: waits for it.
        let mut code = None;
        for _ in 0..500 {
            let texts = std::fs::read_dir(path).unwrap().flatten().map(|e| std::fs::read_to_string(e.path()).unwrap());
            code = texts.into_iter().find(|t| t.contains("password reset code")).map(|t| code_in(&t));
            if code.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let code = code.expect("the reset code's mail");
        let req = account::ResetRequest {
            reset_id: sent.reset_id.as_deref().unwrap(),
            code: &code,
            password: "violet tundra marble",
        };
        let challenge = match account::reset_password(&db.pool, &mailer, req, TEST_DEVICE, T0 + 101).await {
            Err(Error::SecondFactorRequired { challenge }) => challenge,
            other => panic!("{other:?}"),
        };
        // The old password is gone; the new one also waits for a code.
        assert!(matches!(
            login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 102).await,
            Err(Error::InvalidCredentials)
        ));
        challenge_of(login::login(&db.pool, "ann", "violet tundra marble", TEST_DEVICE, T0 + 102).await);
        let later = T0 + 6 * STEP_SECS;
        let code = code_at(&secret, later / STEP_SECS).unwrap();
        let session = sign_in(&db.pool, &mailer, &challenge, &code, TEST_DEVICE, later).await.unwrap();
        assert!(session.profile.second_factor);
    }

    #[tokio::test]
    async fn turning_it_off_needs_the_password_and_a_code() {
        let db = test_db().await;
        let (me, secret, codes) = account_with_factor(&db).await;
        let mailer = outbox_mailer(&db);
        let t = Some(&me.token);
        let later = T0 + 2 * STEP_SECS;
        let code = code_at(&secret, later / STEP_SECS).unwrap();
        assert!(matches!(
            disable(&db.pool, &mailer, t, "wrong horse battery", &code, later).await,
            Err(Error::WrongPassword)
        ));
        assert!(matches!(disable(&db.pool, &mailer, t, PW, "123456", later).await, Err(Error::InvalidSecondFactor)));
        // New recovery codes need an app code; the old ones stop working.
        let fresh = regenerate(&db.pool, &mailer, t, PW, &code, later).await.unwrap();
        assert_eq!(fresh.recovery_codes.len(), RECOVERY_CODES);
        assert!(matches!(
            disable(&db.pool, &mailer, t, PW, &codes[0], later + 1).await,
            Err(Error::InvalidSecondFactor)
        ));
        disable(&db.pool, &mailer, t, PW, &fresh.recovery_codes[0], later + 2).await.unwrap();
        let profile = login::whoami(&db.pool, t, later + 3).await.unwrap();
        assert!(!profile.second_factor && profile.recovery_codes_left == 0);
        assert!(login::login(&db.pool, "ann", PW, TEST_DEVICE, later + 4).await.is_ok());
    }
}
