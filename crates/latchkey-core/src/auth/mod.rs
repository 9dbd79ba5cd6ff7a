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

/// The numbers the rules go by live in `crate::limits` (the store reads them too); here under
/// their old paths.
pub use crate::limits::{
    CODE_TTL_SECS, LOGIN_FREE_FAILURES, LOGIN_HARD_LIMIT, LOGIN_LOCK_BASE_SECS, LOGIN_LOCK_MAX_SECS, MAIL_LIMITS,
    MAX_CODE_ATTEMPTS, RESEND_COOLDOWN_SECS, SESSION_TTL_SECS,
};

/// Who a request comes from, for the per-requester limits: the client address the service
/// resolved, or the one window of the desktop app.
pub const THIS_WINDOW: &str = "window";

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
