//! Requests per client address per minute (the HTTP service's per-address limit).

use sqlx::SqliteExecutor;

use crate::error::Result;

/// Counts one request from `ip` in the window that starts at `window_start`; returns the count
/// including it. One statement, so simultaneous requests through several processes all count.
pub async fn count<'e>(ex: impl SqliteExecutor<'e>, ip: &str, window_start: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO ip_requests (ip, window_start, count) VALUES (?, ?, 1)
         ON CONFLICT (ip, window_start) DO UPDATE SET count = count + 1 RETURNING count",
    )
    .bind(ip)
    .bind(window_start)
    .fetch_one(ex)
    .await?)
}

/// Forgets windows that ended before `before`.
pub async fn delete_before<'e>(ex: impl SqliteExecutor<'e>, before: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM ip_requests WHERE window_start < ?").bind(before).execute(ex).await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::test_db;

    #[tokio::test]
    async fn counts_per_address_and_window_and_forgets_old_windows() {
        let db = test_db().await;
        assert_eq!(count(&db.pool, "192.0.2.1", 60).await.unwrap(), 1);
        assert_eq!(count(&db.pool, "192.0.2.1", 60).await.unwrap(), 2);
        assert_eq!(count(&db.pool, "192.0.2.2", 60).await.unwrap(), 1);
        assert_eq!(count(&db.pool, "192.0.2.1", 120).await.unwrap(), 1);
        assert_eq!(delete_before(&db.pool, 120).await.unwrap(), 2);
        assert_eq!(count(&db.pool, "192.0.2.1", 60).await.unwrap(), 1);
    }
}
