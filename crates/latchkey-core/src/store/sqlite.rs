//! The store on SQLite (the desktop app, and the service on SQLite): every step as `engine.rs`
//! writes it, and the little SQLite says its own way.

use sqlx::{Sqlite, SqlitePool, Transaction};

use super::lifecycle::NewSessionRow;
use super::sessions::SignedInRow;
use super::users::Seen;
use crate::error::Result;

pub(crate) type Db = Sqlite;
pub(crate) type Pool = SqlitePool;

// The same file is the PostgreSQL store too (`postgres.rs`): written once, compiled per engine.
#[allow(clippy::duplicate_mod)]
#[path = "engine.rs"]
mod engine;
pub use engine::*;

/// SQLite has one writer: a transaction whose first statement writes holds the database's write
/// lock from then on, so a read-count-write step needs no lock of its own.
async fn lock(_tx: &mut Transaction<'_, Sqlite>, _name: impl FnOnce() -> String) -> Result<()> {
    Ok(())
}

/// The login counter's upsert: binds $1 key, $2 now, $3 free, $4 base, $5 max, $6 hard limit. The
/// lock for attempt n (n >= free) is base doubled (n - free) times, at most max.
const RESERVE_LOGIN: &str = "INSERT INTO login_throttle (identifier_key, failures, locked_until, updated_at)
     VALUES ($1, 1, CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END, $2)
     ON CONFLICT (identifier_key) DO UPDATE SET
       failures = failures + 1,
       locked_until = CASE WHEN failures + 1 >= $3
                      THEN $2 + min($4 << min(failures + 1 - $3, 10), $5) ELSE 0 END,
       updated_at = $2
     WHERE locked_until <= $2 AND failures < $6
     RETURNING failures";

/// The first 8 bytes of each pending sign-up's owner hash, in hex: the tags of its outbox files.
const LIVE_TAGS: &str = "SELECT lower(hex(substr(owner_hash, 1, 8))) FROM pending_signups";

/// A password check passed for the account `seen` read: if it is still that account (same id,
/// same hash, active), the session begins, that account's login count is cleared and the
/// session's device noted, in one transaction (a write first, so it holds SQLite's write lock
/// from its first statement). `None` when the account changed or went meanwhile: nothing was
/// written.
async fn complete_login(
    pool: &SqlitePool,
    throttle_key: &str,
    seen: Seen<'_>,
    session: &NewSessionRow<'_>,
    known_since: i64,
) -> Result<Option<SignedInRow>> {
    let mut tx = pool.begin().await?;
    if !sessions::insert_if_seen(&mut *tx, seen, session).await? {
        return Ok(None);
    }
    login_throttle::clear(&mut *tx, throttle_key).await?;
    events::insert_for_session(&mut *tx, seen.id, super::EventKind::SignIn, session).await?;
    let new_device = events::note_device_in(&mut tx, session, seen.id, known_since).await?;
    let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
    tx.commit().await?;
    Ok(profile.map(|profile| SignedInRow { profile, new_device }))
}
