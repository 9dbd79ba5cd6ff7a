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
use super::sessions::ProfileRow;
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
/// account id, $4 now, $5 expiry, $6 password hash, $7 public id, $8 device, $9 address.
const COMPLETE_LOGIN: &str =
    "WITH u AS (SELECT id FROM users WHERE id = $3 AND password_hash = $6 AND is_active FOR SHARE),
          s AS (INSERT INTO sessions (token_hash, user_id, created_at, expires_at, public_id, device, ip, last_seen_at)
                SELECT $2, id, $4, $5, $7, $8, $9, $4 FROM u RETURNING user_id, expires_at, last_seen_at),
          cleared AS (DELETE FROM login_throttle WHERE identifier_key = $1 AND EXISTS (SELECT 1 FROM s)),
          recorded AS (INSERT INTO security_events (user_id, at, kind, device, ip, session_id)
                       SELECT user_id, $4, 'sign_in', $8, $9, $7 FROM s)
     SELECT u.username, u.email, u.is_active, u.is_admin, u.date_joined, s.expires_at AS session_expires_at,
       (SELECT c.new_email FROM account_codes c
        WHERE c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > $4) AS pending_email,
       s.last_seen_at,
       EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.enabled_at IS NOT NULL) AS second_factor,
       (SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id) AS recovery_codes_left
     FROM s JOIN users u ON u.id = s.user_id
     WHERE u.is_active";

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
) -> Result<Option<ProfileRow>> {
    Ok(sqlx::query_as(COMPLETE_LOGIN)
        .bind(throttle_key)
        .bind(session.token_hash)
        .bind(seen.id)
        .bind(session.now)
        .bind(session.expires_at)
        .bind(seen.password_hash)
        .bind(session.public_id)
        .bind(session.device)
        .bind(session.ip)
        .fetch_optional(pool)
        .await?)
}
