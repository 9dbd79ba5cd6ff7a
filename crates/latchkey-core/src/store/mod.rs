//! All SQL lives here. Functions take an executor so they compose into transactions.

pub mod account_codes;
pub mod codes;
pub mod ip_requests;
pub mod lifecycle;
pub mod login_throttle;
pub mod mail_sends;
pub mod meta;
pub mod pending_signups;
pub mod sessions;
pub mod users;

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
    crate::files::ensure_private_file(path)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Removes expired pending sign-ups and sessions (the original service left them behind).
pub async fn purge_expired(pool: &SqlitePool, now: i64) -> Result<u64> {
    let pending = pending_signups::delete_expired(pool, now).await?;
    let sessions = sessions::delete_expired(pool, now).await?;
    let throttles = login_throttle::delete_stale(pool, now, crate::auth::LOGIN_HARD_LIMIT).await?;
    let codes = account_codes::delete_expired(pool, now).await?;
    let mails = mail_sends::delete_expired(pool, now).await?;
    Ok(pending + sessions + throttles + codes + mails)
}

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
