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
    let id = sqlx::query_scalar(
        "INSERT INTO users (username, username_key, username_skeleton, email, email_key, password_hash, date_joined)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
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

/// Whether an account has this name, or one that looks like it (the same skeleton).
pub async fn username_exists<'e>(ex: impl SqliteExecutor<'e>, username_key: &str, skeleton: &str) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username_key = ? OR username_skeleton = ?)")
        .bind(username_key)
        .bind(skeleton)
        .fetch_one(ex)
        .await?)
}

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
        let done = sqlx::query("UPDATE users SET username_skeleton = ? WHERE id = ?")
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

pub async fn email_exists<'e>(ex: impl SqliteExecutor<'e>, email_key: &str) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email_key = ?)")
        .bind(email_key)
        .fetch_one(ex)
        .await?)
}

/// Users whose username or email matches; at most two (a username may look like someone's email).
/// The username match comes first.
pub async fn find_for_login<'e>(
    ex: impl SqliteExecutor<'e>,
    username_key: &str,
    email_key: &str,
) -> Result<Vec<UserRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users
         WHERE username_key = ?1 OR email_key = ?2
         ORDER BY username_key = ?1 DESC LIMIT 2"
    ))
    .bind(username_key)
    .bind(email_key)
    .fetch_all(ex)
    .await?)
}

const USER_COLUMNS: &str =
    "id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined";

pub async fn find_by_id<'e>(ex: impl SqliteExecutor<'e>, id: i64) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?")).bind(id).fetch_optional(ex).await?)
}

/// The active account with this email address, if any.
pub async fn find_active_by_email<'e>(ex: impl SqliteExecutor<'e>, email_key: &str) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = ? AND is_active = 1"))
        .bind(email_key)
        .fetch_optional(ex)
        .await?)
}

/// Changes the address; `email_taken` if another account has it meanwhile.
pub async fn update_email<'e>(ex: impl SqliteExecutor<'e>, id: i64, email: &str, email_key: &str) -> Result<()> {
    sqlx::query("UPDATE users SET email = ?, email_key = ? WHERE id = ?")
        .bind(email)
        .bind(email_key)
        .bind(id)
        .execute(ex)
        .await
        .map_err(super::map_user_conflict)?;
    Ok(())
}

/// Removes the account; its sessions and codes go with it (foreign keys cascade).
pub async fn delete<'e>(ex: impl SqliteExecutor<'e>, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_password_hash<'e>(ex: impl SqliteExecutor<'e>, id: i64, password_hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?").bind(password_hash).bind(id).execute(ex).await?;
    Ok(())
}

pub async fn count<'e>(ex: impl SqliteExecutor<'e>) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(ex).await?)
}

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
