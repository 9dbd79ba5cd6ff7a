//! Managed state: the accounts (this computer's database, or a server's), the keychain and the
//! clock, built once in `setup`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::Either;
use tokio::sync::{watch, Mutex};

use crate::auth::account::{EmailChangeStarted, ResetRequest, SessionRenewed};
use crate::auth::export::Exported;
use crate::auth::login::Startup;
use crate::auth::second_factor::{Enrolment, RecoveryCodes};
use crate::auth::secret::Token;
use crate::auth::signup::{CodeSent, SignupCredentials, SignupRequest};
use crate::auth::{Device, NewSession, Profile};
use crate::config::Config;
use crate::contract::{Accounts, DatabaseAccounts};
use crate::keychain::Keychain;
use crate::mail::{Mailer, OUTBOX_DIR};
use crate::remote::Remote;
use crate::store::{DeviceRow, EventRow};
use crate::{auth, private_files, store};

pub use crate::contract::{system_clock, Clock};

pub struct App {
    /// This data folder's accounts (the pool, the mailer and the clock), or a server's. Shared
    /// with the keychain's work that finishes after a sign-in has answered.
    accounts: Arc<Backend>,
    keychain: Keychain,
    /// The session of this run. Loaded from the keychain on first use, so start-up does not wait
    /// on D-Bus; kept in memory too, so sign-in works for this run when the keychain does not.
    session: Mutex<Option<Option<Token>>>,
    /// Held by each keychain write or removal, so they happen one at a time.
    keeper: Arc<Mutex<()>>,
    /// The session's turn (one more at every sign-in and sign-out) and whether the keychain kept
    /// it: `None` while its write is under way, `Some(false)` when it failed.
    kept: watch::Sender<(u64, Option<bool>)>,
    /// This computer as the devices list names it (see `this_device`).
    device: String,
}

/// This computer as a session records it: its name and system, "ann-laptop (Linux)".
fn this_device() -> String {
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    auth::device_label(&if host.trim().is_empty() { format!("{os} computer") } else { format!("{host} ({os})") })
}

/// The accounts of this data folder's database, or of the server `LATCHKEY_SERVER_URL` names.
pub enum Backend {
    Database(DatabaseAccounts),
    Remote(Remote),
}

/// The same question of whichever backend this is: either one's own future, with no wrapper of
/// ours to compile (the installer's size has a budget).
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Backend::Database(a) => Either::Left(a.$method($($arg),*)),
            Backend::Remote(a) => Either::Right(a.$method($($arg),*)),
        }
    };
}

impl Accounts for Backend {
    fn startup<F: std::future::Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> impl std::future::Future<Output = crate::Result<Startup>> + Send {
        dispatch!(self.startup(remembered))
    }
    fn request_signup(
        &self,
        req: SignupRequest<'_>,
        requester: &str,
    ) -> impl std::future::Future<Output = crate::Result<CodeSent>> + Send {
        dispatch!(self.request_signup(req, requester))
    }
    fn resend_signup(
        &self,
        signup_id: &str,
        requester: &str,
    ) -> impl std::future::Future<Output = crate::Result<CodeSent>> + Send {
        dispatch!(self.resend_signup(signup_id, requester))
    }
    fn verify_signup(
        &self,
        signup_id: &str,
        code: &str,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<NewSession>> + Send {
        dispatch!(self.verify_signup(signup_id, code, device))
    }
    fn verify_with_credentials(
        &self,
        credentials: SignupCredentials<'_>,
        code: &str,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<NewSession>> + Send {
        dispatch!(self.verify_with_credentials(credentials, code, device))
    }
    fn login(
        &self,
        identifier: &str,
        password: &str,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<NewSession>> + Send {
        dispatch!(self.login(identifier, password, device))
    }
    fn whoami(&self, token: Option<&Token>) -> impl std::future::Future<Output = crate::Result<Profile>> + Send {
        dispatch!(self.whoami(token))
    }
    fn logout(&self, token: &Token) -> impl std::future::Future<Output = crate::Result<()>> + Send {
        dispatch!(self.logout(token))
    }
    fn request_reset(
        &self,
        email: &str,
        requester: &str,
    ) -> impl std::future::Future<Output = crate::Result<CodeSent>> + Send {
        dispatch!(self.request_reset(email, requester))
    }
    fn resend_reset(
        &self,
        reset_id: &str,
        requester: &str,
    ) -> impl std::future::Future<Output = crate::Result<CodeSent>> + Send {
        dispatch!(self.resend_reset(reset_id, requester))
    }
    fn reset_password(
        &self,
        req: ResetRequest<'_>,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<SessionRenewed>> + Send {
        dispatch!(self.reset_password(req, device))
    }
    fn change_password(
        &self,
        token: Option<&Token>,
        current: &str,
        new: &str,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<SessionRenewed>> + Send {
        dispatch!(self.change_password(token, current, new, device))
    }
    fn request_email_change(
        &self,
        token: Option<&Token>,
        password: &str,
        new_email: &str,
    ) -> impl std::future::Future<Output = crate::Result<EmailChangeStarted>> + Send {
        dispatch!(self.request_email_change(token, password, new_email))
    }
    fn resend_email_change(
        &self,
        token: Option<&Token>,
    ) -> impl std::future::Future<Output = crate::Result<EmailChangeStarted>> + Send {
        dispatch!(self.resend_email_change(token))
    }
    fn verify_email_change(
        &self,
        token: Option<&Token>,
        code: &str,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<SessionRenewed>> + Send {
        dispatch!(self.verify_email_change(token, code, device))
    }
    fn cancel_email_change(
        &self,
        token: Option<&Token>,
    ) -> impl std::future::Future<Output = crate::Result<Profile>> + Send {
        dispatch!(self.cancel_email_change(token))
    }
    fn delete_account(
        &self,
        token: Option<&Token>,
        password: &str,
        confirm: &str,
    ) -> impl std::future::Future<Output = crate::Result<bool>> + Send {
        dispatch!(self.delete_account(token, password, confirm))
    }
    fn sessions(
        &self,
        token: Option<&Token>,
    ) -> impl std::future::Future<Output = crate::Result<Vec<DeviceRow>>> + Send {
        dispatch!(self.sessions(token))
    }
    fn revoke_session(
        &self,
        token: Option<&Token>,
        id: &str,
    ) -> impl std::future::Future<Output = crate::Result<()>> + Send {
        dispatch!(self.revoke_session(token, id))
    }
    fn revoke_other_sessions(
        &self,
        token: Option<&Token>,
    ) -> impl std::future::Future<Output = crate::Result<u64>> + Send {
        dispatch!(self.revoke_other_sessions(token))
    }
    fn login_second_factor(
        &self,
        challenge: &str,
        code: &str,
        device: Device<'_>,
    ) -> impl std::future::Future<Output = crate::Result<NewSession>> + Send {
        dispatch!(self.login_second_factor(challenge, code, device))
    }
    fn second_factor_setup(
        &self,
        token: Option<&Token>,
        password: &str,
    ) -> impl std::future::Future<Output = crate::Result<Enrolment>> + Send {
        dispatch!(self.second_factor_setup(token, password))
    }
    fn second_factor_confirm(
        &self,
        token: Option<&Token>,
        code: &str,
    ) -> impl std::future::Future<Output = crate::Result<RecoveryCodes>> + Send {
        dispatch!(self.second_factor_confirm(token, code))
    }
    fn second_factor_disable(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> impl std::future::Future<Output = crate::Result<bool>> + Send {
        dispatch!(self.second_factor_disable(token, password, code))
    }
    fn second_factor_recovery_codes(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> impl std::future::Future<Output = crate::Result<RecoveryCodes>> + Send {
        dispatch!(self.second_factor_recovery_codes(token, password, code))
    }
    fn export_data(
        &self,
        token: Option<&Token>,
        password: &str,
    ) -> impl std::future::Future<Output = crate::Result<Exported>> + Send {
        dispatch!(self.export_data(token, password))
    }
    fn activity(
        &self,
        token: Option<&Token>,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> impl std::future::Future<Output = crate::Result<Vec<EventRow>>> + Send {
        dispatch!(self.activity(token, before, limit))
    }
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
    #[error("Latchkey's data folder {} is {why}, so Latchkey will not use it: files in it could have been planted or swapped. Use a folder only you own and can write to (or set LATCHKEY_DATA_DIR to one), then open Latchkey again.", .dir.display())]
    UnsafeFolder { dir: PathBuf, why: private_files::Unsafe },
    #[error("Latchkey could not open its data in {}: {cause}. Try again; if this keeps happening, check that folder and the disk.", .dir.display())]
    Other { dir: PathBuf, cause: String },
}

// SQLite's primary result codes (the low byte of an extended code).
const SQLITE_PERM: i64 = 3;
const SQLITE_READONLY: i64 = 8;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

/// Classified from `io::ErrorKind` and SQLite's result codes, never from message text: a message
/// can say "full" or "corrupt" about something else.
impl StartupError {
    fn from_io(dir: &Path, e: &std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            PermissionDenied | ReadOnlyFilesystem | NotFound => StartupError::NotWritable(dir.to_path_buf()),
            StorageFull | QuotaExceeded => StartupError::DiskFull(dir.to_path_buf()),
            _ => StartupError::Other { dir: dir.to_path_buf(), cause: e.to_string() },
        }
    }

    fn from_open(dir: &Path, db: &Path, e: &store::OpenError) -> Self {
        use sqlx::migrate::MigrateError;
        match e {
            store::OpenError::Io(e) => Self::from_io(dir, e),
            store::OpenError::Database(e)
            | store::OpenError::Migrate(MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _)) => {
                Self::from_sqlx(dir, db, e)
            }
            other => StartupError::Other { dir: dir.to_path_buf(), cause: other.to_string() },
        }
    }

    fn from_sqlx(dir: &Path, db: &Path, e: &sqlx::Error) -> Self {
        let code = match e {
            sqlx::Error::Io(io) => return Self::from_io(dir, io),
            sqlx::Error::Database(d) => d.code().and_then(|c| c.parse::<i64>().ok()),
            _ => None,
        };
        match code.map(|c| c & 0xff) {
            Some(SQLITE_NOTADB | SQLITE_CORRUPT) => StartupError::Damaged(db.to_path_buf()),
            Some(SQLITE_FULL) => StartupError::DiskFull(dir.to_path_buf()),
            Some(SQLITE_READONLY | SQLITE_CANTOPEN | SQLITE_PERM) => StartupError::NotWritable(dir.to_path_buf()),
            _ => StartupError::Other { dir: dir.to_path_buf(), cause: e.to_string() },
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
        let private = private_files::ensure_private_dir(data_dir).map_err(|e| StartupError::from_io(data_dir, &e))?;
        private.map_err(|why| StartupError::UnsafeFolder { dir: data_dir.to_path_buf(), why })?;
        let outbox = data_dir.join(OUTBOX_DIR);
        if outbox.exists() {
            let private = private_files::ensure_private_dir(&outbox).map_err(|e| StartupError::from_io(&outbox, &e))?;
            private.map_err(|why| StartupError::UnsafeFolder { dir: outbox.clone(), why })?;
        }
        let db_path = data_dir.join(store::DB_FILE);
        let pool = store::open(&db_path).await.map_err(|e| StartupError::from_open(data_dir, &db_path, &e))?;
        store::users::fill_skeletons(&pool, auth::validate::username_skeleton)
            .await
            .map_err(|e| StartupError::from_sqlx(data_dir, &db_path, &e))?;
        let install_id =
            store::meta::install_id(&pool).await.map_err(|e| StartupError::from_sqlx(data_dir, &db_path, &e))?;
        // The entry is this data folder's; its token goes only to the server (or the database)
        // that issued it.
        let keychain = keychain.scoped(&install_id).issued_by(config.server.as_ref().map(ToString::to_string));
        // With a server, this data folder's database only names the keychain entry, and the
        // server sends the mail.
        let accounts = match &config.server {
            Some(url) => {
                log::info!("accounts on {url}");
                Backend::Remote(Remote::new(url.clone()).map_err(StartupError::Settings)?)
            }
            None => {
                let mailer = match &config.smtp {
                    Some(smtp) => Mailer::smtp(smtp, &config.mail_from),
                    None => Mailer::outbox(&outbox, &config.mail_from),
                }
                .map_err(StartupError::Settings)?;
                // Expired rows are purged by the first screen's `startup` call, after the window shows.
                Backend::Database(DatabaseAccounts { pool, mailer, clock })
            }
        };
        Ok(App {
            accounts: Arc::new(accounts),
            keychain,
            session: Mutex::new(None),
            keeper: Arc::new(Mutex::new(())),
            kept: watch::Sender::new((0, Some(true))),
            device: this_device(),
        })
    }

    /// Where the accounts are: what every command asks.
    pub fn accounts(&self) -> &Backend {
        &self.accounts
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

    /// The device new sessions of this window are recorded for.
    pub fn device(&self) -> Device<'_> {
        Device { label: &self.device, ip: None }
    }

    /// This data folder's keychain entry.
    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// Keeps the new session for this run at once; the keychain keeps it a moment later, after
    /// the window has its answer (`remembered` says whether it could). The session it replaces
    /// here ends in the database too, so no forgotten session stays valid.
    ///
    /// What stays promised: the window is answered only with a session the database already
    /// holds (the caller's step wrote it), and the keychain only ever holds a session the
    /// database knows: the write waits its turn behind any other keychain step, is skipped when a
    /// sign-out or another sign-in came first, and a sign-out removes the entry (waiting for a
    /// write under way) before the database forgets the session.
    pub async fn sign_in(&self, token: Token) {
        let (previous, turn) = {
            let mut slot = self.session.lock().await;
            let previous = slot.replace(Some(token.clone()));
            (previous, self.next_turn(None))
        };
        let (accounts, keychain, keeper, kept) =
            (self.accounts.clone(), self.keychain.clone(), self.keeper.clone(), self.kept.clone());
        tauri::async_runtime::spawn(async move {
            let _turn = keeper.lock().await;
            // Never read this run: the entry holds whatever session this window had before.
            let previous = match previous {
                Some(previous) => previous,
                None => keychain.load().await.unwrap_or_else(|e| {
                    log::warn!("could not read the session from the keychain: {e}");
                    None
                }),
            };
            let mut stored = None;
            if kept.borrow().0 == turn {
                let result = keychain.store(&token).await;
                if let Err(e) = &result {
                    log::warn!("the session will not be remembered: {e}");
                    // Not the session this one replaces, which ends next.
                    if let Err(e) = keychain.clear().await {
                        log::warn!("could not remove the replaced session from the keychain: {e}");
                    }
                }
                stored = Some(result.is_ok());
            }
            if let Some(previous) = previous.filter(|t| *t != token) {
                if let Err(e) = accounts.logout(&previous).await {
                    log::warn!("could not end the replaced session: {e}");
                }
            }
            // Told once all of it is done, so whoever waits finds the replaced session ended.
            if let Some(stored) = stored {
                kept.send_if_modified(|now| now.0 == turn && now.1.replace(stored).is_none());
            }
        });
    }

    /// Forgets the session here and in the keychain (after any write under way); returns the
    /// token that was current.
    pub async fn sign_out(&self) -> Option<Token> {
        let token = self.current_token().await;
        {
            let mut slot = self.session.lock().await;
            *slot = Some(None);
            self.next_turn(Some(true));
        }
        let _turn = self.keeper.lock().await;
        if let Err(e) = self.keychain.clear().await {
            log::warn!("could not remove the session from the keychain: {e}");
        }
        token
    }

    /// Whether the keychain keeps this window's session (after its write, if one is under way);
    /// true when there is nothing to keep.
    pub async fn remembered(&self) -> bool {
        let mut kept = self.kept.subscribe();
        let answer = kept.wait_for(|(_, kept)| kept.is_some()).await.map(|now| now.1);
        answer.ok().flatten().unwrap_or(false)
    }

    /// Waits (a while at most) for the keychain's steps under way, so closing the window right
    /// after signing in still leaves the session remembered.
    pub async fn settled(&self) {
        let wait = async {
            self.remembered().await;
            drop(self.keeper.lock().await);
        };
        if tokio::time::timeout(std::time::Duration::from_secs(3), wait).await.is_err() {
            log::warn!("the keychain did not answer before the app closed");
        }
    }

    /// The next session's turn, with what is known of it; called with the session slot held, so
    /// turns follow the order of the sessions.
    fn next_turn(&self, kept: Option<bool>) -> u64 {
        let mut turn = 0;
        self.kept.send_modify(|now| {
            *now = (now.0 + 1, kept);
            turn = now.0;
        });
        turn
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;
    use crate::auth::signup::{self, SignupRequest};
    use crate::auth::{account, login, secret};
    use crate::error::Error;

    const PW: &str = "correct horse battery";
    const T0: i64 = 1_800_000_000;

    /// The real error of opening this database file with these options and running `sql` on it.
    async fn sqlite_error(options: SqliteConnectOptions, sql: &str) -> sqlx::Error {
        match SqlitePoolOptions::new().max_connections(1).connect_with(options).await {
            Err(e) => e,
            Ok(pool) => sqlx::query(sql).execute(&pool).await.unwrap_err(),
        }
    }

    #[tokio::test]
    async fn startup_faults_are_classified_by_sqlite_codes_not_message_text() {
        let dir = tempfile::tempdir().unwrap();
        let (d, db) = (dir.path(), dir.path().join("x.db"));
        let classify = |e: &sqlx::Error| StartupError::from_sqlx(d, &db, e);

        std::fs::write(&db, b"this is not a database, just text").unwrap();
        let not_a_db = sqlite_error(SqliteConnectOptions::new().filename(&db), "SELECT 1 FROM sqlite_master").await;
        assert!(matches!(classify(&not_a_db), StartupError::Damaged(_)), "{not_a_db}");

        // "unable to open database file" has none of the words the old text search looked for.
        let cannot_open = sqlite_error(SqliteConnectOptions::new().filename(d.join("no/such/dir/x.db")), "").await;
        assert!(matches!(classify(&cannot_open), StartupError::NotWritable(_)), "{cannot_open}");

        let fresh = d.join("fresh.db");
        let options = SqliteConnectOptions::new().filename(&fresh).create_if_missing(true);
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        sqlx::query("CREATE TABLE t (full_name TEXT UNIQUE)").execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO t VALUES ('a')").execute(&pool).await.unwrap();
        // A constraint on a column named "full_name": the text says "full", the code says constraint.
        let constraint = sqlx::query("INSERT INTO t VALUES ('a')").execute(&pool).await.unwrap_err();
        assert!(matches!(classify(&constraint), StartupError::Other { .. }), "{constraint}");
        pool.close().await;
        let read_only =
            sqlite_error(SqliteConnectOptions::new().filename(&fresh).read_only(true), "INSERT INTO t VALUES ('b')")
                .await;
        assert!(matches!(classify(&read_only), StartupError::NotWritable(_)), "{read_only}");
    }

    #[test]
    fn io_faults_are_classified_by_kind() {
        use std::io::{Error as IoError, ErrorKind};
        let d = Path::new("/data");
        let classify = |kind: ErrorKind| StartupError::from_open(d, &d.join("x.db"), &IoError::from(kind).into());
        assert!(matches!(classify(ErrorKind::PermissionDenied), StartupError::NotWritable(_)));
        assert!(matches!(classify(ErrorKind::NotFound), StartupError::NotWritable(_)));
        assert!(matches!(classify(ErrorKind::StorageFull), StartupError::DiskFull(_)));
        // Words in the message do not matter, only the kind.
        let odd = IoError::other("disk full, database corrupt, read-only");
        assert!(matches!(StartupError::from_io(d, &odd), StartupError::Other { .. }));
    }

    /// A database as the version before skeletons left it: only the migrations it had.
    async fn database_before_skeletons(path: &Path) {
        let old = tempfile::tempdir().unwrap();
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        for entry in std::fs::read_dir(all).unwrap() {
            let entry = entry.unwrap().path();
            if entry.file_name().unwrap().to_str().unwrap() < "20261127130000" {
                std::fs::copy(&entry, old.path().join(entry.file_name().unwrap())).unwrap();
            }
        }
        let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
        let hash = secret::hash(PW).unwrap();
        // "admin", then a Cyrillic-"а" look-alike that the old rules let in, then "ace".
        let rows = [("admin", "admin@example.com"), ("\u{430}dmin", "fake@example.com"), ("ace", "ace@example.com")];
        for (name, email) in rows {
            sqlx::query(
                "INSERT INTO users (username, username_key, email, email_key, password_hash, date_joined)
                 VALUES (?, lower(?), ?, ?, ?, 1)",
            )
            .bind(name)
            .bind(name)
            .bind(email)
            .bind(email)
            .bind(&hash)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn an_existing_database_keeps_working_and_gains_look_alike_protection() {
        let dir = tempfile::tempdir().unwrap();
        database_before_skeletons(&dir.path().join(store::DB_FILE)).await;
        let config = Config::from_lookup(|_| None).unwrap();
        let open = || App::open(&config, dir.path(), Keychain::new("latchkey-test", "upgrade"), system_clock());
        let app = open().await.unwrap();
        let Backend::Database(local) = app.accounts() else { panic!("local accounts") };
        let left: Vec<String> = sqlx::query_scalar("SELECT username FROM users WHERE username_skeleton IS NULL")
            .fetch_all(&local.pool)
            .await
            .unwrap();
        assert_eq!(left, ["\u{430}dmin"], "the older look-alike keeps the skeleton");
        local.pool.close().await;
        let app = open().await.unwrap();
        let Backend::Database(local) = app.accounts() else { panic!("local accounts") };

        // Both old look-alikes still sign in by the name as typed, and can still leave.
        let real =
            login::login(&local.pool, "Admin", PW, crate::auth::Device { label: "Test", ip: None }, T0).await.unwrap();
        assert_eq!(real.profile.username, "admin");
        let fake = login::login(&local.pool, "\u{430}dmin", PW, crate::auth::Device { label: "Test", ip: None }, T0)
            .await
            .unwrap();
        assert_eq!(fake.profile.username, "\u{430}dmin");
        account::delete_account(&local.pool, &local.mailer, Some(&fake.token), PW, "\u{430}dmin", T0).await.unwrap();

        // A new look-alike of an old account is refused: all-Cyrillic "асе" beside "ace".
        let request =
            SignupRequest { username: "\u{430}\u{441}\u{435}", email: "new@example.com", password: PW, replaces: None };
        let taken = signup::request_code(&local.pool, &local.mailer, request, crate::auth::THIS_WINDOW, T0).await;
        assert!(matches!(taken, Err(Error::UsernameTaken)), "{taken:?}");
    }
}
