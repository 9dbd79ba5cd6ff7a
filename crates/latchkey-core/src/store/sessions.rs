use sqlx::FromRow;

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
    /// When this session was last used (kept to the nearest `TOUCH_EVERY_SECS`); the devices
    /// list shows it, the profile does not.
    #[serde(skip)]
    pub last_seen_at: i64,
    /// Whether signing in needs an authenticator code (or a recovery code) after the password.
    #[serde(default)]
    pub second_factor: bool,
    #[serde(default)]
    pub recovery_codes_left: i64,
}

/// A session a sign-in began: its profile, and whether the sign-in's device and network are new
/// to the account (noted in the same transaction as the session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInRow {
    pub profile: ProfileRow,
    pub new_device: bool,
}

/// One session of an account, as its owner's devices list shows it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRow {
    /// The session's public id: random, never derived from the token.
    pub id: String,
    /// Whether this is the session that asked.
    pub current: bool,
    pub device: String,
    /// The client's address as the service resolved it; none on the desktop.
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// Binds $1 token hash, $2 account, $3 now, $4 expiry, $5 public id, $6 device, $7 address.
pub(crate) const INSERT: &str =
    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, public_id, device, ip, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $3)";

/// A session, only if the account is still the one read (same id, same hash, active). Binds $1
/// token hash, $2 now, $3 expiry, $4 account, $5 password hash, $6 public id, $7 device, $8
/// address.
pub(crate) const INSERT_IF_SEEN: &str =
    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, public_id, device, ip, last_seen_at)
     SELECT $1, id, $2, $3, $6, $7, $8, $2 FROM users WHERE id = $4 AND password_hash = $5 AND is_active";

/// Binds $1 token hash, $2 now.
pub(crate) const FIND_PROFILE: &str = "SELECT u.username, u.email, u.is_active, u.is_admin, u.date_joined,
       s.expires_at AS session_expires_at,
       (SELECT c.new_email FROM account_codes c
        WHERE c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > $2) AS pending_email,
       s.last_seen_at,
       EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.enabled_at IS NOT NULL) AS second_factor,
       (SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id) AS recovery_codes_left
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active";

/// Binds $1 token hash, $2 now. Written only when the last use is older than the step, so who-am-i
/// stays a read.
pub(crate) const TOUCH: &str = "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2";

/// The account's live sessions, newest use first. Binds $1 account, $2 the asking session's
/// token hash, $3 now.
pub(crate) const LIST: &str = "SELECT public_id AS id, token_hash = $2 AS current, device, ip, created_at, last_seen_at
     FROM sessions WHERE user_id = $1 AND expires_at > $3
     ORDER BY last_seen_at DESC, created_at DESC, public_id";

/// Keeps the hashes of the sessions `END_ONE`/`END_OTHERS` are about to end, so their next
/// request can say why. Binds $1 account, $2 the asking session's token hash, $3 now, $4 the
/// public id (NULL: every other session).
pub(crate) const REMEMBER_ENDED: &str = "INSERT INTO ended_sessions (token_hash, ended_at, expires_at)
     SELECT token_hash, $3, expires_at FROM sessions
     WHERE user_id = $1 AND token_hash <> $2 AND ($4 IS NULL OR public_id = $4)";

/// Binds $1 account, $2 the asking session's token hash, $3 the public id (NULL: every other
/// session). Never the asking session: that one signs out.
pub(crate) const END: &str =
    "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 AND ($3 IS NULL OR public_id = $3)";

/// Binds $1 token hash.
pub(crate) const WAS_ENDED: &str = "SELECT count(*) > 0 FROM ended_sessions WHERE token_hash = $1";

pub(crate) const DELETE_EXPIRED_ENDED: &str = "DELETE FROM ended_sessions WHERE expires_at <= $1";

/// Binds $1 token hash, $2 now.
pub(crate) const FIND_USER: &str =
    "SELECT u.id, u.username, u.username_key, u.email, u.email_key, u.password_hash, u.is_active, u.is_admin,
       u.date_joined
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active";

pub(crate) const DELETE_FOR_USER: &str = "DELETE FROM sessions WHERE user_id = $1";

pub(crate) const DELETE: &str = "DELETE FROM sessions WHERE token_hash = $1";

pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM sessions WHERE expires_at <= $1";

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::store::pending_signups::{NewPending, PendingRow};
    use crate::store::sqlite::lifecycle::complete_signup;
    use crate::store::sqlite::pending_signups::{find_by_owner, insert};
    use crate::store::sqlite::sessions::*;
    use crate::store::test_support::test_db;
    use sha2::Digest;
    use sqlx::SqlitePool;

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

    /// A session row begun at `now` until `expires_at`, its public id made from its token's hash.
    fn row_for(token_hash: &[u8; 32], now: i64, expires_at: i64) -> crate::store::NewSessionRow<'static> {
        let hash: &'static [u8; 32] = Box::leak(Box::new(*token_hash));
        let public_id: &'static str = Box::leak(format!("id-{}", token_hash[0]).into_boxed_str());
        crate::store::NewSessionRow {
            token_hash: hash,
            public_id,
            device: "Test",
            ip: None,
            network: "this computer",
            now,
            expires_at,
        }
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
        let profile =
            complete_signup(&db.pool, &row, &row.username, &row_for(&[7; 32], 20, 20 + 30 * 86_400)).await.unwrap();
        assert_eq!(profile.username, "ann");
        assert_eq!(profile.date_joined, 20);
        assert_eq!(counts(&db.pool).await, (1, 0, 1));
        // The same pending row cannot be used twice.
        assert!(matches!(
            complete_signup(&db.pool, &row, &row.username, &row_for(&[8; 32], 21, 99)).await,
            Err(Error::NoPendingSignup)
        ));
    }

    #[tokio::test]
    async fn verify_transaction_rolls_back_entirely_when_the_username_was_taken_meanwhile() {
        let db = test_db().await;
        let first = pending(&db.pool, "ann", "ann@example.com").await;
        complete_signup(&db.pool, &first, &first.username, &row_for(&[1; 32], 20, 99)).await.unwrap();
        let second = pending(&db.pool, "ann", "other@example.com").await;
        let result = complete_signup(&db.pool, &second, &second.username, &row_for(&[2; 32], 21, 99)).await;
        assert!(matches!(result, Err(Error::UsernameTaken)));
        // Nothing half-done: the pending row is still there, no second user, no second session.
        assert_eq!(counts(&db.pool).await, (1, 1, 1));
    }

    #[tokio::test]
    async fn sessions_end_at_their_expiry_and_with_their_user() {
        let db = test_db().await;
        let row = pending(&db.pool, "ann", "ann@example.com").await;
        complete_signup(&db.pool, &row, &row.username, &row_for(&[3; 32], 20, 100)).await.unwrap();
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
        complete_signup(&db.pool, &row, &row.username, &row_for(&[4; 32], 20, 100)).await.unwrap();
        sqlx::query("UPDATE users SET is_active = 0").execute(&db.pool).await.unwrap();
        assert!(find_profile(&db.pool, &[4; 32], 50).await.unwrap().is_none());
    }
}
