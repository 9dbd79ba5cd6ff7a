//! Security activity (`security_events`) and the devices each account signed in from
//! (`known_devices`).

use sqlx::FromRow;

/// What happened to an account. The names are stable: the activity list and its API show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    SignedUp,
    SignIn,
    SignInFailed,
    SignInThrottled,
    CodeSent,
    PasswordReset,
    PasswordChanged,
    EmailChanged,
    SessionRevoked,
    NewDevice,
    AccountDeleted,
    DataExported,
    SecondFactorOn,
    SecondFactorOff,
    RecoveryCodesRegenerated,
    RecoveryCodeUsed,
    AdminDeactivated,
    AdminReactivated,
    AdminGranted,
    AdminRevoked,
    AdminUnlocked,
    AdminRevokedSessions,
    AdminResetSecondFactor,
    AdminRequiredReset,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignedUp => "signed_up",
            EventKind::SignIn => "sign_in",
            EventKind::SignInFailed => "sign_in_failed",
            EventKind::SignInThrottled => "sign_in_throttled",
            EventKind::CodeSent => "code_sent",
            EventKind::PasswordReset => "password_reset",
            EventKind::PasswordChanged => "password_changed",
            EventKind::EmailChanged => "email_changed",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::NewDevice => "new_device",
            EventKind::AccountDeleted => "account_deleted",
            EventKind::DataExported => "data_exported",
            EventKind::SecondFactorOn => "second_factor_on",
            EventKind::SecondFactorOff => "second_factor_off",
            EventKind::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::AdminDeactivated => "admin_deactivated",
            EventKind::AdminReactivated => "admin_reactivated",
            EventKind::AdminGranted => "admin_granted",
            EventKind::AdminRevoked => "admin_revoked",
            EventKind::AdminUnlocked => "admin_unlocked",
            EventKind::AdminRevokedSessions => "admin_revoked_sessions",
            EventKind::AdminResetSecondFactor => "admin_reset_second_factor",
            EventKind::AdminRequiredReset => "admin_required_reset",
        }
    }
}

/// An event to record.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub user_id: i64,
    pub at: i64,
    pub kind: EventKind,
    pub device: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

/// One event as its account's activity list shows it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventRow {
    /// The cursor for the next page (`before`).
    pub id: i64,
    pub kind: String,
    pub at: i64,
    pub device: Option<String>,
    pub ip: Option<String>,
}

/// Binds $1 account, $2 time, $3 kind, $4 device, $5 address, $6 session public id.
pub(crate) const INSERT: &str =
    "INSERT INTO security_events (user_id, at, kind, device, ip, session_id) VALUES ($1, $2, $3, $4, $5, $6)";

/// As `INSERT`, unless the account has an event of this kind in the last $7 seconds: a flood of
/// refused attempts writes one row a minute, not one per attempt.
pub(crate) const INSERT_AT_MOST_EVERY: &str = "INSERT INTO security_events (user_id, at, kind, device, ip, session_id)
     SELECT $1, $2, $3, $4, $5, $6
     WHERE NOT EXISTS (SELECT 1 FROM security_events WHERE user_id = $1 AND kind = $3 AND at > $2 - $7)";

/// The events of the sessions about to be ended (`sessions::END`'s rows), each with its session's
/// device. Binds as `sessions::REMEMBER_ENDED`.
pub(crate) const INSERT_FOR_ENDED: &str = "INSERT INTO security_events (user_id, at, kind, device, ip, session_id)
     SELECT user_id, $3, 'session_revoked', device, ip, public_id FROM sessions
     WHERE user_id = $1 AND token_hash <> $2 AND ($4 IS NULL OR public_id = $4)";

/// Newest first, from $2 (time) on, before the event with id $3, at most $4. Binds $1 account.
pub(crate) const LIST: &str = "SELECT id, kind, at, device, ip FROM security_events
     WHERE user_id = $1 AND at >= $2 AND id < $3 ORDER BY id DESC LIMIT $4";

/// Binds $1 account, $2 device, $3 network, $4 now, $5 the oldest last use that still counts.
pub(crate) const TOUCH_KNOWN_DEVICE: &str = "UPDATE known_devices SET last_seen_at = $4
     WHERE user_id = $1 AND device = $2 AND network = $3 AND last_seen_at >= $5";

/// When this account last signed in from this pair. Binds $1 account, $2 device, $3 network.
pub(crate) const KNOWN_DEVICE_SEEN: &str =
    "SELECT last_seen_at FROM known_devices WHERE user_id = $1 AND device = $2 AND network = $3";

/// Whether the account has signed in from any device since devices were noted. Binds $1 account.
pub(crate) const HAS_KNOWN_DEVICES: &str = "SELECT count(*) > 0 FROM known_devices WHERE user_id = $1";

/// Binds $1 account, $2 device, $3 network, $4 now.
pub(crate) const ADD_KNOWN_DEVICE: &str = "INSERT INTO known_devices (user_id, device, network, last_seen_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, device, network) DO UPDATE SET last_seen_at = excluded.last_seen_at";

/// At most $2 events older than $1 (a bounded batch: the sweep never holds the table for long).
pub(crate) const DELETE_OLD: &str =
    "DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE at < $1 ORDER BY id LIMIT $2)";

pub(crate) const DELETE_STALE_DEVICES: &str = "DELETE FROM known_devices WHERE last_seen_at < $1";
