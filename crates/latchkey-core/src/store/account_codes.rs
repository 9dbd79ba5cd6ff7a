//! Codes for an existing account: password resets (found by address) and email changes (found by
//! account).

use sqlx::{FromRow, SqliteExecutor, SqlitePool};

use super::codes::{CodeState, CodeTable};
use crate::error::Result;

/// Which row a request is about: a reset is found by its address key, an email change by its account.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Reset(&'a str),
    EmailChange(i64),
}

/// The subject's columns, as both stores bind them.
impl<'a> Subject<'a> {
    pub(crate) fn purpose(self) -> &'static str {
        match self {
            Subject::Reset(_) => "password_reset",
            Subject::EmailChange(_) => "email_change",
        }
    }

    pub(crate) fn address(self) -> Option<&'a str> {
        match self {
            Subject::Reset(key) => Some(key),
            Subject::EmailChange(_) => None,
        }
    }

    pub(crate) fn account(self) -> Option<i64> {
        match self {
            Subject::Reset(_) => None,
            Subject::EmailChange(id) => Some(id),
        }
    }
}

/// Selects the subject's row; binds ?1 purpose, ?2 address key, ?3 account id.
const SUBJECT: &str =
    "purpose = ?1 AND ((?1 = 'password_reset' AND email_key = ?2) OR (?1 = 'email_change' AND user_id = ?3))";

#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub id: i64,
    /// A reset for an address no account has: `None`.
    pub user_id: Option<i64>,
    pub email_key: String,
    pub new_email: Option<String>,
    pub code_hash: String,
    pub attempts: i64,
    pub last_sent_at: i64,
    pub expires_at: i64,
}

impl CodeRow {
    pub fn code_state(&self) -> CodeState<'_> {
        CodeState {
            code_hash: &self.code_hash,
            attempts: self.attempts,
            last_sent_at: self.last_sent_at,
            expires_at: self.expires_at,
        }
    }
}

pub struct NewCode<'a> {
    pub subject: Subject<'a>,
    pub user_id: Option<i64>,
    /// Reset: the address asked for; email change: the new address (keys).
    pub email_key: &'a str,
    pub new_email: Option<&'a str>,
    pub code_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// Puts a new code in place of the subject's current one, unless that one is still live and was
/// sent less than `cooldown` seconds ago: then `Err(seconds to wait)`. One transaction, so two
/// requests at the same moment make one code, not two.
pub async fn replace(pool: &SqlitePool, new: &NewCode<'_>, cooldown: i64) -> Result<Result<i64, i64>> {
    let s = new.subject;
    let mut tx = pool.begin().await?;
    // A write first, so this transaction holds SQLite's write lock from its first statement.
    sqlx::query(&format!("DELETE FROM account_codes WHERE {SUBJECT} AND (last_sent_at <= ?4 OR expires_at <= ?5)"))
        .bind(s.purpose())
        .bind(s.address())
        .bind(s.account())
        .bind(new.now - cooldown)
        .bind(new.now)
        .execute(&mut *tx)
        .await?;
    let live: Option<i64> = sqlx::query_scalar(&format!("SELECT last_sent_at FROM account_codes WHERE {SUBJECT}"))
        .bind(s.purpose())
        .bind(s.address())
        .bind(s.account())
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(last_sent_at) = live {
        return Ok(Err(last_sent_at + cooldown - new.now));
    }
    let id = sqlx::query_scalar(
        "INSERT INTO account_codes
           (purpose, user_id, email_key, new_email, code_hash, attempts, created_at, last_sent_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING id",
    )
    .bind(s.purpose())
    .bind(new.user_id)
    .bind(new.email_key)
    .bind(new.new_email)
    .bind(new.code_hash)
    .bind(new.now)
    .bind(new.now)
    .bind(new.expires_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Adds a row only if the subject has none (used to give a code entered for an address with no
/// reset in progress the same treatment as a wrong code).
pub async fn insert_if_absent<'e>(ex: impl SqliteExecutor<'e>, new: &NewCode<'_>, last_sent_at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_codes
           (purpose, user_id, email_key, new_email, code_hash, attempts, created_at, last_sent_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(new.subject.purpose())
    .bind(new.user_id)
    .bind(new.email_key)
    .bind(new.new_email)
    .bind(new.code_hash)
    .bind(new.now)
    .bind(last_sent_at)
    .bind(new.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn find<'e>(ex: impl SqliteExecutor<'e>, subject: Subject<'_>) -> Result<Option<CodeRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, user_id, email_key, new_email, code_hash, attempts, last_sent_at, expires_at
         FROM account_codes WHERE {SUBJECT}"
    ))
    .bind(subject.purpose())
    .bind(subject.address())
    .bind(subject.account())
    .fetch_optional(ex)
    .await?)
}

/// Gives back an attempt spent on the right code (the rest of the request was refused).
pub async fn refund_attempt<'e>(ex: impl SqliteExecutor<'e>, id: i64, code_hash: &str) -> Result<()> {
    sqlx::query("UPDATE account_codes SET attempts = attempts - 1 WHERE id = ? AND code_hash = ? AND attempts > 0")
        .bind(id)
        .bind(code_hash)
        .execute(ex)
        .await?;
    Ok(())
}

/// Voids every code of an account (after its password changed, or it was deleted).
pub async fn delete_for_user<'e>(ex: impl SqliteExecutor<'e>, user_id: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM account_codes WHERE user_id = ?").bind(user_id).execute(ex).await?;
    Ok(done.rows_affected())
}

/// This table's code columns (see `codes`).
pub const TABLE: CodeTable = CodeTable::AccountCodes;

pub async fn delete_expired<'e>(ex: impl SqliteExecutor<'e>, now: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM account_codes WHERE expires_at <= ?").bind(now).execute(ex).await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codes;
    use crate::store::test_support::test_db;

    fn reset<'a>(key: &'a str, hash: &'a str, now: i64) -> NewCode<'a> {
        NewCode {
            subject: Subject::Reset(key),
            user_id: None,
            email_key: key,
            new_email: None,
            code_hash: hash,
            now,
            expires_at: now + 600,
        }
    }

    #[tokio::test]
    async fn replace_respects_the_cooldown_and_then_replaces_the_code() {
        let db = test_db().await;
        let first = replace(&db.pool, &reset("a@x.io", "h1", 100), 60).await.unwrap().unwrap();
        assert_eq!(replace(&db.pool, &reset("a@x.io", "h2", 130), 60).await.unwrap(), Err(30));
        // Another address is independent.
        assert!(replace(&db.pool, &reset("b@x.io", "h3", 130), 60).await.unwrap().is_ok());
        let second = replace(&db.pool, &reset("a@x.io", "h2", 160), 60).await.unwrap().unwrap();
        assert_ne!(first, second);
        let row = find(&db.pool, Subject::Reset("a@x.io")).await.unwrap().unwrap();
        assert_eq!((row.code_hash.as_str(), row.attempts, row.expires_at), ("h2", 0, 760));
    }

    #[tokio::test]
    async fn resets_and_email_changes_are_found_by_their_own_subject() {
        let db = test_db().await;
        sqlx::query("INSERT INTO users (id, username, username_key, email, email_key, password_hash, date_joined) VALUES (7,'a','a','a@x.io','a@x.io','h',1)")
            .execute(&db.pool)
            .await
            .unwrap();
        let change = NewCode {
            subject: Subject::EmailChange(7),
            user_id: Some(7),
            email_key: "new@x.io",
            new_email: Some("New@x.io"),
            code_hash: "h",
            now: 1,
            expires_at: 601,
        };
        replace(&db.pool, &change, 60).await.unwrap().unwrap();
        assert!(find(&db.pool, Subject::Reset("new@x.io")).await.unwrap().is_none());
        let row = find(&db.pool, Subject::EmailChange(7)).await.unwrap().unwrap();
        assert_eq!(row.new_email.as_deref(), Some("New@x.io"));
        assert_eq!(delete_for_user(&db.pool, 7).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn attempts_stop_at_the_limit_and_a_refund_gives_one_back() {
        let db = test_db().await;
        let id = replace(&db.pool, &reset("a@x.io", "h1", 100), 60).await.unwrap().unwrap();
        for n in 1..=5 {
            assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), Some(n));
        }
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), None);
        refund_attempt(&db.pool, id, "h1").await.unwrap();
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), Some(5));
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "other", 5).await.unwrap(), None);
    }

    #[tokio::test]
    async fn insert_if_absent_keeps_an_existing_row() {
        let db = test_db().await;
        replace(&db.pool, &reset("a@x.io", "real", 100), 60).await.unwrap().unwrap();
        insert_if_absent(&db.pool, &reset("a@x.io", "phantom", 110), 50).await.unwrap();
        assert_eq!(find(&db.pool, Subject::Reset("a@x.io")).await.unwrap().unwrap().code_hash, "real");
        assert_eq!(delete_expired(&db.pool, 700).await.unwrap(), 1);
    }
}
