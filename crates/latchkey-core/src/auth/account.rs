//! The rest of an account's life: forgot password, change password, change email, delete.

use crate::store::Store;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::login::{account_throttle_key, reserve_attempt};
use super::secret::{self, Token};
use super::signup::CodeSent;
use super::{
    code, policy, validate, NewSession, Profile, Timestamp, CODE_TTL_SECS, RESEND_COOLDOWN_SECS, SESSION_TTL_SECS,
};
use crate::error::{Error, Flow, Result};
use crate::mail::{mask_address, CodePurpose, Letter, Mailer, Recipient};
use crate::store::account_codes::{self, CodeRow, NewCode, Subject};
use crate::store::lifecycle::NewSessionRow;
use crate::store::users::UserRow;

/// A change that ended every session of the account (a new password or address): this window
/// has a fresh one.
#[derive(Debug)]
pub struct SessionRenewed {
    pub session: NewSession,
    /// False when the security notice could not be sent (the change stands).
    pub notice_sent: bool,
}

/// An email change is waiting for the code sent to the new address.
#[derive(Debug, Clone, Serialize)]
pub struct EmailChangeStarted {
    #[serde(flatten)]
    pub sent: CodeSent,
    pub profile: Profile,
}

pub struct ResetRequest<'a> {
    /// The id `request_reset` gave the requester: only its holder can enter the code.
    pub reset_id: &'a str,
    pub code: &'a str,
    pub password: &'a str,
}

// Forgot password. A known and an unknown address take the same path, the same hashing work and
// the same time, and get the same answer: only a known address gets mail, sent in the background.
// A reset belongs to whoever asked for it: they get an opaque reset id, and only that id can enter
// or resend its code, so others' wrong codes count against their own requests, never the owner's.

pub async fn request_reset(
    pool: &impl Store,
    mailer: &Mailer,
    email: &str,
    requester: &str,
    now: Timestamp,
) -> Result<CodeSent> {
    let email = validate::email(email)?;
    pool.purge_expired(now).await?;
    // Counted for an unknown address too, so the limits answer alike.
    let slot = code::claim_mail_slot(pool, &email.key, requester, now).await?;
    let user = pool.find_active_user_by_email(&email.key).await?;
    let code = secret::new_code()?;
    let code_hash = secret::hash_blocking(code.clone()).await?;
    let reset_id = Token::generate()?;
    let owner = reset_id.digest();
    let new = NewCode {
        subject: Subject::Reset(&owner),
        user_id: user.as_ref().map(|u| u.id),
        email_key: &email.key,
        new_email: None,
        code_hash: &code_hash,
        now,
        expires_at: now + CODE_TTL_SECS,
    };
    if let Err(seconds) = pool.replace_account_code(&new, RESEND_COOLDOWN_SECS).await? {
        pool.release_mail_slot(slot).await?;
        return Err(Error::ResendTooSoon { seconds });
    }
    if let Some(user) = &user {
        mailer.send_detached(recipient(user), code_letter(CodePurpose::PasswordReset, &code));
    }
    Ok(reset_sent(mailer, email.display, reset_id.expose(), now, new.expires_at))
}

pub async fn resend_reset(
    pool: &impl Store,
    mailer: &Mailer,
    reset_id: &str,
    requester: &str,
    now: Timestamp,
) -> Result<CodeSent> {
    let row = owned_reset(pool, reset_id).await?;
    let code::Resent { code, expires_at, .. } =
        code::resend(pool, row.held(), requester, Flow::PasswordReset, now, false).await?;
    if let Some(user) = match row.user_id {
        Some(id) => pool.find_user(id).await?,
        None => None,
    } {
        mailer.send_detached(recipient(&user), code_letter(CodePurpose::PasswordReset, &code));
    }
    Ok(reset_sent(mailer, row.email_key, reset_id, now, expires_at))
}

/// The caller's reset, by the id it was given.
async fn owned_reset(pool: &impl Store, reset_id: &str) -> Result<CodeRow> {
    if reset_id.is_empty() || reset_id.len() > 64 {
        return Err(Error::NoPendingReset);
    }
    let owner = super::signup::owner_hash_of(reset_id);
    pool.find_account_code(Subject::Reset(&owner)).await?.ok_or(Error::NoPendingReset)
}

/// The same answer whether or not an account has the address; the outbox is named as a folder,
/// since a file would show that a message was written.
fn reset_sent(mailer: &Mailer, email: String, reset_id: &str, now: Timestamp, expires_at: Timestamp) -> CodeSent {
    CodeSent {
        email,
        delivery: mailer.destination(),
        resend_at: now + RESEND_COOLDOWN_SECS,
        expires_at,
        signup_id: None,
        reset_id: Some(reset_id.to_string()),
    }
}

pub async fn reset_password(
    pool: &impl Store,
    mailer: &Mailer,
    req: ResetRequest<'_>,
    now: Timestamp,
) -> Result<SessionRenewed> {
    let code = validate::code(req.code)?;
    // The rules that need no account come first, so a refusal here says nothing about the address.
    let verdict = policy::check(req.password, "", "");
    if !verdict.acceptable {
        return Err(Error::invalid("password", verdict.hint));
    }
    let row = owned_reset(pool, req.reset_id).await?;
    code::check(pool, row.held(), code, Flow::PasswordReset, now).await?;
    let user = match row.user_id {
        Some(id) => pool.find_user(id).await?,
        None => None,
    }
    .ok_or(Error::NoPendingReset)?;
    let password = match validate::password(req.password, &user.username, &user.email) {
        Ok(password) => password,
        Err(e) => {
            // The right code stays usable with a better password.
            pool.refund_code_attempt(row.id, &row.code_hash).await?;
            return Err(e);
        }
    };
    // Only while the account is still the one read and still has the address the code went to.
    let session = match replace_password(pool, &user, password, Some(&row), now).await {
        Err(Error::NotAuthenticated) => return Err(Error::NoPendingReset),
        other => other?,
    };
    let notice_sent = notify(mailer, &user, Letter::PasswordReset).await;
    Ok(SessionRenewed { session, notice_sent })
}

// Signed in.

pub async fn change_password(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    current: &str,
    new: &str,
    now: Timestamp,
) -> Result<SessionRenewed> {
    let user = signed_in(pool, token, now).await?;
    if current.is_empty() {
        return Err(Error::invalid("current_password", "Enter your current password."));
    }
    let new = validate::password(new, &user.username, &user.email).map_err(|e| e.on_field("new_password"))?;
    confirm_password(pool, &user, current, now).await?;
    if new == current.nfkc().collect::<String>() {
        return Err(Error::invalid("new_password", "Choose a password different from your current one."));
    }
    let session = replace_password(pool, &user, new, None, now).await?;
    let notice_sent = notify(mailer, &user, Letter::PasswordChanged).await;
    Ok(SessionRenewed { session, notice_sent })
}

pub async fn request_email_change(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    password: &str,
    new_email: &str,
    now: Timestamp,
) -> Result<EmailChangeStarted> {
    let user = signed_in(pool, token, now).await?;
    if password.is_empty() {
        return Err(Error::invalid("password", "Enter your password."));
    }
    let new = validate::email(new_email).map_err(|e| e.on_field("new_email"))?;
    if new.key == user.email_key {
        return Err(Error::invalid("new_email", "That is already your email address."));
    }
    confirm_password(pool, &user, password, now).await?;
    // An address that is an account's username would let one sign-in name two accounts.
    if pool.address_is_a_username(&new.key).await? {
        return Err(Error::EmailTaken);
    }
    let subject = Subject::EmailChange(user.id);
    if let Some(row) = pool.find_account_code(subject).await? {
        code::refuse_if_too_soon(row.held(), now)?;
    }
    // An address that has an account is not said: the same steps and answer, and its owner is
    // told instead of sent a code (the code stored is one no entry matches).
    let owner = pool.find_user_by_email(&new.key).await?;
    let slot = code::claim_mail_slot(pool, &new.key, &account_requester(&user), now).await?;
    let code = code::new_code(owner.is_some())?;
    let code_hash = secret::hash_blocking(code.clone()).await?;
    let pending = NewCode {
        subject,
        user_id: Some(user.id),
        email_key: &new.key,
        new_email: Some(&new.display),
        code_hash: &code_hash,
        now,
        expires_at: now + CODE_TTL_SECS,
    };
    let id = match pool.replace_account_code(&pending, RESEND_COOLDOWN_SECS).await? {
        Ok(id) => id,
        Err(seconds) => {
            pool.release_mail_slot(slot).await?;
            return Err(Error::ResendTooSoon { seconds });
        }
    };
    let delivery = match send_email_change_mail(mailer, &user, &new.display, owner.as_ref(), &code).await {
        Ok(delivery) => delivery,
        Err(e) => {
            // A retry must start clean.
            pool.delete_code(account_codes::TABLE, id).await?;
            pool.release_mail_slot(slot).await?;
            return Err(e);
        }
    };
    let expires_at = pending.expires_at;
    let sent = CodeSent {
        email: new.display,
        delivery,
        resend_at: now + RESEND_COOLDOWN_SECS,
        expires_at,
        signup_id: None,
        reset_id: None,
    };
    Ok(EmailChangeStarted { sent, profile: profile(pool, token, now).await? })
}

/// An email change's mail limits are the asking account's own.
fn account_requester(user: &UserRow) -> String {
    format!("account:{}", user.id)
}

/// The code to the new address, or, when that address has an account, a notice to its owner.
async fn send_email_change_mail(
    mailer: &Mailer,
    user: &UserRow,
    new_email: &str,
    owner: Option<&UserRow>,
    code: &str,
) -> Result<crate::mail::Delivery> {
    match owner {
        Some(owner) => mailer.send(recipient(owner), Letter::AddressWanted).await,
        None => {
            let to = Recipient { name: &user.username, address: new_email };
            mailer.send(to, code_letter(CodePurpose::EmailChange, code)).await
        }
    }
}

pub async fn resend_email_change(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    now: Timestamp,
) -> Result<EmailChangeStarted> {
    let user = signed_in(pool, token, now).await?;
    let row = pool.find_account_code(Subject::EmailChange(user.id)).await?.ok_or(Error::NoPendingEmailChange)?;
    let new_email = row.new_email.clone().ok_or(Error::NoPendingEmailChange)?;
    let owner = pool.find_user_by_email(&row.email_key).await?;
    let resent =
        code::resend(pool, row.held(), &account_requester(&user), Flow::EmailChange, now, owner.is_some()).await?;
    let expires_at = resent.expires_at;
    let delivery = match send_email_change_mail(mailer, &user, &new_email, owner.as_ref(), &resent.code).await {
        Ok(delivery) => delivery,
        Err(e) => {
            code::undo(pool, row.held(), &resent, now).await?;
            return Err(e);
        }
    };
    let sent = CodeSent {
        email: new_email,
        delivery,
        resend_at: now + RESEND_COOLDOWN_SECS,
        expires_at,
        signup_id: None,
        reset_id: None,
    };
    Ok(EmailChangeStarted { sent, profile: profile(pool, token, now).await? })
}

pub async fn verify_email_change(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    code: &str,
    now: Timestamp,
) -> Result<SessionRenewed> {
    let user = signed_in(pool, token, now).await?;
    let code = validate::code(code)?;
    let row = pool.find_account_code(Subject::EmailChange(user.id)).await?.ok_or(Error::NoPendingEmailChange)?;
    code::check(pool, row.held(), code, Flow::EmailChange, now).await?;
    // Like a new password, a new address ends every session and every other pending code (a
    // reset sent to the old address above all); this window gets a fresh session.
    let token = Token::generate()?;
    let digest = token.digest();
    let session = NewSessionRow { token_hash: &digest, now, expires_at: now + SESSION_TTL_SECS };
    let profile = match pool.change_email(user.seen(), &row, &session).await {
        Ok(profile) => profile,
        Err(e) => {
            if matches!(e, Error::EmailTaken) {
                // Another account took the address meanwhile; this change can never finish.
                pool.delete_code(account_codes::TABLE, row.id).await?;
            }
            return Err(e);
        }
    };
    let masked = mask_address(row.new_email.as_deref().unwrap_or_default());
    // To the old address: the one that can tell its owner something happened.
    let notice_sent = notify(mailer, &user, Letter::EmailChanged { masked_new_address: &masked }).await;
    Ok(SessionRenewed { session: NewSession { token, profile }, notice_sent })
}

pub async fn cancel_email_change(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<Profile> {
    let user = signed_in(pool, token, now).await?;
    if let Some(row) = pool.find_account_code(Subject::EmailChange(user.id)).await? {
        pool.delete_code(account_codes::TABLE, row.id).await?;
    }
    profile(pool, token, now).await
}

/// Deletes the account; returns whether the last notice could be sent.
pub async fn delete_account(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    password: &str,
    confirm: &str,
    now: Timestamp,
) -> Result<bool> {
    let user = signed_in(pool, token, now).await?;
    if password.is_empty() {
        return Err(Error::invalid("password", "Enter your password."));
    }
    let confirmed = validate::username_key(confirm) == user.username_key;
    if !confirmed {
        let detail = format!("Type your username, {}, exactly as shown to confirm.", user.username);
        return Err(Error::invalid("confirm", detail));
    }
    confirm_password(pool, &user, password, now).await?;
    pool.delete_account(user.seen(), &account_throttle_key(user.id)).await?;
    Ok(notify(mailer, &user, Letter::AccountDeleted).await)
}

// Shared steps.

async fn signed_in(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<UserRow> {
    let token = token.ok_or(Error::NotAuthenticated)?;
    pool.find_session_user(&token.digest(), now).await?.ok_or(Error::NotAuthenticated)
}

async fn profile(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<Profile> {
    super::login::whoami(pool, token, now).await
}

/// The account's password, checked under the account's login throttle: a wrong one is
/// `wrong_password` and counts as a failed login.
async fn confirm_password(pool: &impl Store, user: &UserRow, password: &str, now: Timestamp) -> Result<()> {
    let key = account_throttle_key(user.id);
    reserve_attempt(pool, &key, now).await?;
    let password: String = password.nfkc().collect();
    let fits = password.chars().count() <= validate::PASSWORD_MAX;
    if fits && secret::verify_blocking(password, user.password_hash.clone()).await? {
        pool.clear_login_throttle(&key).await?;
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
    now: Timestamp,
) -> Result<NewSession> {
    let hash = secret::hash_blocking(password).await?;
    let token = Token::generate()?;
    let digest = token.digest();
    let session = NewSessionRow { token_hash: &digest, now, expires_at: now + SESSION_TTL_SECS };
    let key = account_throttle_key(user.id);
    let profile = pool.replace_password(user.seen(), &hash, code, &key, &session).await?;
    Ok(NewSession { token, profile })
}

fn code_letter(purpose: CodePurpose, code: &str) -> Letter<'_> {
    Letter::Code { purpose, code, valid_minutes: CODE_TTL_SECS / 60 }
}

fn recipient(user: &UserRow) -> Recipient<'_> {
    Recipient { name: &user.username, address: &user.email }
}

/// A security notice to the account's address. A failure is logged and reported, never undone.
async fn notify(mailer: &Mailer, user: &UserRow, letter: Letter<'_>) -> bool {
    mailer.send(recipient(user), letter).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::login;
    use crate::auth::signup::{self, tests::code_in, tests::outbox_mailer, SignupRequest};
    use crate::auth::THIS_WINDOW;
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
        signup::verify(&db.pool, mailer, sent.signup_id(), &code, at).await.unwrap()
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
        let second = login::login(&db.pool, "ann", PW, T0 + 1).await.unwrap();
        assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 2);
        for _ in 0..3 {
            let _ = login::login(&db.pool, "ann", "wrong horse battery", T0 + 2).await;
        }
        request_email_change(&db.pool, &mailer, Some(&first.token), PW, "ann2@example.com", T0 + 3).await.unwrap();

        let sent = request_reset(&db.pool, &mailer, "ANN@example.com", THIS_WINDOW, T0 + 10).await.unwrap();
        assert_eq!((sent.resend_at, sent.expires_at), (T0 + 70, T0 + 610));
        let mail = message(&db, 2).await;
        assert!(
            mail.contains("Subject: Your Latchkey password reset code") && mail.contains("To: Ann <ann@example.com>")
        );
        let done = reset_password(&db.pool, &mailer, reset(&sent, &code_in(&mail), NEW_PW), T0 + 20).await.unwrap();
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
        assert!(matches!(login::login(&db.pool, "ann", PW, T0 + 30).await, Err(Error::InvalidCredentials)));
        assert!(login::login(&db.pool, "ann", NEW_PW, T0 + 30).await.is_ok());
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
                let e = reset_password(&db.pool, &mailer, reset(sent, "000000", NEW_PW), T0 + 61).await.unwrap_err();
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
        let e = reset_password(&db.pool, &mailer, reset(&forged, "000000", NEW_PW), T0 + 62).await.unwrap_err();
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
                let _ = reset_password(&db.pool, &mailer, reset(&theirs, "000000", NEW_PW), T0 + 60 * i).await;
            }
        }
        let refused = request_reset(&db.pool, &mailer, "ann@example.com", "attacker", T0 + 300).await;
        assert!(matches!(refused, Err(Error::ResendTooSoon { .. })), "{refused:?}");
        let mine = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0 + 300).await.unwrap();
        let code = code_in(&message(&db, 6).await);
        let done = reset_password(&db.pool, &mailer, reset(&mine, &code, NEW_PW), T0 + 301).await.unwrap();
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
        let at_599 = reset_password(&db.pool, &mailer, reset(&first, &wrong(&code), NEW_PW), T0 + 599).await;
        assert!(matches!(at_599, Err(Error::InvalidCode { attempts_left: 4 })));
        let at_600 = reset_password(&db.pool, &mailer, reset(&first, &code, NEW_PW), T0 + 600).await;
        assert!(matches!(at_600, Err(Error::CodeExpired(Flow::PasswordReset))));

        // One minute between codes; a resend replaces the code and restarts the attempts.
        let sent = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0 + 1000).await.unwrap();
        let id = sent.reset_id.clone().unwrap();
        let old = code_in(&message(&db, 2).await);
        assert!(reset_password(&db.pool, &mailer, reset(&sent, &wrong(&old), NEW_PW), T0 + 1001).await.is_err());
        match resend_reset(&db.pool, &mailer, &id, THIS_WINDOW, T0 + 1059).await {
            Err(Error::ResendTooSoon { seconds }) => assert_eq!(seconds, 1),
            other => panic!("expected resend_too_soon, got {other:?}"),
        }
        let again = resend_reset(&db.pool, &mailer, &id, THIS_WINDOW, T0 + 1060).await.unwrap();
        assert_eq!(again.expires_at, T0 + 1660);
        let new = code_in(&message(&db, 3).await);
        // Five tries: the fifth wrong code voids the reset, after which the right code cannot work.
        for left in (1..=4).rev() {
            let r = reset_password(&db.pool, &mailer, reset(&sent, &wrong(&new), NEW_PW), T0 + 1061).await;
            assert!(matches!(r, Err(Error::InvalidCode { attempts_left }) if attempts_left == left), "{r:?}");
        }
        let fifth = reset_password(&db.pool, &mailer, reset(&sent, &wrong(&new), NEW_PW), T0 + 1062).await;
        assert!(matches!(fifth, Err(Error::TooManyAttempts(Flow::PasswordReset))));
        assert!(reset_password(&db.pool, &mailer, reset(&sent, &new, NEW_PW), T0 + 1063).await.is_err());
        assert!(login::login(&db.pool, "ann", PW, T0 + 1064).await.is_ok(), "the password is unchanged");
    }

    #[tokio::test]
    async fn a_reset_refuses_a_weak_password_without_spending_the_code() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        account(&db, &mailer).await;
        let sent = request_reset(&db.pool, &mailer, "ann@example.com", THIS_WINDOW, T0).await.unwrap();
        let code = code_in(&message(&db, 1).await);
        for (weak, words) in [("short", "at least 8"), ("password123", "common"), ("ann-and-her-cat", "username")] {
            match reset_password(&db.pool, &mailer, reset(&sent, &code, weak), T0 + 1).await {
                Err(Error::InvalidInput { field: "password", detail }) => assert!(detail.contains(words), "{detail}"),
                other => panic!("{weak}: expected invalid_input, got {other:?}"),
            }
        }
        let attempts = count(&db, "SELECT attempts FROM account_codes").await;
        assert_eq!(attempts, 0, "no attempt was spent");
        assert!(reset_password(&db.pool, &mailer, reset(&sent, &code, NEW_PW), T0 + 2).await.is_ok());
    }

    #[tokio::test]
    async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let here = account(&db, &mailer).await;
        let elsewhere = login::login(&db.pool, "ann", PW, T0 + 1).await.unwrap();
        let t = Some(&here.token);
        let wrong = change_password(&db.pool, &mailer, t, "wrong horse battery", NEW_PW, T0 + 2).await;
        assert!(matches!(wrong, Err(Error::WrongPassword)));
        let same = change_password(&db.pool, &mailer, t, PW, PW, T0 + 3).await;
        assert!(matches!(same, Err(Error::InvalidInput { field: "new_password", .. })));
        let weak = change_password(&db.pool, &mailer, t, PW, "password1", T0 + 3).await;
        assert!(matches!(weak, Err(Error::InvalidInput { field: "new_password", .. })));
        let none = change_password(&db.pool, &mailer, None, PW, NEW_PW, T0 + 3).await;
        assert!(matches!(none, Err(Error::NotAuthenticated)));

        let done = change_password(&db.pool, &mailer, t, PW, NEW_PW, T0 + 4).await.unwrap();
        assert!(done.notice_sent);
        assert!(message(&db, 1).await.contains("Subject: Your Latchkey password was changed"));
        // This desktop has a fresh token; the old one and the other desktop's are gone.
        for old in [&here.token, &elsewhere.token] {
            assert!(matches!(login::whoami(&db.pool, Some(old), T0 + 5).await, Err(Error::NotAuthenticated)));
        }
        assert!(login::whoami(&db.pool, Some(&done.session.token), T0 + 5).await.is_ok());
        assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 1);
        assert!(login::login(&db.pool, "ann", NEW_PW, T0 + 6).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_current_passwords_count_toward_the_login_throttle() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let here = account(&db, &mailer).await;
        for _ in 0..5 {
            let r = change_password(&db.pool, &mailer, Some(&here.token), "wrong horse battery", NEW_PW, T0).await;
            assert!(matches!(r, Err(Error::WrongPassword)));
        }
        let locked = change_password(&db.pool, &mailer, Some(&here.token), PW, NEW_PW, T0 + 1).await;
        assert!(matches!(locked, Err(Error::LoginThrottled { seconds: Some(29) })));
        assert!(matches!(login::login(&db.pool, "ann", PW, T0 + 1).await, Err(Error::LoginThrottled { .. })));
        let e = serde_json::to_value(locked.unwrap_err()).unwrap();
        assert!(e["detail"].as_str().unwrap().contains("Forgot password?"), "{e}");
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
        let after = verify_email_change(&db.pool, &mailer, t, &code, T0 + 3).await;
        assert!(matches!(after, Err(Error::NoPendingEmailChange)));

        request_email_change(&db.pool, &mailer, t, PW, "Newname@Example.org", T0 + 100).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        let w = verify_email_change(&db.pool, &mailer, t, &wrong(&code), T0 + 101).await;
        assert!(matches!(w, Err(Error::InvalidCode { attempts_left: 4 })));
        let changed = verify_email_change(&db.pool, &mailer, t, &code, T0 + 102).await.unwrap();
        assert_eq!(
            (changed.session.profile.email.as_str(), changed.session.profile.pending_email),
            ("Newname@Example.org", None)
        );
        assert!(changed.notice_sent);
        let notice = message(&db, 3).await;
        assert!(notice.contains("To: Ann <ann@example.com>"), "the notice goes to the old address");
        assert!(notice.contains("Ne*****@Example.org") && !notice.contains("Newname@"), "{notice}");
        assert!(login::login(&db.pool, "newname@example.org", PW, T0 + 103).await.is_ok());
        assert!(matches!(
            login::login(&db.pool, "ann@example.com", PW, T0 + 103).await,
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
        signup::verify(&db.pool, &mailer, sent.signup_id(), &code_in(&std::fs::read_to_string(path).unwrap()), T0)
            .await
            .unwrap();
        // A taken address is not said: "code sent" as usual, and its owner is told instead.
        let taken = request_email_change(&db.pool, &mailer, t, PW, "BOB@example.com", T0).await.unwrap();
        assert_eq!(taken.sent.email, "BOB@example.com");
        let notice = message(&db, 1).await;
        assert!(notice.contains("To: bob <bob@example.com>") && notice.contains("no code was sent"), "{notice}");
        assert!(signup::tests::code_of_message(&notice).is_none());
        let w = verify_email_change(&db.pool, &mailer, t, "123456", T0 + 1).await;
        assert!(matches!(w, Err(Error::InvalidCode { attempts_left: 4 })), "{w:?}");
        cancel_email_change(&db.pool, t, T0 + 1).await.unwrap();

        request_email_change(&db.pool, &mailer, t, PW, "ann@new.example", T0 + 2).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        let soon = resend_email_change(&db.pool, &mailer, t, T0 + 61).await;
        assert!(matches!(soon, Err(Error::ResendTooSoon { seconds: 1 })));
        let late = verify_email_change(&db.pool, &mailer, t, &code, T0 + 602).await;
        assert!(matches!(late, Err(Error::CodeExpired(Flow::EmailChange))));
        assert!(matches!(resend_email_change(&db.pool, &mailer, t, T0 + 603).await, Err(Error::NoPendingEmailChange)));

        request_email_change(&db.pool, &mailer, t, PW, "ann@new.example", T0 + 700).await.unwrap();
        let code = code_in(&message(&db, 3).await);
        for _ in 0..4 {
            assert!(verify_email_change(&db.pool, &mailer, t, &wrong(&code), T0 + 701).await.is_err());
        }
        let fifth = verify_email_change(&db.pool, &mailer, t, &wrong(&code), T0 + 701).await;
        assert!(matches!(fifth, Err(Error::TooManyAttempts(Flow::EmailChange))));
        assert!(matches!(
            verify_email_change(&db.pool, &mailer, t, &code, T0 + 702).await,
            Err(Error::NoPendingEmailChange)
        ));
    }

    #[tokio::test]
    async fn deleting_needs_the_password_and_the_username_and_frees_both_names() {
        let db = test_db().await;
        let mailer = outbox_mailer(&db);
        let me = account(&db, &mailer).await;
        let other = login::login(&db.pool, "ann", PW, T0).await.unwrap();
        let t = Some(&me.token);
        let _ = login::login(&db.pool, "ann@example.com", "wrong horse battery", T0).await;
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
        let changed = change_password(&db.pool, &mailer, Some(&me.token), PW, NEW_PW, T0 + 1).await.unwrap();
        let t = Some(&changed.session.token);
        request_email_change(&db.pool, &mailer, t, NEW_PW, "ann@new.example", T0 + 2).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        let moved = verify_email_change(&db.pool, &mailer, t, &code, T0 + 3).await.unwrap();
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
        let elsewhere = login::login(&db.pool, "ann", PW, T0).await.unwrap();
        let theirs = request_reset(&db.pool, &mailer, "ann@example.com", "old mailbox", T0 + 1).await.unwrap();
        let old_mailbox_code = code_in(&message(&db, 1).await);
        request_email_change(&db.pool, &mailer, Some(&me.token), PW, "ann@new.example", T0 + 2).await.unwrap();
        let code = code_in(&message(&db, 2).await);
        assert!(verify_email_change(&db.pool, &mailer, Some(&me.token), &code, T0 + 3).await.is_ok());

        let late = reset_password(&db.pool, &mailer, reset(&theirs, &old_mailbox_code, NEW_PW), T0 + 4).await;
        assert!(late.is_err(), "the old address's reset still worked: {late:?}");
        assert!(login::login(&db.pool, "ann@new.example", PW, T0 + 5).await.is_ok(), "the password is unchanged");
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
        signup::verify(&db.pool, &mailer, sent.signup_id(), &code_in(&std::fs::read_to_string(path).unwrap()), T0)
            .await
            .unwrap();
        let taken = request_email_change(&db.pool, &mailer, Some(&me.token), PW, "Bob@Example.org", T0 + 1).await;
        assert!(matches!(taken, Err(Error::EmailTaken)), "{taken:?}");
        assert_eq!(count(&db, "SELECT count(*) FROM account_codes").await, 0);
    }
}
