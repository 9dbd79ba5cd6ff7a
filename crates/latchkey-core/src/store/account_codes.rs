//! Codes for an existing account: password resets (found by the id their requester holds) and
//! email changes (found by account). The SQL is written once, with `$N` placeholders both SQLite
//! and PostgreSQL read.

use sqlx::FromRow;

use super::codes::{CodeState, CodeTable};

/// Which row a request is about: a reset by the SHA-256 of the reset id its requester holds, an
/// email change by its account.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Reset(&'a [u8]),
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

    pub(crate) fn owner(self) -> Option<&'a [u8]> {
        match self {
            Subject::Reset(owner) => Some(owner),
            Subject::EmailChange(_) => None,
        }
    }

    pub(crate) fn account(self) -> Option<i64> {
        match self {
            Subject::Reset(_) => None,
            Subject::EmailChange(id) => Some(id),
        }
    }

    /// What PostgreSQL's advisory lock for a read-count-write step on this subject is named.
    pub(crate) fn lock_name(self) -> String {
        match self {
            Subject::Reset(owner) => format!("reset:{}", owner.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            Subject::EmailChange(id) => format!("email_change:{id}"),
        }
    }
}

/// Selects the subject's row; binds $1 purpose, $2 owner hash, $3 account id.
const SUBJECT: &str =
    "purpose = $1 AND (($1 = 'password_reset' AND owner_hash = $2) OR ($1 = 'email_change' AND user_id = $3))";

/// Binds the subject, then $4 now minus the cooldown and $5 now: a code sent long enough ago, or
/// expired, makes way for a new one.
pub(crate) fn clear_stale_sql() -> String {
    format!("DELETE FROM account_codes WHERE {SUBJECT} AND (last_sent_at <= $4 OR expires_at <= $5)")
}

pub(crate) fn last_sent_sql() -> String {
    format!("SELECT last_sent_at FROM account_codes WHERE {SUBJECT}")
}

pub(crate) fn find_sql() -> String {
    format!(
        "SELECT id, user_id, email_key, new_email, code_hash, attempts, last_sent_at, expires_at
         FROM account_codes WHERE {SUBJECT}"
    )
}

/// Binds $1 purpose, $2 account, $3 address key, $4 new address, $5 code hash, $6 now, $7 expiry,
/// $8 owner hash.
pub(crate) const INSERT: &str = "INSERT INTO account_codes
       (purpose, user_id, email_key, new_email, code_hash, attempts, created_at, last_sent_at, expires_at, owner_hash)
     VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7, $8) RETURNING id";

pub(crate) const REFUND: &str =
    "UPDATE account_codes SET attempts = attempts - 1 WHERE id = $1 AND code_hash = $2 AND attempts > 0";

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

pub(crate) const DELETE_FOR_USER: &str = "DELETE FROM account_codes WHERE user_id = $1";

/// This table's code columns (see `codes`).
pub const TABLE: CodeTable = CodeTable::AccountCodes;

pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM account_codes WHERE expires_at <= $1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::account_codes::*;
    use crate::store::sqlite::codes;
    use crate::store::test_support::test_db;

    fn reset<'a>(owner: &'a [u8], key: &'a str, hash: &'a str, now: i64) -> NewCode<'a> {
        NewCode {
            subject: Subject::Reset(owner),
            user_id: None,
            email_key: key,
            new_email: None,
            code_hash: hash,
            now,
            expires_at: now + 600,
        }
    }

    const MINE: &[u8] = &[1; 32];
    const THEIRS: &[u8] = &[2; 32];

    #[tokio::test]
    async fn replace_respects_the_cooldown_and_then_replaces_the_code() {
        let db = test_db().await;
        let first = replace(&db.pool, &reset(MINE, "a@x.io", "h1", 100), 60).await.unwrap().unwrap();
        assert_eq!(replace(&db.pool, &reset(MINE, "a@x.io", "h2", 130), 60).await.unwrap(), Err(30));
        // Another requester's reset of the same address is its own row.
        assert!(replace(&db.pool, &reset(THEIRS, "a@x.io", "h3", 130), 60).await.unwrap().is_ok());
        let second = replace(&db.pool, &reset(MINE, "a@x.io", "h2", 160), 60).await.unwrap().unwrap();
        assert_ne!(first, second);
        let row = find(&db.pool, Subject::Reset(MINE)).await.unwrap().unwrap();
        assert_eq!((row.code_hash.as_str(), row.attempts, row.expires_at), ("h2", 0, 760));
        assert_eq!(find(&db.pool, Subject::Reset(THEIRS)).await.unwrap().unwrap().code_hash, "h3");
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
        assert!(find(&db.pool, Subject::Reset(MINE)).await.unwrap().is_none());
        let row = find(&db.pool, Subject::EmailChange(7)).await.unwrap().unwrap();
        assert_eq!(row.new_email.as_deref(), Some("New@x.io"));
        assert_eq!(delete_for_user(&db.pool, 7).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn attempts_stop_at_the_limit_and_a_refund_gives_one_back() {
        let db = test_db().await;
        let id = replace(&db.pool, &reset(MINE, "a@x.io", "h1", 100), 60).await.unwrap().unwrap();
        for n in 1..=5 {
            assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), Some(n));
        }
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), None);
        refund_attempt(&db.pool, id, "h1").await.unwrap();
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), Some(5));
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "other", 5).await.unwrap(), None);
        assert_eq!(delete_expired(&db.pool, 700).await.unwrap(), 1);
    }
}
