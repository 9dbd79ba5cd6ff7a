//! Code mails per address, for the per-address sending limits.

pub use crate::limits::MailLimits;

/// Binds $1 address key, $2 requester, $3 now, $4 per minute, $5 per hour, $6 per address and hour.
pub(crate) const RESERVE: &str = "INSERT INTO mail_sends (address_key, requester, sent_at)
     SELECT $1, $2, $3
     WHERE (SELECT count(*) FROM mail_sends WHERE address_key = $1 AND requester = $2 AND sent_at > $3 - 60) < $4
       AND (SELECT count(*) FROM mail_sends WHERE address_key = $1 AND requester = $2 AND sent_at > $3 - 3600) < $5
       AND (SELECT count(*) FROM mail_sends WHERE address_key = $1 AND sent_at > $3 - 3600) < $6
     RETURNING id";

/// When the oldest send that still counts in a window stops counting: binds $1 address key, $2
/// now, $3 the window, $4 the limit minus one, $5 the requester (NULL: everyone's sends).
pub(crate) const WAIT: &str = "SELECT sent_at + $3 - $2 FROM mail_sends
     WHERE address_key = $1 AND ($5 IS NULL OR requester = $5) AND sent_at > $2 - $3
     ORDER BY sent_at DESC LIMIT 1 OFFSET $4";

/// The windows `WAIT` is asked about: (seconds, limit, per requester).
pub(crate) fn windows(limits: MailLimits) -> [(i64, i64, bool); 3] {
    [(60, limits.per_minute, true), (3600, limits.per_hour, true), (3600, limits.address_per_hour, false)]
}

pub(crate) const RELEASE: &str = "DELETE FROM mail_sends WHERE id = $1";

/// Binds $1 the oldest send kept.
pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM mail_sends WHERE sent_at <= $1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::mail_sends::*;
    use crate::store::test_support::test_db;

    const LIMITS: MailLimits = MailLimits { per_minute: 1, per_hour: 5, address_per_hour: 8 };

    #[tokio::test]
    async fn one_a_minute_and_five_an_hour_per_address_and_requester() {
        let db = test_db().await;
        let reserve = |address, at| reserve(&db.pool, address, "window", LIMITS, at);
        assert!(reserve("a@x.io", 1000).await.unwrap().is_ok());
        assert_eq!(reserve("a@x.io", 1030).await.unwrap(), Err(30));
        assert!(reserve("b@x.io", 1030).await.unwrap().is_ok(), "per address");
        for t in [1060, 1120, 1180, 1240] {
            assert!(reserve("a@x.io", t).await.unwrap().is_ok(), "{t}");
        }
        // Five in the hour: the next is allowed when the first of them is an hour old.
        assert_eq!(reserve("a@x.io", 1300).await.unwrap(), Err(3300));
        assert!(reserve("a@x.io", 4600).await.unwrap().is_ok());
    }

    /// Another requester's mails do not use up this one's, up to the address's own cap.
    #[tokio::test]
    async fn each_requester_has_its_own_allowance_within_the_addresss_cap() {
        let db = test_db().await;
        for t in [1000, 1060, 1120, 1180, 1240] {
            assert!(reserve(&db.pool, "a@x.io", "attacker", LIMITS, t).await.unwrap().is_ok());
        }
        assert!(reserve(&db.pool, "a@x.io", "attacker", LIMITS, 1300).await.unwrap().is_err());
        assert!(reserve(&db.pool, "a@x.io", "owner", LIMITS, 1300).await.unwrap().is_ok(), "the owner's own");
        for (who, t) in [("c", 1301), ("d", 1302)] {
            assert!(reserve(&db.pool, "a@x.io", who, LIMITS, t).await.unwrap().is_ok());
        }
        // Eight to the address within the hour: nobody's next goes until the first is an hour old.
        assert_eq!(reserve(&db.pool, "a@x.io", "e", LIMITS, 1400).await.unwrap(), Err(3200));
    }

    #[tokio::test]
    async fn a_released_slot_is_free_again() {
        let db = test_db().await;
        let id = reserve(&db.pool, "a@x.io", "window", LIMITS, 1000).await.unwrap().unwrap();
        release(&db.pool, id).await.unwrap();
        assert!(reserve(&db.pool, "a@x.io", "window", LIMITS, 1001).await.unwrap().is_ok());
        assert_eq!(delete_expired(&db.pool, 4601).await.unwrap(), 1);
    }
}
