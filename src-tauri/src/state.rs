//! Managed state: the pool, the mailer, the keychain and the clock, built once in `setup`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::SqlitePool;
use tokio::sync::Mutex;

use crate::auth::secret::Token;
use crate::auth::Timestamp;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::mail::{Mailer, OUTBOX_DIR};
use crate::{files, store};

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0))
}

pub struct App {
    pub pool: SqlitePool,
    pub mailer: Mailer,
    pub data_dir: PathBuf,
    keychain: Keychain,
    clock: Clock,
    /// The session of this run. Loaded from the keychain on first use, so start-up does not wait
    /// on D-Bus; kept in memory too, so sign-in works for this run when the keychain does not.
    session: Mutex<Option<Option<Token>>>,
}

impl App {
    pub async fn open(config: &Config, data_dir: &Path, keychain: Keychain, clock: Clock) -> Result<Self> {
        files::create_private_dir(data_dir).map_err(|e| Error::internal("creating the data directory", e))?;
        let pool = store::open(&data_dir.join(store::DB_FILE)).await?;
        let mailer = match &config.smtp {
            Some(smtp) => Mailer::smtp(smtp, &config.mail_from),
            None => Mailer::outbox(&data_dir.join(OUTBOX_DIR), &config.mail_from),
        }
        .map_err(|e| Error::internal("mail settings", e))?;
        store::purge_expired(&pool, clock()).await?;
        Ok(App { pool, mailer, data_dir: data_dir.to_path_buf(), keychain, clock, session: Mutex::new(None) })
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
