//! The HTTP service's per-address limit: at most `per_minute` requests from one client address in
//! a clock minute, on top of the per-account rules (login throttle, code attempts, mail limits).

use crate::store::Store;

use super::Timestamp;
use crate::error::{Error, Result};

const WINDOW_SECS: i64 = 60;

pub async fn claim(pool: &impl Store, ip: &str, per_minute: i64, now: Timestamp) -> Result<()> {
    let window_start = now - now.rem_euclid(WINDOW_SECS);
    let count = pool.count_ip_request(ip, window_start).await?;
    if count == 1 {
        // The first request of a window sweeps the ones before the last.
        pool.delete_ip_requests_before(window_start - WINDOW_SECS).await?;
    }
    if count > per_minute {
        return Err(Error::RateLimited { seconds: window_start + WINDOW_SECS - now });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::test_db;

    #[tokio::test]
    async fn the_request_over_the_limit_waits_for_the_next_minute() {
        let db = test_db().await;
        let t0: i64 = 30_000_000 * 60; // the start of a minute
        for i in 0..3 {
            claim(&db.pool, "198.51.100.7", 3, t0 + i).await.unwrap();
        }
        let err = claim(&db.pool, "198.51.100.7", 3, t0 + 15).await.unwrap_err();
        assert!(matches!(err, Error::RateLimited { seconds: 45 }), "{err:?}");
        claim(&db.pool, "198.51.100.8", 3, t0 + 15).await.unwrap();
        claim(&db.pool, "198.51.100.7", 3, t0 + 60).await.unwrap();
    }
}
