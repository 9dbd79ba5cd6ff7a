//! "Download my data": everything Latchkey keeps about an account, for its owner, behind the
//! password (a wrong one counts as a failed sign-in), with a notice to the account's address.

use serde::{Deserialize, Serialize};

use super::account::{confirm_password, notify, signed_in};
use super::secret::Token;
use super::{login, Timestamp};
use crate::error::Result;
use crate::mail::{Letter, Mailer};
use crate::store::ProfileRow as Profile;
use crate::store::{DeviceRow, EventKind, EventRow, NewEvent, Store};

/// The file's shape. Never a password hash, a code or a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataExport {
    /// Which shape this is, for whoever reads the file later.
    pub format: String,
    pub exported_at: Timestamp,
    pub profile: Profile,
    /// Where the account is signed in now.
    pub devices: Vec<DeviceRow>,
    pub pending_changes: PendingChanges,
    /// Every security event kept (up to the retention period), newest first.
    pub activity: Vec<EventRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingChanges {
    /// The new address of an email change waiting for its code.
    pub email_change_to: Option<String>,
}

/// What `export` answers: the data, and whether the notice went out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exported {
    #[serde(flatten)]
    pub data: DataExport,
    pub notice_sent: bool,
}

pub const FORMAT: &str = "latchkey-data-1";

pub async fn export(
    pool: &impl Store,
    mailer: &Mailer,
    token: Option<&Token>,
    password: &str,
    now: Timestamp,
) -> Result<Exported> {
    let user = signed_in(pool, token, now).await?;
    confirm_password(pool, &user, password, now).await?;
    let event =
        NewEvent { user_id: user.id, at: now, kind: EventKind::DataExported, device: None, ip: None, session_id: None };
    pool.record_event(&event).await?;
    let profile = login::whoami(pool, token, now).await?;
    let digest = token.map(Token::digest).unwrap_or_default();
    let devices = pool.list_sessions(user.id, &digest, now).await?;
    let activity = pool.list_events(user.id, 0, i64::MAX, i64::MAX).await?;
    let pending_changes = PendingChanges { email_change_to: profile.pending_email.clone() };
    let data = DataExport { format: FORMAT.to_string(), exported_at: now, profile, devices, pending_changes, activity };
    let notice_sent = notify(mailer, &user, Letter::DataExported).await;
    Ok(Exported { data, notice_sent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::signup::{self, tests::code_in, tests::outbox_mailer, SignupRequest};
    use crate::auth::{NewSession, TEST_DEVICE, THIS_WINDOW};
    use crate::error::Error;
    use crate::store::test_support::{test_db, TestDb};

    const T0: Timestamp = 1_800_000_000;
    const PW: &str = "correct horse battery";

    async fn account(db: &TestDb) -> NewSession {
        let req = SignupRequest { username: "ann", email: "ann@example.com", password: PW, replaces: None };
        let sent = signup::request_code(&db.pool, &outbox_mailer(db), req, THIS_WINDOW, T0).await.unwrap();
        let crate::mail::Delivery::Outbox { path } = &sent.delivery else { panic!() };
        let code = code_in(&std::fs::read_to_string(path).unwrap());
        signup::verify(&db.pool, &outbox_mailer(db), sent.signup_id(), &code, TEST_DEVICE, T0).await.unwrap()
    }

    #[tokio::test]
    async fn the_export_holds_the_profile_devices_and_activity_and_never_a_secret() {
        let db = test_db().await;
        let me = account(&db).await;
        let done = export(&db.pool, &outbox_mailer(&db), Some(&me.token), PW, T0 + 5).await.unwrap();
        assert!(done.notice_sent);
        let data = &done.data;
        assert_eq!((data.profile.username.as_str(), data.devices.len()), ("ann", 1));
        assert!(data.devices[0].current);
        let kinds: Vec<&str> = data.activity.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["data_exported", "signed_up"]);
        let json = serde_json::to_string(&done).unwrap();
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&db.pool).await.unwrap();
        for secret in [me.token.expose(), PW, hash.as_str()] {
            assert!(!json.contains(secret));
        }
    }

    #[tokio::test]
    async fn a_wrong_password_exports_nothing_and_counts_as_a_failed_sign_in() {
        let db = test_db().await;
        let me = account(&db).await;
        for i in 0..crate::limits::LOGIN_FREE_FAILURES {
            let wrong = export(&db.pool, &outbox_mailer(&db), Some(&me.token), "wrong horse battery", T0 + i).await;
            assert!(matches!(wrong, Err(Error::WrongPassword)), "{wrong:?}");
        }
        let locked = export(&db.pool, &outbox_mailer(&db), Some(&me.token), PW, T0 + 6).await;
        assert!(matches!(locked, Err(Error::LoginThrottled { .. })), "{locked:?}");
        let exported: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'data_exported'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(exported, 0);
        assert!(matches!(export(&db.pool, &outbox_mailer(&db), None, PW, T0).await, Err(Error::NotAuthenticated)));
    }
}
