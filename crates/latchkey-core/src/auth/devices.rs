//! Where an account is signed in: its live sessions as devices, and ending them from another
//! device. A session is checked on every request, so an ended one stops at its next request.

use super::account::signed_in;
use super::secret::Token;
use super::{Device, Timestamp};
use crate::error::{Error, Result};
use crate::limits::{KNOWN_DEVICE_SECS, NEW_DEVICE_QUIET_SECS};
use crate::mail::{Letter, Mailer, Recipient};
use crate::store::{DeviceRow, EventKind, NewEvent, Store, UserRow};

/// After a sign-in whose transaction found its device and network new to the account (not seen
/// in 90 days; the account's first device is where it starts, not news): unless the account is
/// younger than 10 minutes, records `new_device` and mails the owner, after the answer. Nothing
/// here can fail the sign-in: a failure is logged.
pub(crate) fn tell_new_device_later(
    pool: &impl Store,
    mailer: &Mailer,
    user: &UserRow,
    device: Device<'_>,
    now: Timestamp,
) {
    if now - user.date_joined < NEW_DEVICE_QUIET_SECS {
        return;
    }
    let (pool, mailer, user_id) = (pool.clone(), mailer.clone(), user.id);
    let (name, address) = (user.username.clone(), user.email.clone());
    let (label, ip) = (device.label.to_string(), device.ip.map(str::to_string));
    tokio::spawn(async move {
        let event = NewEvent {
            user_id,
            at: now,
            kind: EventKind::NewDevice,
            device: Some(&label),
            ip: ip.as_deref(),
            session_id: None,
        };
        if let Err(e) = pool.record_event(&event).await {
            log::warn!("a new device was not recorded: {e}");
        }
        let to = Recipient { name: &name, address: &address };
        mailer.send_detached(to, Letter::NewSignIn { at: now, device: &label, from: ip.as_deref() });
    });
}

/// The oldest last use that still makes a device and network known to an account at `now`.
pub(crate) fn known_since(now: Timestamp) -> Timestamp {
    now - KNOWN_DEVICE_SECS
}

/// The account's live sessions, newest use first, the asking one marked `current`.
pub async fn list(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<Vec<DeviceRow>> {
    let user = signed_in(pool, token, now).await?;
    let digest = token.ok_or(Error::NotAuthenticated)?.digest();
    pool.list_sessions(user.id, &digest, now).await
}

/// Ends one of the account's sessions by its public id. An id that is not one of this account's
/// sessions is `no_such_session`, whoever's it is. The asking session's own id signs it out, as
/// "Sign out" does.
pub async fn revoke(pool: &impl Store, token: Option<&Token>, id: &str, now: Timestamp) -> Result<()> {
    let user = signed_in(pool, token, now).await?;
    let token = token.ok_or(Error::NotAuthenticated)?;
    let digest = token.digest();
    if pool.end_sessions(user.id, &digest, Some(id), now).await? == 1 {
        return Ok(());
    }
    // Not another session of this account: this one, or nobody's that this account may end.
    let mine = pool.list_sessions(user.id, &digest, now).await?;
    if mine.iter().any(|d| d.current && d.id == id) {
        pool.delete_session(&digest).await?;
        return Ok(());
    }
    Err(Error::NoSuchSession)
}

/// Ends every session of the account but the asking one; the number ended.
pub async fn revoke_others(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<u64> {
    let user = signed_in(pool, token, now).await?;
    let digest = token.ok_or(Error::NotAuthenticated)?.digest();
    pool.end_sessions(user.id, &digest, None, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::login::{self, TOUCH_EVERY_SECS};
    use crate::auth::signup::{self, tests::code_in, tests::outbox_mailer, SignupRequest};
    use crate::auth::{Device, NewSession, THIS_WINDOW};
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;
    const PW: &str = "correct horse battery";

    async fn account(db: &TestDb, name: &str) -> NewSession {
        let email = format!("{name}@example.com");
        let req = SignupRequest { username: name, email: &email, password: PW, replaces: None };
        let sent = signup::request_code(&db.pool, &outbox_mailer(db), req, THIS_WINDOW, T0).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        let code = code_in(&std::fs::read_to_string(path).unwrap());
        let laptop = Device { label: "Laptop", ip: Some("192.0.2.1") };
        signup::verify(&db.pool, &outbox_mailer(db), sent.signup_id(), &code, laptop, T0).await.unwrap()
    }

    async fn sign_in(db: &TestDb, name: &str, label: &str, at: Timestamp) -> NewSession {
        login::login(&db.pool, name, PW, Device { label, ip: None }, at).await.unwrap()
    }

    #[tokio::test]
    async fn the_list_shows_each_device_newest_use_first_with_this_one_marked() {
        let db = test_db().await;
        let laptop = account(&db, "ann").await;
        let phone = sign_in(&db, "ann", "Phone", T0 + 10).await;
        let listed = list(&db.pool, Some(&phone.token), T0 + 20).await.unwrap();
        let labels: Vec<_> = listed.iter().map(|d| (d.device.as_str(), d.current, d.ip.as_deref())).collect();
        assert_eq!(labels, [("Phone", true, None), ("Laptop", false, Some("192.0.2.1"))]);
        assert!(listed.iter().all(|d| d.id.len() >= 22 && !laptop.token.expose().contains(&d.id)));
        // Using the laptop later moves it first; within the step, the list does not change.
        let later = T0 + 10 + TOUCH_EVERY_SECS;
        login::whoami(&db.pool, Some(&laptop.token), later).await.unwrap();
        let listed = list(&db.pool, Some(&laptop.token), later + 1).await.unwrap();
        assert_eq!((listed[0].device.as_str(), listed[0].last_seen_at, listed[0].current), ("Laptop", later, true));
        login::whoami(&db.pool, Some(&laptop.token), later + TOUCH_EVERY_SECS - 1).await.unwrap();
        assert_eq!(list(&db.pool, Some(&laptop.token), later + 2).await.unwrap()[0].last_seen_at, later);
    }

    #[tokio::test]
    async fn a_revoked_session_stops_at_its_next_request_and_learns_why() {
        let db = test_db().await;
        let laptop = account(&db, "ann").await;
        let phone = sign_in(&db, "ann", "Phone", T0 + 10).await;
        let phone_id = list(&db.pool, Some(&phone.token), T0 + 11).await.unwrap()[0].id.clone();
        revoke(&db.pool, Some(&laptop.token), &phone_id, T0 + 12).await.unwrap();
        let after = login::whoami(&db.pool, Some(&phone.token), T0 + 13).await;
        assert!(matches!(after, Err(Error::SignedOutElsewhere)), "{after:?}");
        let mailer = outbox_mailer(&db);
        let started = login::startup(&db.pool, &mailer, T0 + 14, || async { Some(phone.token.clone()) }).await.unwrap();
        assert!(started.stale_token && started.signed_out_elsewhere);
        // The laptop goes on; ending the same session again finds nothing.
        assert!(login::whoami(&db.pool, Some(&laptop.token), T0 + 15).await.is_ok());
        let again = revoke(&db.pool, Some(&laptop.token), &phone_id, T0 + 16).await;
        assert!(matches!(again, Err(Error::NoSuchSession)));
    }

    /// The attacker: a signed-in account that learned another account's session id.
    #[tokio::test]
    async fn another_accounts_session_cannot_be_ended_and_is_answered_like_no_session() {
        let db = test_db().await;
        let ann = account(&db, "ann").await;
        let eve = account(&db, "eve").await;
        let anns_id = list(&db.pool, Some(&ann.token), T0 + 1).await.unwrap()[0].id.clone();
        let theirs = revoke(&db.pool, Some(&eve.token), &anns_id, T0 + 2).await;
        let nobodys = revoke(&db.pool, Some(&eve.token), "AAAAAAAAAAAAAAAAAAAAAA", T0 + 2).await;
        assert!(matches!(theirs, Err(Error::NoSuchSession)) && matches!(nobodys, Err(Error::NoSuchSession)));
        assert!(login::whoami(&db.pool, Some(&ann.token), T0 + 3).await.is_ok());
        assert_eq!(revoke_others(&db.pool, Some(&eve.token), T0 + 4).await.unwrap(), 0);
        assert!(login::whoami(&db.pool, Some(&ann.token), T0 + 5).await.is_ok());
        assert!(matches!(list(&db.pool, None, T0).await, Err(Error::NotAuthenticated)));
    }

    #[tokio::test]
    async fn signing_out_every_other_device_keeps_this_one() {
        let db = test_db().await;
        let laptop = account(&db, "ann").await;
        let others = [sign_in(&db, "ann", "Phone", T0 + 1).await, sign_in(&db, "ann", "Tablet", T0 + 2).await];
        assert_eq!(revoke_others(&db.pool, Some(&laptop.token), T0 + 3).await.unwrap(), 2);
        for other in &others {
            assert!(matches!(
                login::whoami(&db.pool, Some(&other.token), T0 + 4).await,
                Err(Error::SignedOutElsewhere)
            ));
        }
        let left = list(&db.pool, Some(&laptop.token), T0 + 5).await.unwrap();
        assert_eq!(left.len(), 1);
        // This device's own id is a sign-out of this device.
        revoke(&db.pool, Some(&laptop.token), &left[0].id, T0 + 6).await.unwrap();
        assert!(matches!(login::whoami(&db.pool, Some(&laptop.token), T0 + 7).await, Err(Error::NotAuthenticated)));
    }

    /// The marks of ended sessions go when the sessions would have expired.
    #[tokio::test]
    async fn ended_marks_are_purged_with_the_expiry() {
        let db = test_db().await;
        let laptop = account(&db, "ann").await;
        let phone = sign_in(&db, "ann", "Phone", T0 + 1).await;
        revoke_others(&db.pool, Some(&laptop.token), T0 + 2).await.unwrap();
        let ended = |pool| async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ended_sessions").fetch_one(pool).await.unwrap()
        };
        assert_eq!(ended(&db.pool).await, 1);
        db.pool.purge_expired(phone.profile.session_expires_at).await.unwrap();
        assert_eq!(ended(&db.pool).await, 0);
    }
}
