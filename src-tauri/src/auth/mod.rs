//! The domain: sign-up with an emailed code, login and sessions. No Tauri and no SQL here; the
//! current time is always an argument.

mod common_passwords;
pub mod login;
pub mod policy;
pub mod secret;
pub mod signup;
pub mod validate;

use serde::Serialize;

use crate::store::sessions::ProfileRow;

/// A code is valid for 10 minutes.
pub const CODE_TTL_SECS: i64 = 10 * 60;
/// At most one code email per minute per pending sign-up.
pub const RESEND_COOLDOWN_SECS: i64 = 60;
/// The fifth wrong code cancels the sign-up.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// Five failed logins in a row lock an identifier for 30 s, doubling with each further failure,
/// up to 15 minutes.
pub const LOGIN_FREE_FAILURES: i64 = 5;
pub const LOGIN_LOCK_BASE_SECS: i64 = 30;
pub const LOGIN_LOCK_MAX_SECS: i64 = 15 * 60;
/// Sessions last 30 days from login.
pub const SESSION_TTL_SECS: i64 = 30 * 24 * 60 * 60;

/// Seconds since the Unix epoch; what every `now` argument means.
pub type Timestamp = i64;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Profile {
    pub username: String,
    pub email: String,
    pub is_active: bool,
    pub is_admin: bool,
    /// Seconds since the Unix epoch.
    pub date_joined: i64,
    pub session_expires_at: i64,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            username: r.username,
            email: r.email,
            is_active: r.is_active,
            is_admin: r.is_admin,
            date_joined: r.date_joined,
            session_expires_at: r.session_expires_at,
        }
    }
}

/// A freshly created session: the raw token goes to the keychain, never to the database.
#[derive(Debug)]
pub struct NewSession {
    pub token: secret::Token,
    pub profile: Profile,
}
