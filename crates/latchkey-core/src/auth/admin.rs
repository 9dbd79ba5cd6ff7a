//! The operator's commands on an account (`latchkey-server admin`): each is recorded in the
//! account's activity naming the operator, and mailed to the account's holder.

use unicode_normalization::UnicodeNormalization;

use super::account::notify;
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

pub async fn show(pool: &impl Store, name: &str, now: Timestamp) -> Result<AdminUserRow> {
    let user = find(pool, name).await?;
    pool.show_user(user.id, now).await?.ok_or(Error::NoSuchAccount)
}

pub async fn search(
    pool: &impl Store,
    prefix: &str,
    after: i64,
    limit: i64,
    now: Timestamp,
) -> Result<Vec<AdminUserRow>> {
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "Ask for 1 to 1000 accounts at a time."));
    }
    pool.search_users(prefix.trim(), after, limit, now).await
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
