use sqlx::{FromRow, SqlitePool};

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

/// Binds $1 username, $2 its key, $3 its skeleton, $4 address, $5 its key, $6 password hash, $7 now.
pub(crate) const INSERT: &str =
    "INSERT INTO users (username, username_key, username_skeleton, email, email_key, password_hash, date_joined)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

/// Binds $1 the username key, $2 its skeleton (the same text on both engines).
pub(crate) const USERNAME_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users
       WHERE username_key = $1 OR username_skeleton = $2 OR email_key = $1)
     OR EXISTS (SELECT 1 FROM pending_signups WHERE email_key = $1)";

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

/// Binds $1 the address key.
pub(crate) const FIND_BY_EMAIL: &str = "SELECT id, username, username_key, email, email_key, password_hash, is_active,
       is_admin, date_joined FROM users WHERE email_key = $1";

pub(crate) const FIND_FOR_LOGIN: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined
     FROM users WHERE username_key = $1 OR email_key = $2
     ORDER BY username_key = $1 DESC LIMIT 2";

pub(crate) const FIND_BY_ID: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined
     FROM users WHERE id = $1";

/// `is_active` alone is true on both engines (SQLite's column is 0 or 1 by a CHECK).
pub(crate) const FIND_ACTIVE_BY_EMAIL: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined
     FROM users WHERE email_key = $1 AND is_active";

/// Binds $1 address, $2 its key, then the `Seen` account: $3 id, $4 password hash.
pub(crate) const UPDATE_EMAIL: &str =
    "UPDATE users SET email = $1, email_key = $2 WHERE id = $3 AND password_hash = $4";

/// Binds the `Seen` account: $1 id, $2 password hash.
pub(crate) const DELETE: &str = "DELETE FROM users WHERE id = $1 AND password_hash = $2";

/// Binds $1 the new hash, the `Seen` account ($2 id, $3 password hash), $4 the address key or NULL.
/// A new password also lifts the operator's `require-reset` (a rehash never runs while it is set:
/// sign-in refuses before it).
pub(crate) const REPLACE_PASSWORD_HASH: &str = "UPDATE users SET password_hash = $1, reset_required = (1 = 0)
     WHERE id = $2 AND password_hash = $3 AND ($4 IS NULL OR email_key = $4)";

pub(crate) const COUNT: &str = "SELECT count(*) FROM users";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::store::sqlite::users::*;
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
