use sqlx::{FromRow, SqliteExecutor};

use crate::error::Result;

#[derive(Debug, Clone, Copy, FromRow, PartialEq, Eq)]
pub struct ThrottleRow {
    pub failures: i64,
    pub locked_until: i64,
}

pub async fn get<'e>(ex: impl SqliteExecutor<'e>, key: &str) -> Result<Option<ThrottleRow>> {
    Ok(sqlx::query_as("SELECT failures, locked_until FROM login_throttle WHERE identifier_key = ?")
        .bind(key)
        .fetch_optional(ex)
        .await?)
}

pub async fn set<'e>(ex: impl SqliteExecutor<'e>, key: &str, row: ThrottleRow, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO login_throttle (identifier_key, failures, locked_until, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (identifier_key) DO UPDATE SET
           failures = excluded.failures, locked_until = excluded.locked_until, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(row.failures)
    .bind(row.locked_until)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn clear<'e>(ex: impl SqliteExecutor<'e>, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE identifier_key = ?").bind(key).execute(ex).await?;
    Ok(())
}

/// Forgets counters untouched for a day whose lock has run out.
pub async fn delete_stale<'e>(ex: impl SqliteExecutor<'e>, now: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM login_throttle WHERE updated_at <= ? AND locked_until <= ?")
        .bind(now - 86_400)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}
