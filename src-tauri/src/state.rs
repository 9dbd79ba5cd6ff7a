//! Managed state: the pool, the mailer, the keychain and the clock, built once in `setup`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::SqlitePool;
use tokio::sync::Mutex;

use crate::auth::secret::Token;
use crate::auth::Timestamp;
use crate::config::Config;
use crate::error::Error;
use crate::keychain::Keychain;
use crate::mail::{Mailer, OUTBOX_DIR};
use crate::{auth, files, store};

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0))
}

pub struct App {
    pub pool: SqlitePool,
    pub mailer: Mailer,
    keychain: Keychain,
    clock: Clock,
    /// The session of this run. Loaded from the keychain on first use, so start-up does not wait
    /// on D-Bus; kept in memory too, so sign-in works for this run when the keychain does not.
    session: Mutex<Option<Option<Token>>>,
}

/// Why Latchkey could not start, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "Latchkey's settings are not valid: {0}. Fix the environment or the settings file, then open Latchkey again."
    )]
    Settings(String),
    #[error("Latchkey cannot write to its data folder {}. Make sure the folder exists and that you may write to it (or set LATCHKEY_DATA_DIR to another folder), then open Latchkey again.", .0.display())]
    NotWritable(PathBuf),
    #[error("The disk that holds Latchkey's data ({}) is full. Free some space, then open Latchkey again.", .0.display())]
    DiskFull(PathBuf),
    #[error("Latchkey's database {} is damaged or is not a Latchkey database, so it was left untouched. Move it somewhere safe (or restore a backup), then open Latchkey again to start with a new one.", .0.display())]
    Damaged(PathBuf),
    #[error("Latchkey could not open its data in {}: {cause}. Try again; if this keeps happening, check that folder and the disk.", .dir.display())]
    Other { dir: PathBuf, cause: String },
}

impl StartupError {
    fn from_io(dir: &Path, e: &std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            PermissionDenied | ReadOnlyFilesystem => StartupError::NotWritable(dir.to_path_buf()),
            StorageFull | QuotaExceeded => StartupError::DiskFull(dir.to_path_buf()),
            _ => StartupError::Other { dir: dir.to_path_buf(), cause: e.to_string() },
        }
    }

    fn from_database(dir: &Path, db: &Path, e: &Error) -> Self {
        let cause = match e {
            Error::Internal(cause) => cause.to_lowercase(),
            other => other.to_string().to_lowercase(),
        };
        if cause.contains("not a database") || cause.contains("malformed") || cause.contains("corrupt") {
            StartupError::Damaged(db.to_path_buf())
        } else if cause.contains("full") || cause.contains("no space") {
            StartupError::DiskFull(dir.to_path_buf())
        } else if cause.contains("readonly") || cause.contains("read-only") || cause.contains("permission denied") {
            StartupError::NotWritable(dir.to_path_buf())
        } else {
            StartupError::Other { dir: dir.to_path_buf(), cause }
        }
    }
}

/// Managed instead of `App` when start-up failed, so the window can explain.
pub struct StartupFailure(pub String);

impl App {
    pub async fn open(
        config: &Config,
        data_dir: &Path,
        keychain: Keychain,
        clock: Clock,
    ) -> Result<Self, StartupError> {
        files::create_private_dir(data_dir).map_err(|e| StartupError::from_io(data_dir, &e))?;
        let db_path = data_dir.join(store::DB_FILE);
        let pool = store::open(&db_path).await.map_err(|e| StartupError::from_database(data_dir, &db_path, &e))?;
        auth::upgrade::fill_username_skeletons(&pool)
            .await
            .map_err(|e| StartupError::from_database(data_dir, &db_path, &e))?;
        let mailer = match &config.smtp {
            Some(smtp) => Mailer::smtp(smtp, &config.mail_from),
            None => Mailer::outbox(&data_dir.join(OUTBOX_DIR), &config.mail_from),
        }
        .map_err(StartupError::Settings)?;
        // Expired rows are purged by the first screen's `startup` call, after the window shows.
        Ok(App { pool, mailer, keychain, clock, session: Mutex::new(None) })
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub async fn current_token(&self) -> Option<Token> {
        let mut slot = self.session.lock().await;
        if slot.is_none() {
            let loaded = self.keychain.load().await.unwrap_or_else(|e| {
                log::warn!("could not read the session from the keychain: {e}");
                None
            });
            *slot = Some(loaded);
        }
        slot.clone().flatten()
    }

    /// Keeps the new session; returns whether the keychain will remember it after a restart.
    pub async fn sign_in(&self, token: Token) -> bool {
        let remembered = match self.keychain.store(&token).await {
            Ok(()) => true,
            Err(e) => {
                log::warn!("the session will not be remembered: {e}");
                false
            }
        };
        *self.session.lock().await = Some(Some(token));
        remembered
    }

    /// Forgets the session here and in the keychain; returns the token that was current.
    pub async fn sign_out(&self) -> Option<Token> {
        let token = self.current_token().await;
        *self.session.lock().await = Some(None);
        if let Err(e) = self.keychain.clear().await {
            log::warn!("could not remove the session from the keychain: {e}");
        }
        token
    }
}
