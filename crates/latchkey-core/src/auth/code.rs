//! The emailed code, once for every flow that sends one (sign-up, password reset, email change):
//! 6 digits from the OS generator, valid 10 minutes, stored only as an argon2id hash; each attempt
//! reserved before the check, the fifth wrong one voids the code; a resend at most once a minute
//! replaces it and restarts both; code mail limited per address and requester, its slot given back
//! when the mail cannot be sent. The flows keep only what is theirs: whom the mail goes to, and
//! what a right code does.

use crate::error::{Error, Flow, Result};
use crate::store::account_codes::CodeRow;
use crate::store::codes::{CodeState, CodeTable};
use crate::store::pending_signups::{self, PendingRow};
use crate::store::{account_codes, Store};

use super::{secret, Timestamp, CODE_TTL_SECS, MAIL_LIMITS, MAX_CODE_ATTEMPTS, RESEND_COOLDOWN_SECS};

/// A code as its row holds it, in whichever table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held<'a> {
    table: CodeTable,
    id: i64,
    /// The address the code goes to (as a key), for the mail limits.
    email_key: &'a str,
    state: CodeState<'a>,
}

impl PendingRow {
    pub(crate) fn held(&self) -> Held<'_> {
        let state = CodeState {
            code_hash: &self.code_hash,
            attempts: self.attempts,
            last_sent_at: self.last_sent_at,
            expires_at: self.expires_at,
        };
        Held { table: pending_signups::TABLE, id: self.id, email_key: &self.email_key, state }
    }
}

impl CodeRow {
    pub(crate) fn held(&self) -> Held<'_> {
        Held { table: account_codes::TABLE, id: self.id, email_key: &self.email_key, state: self.code_state() }
    }
}

/// What the database keeps of a sign-up or reset id (the opaque id that proves, with the code,
/// who started the flow): its SHA-256, as for a session token.
pub(crate) fn owner_hash_of(id: &str) -> [u8; 32] {
    secret::Token::from_stored(id.to_string()).digest()
}

/// The owner hash of an id as a caller sent it, or `None` for one no flow ever hands out (empty,
/// or longer than any id we issue), which is then not looked up at all.
pub(crate) fn owner_of(id: &str) -> Option<[u8; 32]> {
    (!id.is_empty() && id.len() <= 64).then(|| owner_hash_of(id))
}

/// A new code to send. For an address that has an account (a sign-up or email change that must
/// not say so), one no entry can match: seven digits, hashed the same way, so every step costs
/// and answers the same and none can finish.
pub(crate) fn new_code(address_taken: bool) -> Result<String> {
    let code = secret::new_code()?;
    Ok(if address_taken { format!("{code}0") } else { code })
}

/// Takes one of the address's code-mail slots for `requester`, or says how long to wait.
pub(crate) async fn claim_mail_slot(
    pool: &impl Store,
    address_key: &str,
    requester: &str,
    now: Timestamp,
) -> Result<i64> {
    pool.reserve_mail_slot(address_key, requester, MAIL_LIMITS, now)
        .await?
        .map_err(|seconds| Error::ResendTooSoon { seconds })
}

/// Checks `code` against the held one: expired (the row goes), no attempt left, wrong (with the
/// attempts left; the fifth voids the row) or right.
pub(crate) async fn check(pool: &impl Store, held: Held<'_>, code: String, flow: Flow, now: Timestamp) -> Result<()> {
    if now >= held.state.expires_at {
        pool.delete_code(held.table, held.id).await?;
        return Err(Error::CodeExpired(flow));
    }
    // No attempt left while the last ones are still being checked: those decide the row's fate.
    let Some(attempt) = pool.reserve_code_attempt(held.table, held.id, held.state.code_hash, MAX_CODE_ATTEMPTS).await?
    else {
        return Err(Error::TooManyAttempts(flow));
    };
    if secret::verify_blocking(code, held.state.code_hash.to_string()).await? {
        return Ok(());
    }
    if attempt >= MAX_CODE_ATTEMPTS {
        pool.delete_code_if(held.table, held.id, held.state.code_hash).await?;
        return Err(Error::TooManyAttempts(flow));
    }
    Err(Error::InvalidCode { attempts_left: u32::try_from(MAX_CODE_ATTEMPTS - attempt).unwrap_or(0) })
}

/// A live code sent less than a minute ago cannot be replaced yet.
pub(crate) fn refuse_if_too_soon(held: Held<'_>, now: Timestamp) -> Result<()> {
    let wait = held.state.last_sent_at + RESEND_COOLDOWN_SECS - now;
    if wait > 0 && now < held.state.expires_at {
        return Err(Error::ResendTooSoon { seconds: wait });
    }
    Ok(())
}

/// A code that replaced the previous one, with the mail slot it took.
pub(crate) struct Resent {
    pub code: String,
    code_hash: String,
    pub expires_at: Timestamp,
    slot: i64,
}

impl Resent {
    fn state(&self, now: Timestamp) -> CodeState<'_> {
        CodeState { code_hash: &self.code_hash, attempts: 0, last_sent_at: now, expires_at: self.expires_at }
    }
}

/// A resend: a new code replaces the held one and restarts the 10 minutes and the attempts. If
/// its mail then cannot be sent, `undo` puts the old one back.
pub(crate) async fn resend(
    pool: &impl Store,
    held: Held<'_>,
    requester: &str,
    flow: Flow,
    now: Timestamp,
    address_taken: bool,
) -> Result<Resent> {
    if now >= held.state.expires_at {
        pool.delete_code(held.table, held.id).await?;
        return Err(Error::CodeExpired(flow));
    }
    refuse_if_too_soon(held, now)?;
    let slot = claim_mail_slot(pool, held.email_key, requester, now).await?;
    let code = new_code(address_taken)?;
    let code_hash = secret::hash_blocking(code.clone()).await?;
    let resent = Resent { code, code_hash, expires_at: now + CODE_TTL_SECS, slot };
    // Claiming the row first makes two simultaneous resends send one email, not two.
    if !pool.swap_code(held.table, held.id, &held.state, &resent.state(now)).await? {
        pool.release_mail_slot(slot).await?;
        return Err(Error::ResendTooSoon { seconds: RESEND_COOLDOWN_SECS });
    }
    Ok(resent)
}

/// The resend's mail could not be sent: nothing changes, the previous code keeps working.
pub(crate) async fn undo(pool: &impl Store, held: Held<'_>, resent: &Resent, now: Timestamp) -> Result<()> {
    pool.swap_code(held.table, held.id, &resent.state(now), &held.state).await?;
    pool.release_mail_slot(resent.slot).await
}
