//! The rest of an account's life: forgot password (`reset`) and the changes a signed-in person
//! makes (`signed_in`: password, email, delete), with the steps both share.

mod reset;
mod signed_in;

pub use reset::{request_reset, resend_reset, reset_password, ResetRequest};
pub use signed_in::{
    cancel_email_change, change_password, delete_account, request_email_change, resend_email_change,
    verify_email_change, EmailChangeStarted,
};

use crate::store::Store;
use unicode_normalization::UnicodeNormalization;

use super::login::{account_throttle_key, reserve_attempt};
use super::secret::{self, Token};
use super::{validate, Device, Minted, NewSession, Profile, Timestamp, CODE_TTL_SECS};
use crate::error::{Error, Result};
use crate::mail::{CodePurpose, Letter, Mailer, Recipient};
use crate::store::account_codes::CodeRow;
use crate::store::users::UserRow;

/// A change that ended every session of the account (a new password or address): this window
/// has a fresh one.
#[derive(Debug)]
pub struct SessionRenewed {
    pub session: NewSession,
    /// False when the security notice could not be sent (the change stands).
    pub notice_sent: bool,
}

// Shared steps.

pub(crate) async fn signed_in(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<UserRow> {
    let token = token.ok_or(Error::NotAuthenticated)?;
    match pool.find_session_user(&token.digest(), now).await? {
        Some(user) => Ok(user),
        None => Err(super::login::no_session(pool, token).await),
    }
}

async fn profile(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<Profile> {
    super::login::whoami(pool, token, now).await
}

/// The account's password, checked under the account's login throttle: a wrong one is
/// `wrong_password` and counts as a failed login; a right one clears the count.
pub(crate) async fn confirm_password(pool: &impl Store, user: &UserRow, password: &str, now: Timestamp) -> Result<()> {
    check_password(pool, user, password, now).await?;
    pool.clear_login_throttle(&account_throttle_key(user.id)).await?;
    Ok(())
}

/// `confirm_password` for a step that clears the count itself, in the same transaction as its
/// own write (a password change), so no statement of its own follows the hash.
async fn check_password(pool: &impl Store, user: &UserRow, password: &str, now: Timestamp) -> Result<()> {
    reserve_attempt(pool, &account_throttle_key(user.id), now).await?;
    let password: String = password.nfkc().collect();
    let fits = password.chars().count() <= validate::PASSWORD_MAX;
    if fits && secret::verify_blocking(password, user.password_hash.clone()).await? {
        return Ok(());
    }
    Err(Error::WrongPassword)
}

/// The new password's hash in one transaction with the end of every session and code of the
/// account; this desktop gets the one new session.
async fn replace_password(
    pool: &impl Store,
    user: &UserRow,
    password: String,
    code: Option<&CodeRow>,
    device: Device<'_>,
    now: Timestamp,
) -> Result<NewSession> {
    let hash = secret::hash_blocking(password).await?;
    let key = account_throttle_key(user.id);
    // A reset does not sign in an account with a second factor: the mailbox alone must not open
    // it. The password changes and every session ends; signing in takes the code (a challenge).
    if code.is_some() && super::second_factor::is_on(pool, user.id).await? {
        pool.replace_password(user.seen(), &hash, code, &key, None, now).await?;
        let changed = UserRow { password_hash: hash, ..user.clone() };
        return Err(super::second_factor::challenge(pool, &changed, now).await);
    }
    let minted = Minted::new(device)?;
    let profile = pool.replace_password(user.seen(), &hash, code, &key, Some(&minted.row(device, now)), now).await?;
    let profile = profile.ok_or_else(|| Error::internal("password change", "no new session"))?;
    Ok(minted.into_session(profile))
}

fn code_letter(purpose: CodePurpose, code: &str) -> Letter<'_> {
    Letter::Code { purpose, code, valid_minutes: CODE_TTL_SECS / 60 }
}

fn recipient(user: &UserRow) -> Recipient<'_> {
    Recipient { name: &user.username, address: &user.email }
}

/// A security notice to the account's address. A failure is logged and reported, never undone.
pub(crate) async fn notify(mailer: &Mailer, user: &UserRow, letter: Letter<'_>) -> bool {
    match mailer.send(recipient(user), letter).await {
        Ok(_) => true,
        Err(e) => {
            log::warn!("a security notice was not sent: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::login;
    use crate::auth::signup::CodeSent;
    use crate::auth::signup::{self, tests::code_in, tests::outbox_mailer, SignupRequest};
    use crate::auth::TEST_DEVICE;
    use crate::auth::THIS_WINDOW;
    use crate::error::Flow;
    use crate::mail::Delivery;
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;
    const PW: &str = "correct horse battery";
    const NEW_PW: &str = "violet tundra marble";

    /// Ann's account, signed in once an hour before T0 (so its sign-up mail no longer counts
    /// toward the address's mail limits); returns that session.
    async fn account(db: &TestDb, mailer: &Mailer) -> NewSession {
        account_at(db, mailer, T0 - 3600).await
    }

    async fn account_at(db: &TestDb, mailer: &Mailer, at: Timestamp) -> NewSession {
        let req = SignupRequest { username: "Ann", email: "ann@example.com", password: PW, replaces: None };
        let sent = signup::request_code(&db.pool, mailer, req, THIS_WINDOW, at).await.unwrap();
        let Delivery::Outbox { path } = &sent.delivery else { panic!("outbox expected") };
        let code = code_in(&std::fs::read_to_string(path).unwrap());
        signup::verify(&db.pool, mailer, sent.signup_id(), &code, TEST_DEVICE, at).await.unwrap()
    }

    /// The outbox's messages, oldest first. (Sign-up code files are gone once the sign-up is.)
    fn outbox(db: &TestDb) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(db.dir.path().join("outbox")) else { return vec![] };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Waits (up to 10 s) for the background send to write message number `n` (1-based).
    async fn message(db: &TestDb, n: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut all = outbox(db);
            if all.len() >= n {
                return all.swap_remove(n - 1);
            }
            assert!(std::time::Instant::now() < deadline, "message {n} never came; have {}", all.len());
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    async fn count(db: &TestDb, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
    }

    fn wrong(code: &str) -> String {
        format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
    }

    fn reset<'a>(sent: &'a CodeSent, code: &'a str, password: &'a str) -> ResetRequest<'a> {
        ResetRequest { reset_id: sent.reset_id.as_deref().unwrap_or_default(), code, password }
    }

    #[tokio::test]
    async fn a_reset_changes_the_password_ends_every_session_and_signs_this_desktop_in() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let first = account(&db, &mailer).await;
        let second = login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 1).await.unwrap();
        assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 2);
        for _ in 0..3 {
            let _ = login::login(&db.pool, "ann", "wrong horse battery", TEST_DEVICE, T0 + 2).await;
        }
        request_email_change(&db.pool, &mailer, Some(&first.token), PW, "ann2@example.com", T0 + 3).await.unwrap();

        let sent = request_reset(&db.pool, &mailer, "ANN@example.com", THIS_WINDOW, T0 + 10).await.unwrap();
        assert_eq!((sent.resend_at, sent.expires_at), (T0 + 70, T0 + 610));
        let mail = message(&db, 2).await;
        assert!(
            mail.contains("Subject: Your Latchkey password reset code") && mail.contains("To: Ann <ann@example.com>")
        );
        let done = reset_password(&db.pool, &mailer, reset(&sent, &code_in(&mail), NEW_PW), TEST_DEVICE, T0 + 20)
            .await
            .unwrap();
        assert!(done.notice_sent);
        assert_eq!(done.session.profile.username, "Ann");
        // Every earlier session ended; only this desktop's new one is left.
        for old in [&first.token, &second.token] {
            assert!(matches!(login::whoami(&db.pool, Some(old), T0 + 21).await, Err(Error::NotAuthenticated)));
        }
        assert!(login::whoami(&db.pool, Some(&done.session.token), T0 + 21).await.is_ok());
        assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 1);
        // Other pending codes were voided, the throttle cleared, the notice sent.
        assert_eq!(count(&db, "SELECT count(*) FROM account_codes").await, 0);
        assert_eq!(count(&db, "SELECT count(*) FROM login_throttle").await, 0);
        assert!(message(&db, 3).await.contains("Subject: Your Latchkey password was reset"));
        assert!(matches!(
            login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 30).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(login::login(&db.pool, "ann", NEW_PW, TEST_DEVICE, T0 + 30).await.is_ok());
    }

    #[tokio::test]
    async fn known_and_unknown_addresses_get_the_same_answers_and_only_a_known_one_gets_mail() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        account(&db, &mailer).await;
        let shape = |r: &Result<CodeSent>| {
            let mut v = serde_json::to_value(r.as_ref().map_err(|e| serde_json::to_value(e).unwrap())).unwrap();
            for reply in v.as_object_mut().unwrap().values_mut() {
                let reply = reply.as_object_mut().unwrap();
                reply.remove("email");
                // Random, and present in both.
                assert_eq!(reply.remove("reset_id").is_some(), reply.get("code").is_none());
            }
            v
        };
        let known = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0).await;
        let unknown = request_reset(&db.pool, &mailer, "nobody@example.com", THIS_WINDOW, T0).await;
        assert_eq!(shape(&known), shape(&unknown));
        let (known, unknown) = (known.unwrap(), unknown.unwrap());
        // The same cooldown for both.
        let known_again = shape(&request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0 + 30).await);
        let unknown_again = shape(&request_reset(&db.pool, &mailer, "nobody@example.com", THIS_WINDOW, T0 + 30).await);
        assert_eq!((known_again.clone(), known_again["Err"]["retry_after"].as_i64()), (unknown_again, Some(30)));
        let id = |sent: &CodeSent| sent.reset_id.clone().unwrap();
        let known_resent = resend_reset(&db.pool, &mailer, &id(&known), THIS_WINDOW, T0 + 60).await;
        let unknown_resent = resend_reset(&db.pool, &mailer, &id(&unknown), THIS_WINDOW, T0 + 60).await;
        assert_eq!(shape(&known_resent), shape(&unknown_resent));
        // Mail: two reset codes, both to Ann; nothing for the unknown address.
        message(&db, 2).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let all = outbox(&db);
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|m| !m.contains("nobody@example.com")));
        // Wrong codes count down the same way for a known address and an unknown one.
        let mut answers = vec![];
        for sent in [&known, &unknown] {
            let mut seen = vec![];
            for _ in 0..6 {
                let e = reset_password(&db.pool, &mailer, reset(sent, "000000", NEW_PW), TEST_DEVICE, T0 + 61)
                    .await
                    .unwrap_err();
                seen.push(serde_json::to_value(e).unwrap());
            }
            answers.push(seen);
        }
        assert_eq!(answers[1][0]["attempts_left"], 4);
        assert_eq!(answers[1][4]["code"], "too_many_attempts");
        assert_eq!(answers[1][5]["code"], "no_pending_reset", "the fifth wrong code ended it");
        // (000000 could be Ann's real code once in a million runs; then the first answer differs.)
        if answers[0][0]["code"] == "invalid_code" {
            assert_eq!(answers[0], answers[1]);
        }
        // An id nobody was given is no reset at all.
        let forged = CodeSent { reset_id: Some("forged".into()), ..known.clone() };
        let e = reset_password(&db.pool, &mailer, reset(&forged, "000000", NEW_PW), TEST_DEVICE, T0 + 62)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NoPendingReset), "{e:?}");
    }

    /// Another requester who knows Ann's address asks for resets and burns their codes: Ann's own
    /// reset, asked for from her window, still comes and still works.
    #[tokio::test]
    async fn another_requesters_codes_and_mails_never_touch_the_owners_reset() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        account(&db, &mailer).await;
        for i in 0..5 {
            let theirs = request_reset(&db.pool, &mailer, "ann@example.com", "attacker", T0 + 60 * i).await.unwrap();
            for _ in 0..5 {
                let _ =
                    reset_password(&db.pool, &mailer, reset(&theirs, "000000", NEW_PW), TEST_DEVICE, T0 + 60 * i).await;
            }
        }
        let refused = request_reset(&db.pool, &mailer, "ann@example.com", "attacker", T0 + 300).await;
        assert!(matches!(refused, Err(Error::ResendTooSoon { .. })), "{refused:?}");
        let mine = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0 + 300).await.unwrap();
        let code = code_in(&message(&db, 6).await);
        let done = reset_password(&db.pool, &mailer, reset(&mine, &code, NEW_PW), TEST_DEVICE, T0 + 301).await.unwrap();
        assert_eq!(done.session.profile.username, "Ann");
    }

    #[tokio::test]
    async fn reset_codes_follow_the_ten_minutes_five_tries_and_one_minute_rules() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        account(&db, &mailer).await;
        let first = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0).await.unwrap();
        let code = code_in(&message(&db, 1).await);
        // 10 minutes: a wrong code at 599 s is wrong, the right one at 600 s has expired.
        let at_599 =
            reset_password(&db.pool, &mailer, reset(&first, &wrong(&code), NEW_PW), TEST_DEVICE, T0 + 599).await;
        assert!(matches!(at_599, Err(Error::InvalidCode { attempts_left: 4 })));
        let at_600 = reset_password(&db.pool, &mailer, reset(&first, &code, NEW_PW), TEST_DEVICE, T0 + 600).await;
        assert!(matches!(at_600, Err(Error::CodeExpired(Flow::PasswordReset))));

        // One minute between codes; a resend replaces the code and restarts the attempts.
        let sent = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0 + 1000).await.unwrap();
        let id = sent.reset_id.clone().unwrap();
        let old = code_in(&message(&db, 2).await);
        assert!(reset_password(&db.pool, &mailer, reset(&sent, &wrong(&old), NEW_PW), TEST_DEVICE, T0 + 1001)
            .await
            .is_err());
        match resend_reset(&db.pool, &mailer, &id, THIS_WINDOW, T0 + 1059).await {
            Err(Error::ResendTooSoon { seconds }) => assert_eq!(seconds, 1),
            other => panic!("expected resend_too_soon, got {other:?}"),
        }
        let again = resend_reset(&db.pool, &mailer, &id, THIS_WINDOW, T0 + 1060).await.unwrap();
        assert_eq!(again.expires_at, T0 + 1660);
        let new = code_in(&message(&db, 3).await);
        // Five tries: the fifth wrong code voids the reset, after which the right code cannot work.
        for left in (1..=4).rev() {
            let r = reset_password(&db.pool, &mailer, reset(&sent, &wrong(&new), NEW_PW), TEST_DEVICE, T0 + 1061).await;
            assert!(matches!(r, Err(Error::InvalidCode { attempts_left }) if attempts_left == left), "{r:?}");
        }
        let fifth = reset_password(&db.pool, &mailer, reset(&sent, &wrong(&new), NEW_PW), TEST_DEVICE, T0 + 1062).await;
        assert!(matches!(fifth, Err(Error::TooManyAttempts(Flow::PasswordReset))));
        assert!(reset_password(&db.pool, &mailer, reset(&sent, &new, NEW_PW), TEST_DEVICE, T0 + 1063).await.is_err());
        assert!(login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 1064).await.is_ok(), "the password is unchanged");
    }

    #[tokio::test]
    async fn a_reset_refuses_a_weak_password_without_spending_the_code() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        account(&db, &mailer).await;
        let sent = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0).await.unwrap();
        let code = code_in(&message(&db, 1).await);
        for (weak, words) in [("short", "at least 8"), ("password123", "common"), ("ann-and-her-cat", "username")] {
            match reset_password(&db.pool, &mailer, reset(&sent, &code, weak), TEST_DEVICE, T0 + 1).await {
                Err(Error::InvalidInput { field: "password", detail }) => assert!(detail.contains(words), "{detail}"),
                other => panic!("{weak}: expected invalid_input, got {other:?}"),
            }
        }
        let attempts = count(&db, "SELECT attempts FROM account_codes").await;
        assert_eq!(attempts, 0, "no attempt was spent");
        assert!(reset_password(&db.pool, &mailer, reset(&sent, &code, NEW_PW), TEST_DEVICE, T0 + 2).await.is_ok());
    }

    #[tokio::test]
    async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let here = account(&db, &mailer).await;
        let elsewhere = login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 1).await.unwrap();
        let t = Some(&here.token);
        let wrong = change_password(&db.pool, &mailer, t, "wrong horse battery", NEW_PW, TEST_DEVICE, T0 + 2).await;
        assert!(matches!(wrong, Err(Error::WrongPassword)));
        let same = change_password(&db.pool, &mailer, t, PW, PW, TEST_DEVICE, T0 + 3).await;
        assert!(matches!(same, Err(Error::InvalidInput { field: "new_password", .. })));
        let weak = change_password(&db.pool, &mailer, t, PW, "password1", TEST_DEVICE, T0 + 3).await;
        assert!(matches!(weak, Err(Error::InvalidInput { field: "new_password", .. })));
        let none = change_password(&db.pool, &mailer, None, PW, NEW_PW, TEST_DEVICE, T0 + 3).await;
        assert!(matches!(none, Err(Error::NotAuthenticated)));

        let done = change_password(&db.pool, &mailer, t, PW, NEW_PW, TEST_DEVICE, T0 + 4).await.unwrap();
        assert!(done.notice_sent);
        assert!(message(&db, 1).await.contains("Subject: Your Latchkey password was changed"));
        // This desktop has a fresh token; the old one and the other desktop's are gone.
        for old in [&here.token, &elsewhere.token] {
            assert!(matches!(login::whoami(&db.pool, Some(old), T0 + 5).await, Err(Error::NotAuthenticated)));
        }
        assert!(login::whoami(&db.pool, Some(&done.session.token), T0 + 5).await.is_ok());
        assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 1);
        assert!(login::login(&db.pool, "ann", NEW_PW, TEST_DEVICE, T0 + 6).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_current_passwords_count_toward_the_login_throttle() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let here = account(&db, &mailer).await;
        for _ in 0..5 {
            let r =
                change_password(&db.pool, &mailer, Some(&here.token), "wrong horse battery", NEW_PW, TEST_DEVICE, T0)
                    .await;
            assert!(matches!(r, Err(Error::WrongPassword)));
        }
        let locked = change_password(&db.pool, &mailer, Some(&here.token), PW, NEW_PW, TEST_DEVICE, T0 + 1).await;
        assert!(matches!(locked, Err(Error::LoginThrottled { seconds: Some(29) })));
        assert!(matches!(
            login::login(&db.pool, "ann", PW, TEST_DEVICE, T0 + 1).await,
            Err(Error::LoginThrottled { .. })
        ));
        let e = serde_json::to_value(locked.unwrap_err()).unwrap();
        assert!(e["detail"].as_str().unwrap().contains("Forgot password?"), "{e}");
    }

    #[tokio::test]
    async fn a_password_change_clears_the_count_in_the_step_that_sets_the_password() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let here = account(&db, &mailer).await;
        for _ in 0..3 {
            let r =
                change_password(&db.pool, &mailer, Some(&here.token), "wrong horse battery", NEW_PW, TEST_DEVICE, T0)
                    .await;
            assert!(matches!(r, Err(Error::WrongPassword)));
        }
        let failures = "SELECT count(*) FROM login_throttle WHERE failures > 0";
        assert_eq!(sqlx::query_scalar::<_, i64>(failures).fetch_one(&db.pool).await.unwrap(), 1);
        change_password(&db.pool, &mailer, Some(&here.token), PW, NEW_PW, TEST_DEVICE, T0 + 1).await.unwrap();
        assert_eq!(sqlx::query_scalar::<_, i64>(failures).fetch_one(&db.pool).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn an_email_change_waits_for_the_code_sent_to_the_new_address_and_tells_the_old_one() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let t = Some(&me.token);
        let bad_pw = request_email_change(&db.pool, &mailer, t, "wrong horse battery", "new@example.org", T0).await;
        assert!(matches!(bad_pw, Err(Error::WrongPassword)));
        let same = request_email_change(&db.pool, &mailer, t, PW, "ANN@example.com", T0).await;
        assert!(matches!(same, Err(Error::InvalidInput { field: "new_email", .. })));
        let bad = request_email_change(&db.pool, &mailer, t, PW, "not an address", T0).await;
        assert!(matches!(bad, Err(Error::InvalidInput { field: "new_email", .. })));

        let started = request_email_change(&db.pool, &mailer, t, PW, "Newname@Example.org", T0 + 1).await.unwrap();
        assert_eq!(started.sent.email, "Newname@Example.org");
        assert_eq!(started.profile.email, "ann@example.com", "the old address stays until the code is entered");
        assert_eq!(started.profile.pending_email.as_deref(), Some("Newname@Example.org"));
        let mail = message(&db, 1).await;
        assert!(mail.contains("To: Ann <Newname@Example.org>") && mail.contains("Confirm your new Latchkey email"));
        let code = code_in(&mail);
        // Cancelled, the code no longer works.
        let cancelled = cancel_email_change(&db.pool, t, T0 + 2).await.unwrap();
        assert_eq!(cancelled.pending_email, None);
        let after = verify_email_change(&db.pool, &mailer, t, &code, TEST_DEVICE, T0 + 3).await;
        assert!(matches!(after, Err(Error::NoPendingEmailChange)));

        request_email_change(&db.pool, &mailer, t, PW, "Newname@Example.org", T0 + 100).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        let w = verify_email_change(&db.pool, &mailer, t, &wrong(&code), TEST_DEVICE, T0 + 101).await;
        assert!(matches!(w, Err(Error::InvalidCode { attempts_left: 4 })));
        let changed = verify_email_change(&db.pool, &mailer, t, &code, TEST_DEVICE, T0 + 102).await.unwrap();
        assert_eq!(
            (changed.session.profile.email.as_str(), changed.session.profile.pending_email),
            ("Newname@Example.org", None)
        );
        assert!(changed.notice_sent);
        let notice = message(&db, 3).await;
        assert!(notice.contains("To: Ann <ann@example.com>"), "the notice goes to the old address");
        assert!(notice.contains("Ne*****@Example.org") && !notice.contains("Newname@"), "{notice}");
        assert!(login::login(&db.pool, "newname@example.org", PW, TEST_DEVICE, T0 + 103).await.is_ok());
        assert!(matches!(
            login::login(&db.pool, "ann@example.com", PW, TEST_DEVICE, T0 + 103).await,
            Err(Error::InvalidCredentials)
        ));
    }

    #[tokio::test]
    async fn email_change_codes_expire_run_out_and_never_tell_a_taken_address() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let t = Some(&me.token);
        let req = SignupRequest { username: "bob", email: "bob@example.com", password: PW, replaces: None };
        let sent = signup::request_code(&db.pool, &mailer, req, THIS_WINDOW, T0).await.unwrap();
        let Delivery::Outbox { path } = &sent.delivery else { panic!() };
        signup::verify(
            &db.pool,
            &mailer,
            sent.signup_id(),
            &code_in(&std::fs::read_to_string(path).unwrap()),
            TEST_DEVICE,
            T0,
        )
        .await
        .unwrap();
        // A taken address is not said: "code sent" as usual, and its owner is told instead.
        let taken = request_email_change(&db.pool, &mailer, t, PW, "BOB@example.com", T0).await.unwrap();
        assert_eq!(taken.sent.email, "BOB@example.com");
        let notice = message(&db, 1).await;
        assert!(notice.contains("To: bob <bob@example.com>") && notice.contains("no code was sent"), "{notice}");
        assert!(signup::tests::code_of_message(&notice).is_none());
        let w = verify_email_change(&db.pool, &mailer, t, "123456", TEST_DEVICE, T0 + 1).await;
        assert!(matches!(w, Err(Error::InvalidCode { attempts_left: 4 })), "{w:?}");
        cancel_email_change(&db.pool, t, T0 + 1).await.unwrap();

        request_email_change(&db.pool, &mailer, t, PW, "ann@new.example", T0 + 2).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        let soon = resend_email_change(&db.pool, &mailer, t, T0 + 61).await;
        assert!(matches!(soon, Err(Error::ResendTooSoon { seconds: 1 })));
        let late = verify_email_change(&db.pool, &mailer, t, &code, TEST_DEVICE, T0 + 602).await;
        assert!(matches!(late, Err(Error::CodeExpired(Flow::EmailChange))));
        assert!(matches!(resend_email_change(&db.pool, &mailer, t, T0 + 603).await, Err(Error::NoPendingEmailChange)));

        request_email_change(&db.pool, &mailer, t, PW, "ann@new.example", T0 + 700).await.unwrap();
        let code = code_in(&message(&db, 3).await);
        for _ in 0..4 {
            assert!(verify_email_change(&db.pool, &mailer, t, &wrong(&code), TEST_DEVICE, T0 + 701).await.is_err());
        }
        let fifth = verify_email_change(&db.pool, &mailer, t, &wrong(&code), TEST_DEVICE, T0 + 701).await;
        assert!(matches!(fifth, Err(Error::TooManyAttempts(Flow::EmailChange))));
        assert!(matches!(
            verify_email_change(&db.pool, &mailer, t, &code, TEST_DEVICE, T0 + 702).await,
            Err(Error::NoPendingEmailChange)
        ));
    }

    #[tokio::test]
    async fn deleting_needs_the_password_and_the_username_and_frees_both_names() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let other = login::login(&db.pool, "ann", PW, TEST_DEVICE, T0).await.unwrap();
        let t = Some(&me.token);
        let _ = login::login(&db.pool, "ann@example.com", "wrong horse battery", TEST_DEVICE, T0).await;
        request_email_change(&db.pool, &mailer, t, PW, "ann@new.example", T0).await.unwrap();
        let mismatch = delete_account(&db.pool, &mailer, t, PW, "anne", T0 + 1).await;
        assert!(matches!(mismatch, Err(Error::InvalidInput { field: "confirm", .. })));
        let wrong = delete_account(&db.pool, &mailer, t, "wrong horse battery", "ann", T0 + 1).await;
        assert!(matches!(wrong, Err(Error::WrongPassword)));
        assert_eq!(count(&db, "SELECT count(*) FROM users").await, 1);

        assert!(delete_account(&db.pool, &mailer, t, PW, " ANN ", T0 + 2).await.unwrap());
        for table in ["users", "sessions", "account_codes", "login_throttle"] {
            assert_eq!(count(&db, &format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
        }
        assert!(matches!(login::whoami(&db.pool, Some(&other.token), T0 + 3).await, Err(Error::NotAuthenticated)));
        assert!(message(&db, 2).await.contains("Subject: Your Latchkey account was deleted"));
        // The username and address are free again.
        let again = account_at(&db, &mailer, T0 + 3600).await;
        assert_eq!(again.profile.username, "Ann");
    }

    #[tokio::test]
    async fn no_mail_ever_holds_a_password_and_only_code_mails_hold_a_code() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let changed =
            change_password(&db.pool, &mailer, Some(&me.token), PW, NEW_PW, TEST_DEVICE, T0 + 1).await.unwrap();
        let t = Some(&changed.session.token);
        request_email_change(&db.pool, &mailer, t, NEW_PW, "ann@new.example", T0 + 2).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        let moved = verify_email_change(&db.pool, &mailer, t, &code, TEST_DEVICE, T0 + 3).await.unwrap();
        delete_account(&db.pool, &mailer, Some(&moved.session.token), NEW_PW, "ann", T0 + 4).await.unwrap();
        let all = outbox(&db);
        assert_eq!(all.len(), 4);
        for mail in &all {
            for secret in [PW, NEW_PW, me.token.expose(), changed.session.token.expose()] {
                assert!(!mail.contains(secret), "a mail holds a secret");
            }
            let is_code_mail = mail.contains("code");
            let has_code = mail
                .lines()
                .any(|l| l.len() == 10 && l.starts_with("    ") && l[4..].bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(has_code, is_code_mail && !mail.contains("was changed") && !mail.contains("was deleted"));
        }
    }

    /// Whoever reads the old mailbox (the usual reason people move) asked for a reset before the
    /// owner changed the address: that reset dies with the change, and so does every session.
    #[tokio::test]
    async fn an_email_change_voids_the_old_addresses_reset_and_signs_out_everywhere() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let elsewhere = login::login(&db.pool, "ann", PW, TEST_DEVICE, T0).await.unwrap();
        let theirs = request_reset(&db.pool, &mailer, "ann@example.com", "old mailbox", T0 + 1).await.unwrap();
        let old_mailbox_code = code_in(&message(&db, 1).await);
        request_email_change(&db.pool, &mailer, Some(&me.token), PW, "ann@new.example", T0 + 2).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        assert!(verify_email_change(&db.pool, &mailer, Some(&me.token), &code, TEST_DEVICE, T0 + 3).await.is_ok());

        let late =
            reset_password(&db.pool, &mailer, reset(&theirs, &old_mailbox_code, NEW_PW), TEST_DEVICE, T0 + 4).await;
        assert!(late.is_err(), "the old address's reset still worked: {late:?}");
        assert!(
            login::login(&db.pool, "ann@new.example", PW, TEST_DEVICE, T0 + 5).await.is_ok(),
            "the password is unchanged"
        );
        assert_eq!(count(&db, "SELECT count(*) FROM account_codes WHERE user_id IS NOT NULL").await, 0);
        for old in [&me.token, &elsewhere.token] {
            assert!(matches!(login::whoami(&db.pool, Some(old), T0 + 5).await, Err(Error::NotAuthenticated)));
        }
    }

    /// The address is an account's username: signing in with it would name two accounts.
    #[tokio::test]
    async fn an_email_change_refuses_an_address_that_is_a_username() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let req = SignupRequest { username: "bob@example.org", email: "bob@example.com", password: PW, replaces: None };
        let sent = signup::request_code(&db.pool, &mailer, req, THIS_WINDOW, T0).await.unwrap();
        let Delivery::Outbox { path } = &sent.delivery else { panic!() };
        signup::verify(
            &db.pool,
            &mailer,
            sent.signup_id(),
            &code_in(&std::fs::read_to_string(path).unwrap()),
            TEST_DEVICE,
            T0,
        )
        .await
        .unwrap();
        let taken = request_email_change(&db.pool, &mailer, Some(&me.token), PW, "Bob@Example.org", T0 + 1).await;
        assert!(matches!(taken, Err(Error::EmailTaken)), "{taken:?}");
        assert_eq!(count(&db, "SELECT count(*) FROM account_codes").await, 0);
    }
}
