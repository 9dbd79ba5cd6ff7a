use sqlx::FromRow;

use super::codes::CodeTable;

#[derive(Debug, Clone, FromRow)]
pub struct PendingRow {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub email: String,
    pub email_key: String,
    pub password_hash: String,
    pub code_hash: String,
    pub attempts: i64,
    pub last_sent_at: i64,
    pub expires_at: i64,
}

pub struct NewPending<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub email: &'a str,
    pub email_key: &'a str,
    pub password_hash: &'a str,
    pub code_hash: &'a str,
    /// SHA-256 of the sign-up id the window holds.
    pub owner_hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

pub(crate) const DELETE_BY_OWNER: &str = "DELETE FROM pending_signups WHERE owner_hash = $1";

/// Binds $1 username, $2 its key, $3 address, $4 its key, $5 password hash, $6 code hash, $7 owner
/// hash, $8 now, $9 expiry.
pub(crate) const INSERT: &str = "INSERT INTO pending_signups
       (username, username_key, email, email_key, password_hash, code_hash, owner_hash, attempts, created_at,
        last_sent_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $9) RETURNING id";

pub(crate) const FIND_BY_OWNER: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, code_hash, attempts, last_sent_at, expires_at
     FROM pending_signups WHERE owner_hash = $1";

/// Binds $1 address key, $2 username key.
pub(crate) const FIND_BY_ADDRESS: &str =
    "SELECT id, username, username_key, email, email_key, password_hash, code_hash, attempts, last_sent_at, expires_at
     FROM pending_signups WHERE email_key = $1 AND username_key = $2 ORDER BY id DESC LIMIT 5";

/// This table's code columns (see `codes`).
pub const TABLE: CodeTable = CodeTable::PendingSignups;

pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM pending_signups WHERE expires_at <= $1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codes::CodeState;
    use crate::store::sqlite::codes;
    use crate::store::sqlite::pending_signups::*;
    use crate::store::test_support::test_db;

    fn pending<'a>(username_key: &'a str, email_key: &'a str, code_hash: &'a str, owner: &'a [u8]) -> NewPending<'a> {
        NewPending {
            username: username_key,
            username_key,
            email: email_key,
            email_key,
            password_hash: "$argon2id$pw",
            code_hash,
            owner_hash: owner,
            now: 100,
            expires_at: 700,
        }
    }

    #[tokio::test]
    async fn each_owner_has_its_own_row_and_replaces_only_its_own() {
        let db = test_db().await;
        insert(&db.pool, &pending("ann", "ann@example.com", "h1", &[1; 32]), None).await.unwrap();
        // Someone else, same name and address: a second row; the first is untouched.
        insert(&db.pool, &pending("ann", "ann@example.com", "h2", &[2; 32]), None).await.unwrap();
        // The first owner submits again: only its own row is replaced.
        insert(&db.pool, &pending("ann", "ann@example.com", "h3", &[1; 32]), Some(&[1; 32])).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_signups").fetch_one(&db.pool).await.unwrap();
        assert_eq!(n, 2);
        assert_eq!(find_by_owner(&db.pool, &[1; 32]).await.unwrap().unwrap().code_hash, "h3");
        assert_eq!(find_by_owner(&db.pool, &[2; 32]).await.unwrap().unwrap().code_hash, "h2");
    }

    #[tokio::test]
    async fn attempts_stop_at_the_limit_and_need_the_current_code() {
        let db = test_db().await;
        let id = insert(&db.pool, &pending("ann", "ann@example.com", "h1", &[1; 32]), None).await.unwrap();
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "old", 5).await.unwrap(), None);
        for n in 1..=5 {
            assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), Some(n));
        }
        assert_eq!(codes::reserve_attempt(&db.pool, TABLE, id, "h1", 5).await.unwrap(), None);
    }

    #[tokio::test]
    async fn swap_code_is_conditional_on_the_current_code() {
        let db = test_db().await;
        let id = insert(&db.pool, &pending("ann", "ann@example.com", "h1", &[1; 32]), None).await.unwrap();
        let h1 = CodeState { code_hash: "h1", attempts: 0, last_sent_at: 100, expires_at: 700 };
        let h2 = CodeState { code_hash: "h2", attempts: 0, last_sent_at: 200, expires_at: 800 };
        assert!(codes::swap_code(&db.pool, TABLE, id, &h1, &h2).await.unwrap());
        assert!(!codes::swap_code(&db.pool, TABLE, id, &h1, &h2).await.unwrap());
        let row = find_by_owner(&db.pool, &[1; 32]).await.unwrap().unwrap();
        assert_eq!((row.code_hash.as_str(), row.expires_at), ("h2", 800));
    }

    #[tokio::test]
    async fn expiry_purge_keeps_live_rows() {
        let db = test_db().await;
        insert(&db.pool, &pending("ann", "ann@example.com", "h1", &[1; 32]), None).await.unwrap();
        assert_eq!(delete_expired(&db.pool, 699).await.unwrap(), 0);
        assert_eq!(delete_expired(&db.pool, 700).await.unwrap(), 1);
    }
}
