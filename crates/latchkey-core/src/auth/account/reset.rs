//! Forgot password. A known and an unknown address take the same path, the same hashing work and
//! the same time, and get the same answer: only a known address gets mail, sent in the background.
//! A reset belongs to whoever asked for it: they get an opaque reset id, and only that id can
//! enter or resend its code, so others' wrong codes count against their own requests, never the
//! owner's.

use crate::store::Store;

use super::super::secret::{self, Token};
use super::super::signup::CodeSent;
use super::super::{code, policy, validate, Device, Timestamp, CODE_TTL_SECS, RESEND_COOLDOWN_SECS};
use super::{code_letter, notify, recipient, replace_password, SessionRenewed};
use crate::error::{Error, Flow, Result};
use crate::mail::{CodePurpose, Letter, Mailer};
use crate::store::account_codes::{CodeRow, NewCode, Subject};

pub struct ResetRequest<'a> {
    /// The id `request_reset` gave the requester: only its holder can enter the code.
    pub reset_id: &'a str,
    pub code: &'a str,
    pub password: &'a str,
}

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
    let owner = code::owner_of(reset_id).ok_or(Error::NoPendingReset)?;
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
    device: Device<'_>,
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
    let session = match replace_password(pool, &user, password, Some(&row), device, now).await {
        Err(Error::NotAuthenticated) => return Err(Error::NoPendingReset),
        // Reset, and signed out everywhere; signing in takes the second factor's code.
        Err(e @ Error::SecondFactorRequired { .. }) => {
            notify(mailer, &user, Letter::PasswordReset).await;
            return Err(e);
        }
        other => other?,
    };
    let notice_sent = notify(mailer, &user, Letter::PasswordReset).await;
    Ok(SessionRenewed { session, notice_sent })
}
