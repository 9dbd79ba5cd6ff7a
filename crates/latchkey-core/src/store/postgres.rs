//! The store on PostgreSQL, for the HTTP service: the same steps as on SQLite, each one statement
//! or one transaction, so that any number of server processes on one database behave as one. The
//! statements are the table files' own; what is written here is only what PostgreSQL needs of its
//! own. Where SQLite's single writer made a read-then-write step atomic, a transaction here takes
//! an advisory lock on what it counts (an address's mail, a reset's subject) first; sign-in is one
//! statement with a row lock; the login counter's upsert and the outbox tags use PostgreSQL's
//! functions.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::lifecycle::NewSessionRow;
use super::sessions::{ProfileRow, SignedInRow};
use super::users::Seen;
use super::OpenError;
use crate::error::Result;

pub(crate) type Db = Postgres;
pub(crate) type Pool = PgPool;

// The same file is the SQLite store too (`sqlite.rs`): written once, compiled per engine.
#[allow(clippy::duplicate_mod)]
#[path = "engine.rs"]
mod engine;
pub use engine::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections per process: argon2 bounds the work in flight far below this.
const MAX_CONNECTIONS: u32 = 16;

/// Connects to `url` (`postgres://…`) and migrates the database. Several processes may start at
/// once: sqlx serialises migrations with an advisory lock.
pub async fn open(url: &str) -> std::result::Result<PgPool, OpenError> {
    let options: PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Holds, until the transaction ends, the lock named by `name`: read-count-write steps on one
/// name run one at a time across every process.
async fn lock(tx: &mut Transaction<'_, Postgres>, name: impl FnOnce() -> String) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(name()).execute(&mut **tx).await?;
    Ok(())
}

/// Sign-in in one statement, one round trip and one commit for what every sign-in writes (SQLite:
/// `sqlite::complete_login`, a transaction). The share lock makes a concurrent delete or
/// password change wait, and then this finds no row. Binds $1 throttle key, $2 token hash, $3
/// account id, $4 now, $5 expiry, $6 password hash, $7 public id, $8 device, $9 address, $10
/// network, $11 known since, $12 how often a known device's last use is written.
///
/// The device and network are noted in the same statement (`events::note_device`'s rule, most
/// of it without its lock): a pair the upsert inserts was not there, and is new if the account
/// had any device before; one it touches was known. When it does neither (`device_inserted`
/// null), the pair was there: known if this statement's snapshot saw it fresh, else the caller
/// decides under the account's lock (a pair unseen for 90 days, or one another sign-in inserted
/// a moment ago).
const COMPLETE_LOGIN: &str =
    "WITH u AS (SELECT id FROM users WHERE id = $3 AND password_hash = $6 AND is_active FOR SHARE),
          s AS (INSERT INTO sessions (token_hash, user_id, created_at, expires_at, public_id, device, ip, last_seen_at)
                SELECT $2, id, $4, $5, $7, $8, $9, $4 FROM u RETURNING user_id, expires_at, last_seen_at),
          cleared AS (DELETE FROM login_throttle WHERE identifier_key = $1 AND EXISTS (SELECT 1 FROM s)),
          recorded AS (INSERT INTO security_events (user_id, at, kind, device, ip, session_id)
                       SELECT user_id, $4, 'sign_in', $8, $9, $7 FROM s),
          noted AS (INSERT INTO known_devices AS k (user_id, device, network, last_seen_at)
                    SELECT user_id, $8, $10, $4 FROM s
                    ON CONFLICT (user_id, device, network) DO UPDATE SET last_seen_at = excluded.last_seen_at
                    WHERE k.last_seen_at >= $11 AND excluded.last_seen_at - k.last_seen_at >= $12
                    RETURNING k.xmax = 0 AS inserted)
     SELECT u.username, u.email, u.is_active, u.is_admin, u.date_joined, s.expires_at AS session_expires_at,
       (SELECT c.new_email FROM account_codes c
        WHERE c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > $4) AS pending_email,
       s.last_seen_at,
       EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.enabled_at IS NOT NULL) AS second_factor,
       (SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id) AS recovery_codes_left,
       (SELECT inserted FROM noted) AS device_inserted,
       EXISTS (SELECT 1 FROM known_devices k WHERE k.user_id = u.id) AS had_devices,
       (SELECT k.last_seen_at FROM known_devices k WHERE k.user_id = u.id AND k.device = $8 AND k.network = $10)
         AS device_seen_at
     FROM s JOIN users u ON u.id = s.user_id
     WHERE u.is_active";

/// `COMPLETE_LOGIN`'s row: the profile, and what the device's upsert saw.
#[derive(sqlx::FromRow)]
struct CompletedLogin {
    #[sqlx(flatten)]
    profile: ProfileRow,
    device_inserted: Option<bool>,
    had_devices: bool,
    device_seen_at: Option<i64>,
}

/// As SQLite's upsert (`sqlite::RESERVE_LOGIN`), with PostgreSQL's LEAST, a cast for the shift
/// and the table named by its alias; the upsert's row lock makes concurrent attempts count one
/// after another. Binds $1 key, $2 now, $3 free, $4 base, $5 max, $6 hard limit.
const RESERVE_LOGIN: &str = "INSERT INTO login_throttle AS t (identifier_key, failures, locked_until, updated_at)
     VALUES ($1, 1, CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END, $2)
     ON CONFLICT (identifier_key) DO UPDATE SET
       failures = t.failures + 1,
       locked_until = CASE WHEN t.failures + 1 >= $3
                      THEN $2 + LEAST($4 << LEAST(t.failures + 1 - $3, 10)::integer, $5) ELSE 0 END,
       updated_at = $2
     WHERE t.locked_until <= $2 AND t.failures < $6
     RETURNING failures";

/// As SQLite's `LIVE_TAGS`, with PostgreSQL's functions.
const LIVE_TAGS: &str = "SELECT encode(substring(owner_hash FROM 1 FOR 8), 'hex') FROM pending_signups";

async fn complete_login(
    pool: &PgPool,
    throttle_key: &str,
    seen: Seen<'_>,
    session: &NewSessionRow<'_>,
    known_since: i64,
) -> Result<Option<SignedInRow>> {
    let done: Option<CompletedLogin> = sqlx::query_as(COMPLETE_LOGIN)
        .bind(throttle_key)
        .bind(session.token_hash)
        .bind(seen.id)
        .bind(session.now)
        .bind(session.expires_at)
        .bind(seen.password_hash)
        .bind(session.public_id)
        .bind(session.device)
        .bind(session.ip)
        .bind(session.network)
        .bind(known_since)
        .bind(crate::limits::KNOWN_DEVICE_TOUCH_SECS)
        .fetch_optional(pool)
        .await?;
    let Some(done) = done else { return Ok(None) };
    let new_device = match done.device_inserted {
        Some(inserted) => inserted && done.had_devices,
        None if events::known_and_fresh(done.device_seen_at, session.now, known_since) => false,
        // The session is committed; the rare pair left undecided is settled under the lock. A
        // failure here costs a notice, never the sign-in (as when the device was noted after it).
        None => {
            let (id, device, network) = (seen.id, session.device, session.network);
            match events::note_device(pool, id, device, network, session.now, known_since).await {
                Ok(new) => new,
                Err(e) => {
                    log::warn!("a sign-in's device was not noted: {e}");
                    false
                }
            }
        }
    };
    Ok(Some(SignedInRow { profile: done.profile, new_device }))
}
