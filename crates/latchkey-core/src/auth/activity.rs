//! An account's security activity: what happened to it, newest first, as its owner sees it.

use super::account::signed_in;
use super::secret::Token;
use super::Timestamp;
use crate::error::{Error, Result};
use crate::limits::ACTIVITY_SHOWN_SECS;
use crate::store::{EventRow, Store};

/// The most events one page holds.
pub const PAGE_MAX: i64 = 100;

/// A page of the last 90 days' events, newest first: the first page without `before`, the next
/// with the last event's id.
pub async fn list(
    pool: &impl Store,
    token: Option<&Token>,
    before: Option<i64>,
    limit: Option<i64>,
    now: Timestamp,
) -> Result<Vec<EventRow>> {
    let limit = limit.unwrap_or(PAGE_MAX);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(Error::invalid("limit", format!("Ask for 1 to {PAGE_MAX} events at a time.")));
    }
    let user = signed_in(pool, token, now).await?;
    pool.list_events(user.id, now - ACTIVITY_SHOWN_SECS, before.unwrap_or(i64::MAX), limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::login;
    use crate::auth::signup::{self, tests::code_in, tests::outbox_mailer, SignupRequest};
    use crate::auth::{devices, Device, NewSession, THIS_WINDOW};
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;
    const PW: &str = "correct horse battery";
    const LAPTOP: Device<'static> = Device { label: "Laptop", ip: Some("192.0.2.1") };

    async fn account(db: &TestDb, name: &str) -> NewSession {
        let email = format!("{name}@example.com");
        let req = SignupRequest { username: name, email: &email, password: PW, replaces: None };
        let sent = signup::request_code(&db.pool, &outbox_mailer(db), req, THIS_WINDOW, T0).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        let code = code_in(&std::fs::read_to_string(path).unwrap());
        signup::verify(&db.pool, &outbox_mailer(db), sent.signup_id(), &code, LAPTOP, T0).await.unwrap()
    }

    fn kinds(events: &[EventRow]) -> Vec<&str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    /// Lets the failed sign-ins, recorded after their answer, land.
    async fn settled(db: &TestDb, n: i64) {
        for _ in 0..200 {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM security_events").fetch_one(&db.pool).await.unwrap();
            if count >= n {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("fewer than {n} events");
    }

    #[tokio::test]
    async fn each_change_is_recorded_once_newest_first_and_only_for_its_account() {
        let db = test_db().await;
        let me = account(&db, "ann").await;
        let eve = account(&db, "eve").await;
        let phone = Device { label: "Phone", ip: Some("198.51.100.9") };
        let other = login::login(&db.pool, "ann", PW, phone, T0 + 10).await.unwrap();
        let _ = login::login(&db.pool, "ann", "wrong horse battery", phone, T0 + 11).await;
        settled(&db, 4).await;
        let id = devices::list(&db.pool, Some(&me.token), T0 + 12).await.unwrap();
        let phone_id = id.iter().find(|d| d.device == "Phone").unwrap().id.clone();
        devices::revoke(&db.pool, Some(&me.token), &phone_id, T0 + 12).await.unwrap();

        let events = list(&db.pool, Some(&me.token), None, None, T0 + 13).await.unwrap();
        assert_eq!(kinds(&events), ["session_revoked", "sign_in_failed", "sign_in", "signed_up"]);
        assert_eq!(events[0].device.as_deref(), Some("Phone"));
        assert_eq!((events[2].device.as_deref(), events[2].ip.as_deref()), (Some("Phone"), Some("198.51.100.9")));
        assert_eq!(events[3].at, T0);
        // Eve sees only her own.
        assert_eq!(kinds(&list(&db.pool, Some(&eve.token), None, None, T0 + 13).await.unwrap()), ["signed_up"]);
        drop(other);

        // Pages: newest first, the next page before the last id.
        let first = list(&db.pool, Some(&me.token), None, Some(2), T0 + 13).await.unwrap();
        let next = list(&db.pool, Some(&me.token), Some(first[1].id), Some(2), T0 + 13).await.unwrap();
        assert_eq!(kinds(&first), ["session_revoked", "sign_in_failed"]);
        assert_eq!(kinds(&next), ["sign_in", "signed_up"]);
        assert!(matches!(list(&db.pool, Some(&me.token), None, Some(0), T0).await, Err(Error::InvalidInput { .. })));
        // The list shows 90 days.
        let later = list(&db.pool, Some(&me.token), None, None, T0 + ACTIVITY_SHOWN_SECS + 12).await;
        assert!(matches!(later, Err(Error::NotAuthenticated)), "the session ended long before");
    }

    /// A flood of sign-ins at a locked account writes one event a minute, not one per attempt.
    #[tokio::test]
    async fn a_locked_account_records_refused_sign_ins_at_most_once_a_minute() {
        let db = test_db().await;
        let me = account(&db, "ann").await;
        for i in 0..crate::limits::LOGIN_FREE_FAILURES {
            let _ = login::login(&db.pool, "ann", "wrong horse battery", LAPTOP, T0 + i).await;
        }
        for i in 0..20 {
            let refused = login::login(&db.pool, "ann", PW, LAPTOP, T0 + 10 + i).await;
            assert!(matches!(refused, Err(Error::LoginThrottled { .. })), "{refused:?}");
        }
        settled(&db, 1 + crate::limits::LOGIN_FREE_FAILURES + 1).await;
        let events = list(&db.pool, Some(&me.token), None, None, T0 + 40).await.unwrap();
        assert_eq!(kinds(&events).iter().filter(|k| **k == "sign_in_throttled").count(), 1);
    }
}
