//! Consecutive failed password checks per account (or per identifier no account has).

use sqlx::FromRow;

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

/// Why a reservation was refused, from the counter's row as it is now (both engines).
pub(crate) fn refused(row: Option<ThrottleRow>, policy: LockPolicy, now: i64) -> Reservation {
    match row {
        Some(t) if t.failures >= policy.hard_limit => Reservation::LockedForGood,
        Some(t) => Reservation::Locked { until: t.locked_until },
        // Cleared by a success in between: try again later rather than loop here.
        None => Reservation::Locked { until: now + 1 },
    }
}

pub(crate) const GET: &str = "SELECT failures, locked_until FROM login_throttle WHERE identifier_key = $1";

pub(crate) const CLEAR: &str = "DELETE FROM login_throttle WHERE identifier_key = $1";

/// Binds $1 the oldest update kept, $2 now, $3 the hard limit.
pub(crate) const DELETE_STALE: &str =
    "DELETE FROM login_throttle WHERE updated_at <= $1 AND locked_until <= $2 AND failures < $3";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::login_throttle::*;
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
