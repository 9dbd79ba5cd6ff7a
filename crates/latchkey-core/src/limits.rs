//! The numbers the rules (`auth`) and the SQL (`store`) both go by: input lengths, code and session
//! lifetimes, the login throttle, the mail limits and how long the store keeps what it counts.
//! This module reads no other, so `auth` and `store` both read it without reading each other.

/// Usernames, passwords and addresses, in characters (addresses in bytes).
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 150;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
pub const EMAIL_MAX: usize = 254;

/// A code is valid for 10 minutes.
pub const CODE_TTL_SECS: i64 = 10 * 60;
/// At most one code email per minute per pending sign-up.
pub const RESEND_COOLDOWN_SECS: i64 = 60;
/// The fifth wrong code cancels the sign-up.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// Sessions last 30 days from login.
pub const SESSION_TTL_SECS: i64 = 30 * 24 * 60 * 60;

/// Five failed password checks in a row lock an account (or an identifier no account has) for
/// 30 s, doubling with each further failure, up to 15 minutes.
pub const LOGIN_FREE_FAILURES: i64 = 5;
pub const LOGIN_LOCK_BASE_SECS: i64 = 30;
pub const LOGIN_LOCK_MAX_SECS: i64 = 15 * 60;
/// NIST SP 800-63B's limit: after 100 failures in a row only a password reset unlocks.
pub const LOGIN_HARD_LIMIT: i64 = 100;
/// A login counter untouched this long, whose lock has run out, is forgotten (a hard lock stays
/// until a reset).
pub const LOGIN_THROTTLE_KEEP_SECS: i64 = 24 * 60 * 60;

/// To one address: at most `per_minute` mails in any 60 s and `per_hour` in any hour from one
/// requester, and `address_per_hour` in any hour from everyone together.
#[derive(Debug, Clone, Copy)]
pub struct MailLimits {
    pub per_minute: i64,
    pub per_hour: i64,
    pub address_per_hour: i64,
}

/// Code mails to one address, whatever starts them: from one requester at most one a minute and
/// five an hour; from everyone together twenty an hour (so others' requests cannot use up the
/// owner's allowance, and the mailbox is not flooded).
pub const MAIL_LIMITS: MailLimits = MailLimits { per_minute: 1, per_hour: 5, address_per_hour: 20 };
/// Security events are kept 400 days unless the service is told otherwise
/// (`LATCHKEY_EVENT_RETENTION_DAYS`), and purged at most this many rows per sweep.
pub const EVENT_RETENTION_DAYS: i64 = 400;
pub const EVENT_PURGE_BATCH: i64 = 5_000;
/// The activity list shows the last 90 days.
pub const ACTIVITY_SHOWN_SECS: i64 = 90 * 24 * 60 * 60;
/// A refused sign-in (a locked account) is recorded at most once a minute per account.
pub const THROTTLED_EVENT_EVERY_SECS: i64 = 60;
/// A device and network not seen on an account for 90 days is new again.
pub const KNOWN_DEVICE_SECS: i64 = 90 * 24 * 60 * 60;
/// A known device's last use is written at most once a day (a sign-in from it is then a read).
pub const KNOWN_DEVICE_TOUCH_SECS: i64 = 24 * 60 * 60;
/// No new-device notice in the first 10 minutes after sign-up (the sign-up's own devices).
pub const NEW_DEVICE_QUIET_SECS: i64 = 10 * 60;

/// A sent mail counts for the longest window (an hour); then its row goes.
pub const MAIL_SEND_KEEP_SECS: i64 = 60 * 60;
