//! The account-lifecycle transactions: each change to an existing account, all or nothing.

use sqlx::SqlitePool;

use super::account_codes::{self, CodeRow};
use super::codes;
use super::sessions::{self, ProfileRow};
use super::{login_throttle, users};
use crate::error::{Error, Result};

/// A session to create in the same transaction.
pub struct NewSessionRow<'a> {
    pub token_hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

/// A new password for an account: the hash changes, every session and every pending code of the
/// account ends, its login throttle is cleared, and one new session (this desktop's) begins.
/// With `code`, that reset code is consumed first; if another request consumed or replaced it
/// meanwhile, nothing changes.
pub async fn replace_password(
    pool: &SqlitePool,
    user_id: i64,
    password_hash: &str,
    code: Option<&CodeRow>,
    throttle_key: &str,
    session: &NewSessionRow<'_>,
) -> Result<ProfileRow> {
    let mut tx = pool.begin().await?;
    if let Some(code) = code {
        if !codes::delete_if_code(&mut *tx, account_codes::TABLE, code.id, &code.code_hash).await? {
            return Err(Error::NoPendingReset);
        }
    }
    users::update_password_hash(&mut *tx, user_id, password_hash).await?;
    sessions::delete_for_user(&mut *tx, user_id).await?;
    account_codes::delete_for_user(&mut *tx, user_id).await?;
    login_throttle::clear(&mut *tx, throttle_key).await?;
    sessions::insert(&mut *tx, session.token_hash, user_id, session.now, session.expires_at).await?;
    let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
    tx.commit().await?;
    profile.ok_or_else(|| Error::internal("password change", "the new session was not found"))
}

/// Consumes the email-change code and moves the account to the new address.
pub async fn change_email(pool: &SqlitePool, user_id: i64, code: &CodeRow) -> Result<()> {
    let new_email = code.new_email.as_deref().ok_or_else(|| Error::internal("email change", "no new address"))?;
    let mut tx = pool.begin().await?;
    if !codes::delete_if_code(&mut *tx, account_codes::TABLE, code.id, &code.code_hash).await? {
        return Err(Error::NoPendingEmailChange);
    }
    users::update_email(&mut *tx, user_id, new_email, &code.email_key).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the account with its sessions and codes (cascade) and its login throttle.
pub async fn delete_account(pool: &SqlitePool, user_id: i64, throttle_key: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    if !users::delete(&mut *tx, user_id).await? {
        return Err(Error::NotAuthenticated);
    }
    login_throttle::clear(&mut *tx, throttle_key).await?;
    tx.commit().await?;
    Ok(())
}
