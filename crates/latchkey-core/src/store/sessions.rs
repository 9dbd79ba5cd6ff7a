use sqlx::{FromRow, SqliteExecutor, SqlitePool};

use super::codes;
use super::pending_signups::{self, PendingRow};
use super::users::{self, NewUser, Seen, UserRow};
use crate::error::{Error, Result};

/// What "who am I" returns: no password hash here.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileRow {
    pub username: String,
    pub email: String,
    pub is_active: bool,
    pub is_admin: bool,
    /// Seconds since the Unix epoch, like every timestamp here.
    pub date_joined: i64,
    pub session_expires_at: i64,
    /// The new address of an email change waiting for its code.
    pub pending_email: Option<String>,
}

pub async fn insert<'e>(
    ex: impl SqliteExecutor<'e>,
    token_hash: &[u8],
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(INSERT).bind(token_hash).bind(user_id).bind(now).bind(expires_at).execute(ex).await?;
    Ok(())
}

/// Binds $1 token hash, $2 account, $3 now, $4 expiry.
pub(crate) const INSERT: &str =
    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";

/// The profile behind a live session of an active account.
pub async fn find_profile<'e>(ex: impl SqliteExecutor<'e>, token_hash: &[u8], now: i64) -> Result<Option<ProfileRow>> {
    Ok(sqlx::query_as(FIND_PROFILE).bind(token_hash).bind(now).fetch_optional(ex).await?)
}

/// Binds $1 token hash, $2 now.
pub(crate) const FIND_PROFILE: &str = "SELECT u.username, u.email, u.is_active, u.is_admin, u.date_joined,
       s.expires_at AS session_expires_at,
       (SELECT c.new_email FROM account_codes c
        WHERE c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > $2) AS pending_email
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active";

/// The account behind a live session of an active account.
pub async fn find_user<'e>(ex: impl SqliteExecutor<'e>, token_hash: &[u8], now: i64) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(FIND_USER).bind(token_hash).bind(now).fetch_optional(ex).await?)
}

/// Binds $1 token hash, $2 now.
pub(crate) const FIND_USER: &str =
    "SELECT u.id, u.username, u.username_key, u.email, u.email_key, u.password_hash, u.is_active, u.is_admin,
       u.date_joined
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active";

/// Ends every session of an account.
pub async fn delete_for_user<'e>(ex: impl SqliteExecutor<'e>, user_id: i64) -> Result<u64> {
    let done = sqlx::query(DELETE_FOR_USER).bind(user_id).execute(ex).await?;
    Ok(done.rows_affected())
}

pub(crate) const DELETE_FOR_USER: &str = "DELETE FROM sessions WHERE user_id = $1";

pub async fn delete<'e>(ex: impl SqliteExecutor<'e>, token_hash: &[u8]) -> Result<bool> {
    let done = sqlx::query(DELETE).bind(token_hash).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) const DELETE: &str = "DELETE FROM sessions WHERE token_hash = $1";

pub async fn delete_expired<'e>(ex: impl SqliteExecutor<'e>, now: i64) -> Result<u64> {
    let done = sqlx::query(DELETE_EXPIRED).bind(now).execute(ex).await?;
    Ok(done.rows_affected())
}

pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM sessions WHERE expires_at <= $1";

/// A password check passed for the account `seen` read: if it is still that account (same id,
/// same hash, active), the session begins and that account's login count is cleared, in one
/// transaction (a write first, so it holds SQLite's write lock from its first statement).
/// `None` when the account changed or went meanwhile: nothing was written. (PostgreSQL does this
/// in one statement, `postgres::COMPLETE_LOGIN`.)
pub async fn complete_login(
    pool: &SqlitePool,
    throttle_key: &str,
    token_hash: &[u8],
    seen: Seen<'_>,
    now: i64,
    expires_at: i64,
) -> Result<Option<ProfileRow>> {
    let mut tx = pool.begin().await?;
    let started = sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT $1, id, $2, $3 FROM users WHERE id = $4 AND password_hash = $5 AND is_active",
    )
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .bind(seen.id)
    .bind(seen.password_hash)
    .execute(&mut *tx)
    .await?;
    if started.rows_affected() != 1 {
        return Ok(None);
    }
    super::login_throttle::clear(&mut *tx, throttle_key).await?;
    let profile = find_profile(&mut *tx, token_hash, now).await?;
    tx.commit().await?;
    Ok(profile)
}

/// The verification transaction: consume the pending sign-up, create the account and its first
/// session, all or nothing. Uniqueness is re-checked by the indexes inside the transaction.
pub async fn complete_signup(
    pool: &SqlitePool,
    pending: &PendingRow,
    username_skeleton: &str,
    token_hash: &[u8],
    now: i64,
    session_expires_at: i64,
) -> Result<ProfileRow> {
    let mut tx = pool.begin().await?;
    // A write first, so this transaction holds SQLite's write lock from its first statement.
    if !codes::delete_if_code(&mut *tx, pending_signups::TABLE, pending.id, &pending.code_hash).await? {
        return Err(Error::NoPendingSignup);
    }
    let user = NewUser {
        username: &pending.username,
        username_key: &pending.username_key,
        username_skeleton,
        email: &pending.email,
        email_key: &pending.email_key,
        password_hash: &pending.password_hash,
        date_joined: now,
    };
    let user_id = users::insert(&mut *tx, &user).await?;
    insert(&mut *tx, token_hash, user_id, now, session_expires_at).await?;
    let profile = find_profile(&mut *tx, token_hash, now).await?;
    tx.commit().await?;
    profile.ok_or_else(|| Error::internal("verification", "the new session was not found"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pending_signups::{find_by_owner, insert, NewPending};
    use crate::store::test_support::test_db;
    use sha2::Digest;

    async fn pending(pool: &SqlitePool, username: &str, email: &str) -> PendingRow {
        let owner = sha2::Sha256::digest(format!("{username}/{email}").as_bytes()).to_vec();
        let new = NewPending {
            username,
            username_key: username,
            email,
            email_key: email,
            password_hash: "$argon2id$pw",
            code_hash: "code",
            owner_hash: &owner,
            now: 10,
            expires_at: 610,
        };
        insert(pool, &new, None).await.unwrap();
        find_by_owner(pool, &owner).await.unwrap().unwrap()
    }

    async fn counts(pool: &SqlitePool) -> (i64, i64, i64) {
        let q = |t: &str| format!("SELECT count(*) FROM {t}");
        (
            sqlx::query_scalar(&q("users")).fetch_one(pool).await.unwrap(),
            sqlx::query_scalar(&q("pending_signups")).fetch_one(pool).await.unwrap(),
            sqlx::query_scalar(&q("sessions")).fetch_one(pool).await.unwrap(),
        )
    }

    #[tokio::test]
    async fn verify_transaction_creates_user_and_session_and_consumes_the_pending_row() {
        let db = test_db().await;
        let row = pending(&db.pool, "ann", "ann@example.com").await;
        let profile = complete_signup(&db.pool, &row, &row.username, &[7; 32], 20, 20 + 30 * 86_400).await.unwrap();
        assert_eq!(profile.username, "ann");
        assert_eq!(profile.date_joined, 20);
        assert_eq!(counts(&db.pool).await, (1, 0, 1));
        // The same pending row cannot be used twice.
        assert!(matches!(
            complete_signup(&db.pool, &row, &row.username, &[8; 32], 21, 99).await,
            Err(Error::NoPendingSignup)
        ));
    }

    #[tokio::test]
    async fn verify_transaction_rolls_back_entirely_when_the_username_was_taken_meanwhile() {
        let db = test_db().await;
        let first = pending(&db.pool, "ann", "ann@example.com").await;
        complete_signup(&db.pool, &first, &first.username, &[1; 32], 20, 99).await.unwrap();
        let second = pending(&db.pool, "ann", "other@example.com").await;
        let result = complete_signup(&db.pool, &second, &second.username, &[2; 32], 21, 99).await;
        assert!(matches!(result, Err(Error::UsernameTaken)));
        // Nothing half-done: the pending row is still there, no second user, no second session.
        assert_eq!(counts(&db.pool).await, (1, 1, 1));
    }

    #[tokio::test]
    async fn sessions_end_at_their_expiry_and_with_their_user() {
        let db = test_db().await;
        let row = pending(&db.pool, "ann", "ann@example.com").await;
        complete_signup(&db.pool, &row, &row.username, &[3; 32], 20, 100).await.unwrap();
        assert!(find_profile(&db.pool, &[3; 32], 99).await.unwrap().is_some());
        assert!(find_profile(&db.pool, &[3; 32], 100).await.unwrap().is_none());
        assert_eq!(delete_expired(&db.pool, 100).await.unwrap(), 1);
        sqlx::query("DELETE FROM users").execute(&db.pool).await.unwrap();
        assert_eq!(counts(&db.pool).await, (0, 0, 0));
    }

    #[tokio::test]
    async fn inactive_accounts_have_no_profile() {
        let db = test_db().await;
        let row = pending(&db.pool, "ann", "ann@example.com").await;
        complete_signup(&db.pool, &row, &row.username, &[4; 32], 20, 100).await.unwrap();
        sqlx::query("UPDATE users SET is_active = 0").execute(&db.pool).await.unwrap();
        assert!(find_profile(&db.pool, &[4; 32], 50).await.unwrap().is_none());
    }
}
