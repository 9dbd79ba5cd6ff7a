//! The domain: sign-up with an emailed code, login and sessions. No Tauri and no SQL here; the
//! current time is always an argument.

pub mod account;
mod code;
mod common_passwords;
pub mod guess;
pub mod login;
pub mod policy;
pub mod secret;
pub mod signup;
mod skeleton;
pub mod validate;

/// A code is valid for 10 minutes.
pub const CODE_TTL_SECS: i64 = 10 * 60;
/// At most one code email per minute per pending sign-up.
pub const RESEND_COOLDOWN_SECS: i64 = 60;
/// The fifth wrong code cancels the sign-up.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// Five failed password checks in a row lock an account (or an identifier no account has) for
/// 30 s, doubling with each further failure, up to 15 minutes.
pub const LOGIN_FREE_FAILURES: i64 = 5;
pub const LOGIN_LOCK_BASE_SECS: i64 = 30;
pub const LOGIN_LOCK_MAX_SECS: i64 = 15 * 60;
/// NIST SP 800-63B's limit: after 100 failures in a row only a password reset unlocks.
pub const LOGIN_HARD_LIMIT: i64 = 100;
/// Code mails to one address, whatever starts them: from one requester at most one a minute and
/// five an hour; from everyone together twenty an hour (so others' requests cannot use up the
/// owner's allowance, and the mailbox is not flooded).
pub const MAIL_LIMITS: crate::store::mail_sends::MailLimits =
    crate::store::mail_sends::MailLimits { per_minute: 1, per_hour: 5, address_per_hour: 20 };

/// Who a request comes from, for the per-requester limits: the client address the service
/// resolved, or the one window of the desktop app.
pub const THIS_WINDOW: &str = "window";

/// Sessions last 30 days from login.
pub const SESSION_TTL_SECS: i64 = 30 * 24 * 60 * 60;

/// Seconds since the Unix epoch; what every `now` argument means.
pub type Timestamp = i64;

/// Who is signed in: the account without its password hash, and when the session ends.
pub use crate::store::sessions::ProfileRow as Profile;

/// A freshly created session: the raw token goes to the keychain, never to the database.
#[derive(Debug)]
pub struct NewSession {
    pub token: secret::Token,
    pub profile: Profile,
}
