//! The operator's commands on an account (`latchkey-server admin`): each is recorded in the
//! account's activity naming the operator, and mailed to the account's holder.

use unicode_normalization::UnicodeNormalization;

use super::account::{confirm_password, notify, signed_in};
use super::secret::Token;
use super::Timestamp;
use crate::error::{Error, Result};
use crate::mail::{Letter, Mailer};
use crate::store::{AdminAction, AdminUserRow, EventKind, NewEvent, Store, UserRow};

/// The account a name names: a username (any case) or an address.
pub async fn find(pool: &impl Store, name: &str) -> Result<UserRow> {
    let name = name.trim();
    let username_key = name.nfkc().collect::<String>().to_lowercase();
    let found = pool.find_users_for_login(&username_key, &name.to_lowercase()).await?;
    found.into_iter().next().ok_or(Error::NoSuchAccount)
}

/// The administrator a session belongs to (the service's admin port): `not_authenticated` without a
/// live session, `not_admin` when its account is not (or no longer) an active administrator. Read
/// on every request, so revoking the right takes effect at once.
pub async fn administrator(pool: &impl Store, token: Option<&Token>, now: Timestamp) -> Result<UserRow> {
    let user = signed_in(pool, token, now).await?;
    if !(user.is_admin && user.is_active) {
        return Err(Error::NotAdmin);
    }
    Ok(user)
}

/// An administrator enters their password again before the admin port acts for them: checked
/// under the account's login throttle, so a stolen session cannot guess it at leisure.
pub async fn reauthenticate(
    pool: &impl Store,
    token: Option<&Token>,
    password: &str,
    now: Timestamp,
) -> Result<UserRow> {
    let user = administrator(pool, token, now).await?;
    confirm_password(pool, &user, password, now).await?;
    Ok(user)
}

pub async fn show(pool: &impl Store, name: &str, now: Timestamp) -> Result<AdminUserRow> {
    let user = find(pool, name).await?;
    pool.show_user(user.id, now).await?.ok_or(Error::NoSuchAccount)
}

/// One page of accounts, and the cursor of the next when this one is full.
#[derive(Debug, serde::Serialize)]
pub struct AccountsPage {
    pub accounts: Vec<AdminUserRow>,
    pub next: Option<i64>,
}

pub async fn search(pool: &impl Store, prefix: &str, after: i64, limit: i64, now: Timestamp) -> Result<AccountsPage> {
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "Ask for 1 to 1000 accounts at a time."));
    }
    let accounts = pool.search_users(prefix.trim(), after, limit, now).await?;
    let next = if accounts.len() as i64 == limit { accounts.last().map(|r| r.id) } else { None };
    Ok(AccountsPage { accounts, next })
}

fn kind(action: AdminAction) -> EventKind {
    match action {
        AdminAction::Deactivate => EventKind::AdminDeactivated,
        AdminAction::Reactivate => EventKind::AdminReactivated,
        AdminAction::GrantAdmin => EventKind::AdminGranted,
        AdminAction::RevokeAdmin => EventKind::AdminRevoked,
        AdminAction::Unlock => EventKind::AdminUnlocked,
        AdminAction::RevokeSessions => EventKind::AdminRevokedSessions,
        AdminAction::ResetSecondFactor => EventKind::AdminResetSecondFactor,
        AdminAction::RequireReset => EventKind::AdminRequiredReset,
    }
}

/// What the holder is told, in a sentence that ends "by an administrator".
fn words(action: AdminAction) -> &'static str {
    match action {
        AdminAction::Deactivate => "was deactivated: it cannot sign in, and every device was signed out",
        AdminAction::Reactivate => "was reactivated: it can sign in again",
        AdminAction::GrantAdmin => "was made an administrator",
        AdminAction::RevokeAdmin => "is no longer an administrator",
        AdminAction::Unlock => "was unlocked after too many failed sign-ins",
        AdminAction::RevokeSessions => "was signed out on every device",
        AdminAction::ResetSecondFactor => "no longer asks for a second factor: set up two-step sign-in again",
        AdminAction::RequireReset => {
            "needs a new password: every device was signed out, and signing in takes \"Forgot password?\" first"
        }
    }
}

/// Makes the change, records it naming `operator` (the OS user running the command) and mails
/// the holder; the account as it is after, and whether the notice was sent.
pub async fn act(
    pool: &impl Store,
    mailer: &Mailer,
    name: &str,
    action: AdminAction,
    operator: &str,
    now: Timestamp,
) -> Result<(AdminUserRow, bool)> {
    let user = find(pool, name).await?;
    let by = format!("operator {operator}");
    let event =
        NewEvent { user_id: user.id, at: now, kind: kind(action), device: Some(&by), ip: None, session_id: None };
    pool.admin_act(user.id, action, &event).await?;
    let sent = notify(mailer, &user, Letter::ByAdministrator { what: words(action) }).await;
    Ok((pool.show_user(user.id, now).await?.ok_or(Error::NoSuchAccount)?, sent))
}
