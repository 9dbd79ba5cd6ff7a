//! Sign-up: request a code, resend it, verify it.

use serde::Serialize;
use sqlx::SqlitePool;

use super::secret::{self, Token};
use super::{validate, NewSession, Timestamp, CODE_TTL_SECS, MAX_CODE_ATTEMPTS, RESEND_COOLDOWN_SECS, SESSION_TTL_SECS};
use crate::error::{Error, Result};
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

pub async fn request_code(pool: &SqlitePool, mailer: &Mailer, req: SignupRequest<'_>, now: Timestamp) -> Result<CodeSent> {
    let username = validate::username(req.username)?;
    let email = validate::email(req.email)?;
    let password = validate::password(req.password)?;
    store::purge_expired(pool, now).await?;
    if users::username_exists(pool, &username.key).await? {
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
    let message = CodeEmail { username: &username.display, to: &email.display, code: &code, valid_minutes: CODE_TTL_SECS / 60 };
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
        return Err(Error::CodeExpired);
    }
    let wait = row.last_sent_at + RESEND_COOLDOWN_SECS - now;
    if wait > 0 {
        return Err(Error::ResendTooSoon { seconds: wait });
    }
    let code = secret::new_code()?;
    let code_hash = secret::hash_blocking(code.clone()).await?;
    let old = CodeState { code_hash: &row.code_hash, attempts: row.attempts, last_sent_at: row.last_sent_at, expires_at: row.expires_at };
    let new = CodeState { code_hash: &code_hash, attempts: 0, last_sent_at: now, expires_at: now + CODE_TTL_SECS };
    // Claiming the row first makes two simultaneous resends send one email, not two.
    if !pending_signups::swap_code(pool, row.id, &old, &new).await? {
        return Err(Error::ResendTooSoon { seconds: RESEND_COOLDOWN_SECS });
    }
    let message = CodeEmail { username: &row.username, to: &row.email, code: &code, valid_minutes: CODE_TTL_SECS / 60 };
    match mailer.send_code(&message).await {
        Ok(delivery) => Ok(CodeSent { email: row.email, delivery, resend_at: now + RESEND_COOLDOWN_SECS, expires_at: new.expires_at }),
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
        return Err(Error::CodeExpired);
    }
    let Some(attempt) = pending_signups::reserve_attempt(pool, row.id, &row.code_hash, MAX_CODE_ATTEMPTS).await? else {
        pending_signups::delete_if_code(pool, row.id, &row.code_hash).await?;
        return Err(Error::TooManyAttempts);
    };
    if !secret::verify_blocking(code, row.code_hash.clone()).await? {
        if attempt >= MAX_CODE_ATTEMPTS {
            pending_signups::delete_if_code(pool, row.id, &row.code_hash).await?;
            return Err(Error::TooManyAttempts);
        }
        return Err(Error::InvalidCode { attempts_left: u32::try_from(MAX_CODE_ATTEMPTS - attempt).unwrap_or(0) });
    }
    let token = Token::generate()?;
    match store::sessions::complete_signup(pool, &row, &token.digest(), now, now + SESSION_TTL_SECS).await {
        Ok(profile) => Ok(NewSession { token, profile: profile.into() }),
        Err(e @ (Error::UsernameTaken | Error::EmailTaken)) => {
            // Someone else took the name meanwhile; this sign-up can never finish.
            pending_signups::delete_if_code(pool, row.id, &row.code_hash).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}
