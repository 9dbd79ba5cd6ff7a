//! The account-lifecycle transactions: each change to an existing account, all or nothing, and
//! only on the account the request read (`Seen`): if it changed or went meanwhile, nothing
//! changes and the step answers `not_authenticated`.

use sqlx::SqlitePool;

use super::account_codes::{self, CodeRow};
use super::codes;
use super::login_throttle;
use super::sessions::{self, ProfileRow};
use super::users::{self, Seen};
use crate::error::{Error, Result};

/// A session to create in the same transaction.
pub struct NewSessionRow<'a> {
    pub token_hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

/// A new password for an account: the hash changes, every session and every pending code of the
/// account ends, its login throttle is cleared, and one new session (this window's) begins.
/// With `code` (a reset), that code is consumed first, and the password changes only while the
/// account still has the address the code was sent to; if another request consumed or replaced
/// the code meanwhile, nothing changes.
pub async fn replace_password(
    pool: &SqlitePool,
    seen: Seen<'_>,
    password_hash: &str,
    code: Option<&CodeRow>,
    throttle_key: &str,
    session: &NewSessionRow<'_>,
) -> Result<ProfileRow> {
    let mut tx = pool.begin().await?;
    // The account's row first, then the code, in the order PostgreSQL's locks need.
    let address = code.map(|c| c.email_key.as_str());
    if !users::replace_password_hash(&mut *tx, seen, address, password_hash).await? {
        return Err(Error::NotAuthenticated);
    }
    if let Some(code) = code {
        if !codes::delete_if_code(&mut *tx, account_codes::TABLE, code.id, &code.code_hash).await? {
            return Err(Error::NoPendingReset);
        }
    }
    sessions::delete_for_user(&mut *tx, seen.id).await?;
    account_codes::delete_for_user(&mut *tx, seen.id).await?;
    login_throttle::clear(&mut *tx, throttle_key).await?;
    sessions::insert(&mut *tx, session.token_hash, seen.id, session.now, session.expires_at).await?;
    let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
    tx.commit().await?;
    profile.ok_or_else(|| Error::internal("password change", "the new session was not found"))
}

/// Consumes the email-change code and moves the account to the new address; every other code of
/// the account (a reset sent to the old address) and every session end with it, and this window
/// gets `session`.
pub async fn change_email(
    pool: &SqlitePool,
    seen: Seen<'_>,
    code: &CodeRow,
    session: &NewSessionRow<'_>,
) -> Result<ProfileRow> {
    let new_email = code.new_email.as_deref().ok_or_else(|| Error::internal("email change", "no new address"))?;
    let mut tx = pool.begin().await?;
    if !users::update_email(&mut *tx, seen, new_email, &code.email_key).await? {
        return Err(Error::NotAuthenticated);
    }
    if !codes::delete_if_code(&mut *tx, account_codes::TABLE, code.id, &code.code_hash).await? {
        return Err(Error::NoPendingEmailChange);
    }
    account_codes::delete_for_user(&mut *tx, seen.id).await?;
    sessions::delete_for_user(&mut *tx, seen.id).await?;
    sessions::insert(&mut *tx, session.token_hash, seen.id, session.now, session.expires_at).await?;
    let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
    tx.commit().await?;
    profile.ok_or_else(|| Error::internal("email change", "the new session was not found"))
}

/// Removes the account with its sessions and codes (cascade) and its login throttle.
pub async fn delete_account(pool: &SqlitePool, seen: Seen<'_>, throttle_key: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    if !users::delete(&mut *tx, seen).await? {
        return Err(Error::NotAuthenticated);
    }
    login_throttle::clear(&mut *tx, throttle_key).await?;
    tx.commit().await?;
    Ok(())
}
