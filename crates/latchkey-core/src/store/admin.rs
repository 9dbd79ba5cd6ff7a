//! What the operator's commands read and change.

use sqlx::FromRow;

/// An account as the operator sees it: never its password hash.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdminUserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub date_joined: i64,
    pub second_factor: bool,
    /// Live sessions.
    pub sessions: i64,
}

/// One change the operator makes to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Off, and every session ends.
    Deactivate,
    /// Sign-in works again; the old sessions do not come back.
    Reactivate,
    GrantAdmin,
    RevokeAdmin,
    /// The login throttle cleared, the lock for good included.
    Unlock,
    RevokeSessions,
    ResetSecondFactor,
    /// Every session ends and sign-in is refused until an emailed password reset.
    RequireReset,
}

impl AdminAction {
    pub const ALL: [AdminAction; 8] = [
        AdminAction::Deactivate,
        AdminAction::Reactivate,
        AdminAction::GrantAdmin,
        AdminAction::RevokeAdmin,
        AdminAction::Unlock,
        AdminAction::RevokeSessions,
        AdminAction::ResetSecondFactor,
        AdminAction::RequireReset,
    ];

    /// The action's name, as the operator's command line and the admin port's paths spell it.
    pub fn name(self) -> &'static str {
        match self {
            AdminAction::Deactivate => "deactivate",
            AdminAction::Reactivate => "reactivate",
            AdminAction::GrantAdmin => "grant-admin",
            AdminAction::RevokeAdmin => "revoke-admin",
            AdminAction::Unlock => "unlock",
            AdminAction::RevokeSessions => "revoke-sessions",
            AdminAction::ResetSecondFactor => "reset-second-factor",
            AdminAction::RequireReset => "require-reset",
        }
    }

    pub fn named(name: &str) -> Option<AdminAction> {
        AdminAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Binds $1 the prefix (LIKE-escaped, with `%`), $2 the id to start after, $3 how many, $4 now.
/// Keyset pages by id.
pub(crate) const SEARCH: &str = "SELECT u.id, u.username, u.email, u.is_active, u.is_admin, u.date_joined,
       EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.enabled_at IS NOT NULL) AS second_factor,
       (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $4) AS sessions
     FROM users u
     WHERE (u.username_key LIKE $1 ESCAPE '\\' OR u.email_key LIKE $1 ESCAPE '\\') AND u.id > $2
     ORDER BY u.id LIMIT $3";

/// As `SEARCH`, one account by id. Binds $1 account, $2 now.
pub(crate) const SHOW: &str = "SELECT u.id, u.username, u.email, u.is_active, u.is_admin, u.date_joined,
       EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.enabled_at IS NOT NULL) AS second_factor,
       (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $2) AS sessions
     FROM users u WHERE u.id = $1";

pub(crate) const SET_ACTIVE: &str = "UPDATE users SET is_active = $2 WHERE id = $1";

pub(crate) const SET_RESET_REQUIRED: &str = "UPDATE users SET reset_required = $2 WHERE id = $1";

/// What a right password must still pass, in one read. Binds $1 account.
pub(crate) const SIGN_IN_GATES: &str = "SELECT u.reset_required,
       EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.enabled_at IS NOT NULL) AS second_factor
     FROM users u WHERE u.id = $1";

/// What stands between a right password and a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct SignInGates {
    /// The operator's `require-reset`: an emailed reset comes first.
    pub reset_required: bool,
    /// Two-step sign-in: a code comes next.
    pub second_factor: bool,
}

pub(crate) const SET_ADMIN: &str = "UPDATE users SET is_admin = $2 WHERE id = $1";
