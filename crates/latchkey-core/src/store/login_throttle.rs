//! Consecutive failed password checks per account (or per identifier no account has).

use sqlx::{FromRow, SqliteExecutor};

use crate::error::Result;

#[derive(Debug, Clone, Copy, FromRow, PartialEq, Eq)]
pub struct ThrottleRow {
    pub failures: i64,
    pub locked_until: i64,
}

/// How a failure count turns into a lock, so the store can apply it in the same statement that
/// counts the attempt.
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    /// Failures allowed before the first lock.
    pub free: i64,
    pub base_secs: i64,
    pub max_secs: i64,
    /// After this many failures in a row, only a password reset unlocks.
    pub hard_limit: i64,
}

/// What a reservation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// This attempt is number `n` in a row; its check may run. The lock it would cause if it fails
    /// is already in place, so no parallel attempt slips past the limit.
    Granted { n: i64 },
    /// Locked until this time.
    Locked { until: i64 },
    /// Locked until the password is reset.
    LockedForGood,
}

/// Counts one attempt before the password is checked, atomically, and sets the lock its failure
/// would cause. A success then calls `clear`.
pub async fn reserve<'e, E>(ex: E, key: &str, policy: LockPolicy, now: i64) -> Result<Reservation>
where
    E: SqliteExecutor<'e> + Copy,
{
    // $1 key, $2 now, $3 free, $4 base, $5 max, $6 hard limit. The lock for attempt n (n >= free):
    // base doubled (n - free) times, at most max. PostgreSQL's upsert is written differently
    // (`postgres::RESERVE_LOGIN`: LEAST for min, a cast, the table named by an alias).
    let granted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO login_throttle (identifier_key, failures, locked_until, updated_at)
         VALUES ($1, 1, CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END, $2)
         ON CONFLICT (identifier_key) DO UPDATE SET
           failures = failures + 1,
           locked_until = CASE WHEN failures + 1 >= $3
                          THEN $2 + min($4 << min(failures + 1 - $3, 10), $5) ELSE 0 END,
           updated_at = $2
         WHERE locked_until <= $2 AND failures < $6
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(policy.free)
    .bind(policy.base_secs)
    .bind(policy.max_secs)
    .bind(policy.hard_limit)
    .fetch_optional(ex)
    .await?;
    if let Some(n) = granted {
        return Ok(Reservation::Granted { n });
    }
    Ok(refused(get(ex, key).await?, policy, now))
}

/// Why a reservation was refused, from the counter's row as it is now (both engines).
pub(crate) fn refused(row: Option<ThrottleRow>, policy: LockPolicy, now: i64) -> Reservation {
    match row {
        Some(t) if t.failures >= policy.hard_limit => Reservation::LockedForGood,
        Some(t) => Reservation::Locked { until: t.locked_until },
        // Cleared by a success in between: try again later rather than loop here.
        None => Reservation::Locked { until: now + 1 },
    }
}

pub async fn get<'e>(ex: impl SqliteExecutor<'e>, key: &str) -> Result<Option<ThrottleRow>> {
    Ok(sqlx::query_as(GET).bind(key).fetch_optional(ex).await?)
}

pub(crate) const GET: &str = "SELECT failures, locked_until FROM login_throttle WHERE identifier_key = $1";

pub async fn clear<'e>(ex: impl SqliteExecutor<'e>, key: &str) -> Result<()> {
    sqlx::query(CLEAR).bind(key).execute(ex).await?;
    Ok(())
}

pub(crate) const CLEAR: &str = "DELETE FROM login_throttle WHERE identifier_key = $1";

/// Forgets counters untouched for a day whose lock has run out; a hard lock stays until a reset.
pub async fn delete_stale<'e>(ex: impl SqliteExecutor<'e>, now: i64, hard_limit: i64) -> Result<u64> {
    let done = sqlx::query(DELETE_STALE)
        .bind(now - crate::limits::LOGIN_THROTTLE_KEEP_SECS)
        .bind(now)
        .bind(hard_limit)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// Binds $1 the oldest update kept, $2 now, $3 the hard limit.
pub(crate) const DELETE_STALE: &str =
    "DELETE FROM login_throttle WHERE updated_at <= $1 AND locked_until <= $2 AND failures < $3";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::test_db;

    const POLICY: LockPolicy = LockPolicy { free: 5, base_secs: 30, max_secs: 900, hard_limit: 100 };

    #[tokio::test]
    async fn the_fifth_reservation_already_holds_the_lock_its_failure_would_cause() {
        let db = test_db().await;
        for n in 1..=5 {
            assert_eq!(reserve(&db.pool, "k", POLICY, 100).await.unwrap(), Reservation::Granted { n });
        }
        assert_eq!(reserve(&db.pool, "k", POLICY, 100).await.unwrap(), Reservation::Locked { until: 130 });
        assert_eq!(reserve(&db.pool, "k", POLICY, 130).await.unwrap(), Reservation::Granted { n: 6 });
        assert_eq!(get(&db.pool, "k").await.unwrap().unwrap().locked_until, 190);
        clear(&db.pool, "k").await.unwrap();
        assert_eq!(reserve(&db.pool, "k", POLICY, 131).await.unwrap(), Reservation::Granted { n: 1 });
    }

    #[tokio::test]
    async fn the_hundredth_failure_locks_for_good_and_survives_the_purge() {
        let db = test_db().await;
        sqlx::query("INSERT INTO login_throttle VALUES ('k', 99, 0, 0)").execute(&db.pool).await.unwrap();
        assert_eq!(reserve(&db.pool, "k", POLICY, 10).await.unwrap(), Reservation::Granted { n: 100 });
        let far = 10 + 10 * 86_400;
        assert_eq!(reserve(&db.pool, "k", POLICY, far).await.unwrap(), Reservation::LockedForGood);
        assert_eq!(delete_stale(&db.pool, far, 100).await.unwrap(), 0);
        clear(&db.pool, "k").await.unwrap();
        assert_eq!(reserve(&db.pool, "k", POLICY, far).await.unwrap(), Reservation::Granted { n: 1 });
    }
}
