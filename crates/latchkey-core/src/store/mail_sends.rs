//! Code mails per address, for the per-address sending limits.

use sqlx::{SqliteExecutor, SqlitePool};

use crate::error::Result;

/// At most `per_minute` mails in any 60 s and `per_hour` in any hour to one address.
#[derive(Debug, Clone, Copy)]
pub struct MailLimits {
    pub per_minute: i64,
    pub per_hour: i64,
}

/// Counts a mail to the address if the limits allow it, in one statement (so parallel requests
/// cannot both take the last slot): `Ok(id)` to release if the mail is not sent after all, or
/// `Err(seconds)` until one is allowed.
pub async fn reserve(pool: &SqlitePool, address_key: &str, limits: MailLimits, now: i64) -> Result<Result<i64, i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO mail_sends (address_key, sent_at)
         SELECT ?1, ?2
         WHERE (SELECT count(*) FROM mail_sends WHERE address_key = ?1 AND sent_at > ?2 - 60) < ?3
           AND (SELECT count(*) FROM mail_sends WHERE address_key = ?1 AND sent_at > ?2 - 3600) < ?4
         RETURNING id",
    )
    .bind(address_key)
    .bind(now)
    .bind(limits.per_minute)
    .bind(limits.per_hour)
    .fetch_optional(pool)
    .await?;
    if let Some(id) = id {
        return Ok(Ok(id));
    }
    // When the oldest send that still counts stops counting, per window.
    let wait = |window: i64, limit: i64| {
        sqlx::query_scalar::<_, i64>(
            "SELECT sent_at + ?3 - ?2 FROM mail_sends WHERE address_key = ?1 AND sent_at > ?2 - ?3
             ORDER BY sent_at DESC LIMIT 1 OFFSET ?4",
        )
        .bind(address_key)
        .bind(now)
        .bind(window)
        .bind(limit - 1)
        .fetch_optional(pool)
    };
    let minute = wait(60, limits.per_minute).await?.unwrap_or(0);
    let hour = wait(3600, limits.per_hour).await?.unwrap_or(0);
    Ok(Err(minute.max(hour).max(1)))
}

/// Gives the slot back: the mail could not be sent.
pub async fn release<'e>(ex: impl SqliteExecutor<'e>, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM mail_sends WHERE id = ?").bind(id).execute(ex).await?;
    Ok(())
}

pub async fn delete_expired<'e>(ex: impl SqliteExecutor<'e>, now: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM mail_sends WHERE sent_at <= ?").bind(now - 3600).execute(ex).await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::test_db;

    const LIMITS: MailLimits = MailLimits { per_minute: 1, per_hour: 5 };

    #[tokio::test]
    async fn one_a_minute_and_five_an_hour_per_address() {
        let db = test_db().await;
        assert!(reserve(&db.pool, "a@x.io", LIMITS, 1000).await.unwrap().is_ok());
        assert_eq!(reserve(&db.pool, "a@x.io", LIMITS, 1030).await.unwrap(), Err(30));
        assert!(reserve(&db.pool, "b@x.io", LIMITS, 1030).await.unwrap().is_ok(), "per address");
        for t in [1060, 1120, 1180, 1240] {
            assert!(reserve(&db.pool, "a@x.io", LIMITS, t).await.unwrap().is_ok(), "{t}");
        }
        // Five in the hour: the next is allowed when the first of them is an hour old.
        assert_eq!(reserve(&db.pool, "a@x.io", LIMITS, 1300).await.unwrap(), Err(3300));
        assert!(reserve(&db.pool, "a@x.io", LIMITS, 4600).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_released_slot_is_free_again() {
        let db = test_db().await;
        let id = reserve(&db.pool, "a@x.io", LIMITS, 1000).await.unwrap().unwrap();
        release(&db.pool, id).await.unwrap();
        assert!(reserve(&db.pool, "a@x.io", LIMITS, 1001).await.unwrap().is_ok());
        assert_eq!(delete_expired(&db.pool, 4601).await.unwrap(), 1);
    }
}
