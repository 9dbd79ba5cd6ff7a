//! All SQL lives here. `Store` is every step the domain takes, each one atomic, in four traits by
//! concern. Each table's file holds its rows and its statements, written once with `$N`
//! placeholders that both engines read. `engine.rs` binds and runs them, once, and is compiled
//! for each engine: `sqlite` (the desktop app, and the service on SQLite) and `postgres` (the
//! service); those two hold only what an engine says its own way (PostgreSQL's advisory locks
//! and one-statement sign-in, the upsert and hex functions each writes differently).

pub mod account_codes;
pub mod admin;
pub mod codes;
pub mod events;
pub mod lifecycle;
pub mod login_throttle;
pub mod mail_sends;
pub mod meta;
pub mod pending_signups;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod second_factor;
pub mod sessions;
pub mod sqlite;
pub mod users;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::{Error, Result};

pub const DB_FILE: &str = "latchkey.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Why the database could not be opened, kept whole (SQLite's result code, the `io::ErrorKind`)
/// so start-up can say what to do without reading message text.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("creating the database file: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        Error::internal("opening the database", e)
    }
}

/// Opens (creating if needed) the database file with owner-only permissions, then migrates it.
pub async fn open(path: &Path) -> std::result::Result<SqlitePool, OpenError> {
    // SQLite gives the -wal and -shm files the main file's mode, so this covers all three.
    crate::private_files::ensure_private_file(path)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    // Several processes may open one file at once (the service's, behind a load balancer).
    // Each migration is its own transaction, and SQLite has no lock that spans them all as
    // PostgreSQL's advisory lock does: the first process to take this file's lock migrates, the
    // others wait for it and then find nothing left to do.
    let lock_path =
        path.with_file_name(format!("{}-migrate.lock", path.file_name().unwrap_or_default().to_string_lossy()));
    crate::private_files::ensure_private_file(&lock_path)?;
    let lock = std::fs::OpenOptions::new().write(true).open(&lock_path)?;
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    let migrated = MIGRATOR.run(&pool).await;
    drop(lock);
    migrated?;
    Ok(pool)
}

/// Removes expired pending sign-ups and sessions (the original service left them behind).
pub async fn purge_expired(pool: &SqlitePool, now: i64) -> Result<u64> {
    sqlite::purge_expired(pool, now).await
}

/// The health check, on either engine.
pub(crate) const PING: &str = "SELECT 1";

/// Maps a unique-index violation on `users` to the error a person can act on.
pub(crate) fn map_user_conflict(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let message = db.message();
            if message.contains("username_key") || message.contains("username_skeleton") {
                return Error::UsernameTaken;
            }
            if message.contains("email_key") {
                return Error::EmailTaken;
            }
        }
    }
    e.into()
}

pub use account_codes::{CodeRow, NewCode, Subject};
pub use admin::{AdminAction, AdminUserRow, SignInGates};
pub use codes::{CodeState, CodeTable};
pub use events::{EventKind, EventRow, NewEvent};
pub use lifecycle::NewSessionRow;
pub use login_throttle::{LockPolicy, Reservation};
pub use mail_sends::MailLimits;
pub use pending_signups::{NewPending, PendingRow};
pub use second_factor::{ChallengeRow, FactorChange, Proof, SecondFactorRow, SecondFactorSignIn};
pub use sessions::{DeviceRow, ProfileRow, SignedInRow};
pub use users::{Seen, UserRow};

/// The database as the domain sees it: each method is one atomic step (one statement or one
/// transaction), so several processes on one database behave as one. The steps are grouped by
/// concern in the four traits below; `Store` is all of them, the one bound the domain uses.
/// Implemented for SQLite's pool (`sqlite`) and PostgreSQL's (`postgres`).
pub trait Store:
    AccountStore
    + SessionStore
    + CodeStore
    + LimitStore
    + EventStore
    + SecondFactorStore
    + AdminStore
    + Clone
    + Send
    + Sync
    + 'static
{
    /// Removes expired pending sign-ups, sessions, codes, mail counts and stale login counters.
    fn purge_expired(&self, now: i64) -> impl Future<Output = Result<u64>> + Send;
    /// Whether `SELECT 1` answers (the service's health check).
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
    /// Waits for the connections in use to be returned, then closes them all (at shutdown).
    fn close(&self) -> impl Future<Output = ()> + Send;
    /// The pool's connections now, from its own counts (no query).
    fn connections(&self) -> PoolUse;
}

/// A connection pool's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Accounts: look-ups, and each change to an account's life. The changes are all or nothing, and
/// those given a `Seen` act only on the account it read (`not_authenticated` and nothing changed
/// otherwise).
pub trait AccountStore: Send + Sync {
    fn count_users(&self) -> impl Future<Output = Result<i64>> + Send;
    fn username_exists(&self, username_key: &str, skeleton: &str) -> impl Future<Output = Result<bool>> + Send;
    /// The account with this address, whatever its state.
    fn find_user_by_email(&self, email_key: &str) -> impl Future<Output = Result<Option<UserRow>>> + Send;
    /// At most two accounts, the username match first (see `users::find_for_login`).
    fn find_users_for_login(
        &self,
        username_key: &str,
        email_key: &str,
    ) -> impl Future<Output = Result<Vec<UserRow>>> + Send;
    fn find_user(&self, id: i64) -> impl Future<Output = Result<Option<UserRow>>> + Send;
    fn find_active_user_by_email(&self, email_key: &str) -> impl Future<Output = Result<Option<UserRow>>> + Send;
    /// Whether the address is an account's username.
    fn address_is_a_username(&self, email_key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// A stronger hash of the same password, in place of the one `seen` read; `false` if the
    /// account changed or went meanwhile.
    fn rehash_password(&self, seen: Seen<'_>, password_hash: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Consumes the pending sign-up (if it still has its code), creates the account and its first
    /// session, all or nothing.
    fn complete_signup(
        &self,
        pending: &PendingRow,
        username_skeleton: &str,
        session: &NewSessionRow<'_>,
    ) -> impl Future<Output = Result<ProfileRow>> + Send;
    /// With `session` (this window's, begun in the same transaction) its profile; without (a
    /// reset of an account with a second factor, which signs in with its code) `None`.
    fn replace_password(
        &self,
        seen: Seen<'_>,
        password_hash: &str,
        code: Option<&CodeRow>,
        throttle_key: &str,
        session: Option<&NewSessionRow<'_>>,
        now: i64,
    ) -> impl Future<Output = Result<Option<ProfileRow>>> + Send;
    fn change_email(
        &self,
        seen: Seen<'_>,
        code: &CodeRow,
        session: &NewSessionRow<'_>,
    ) -> impl Future<Output = Result<ProfileRow>> + Send;
    /// Recorded as `account_deleted` at `now` (the account's id, never its name).
    fn delete_account(&self, seen: Seen<'_>, throttle_key: &str, now: i64) -> impl Future<Output = Result<()>> + Send;
}

/// Sessions: started by a sign-in, found by their token's hash, ended by a sign-out.
pub trait SessionStore: Send + Sync {
    /// A password check passed: if the account is still the one `seen` read, starts a session,
    /// clears its login count under `throttle_key` and notes the session's device and network
    /// (new if not seen since `known_since`, as `note_device`), all or nothing, and returns its
    /// profile; `None` (nothing written) if it changed or went meanwhile.
    fn complete_login(
        &self,
        throttle_key: &str,
        seen: Seen<'_>,
        session: &NewSessionRow<'_>,
        known_since: i64,
    ) -> impl Future<Output = Result<Option<SignedInRow>>> + Send;
    fn find_session_profile(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> impl Future<Output = Result<Option<ProfileRow>>> + Send;
    fn find_session_user(&self, token_hash: &[u8], now: i64) -> impl Future<Output = Result<Option<UserRow>>> + Send;
    fn delete_session(&self, token_hash: &[u8]) -> impl Future<Output = Result<bool>> + Send;
    /// Records a use of the session (the caller decides how often).
    fn touch_session(&self, token_hash: &[u8], now: i64) -> impl Future<Output = Result<()>> + Send;
    /// The account's live sessions, newest use first, the one with `token_hash` marked current.
    fn list_sessions(
        &self,
        user_id: i64,
        token_hash: &[u8],
        now: i64,
    ) -> impl Future<Output = Result<Vec<DeviceRow>>> + Send;
    /// Ends the account's session with `public_id`, or with `None` every session but the one
    /// with `token_hash` (which this never ends), remembering each as ended from elsewhere. The
    /// number ended: 0 when the id is not one of this account's other sessions.
    fn end_sessions(
        &self,
        user_id: i64,
        token_hash: &[u8],
        public_id: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Whether the session with this hash was ended from another device (until it would have expired).
    fn session_was_ended(&self, token_hash: &[u8]) -> impl Future<Output = Result<bool>> + Send;
}

/// Emailed codes: pending sign-ups, account codes (reset, email change), and the attempts and
/// resends of either.
pub trait CodeStore: Send + Sync {
    fn insert_pending_signup(
        &self,
        new: &NewPending<'_>,
        replaces: Option<&[u8]>,
    ) -> impl Future<Output = Result<i64>> + Send;
    fn pending_signup_tags(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn find_pending_by_owner(&self, owner_hash: &[u8]) -> impl Future<Output = Result<Option<PendingRow>>> + Send;
    fn find_pending_by_address(
        &self,
        email_key: &str,
        username_key: &str,
    ) -> impl Future<Output = Result<Vec<PendingRow>>> + Send;
    fn reserve_code_attempt(
        &self,
        table: CodeTable,
        id: i64,
        code_hash: &str,
        max: i64,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    fn swap_code(
        &self,
        table: CodeTable,
        id: i64,
        old: &CodeState<'_>,
        new: &CodeState<'_>,
    ) -> impl Future<Output = Result<bool>> + Send;
    fn delete_code(&self, table: CodeTable, id: i64) -> impl Future<Output = Result<()>> + Send;
    fn delete_code_if(&self, table: CodeTable, id: i64, code_hash: &str) -> impl Future<Output = Result<bool>> + Send;
    fn find_account_code(&self, subject: Subject<'_>) -> impl Future<Output = Result<Option<CodeRow>>> + Send;
    fn replace_account_code(
        &self,
        new: &NewCode<'_>,
        cooldown: i64,
    ) -> impl Future<Output = Result<std::result::Result<i64, i64>>> + Send;
    fn refund_code_attempt(&self, id: i64, code_hash: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The second factor: enrolment, its changes (each behind a proof), and the sign-ins waiting for
/// it. Every proof is spent in the transaction of what it allows.
pub trait SecondFactorStore: Send + Sync {
    /// A new secret waiting for its first code; `false` (nothing changed) when one is already on.
    fn start_second_factor(&self, user_id: i64, secret: &[u8], now: i64) -> impl Future<Output = Result<bool>> + Send;
    fn find_second_factor(&self, user_id: i64) -> impl Future<Output = Result<Option<SecondFactorRow>>> + Send;
    /// Spends `proof` and makes `change`, recording `event`, all or nothing; `false` when the
    /// proof was not good (a used step, a used or unknown recovery code, the factor not in the
    /// state the change needs).
    fn change_second_factor(
        &self,
        user_id: i64,
        proof: Proof<'_>,
        change: FactorChange<'_>,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<bool>> + Send;
    fn add_login_challenge(
        &self,
        challenge_hash: &[u8],
        seen: Seen<'_>,
        expires_at: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    fn find_login_challenge(
        &self,
        challenge_hash: &[u8],
        now: i64,
    ) -> impl Future<Output = Result<Option<ChallengeRow>>> + Send;
    /// In one transaction: uses the challenge, spends the proof, starts the session (only if the
    /// account is still the one `seen` read), clears the login count, records the sign-in and
    /// notes its device (as `complete_login`).
    fn complete_second_factor_login(
        &self,
        challenge_hash: &[u8],
        throttle_key: &str,
        seen: Seen<'_>,
        proof: Proof<'_>,
        session: &NewSessionRow<'_>,
        known_since: i64,
    ) -> impl Future<Output = Result<SecondFactorSignIn>> + Send;
}

/// The operator's commands (`latchkey-server admin`).
pub trait AdminStore: Send + Sync {
    /// Accounts whose username or address starts with `prefix`, after the id `after`, at most `limit`.
    fn search_users(
        &self,
        prefix: &str,
        after: i64,
        limit: i64,
        now: i64,
    ) -> impl Future<Output = Result<Vec<AdminUserRow>>> + Send;
    fn show_user(&self, user_id: i64, now: i64) -> impl Future<Output = Result<Option<AdminUserRow>>> + Send;
    /// Makes the change and records `event`, all or nothing; how many rows it changed.
    fn admin_act(
        &self,
        user_id: i64,
        action: AdminAction,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// What a right password must still pass (the operator's required reset, a second factor).
    fn sign_in_gates(&self, user_id: i64) -> impl Future<Output = Result<SignInGates>> + Send;
}

/// Security activity and the devices accounts signed in from.
pub trait EventStore: Send + Sync {
    fn record_event(&self, event: &NewEvent<'_>) -> impl Future<Output = Result<()>> + Send;
    /// Records the event unless the account has one of its kind from the last `every` seconds.
    fn record_event_at_most_every(&self, event: &NewEvent<'_>, every: i64) -> impl Future<Output = Result<()>> + Send;
    /// The account's events from `since` on, newest first, before the event `before` (a page's
    /// cursor; `i64::MAX` for the first page), at most `limit`.
    fn list_events(
        &self,
        user_id: i64,
        since: i64,
        before: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<EventRow>>> + Send;
    /// Records a sign-in from `device` on `network`; true when the pair was not seen on the
    /// account since `known_since` (or ever) and the account had another device noted before.
    /// One at a time per account, so two sign-ins from one new device at once make one "new".
    fn note_device(
        &self,
        user_id: i64,
        device: &str,
        network: &str,
        now: i64,
        known_since: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Removes events older than `before` (one bounded batch) and devices not seen since
    /// `devices_before` (kept as long as the events: an account's devices are its baseline for
    /// what is new); how many rows.
    fn purge_events(&self, before: i64, devices_before: i64) -> impl Future<Output = Result<u64>> + Send;
}

/// Counters that limit what a requester may do: failed sign-ins and code mails.
pub trait LimitStore: Send + Sync {
    fn reserve_login_attempt(
        &self,
        key: &str,
        policy: LockPolicy,
        now: i64,
    ) -> impl Future<Output = Result<Reservation>> + Send;
    fn clear_login_throttle(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
    /// A code mail to `address_key` asked for by `requester`, if the limits allow it now.
    fn reserve_mail_slot(
        &self,
        address_key: &str,
        requester: &str,
        limits: MailLimits,
        now: i64,
    ) -> impl Future<Output = Result<std::result::Result<i64, i64>>> + Send;
    fn release_mail_slot(&self, id: i64) -> impl Future<Output = Result<()>> + Send;
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub struct TestDb {
        pub pool: SqlitePool,
        pub dir: tempfile::TempDir,
    }

    impl TestDb {
        pub fn path(&self) -> std::path::PathBuf {
            self.dir.path().join(DB_FILE)
        }
    }

    /// A real SQLite file with the real migrations, in a fresh temporary directory.
    pub async fn test_db() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let pool = open(&dir.path().join(DB_FILE)).await.unwrap();
        TestDb { pool, dir }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::test_db;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::SqlitePool;

    #[tokio::test]
    async fn database_file_is_private_and_in_wal_mode() {
        let db = test_db().await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(db.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&db.pool).await.unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&db.pool).await.unwrap();
        assert_eq!(fk, 1);
    }

    /// A request that read an account and then waited on argon2 must never find another account
    /// under the same id: deleting the newest account does not free its id.
    #[tokio::test]
    async fn ids_are_never_reused() {
        let db = test_db().await;
        let insert = |name: &'static str| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO users (username, username_key, email, email_key, password_hash, date_joined)
                 VALUES ($1, $1, $1 || '@x.io', $1 || '@x.io', 'h', 1) RETURNING id",
            )
            .bind(name)
            .fetch_one(&db.pool)
        };
        insert("a").await.unwrap();
        let b = insert("b").await.unwrap();
        sqlx::query("DELETE FROM users WHERE id = $1").bind(b).execute(&db.pool).await.unwrap();
        assert!(insert("c").await.unwrap() > b);
        for table in ["pending_signups", "account_codes", "mail_sends"] {
            let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
                .bind(table)
                .fetch_one(&db.pool)
                .await
                .unwrap();
            assert!(sql.contains("AUTOINCREMENT"), "{table}: {sql}");
        }
    }

    /// The migration that rebuilt the tables with AUTOINCREMENT keeps every row, every link
    /// between them, and the highest id given out so far.
    #[tokio::test]
    async fn the_rebuild_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::DB_FILE);
        let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true).foreign_keys(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(
                super::MIGRATOR.migrations.iter().filter(|m| m.version < 20261130100000).cloned().collect(),
            ),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        before.run(&pool).await.unwrap();
        for sql in [
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, date_joined, username_skeleton)
             VALUES (1, 'a', 'a', 'a@x.io', 'a@x.io', 'h', 1, 'a'), (7, 'b', 'b', 'b@x.io', 'b@x.io', 'h', 1, 'b')",
            "INSERT INTO sessions VALUES (zeroblob(32), 7, 1, 99)",
            "INSERT INTO account_codes (purpose, user_id, email_key, new_email, code_hash, created_at, last_sent_at, expires_at)
             VALUES ('email_change', 7, 'n@x.io', 'n@x.io', 'c', 1, 1, 99)",
            "INSERT INTO pending_signups (username, username_key, email, email_key, password_hash, code_hash, created_at,
               last_sent_at, expires_at, owner_hash) VALUES ('p', 'p', 'p@x.io', 'p@x.io', 'h', 'c', 1, 1, 99, zeroblob(32))",
            "INSERT INTO mail_sends (address_key, sent_at) VALUES ('a@x.io', 1)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
        let pool = super::open(&path).await.unwrap();
        let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool);
        for table in ["sessions", "account_codes", "pending_signups", "mail_sends"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&pool).await.unwrap();
            assert_eq!(n, 1, "{table}");
        }
        assert_eq!(count("SELECT count(*) FROM users").await.unwrap(), 2);
        assert_eq!(count("SELECT count(*) FROM pragma_foreign_key_check").await.unwrap(), 0);
        // The links still cascade, and the highest id is remembered.
        sqlx::query("DELETE FROM users WHERE id = 7").execute(&pool).await.unwrap();
        assert_eq!(
            count("SELECT count(*) FROM sessions").await.unwrap()
                + count("SELECT count(*) FROM account_codes").await.unwrap(),
            0
        );
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, username_key, email, email_key, password_hash, date_joined)
             VALUES ('c', 'c', 'c@x.io', 'c@x.io', 'h', 1) RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(next, 8);
    }

    #[tokio::test]
    async fn reopening_an_existing_database_keeps_its_data() {
        let db = test_db().await;
        sqlx::query("INSERT INTO users (username, username_key, email, email_key, password_hash, date_joined) VALUES ('a','a','a@x.io','a@x.io','h',1)")
            .execute(&db.pool)
            .await
            .unwrap();
        db.pool.close().await;
        let pool = super::open(&db.path()).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 1);
    }
}
