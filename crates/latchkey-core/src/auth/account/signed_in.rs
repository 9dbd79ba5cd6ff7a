//! What a signed-in person changes: the password, the email address (with a code sent to the new
//! one), or the account itself. Each asks for the password again and sends a notice.

use crate::store::Store;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::super::login::account_throttle_key;
use super::super::secret::{self, Token};
use super::super::signup::CodeSent;
use super::super::{code, validate, Device, Minted, Profile, Timestamp, CODE_TTL_SECS, RESEND_COOLDOWN_SECS};
use super::{
    check_password, code_letter, confirm_password, notify, profile, recipient, replace_password, signed_in,
    SessionRenewed,
};
use crate::error::{Error, Flow, Result};
use crate::mail::{mask_address, CodePurpose, Letter, Mailer, Recipient};
use crate::store::account_codes::{self, NewCode, Subject};
use crate::store::users::UserRow;

/// An email change is waiting for the code sent to the new address.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EmailChangeStarted {
    #[serde(flatten)]
    pub sent: CodeSent,
    pub profile: Profile,
}

pub async fn change_password(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    current: &str,
    new: &str,
    device: Device<'_>,
    now: Timestamp,
) -> Result<SessionRenewed> {
    let user = signed_in(pool, token, now).await?;
    if current.is_empty() {
        return Err(Error::invalid("current_password", "Enter your current password."));
    }
    let new = validate::password(new, &user.username, &user.email).map_err(|e| e.on_field("new_password"))?;
    // Both are what was typed: telling them apart needs no check of the password.
    if new == current.nfkc().collect::<String>() {
        return Err(Error::invalid("new_password", "Choose a password different from your current one."));
    }
    // The count this adds is cleared in the step that sets the new password.
    check_password(pool, &user, current, now).await?;
    let session = replace_password(pool, &user, new, None, device, now).await?;
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
    device: Device<'_>,
    now: Timestamp,
) -> Result<SessionRenewed> {
    let user = signed_in(pool, token, now).await?;
    let code = validate::code(code)?;
    let row = pool.find_account_code(Subject::EmailChange(user.id)).await?.ok_or(Error::NoPendingEmailChange)?;
    code::check(pool, row.held(), code, Flow::EmailChange, now).await?;
    // Like a new password, a new address ends every session and every other pending code (a
    // reset sent to the old address above all); this window gets a fresh session.
    let minted = Minted::new(device)?;
    let profile = match pool.change_email(user.seen(), &row, &minted.row(device, now)).await {
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
    Ok(SessionRenewed { session: minted.into_session(profile), notice_sent })
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
    pool.delete_account(user.seen(), &account_throttle_key(user.id), now).await?;
    Ok(notify(mailer, &user, Letter::AccountDeleted).await)
}
