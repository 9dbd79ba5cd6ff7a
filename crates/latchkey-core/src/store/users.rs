use sqlx::{FromRow, SqliteExecutor, SqlitePool};

use crate::error::Result;

/// A row with the password hash. Deliberately not `Serialize`.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub email: String,
    pub email_key: String,
    pub password_hash: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub date_joined: i64,
}

/// An account as a request read it, before a slow check: a later write acts only if the row still
/// has this id and this password hash (ids are never reused; every password change makes a new
/// salted hash), so it can never land on an account that was deleted and replaced meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub id: i64,
    pub password_hash: &'a str,
}

impl UserRow {
    pub fn seen(&self) -> Seen<'_> {
        Seen { id: self.id, password_hash: &self.password_hash }
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub username_skeleton: &'a str,
    pub email: &'a str,
    pub email_key: &'a str,
    pub password_hash: &'a str,
    pub date_joined: i64,
}

pub async fn insert<'e>(ex: impl SqliteExecutor<'e>, user: &NewUser<'_>) -> Result<i64> {
    let id = sqlx::query_scalar(INSERT)
        .bind(user.username)
        .bind(user.username_key)
        .bind(user.username_skeleton)
        .bind(user.email)
        .bind(user.email_key)
        .bind(user.password_hash)
        .bind(user.date_joined)
        .fetch_one(ex)
        .await
        .map_err(super::map_user_conflict)?;
    Ok(id)
}

/// Binds $1 username, $2 its key, $3 its skeleton, $4 address, $5 its key, $6 password hash, $7 now.
pub(crate) const INSERT: &str =
    "INSERT INTO users (username, username_key, username_skeleton, email, email_key, password_hash, date_joined)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

/// Whether an account has this name, or one that looks like it (the same skeleton), or the name
/// is an account's or a pending sign-up's address: signing in with it would then name two accounts.
pub async fn username_exists<'e>(ex: impl SqliteExecutor<'e>, username_key: &str, skeleton: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(USERNAME_EXISTS).bind(username_key).bind(skeleton).fetch_one(ex).await?)
}

/// Binds $1 the username key, $2 its skeleton (the same text on both engines).
pub(crate) const USERNAME_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users
       WHERE username_key = $1 OR username_skeleton = $2 OR email_key = $1)
     OR EXISTS (SELECT 1 FROM pending_signups WHERE email_key = $1)";

/// Whether the address is an account's username (signing in with it would name two accounts).
pub async fn address_is_a_username<'e>(ex: impl SqliteExecutor<'e>, email_key: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(ADDRESS_IS_A_USERNAME).bind(email_key).fetch_one(ex).await?)
}

pub(crate) const ADDRESS_IS_A_USERNAME: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE username_key = $1)";

/// Gives each account made before usernames had skeletons its skeleton, computed by the rule the
/// caller passes; returns how many got one. Run at start-up, after the migrations. Of two old
/// accounts whose names look alike, the older keeps the skeleton (and so keeps new look-alikes
/// out); the later is left without, and both keep working. Errors stay SQLite's, for start-up to
/// classify.
pub async fn fill_skeletons(pool: &SqlitePool, skeleton_of: impl Fn(&str) -> String) -> sqlx::Result<usize> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, username FROM users WHERE username_skeleton IS NULL ORDER BY id")
            .fetch_all(pool)
            .await?;
    let mut filled = 0;
    for (id, username) in rows {
        let done = sqlx::query("UPDATE users SET username_skeleton = $1 WHERE id = $2")
            .bind(skeleton_of(&username))
            .bind(id)
            .execute(pool)
            .await;
        match done {
            Ok(_) => filled += 1,
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                log::warn!("account {id}'s username looks like an older account's; both keep working");
            }
            Err(e) => return Err(e),
        }
    }
    if filled > 0 {
        log::info!("gave {filled} usernames their look-alike skeleton");
    }
    Ok(filled)
}

/// The account with this address, whatever its state.
pub async fn find_by_email<'e>(ex: impl SqliteExecutor<'e>, email_key: &str) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(FIND_BY_EMAIL).bind(email_key).fetch_optional(ex).await?)
}

/// Binds $1 the address key.
pub(crate) const FIND_BY_EMAIL: &str = "SELECT id, username, username_key, email, email_key, password_hash, is_active,
       is_admin, date_joined FROM users WHERE email_key = $1";

/// Users whose username or email matches; at most two (a username may look like someone's email).
/// The username match comes first.
pub async fn find_for_login<'e>(
    ex: impl SqliteExecutor<'e>,
    username_key: &str,
    email_key: &str,
) -> Result<Vec<UserRow>> {
    Ok(sqlx::query_as(FIND_FOR_LOGIN).bind(username_key).bind(email_key).fetch_all(ex).await?)
}

pub(crate) const FIND_FOR_LOGIN: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined
     FROM users WHERE username_key = $1 OR email_key = $2
     ORDER BY username_key = $1 DESC LIMIT 2";

pub async fn find_by_id<'e>(ex: impl SqliteExecutor<'e>, id: i64) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(FIND_BY_ID).bind(id).fetch_optional(ex).await?)
}

pub(crate) const FIND_BY_ID: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined
     FROM users WHERE id = $1";

/// The active account with this email address, if any.
pub async fn find_active_by_email<'e>(ex: impl SqliteExecutor<'e>, email_key: &str) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(FIND_ACTIVE_BY_EMAIL).bind(email_key).fetch_optional(ex).await?)
}

/// `is_active` alone is true on both engines (SQLite's column is 0 or 1 by a CHECK).
pub(crate) const FIND_ACTIVE_BY_EMAIL: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined
     FROM users WHERE email_key = $1 AND is_active";

/// Changes the address of the account `seen` read; `email_taken` if another account has it
/// meanwhile, `false` if the account is no longer the one read.
pub async fn update_email<'e>(
    ex: impl SqliteExecutor<'e>,
    seen: Seen<'_>,
    email: &str,
    email_key: &str,
) -> Result<bool> {
    let done = sqlx::query(UPDATE_EMAIL)
        .bind(email)
        .bind(email_key)
        .bind(seen.id)
        .bind(seen.password_hash)
        .execute(ex)
        .await
        .map_err(super::map_user_conflict)?;
    Ok(done.rows_affected() == 1)
}

/// Binds $1 address, $2 its key, then the `Seen` account: $3 id, $4 password hash.
pub(crate) const UPDATE_EMAIL: &str =
    "UPDATE users SET email = $1, email_key = $2 WHERE id = $3 AND password_hash = $4";

/// Removes the account `seen` read, if it still is; its sessions and codes go with it (foreign
/// keys cascade).
pub async fn delete<'e>(ex: impl SqliteExecutor<'e>, seen: Seen<'_>) -> Result<bool> {
    let done = sqlx::query(DELETE).bind(seen.id).bind(seen.password_hash).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Binds the `Seen` account: $1 id, $2 password hash.
pub(crate) const DELETE: &str = "DELETE FROM users WHERE id = $1 AND password_hash = $2";

/// Puts a new hash in place of the one `seen` read; `false` if the account changed or went
/// meanwhile. With `email_key`, only while the account still has that address.
pub async fn replace_password_hash<'e>(
    ex: impl SqliteExecutor<'e>,
    seen: Seen<'_>,
    email_key: Option<&str>,
    password_hash: &str,
) -> Result<bool> {
    let done = sqlx::query(REPLACE_PASSWORD_HASH)
        .bind(password_hash)
        .bind(seen.id)
        .bind(seen.password_hash)
        .bind(email_key)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Binds $1 the new hash, the `Seen` account ($2 id, $3 password hash), $4 the address key or NULL.
pub(crate) const REPLACE_PASSWORD_HASH: &str = "UPDATE users SET password_hash = $1
     WHERE id = $2 AND password_hash = $3 AND ($4 IS NULL OR email_key = $4)";

pub async fn count<'e>(ex: impl SqliteExecutor<'e>) -> Result<i64> {
    Ok(sqlx::query_scalar(COUNT).fetch_one(ex).await?)
}

pub(crate) const COUNT: &str = "SELECT count(*) FROM users";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::store::test_support::test_db;

    fn user<'a>(username_key: &'a str, email_key: &'a str) -> NewUser<'a> {
        NewUser {
            username: username_key,
            username_key,
            username_skeleton: username_key,
            email: email_key,
            email_key,
            password_hash: "$argon2id$fake",
            date_joined: 1,
        }
    }

    #[tokio::test]
    async fn unique_indexes_name_the_conflicting_field() {
        let db = test_db().await;
        insert(&db.pool, &user("alice", "alice@example.com")).await.unwrap();
        assert!(matches!(insert(&db.pool, &user("alice", "other@example.com")).await, Err(Error::UsernameTaken)));
        assert!(matches!(insert(&db.pool, &user("bob", "alice@example.com")).await, Err(Error::EmailTaken)));
        assert_eq!(count(&db.pool).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn look_alike_names_cannot_both_be_accounts() {
        let db = test_db().await;
        insert(&db.pool, &user("ace", "ace@example.com")).await.unwrap();
        // Cyrillic "асе": another key, the same skeleton.
        let look_alike = NewUser { username_key: "\u{430}\u{441}\u{435}", ..user("ace", "other@example.com") };
        assert!(matches!(insert(&db.pool, &look_alike).await, Err(Error::UsernameTaken)));
        assert!(username_exists(&db.pool, "\u{430}\u{441}\u{435}", "ace").await.unwrap());
        assert_eq!(count(&db.pool).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn login_lookup_prefers_the_username_match() {
        let db = test_db().await;
        insert(&db.pool, &user("carol@example.com", "carol2@example.com")).await.unwrap();
        insert(&db.pool, &user("dave", "carol@example.com")).await.unwrap();
        let found = find_for_login(&db.pool, "carol@example.com", "carol@example.com").await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].username, "carol@example.com");
    }

    #[tokio::test]
    async fn sql_metacharacters_are_data_not_code() {
        let db = test_db().await;
        insert(&db.pool, &user("x", "x@example.com")).await.unwrap();
        let found = find_for_login(&db.pool, "' OR 1=1 --", "' OR '1'='1").await.unwrap();
        assert!(found.is_empty());
        assert!(!username_exists(&db.pool, "x' OR 'a'='a", "' OR 1=1 --").await.unwrap());
    }
}
