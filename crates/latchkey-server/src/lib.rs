//! Latchkey's accounts over HTTP: the original service's API (`/users/signup/`,
//! `/users/verification/`, `/users/login/`, `/users/who_am_i/`) and the rest of an account's life
//! under the same prefix, through the same `Accounts` contract as the desktop app. Handlers are
//! thin: parse the request, ask the accounts, word the reply with `latchkey_core::wire`.

pub mod admin;
mod devices;
pub mod extractors;
pub mod http;
pub mod limits;
pub mod listener;
pub mod settings;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::auth::{self, Timestamp};
use latchkey_core::contract::{system_clock, DatabaseAccounts};
use latchkey_core::mail::Mailer;
use latchkey_core::store::{self, Store};
use sqlx::SqlitePool;

use limits::ClientLimit;
pub use settings::{Database, MailTo, Settings};

/// What every request needs: the accounts (database, mailer, clock), the service's settings and
/// its per-client limit. Generic over the store: SQLite or PostgreSQL, as `DATABASE_URL` says.
pub struct Service<S = SqlitePool> {
    pub accounts: DatabaseAccounts<S>,
    pub settings: Settings,
    pub limit: ClientLimit,
}

/// The mailer the settings name (the service's, and the admin commands' notices).
pub fn mailer(settings: &Settings) -> Result<Mailer, String> {
    match &settings.mail {
        MailTo::Smtp(smtp) => Mailer::smtp(smtp, &settings.mail_from),
        MailTo::Outbox(dir) => {
            log::warn!(
                "mail is not sent: every message, codes included, is written as an .eml file in {} (LATCHKEY_OUTBOX)",
                dir.display()
            );
            Mailer::outbox(dir, &settings.mail_from)
        }
    }
}

impl<S: Store> Service<S> {
    pub fn new(pool: S, settings: Settings) -> Result<Arc<Self>, String> {
        let mailer = mailer(&settings)?;
        // One queue per process: the last service started in it sets its places. The threads are
        // started at the first hash, so a thread count must come before it.
        if let Some(threads) = settings.argon2_threads {
            auth::secret::set_threads(threads).map_err(|e| format!("LATCHKEY_ARGON2_THREADS: {e}"))?;
        }
        auth::secret::set_queue_bound(settings.hash_queue);
        let limit = ClientLimit::new(settings.ip_limit_per_minute);
        Ok(Arc::new(Service { accounts: DatabaseAccounts { pool, mailer, clock: system_clock() }, settings, limit }))
    }

    pub fn now(&self) -> Timestamp {
        self.accounts.now()
    }
}

/// Opens the database `DATABASE_URL` names (creating and migrating it as needed), then serves
/// until `shutdown` completes.
pub async fn open_and_serve(
    settings: Settings,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    match settings.database.clone() {
        Database::Sqlite(path) => {
            let named = |e: &dyn std::fmt::Display| format!("database {}: {e}", path.display());
            let pool = store::open(&path).await.map_err(|e| named(&e))?;
            store::users::fill_skeletons(&pool, auth::validate::username_skeleton).await.map_err(|e| named(&e))?;
            serve(listener, Service::new(pool, settings)?, shutdown).await
        }
        Database::Postgres(url) => {
            // Never the URL in the message: it may hold a password.
            let pool = store::postgres::open(&url).await.map_err(|e| format!("database (PostgreSQL): {e}"))?;
            serve(listener, Service::new(pool, settings)?, shutdown).await
        }
    }
    .map_err(|e| format!("serving: {e}"))
}

/// Expired sign-ups, sessions, codes and counters are swept this often (requests also sweep).
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Clients whose per-client bucket is full again are forgotten this often.
const FORGET_CLIENTS_EVERY: Duration = Duration::from_secs(60);

/// Serves `service` on `listener` until `shutdown` completes (see `listener::run` for the
/// connections' deadlines, the cap and how shutdown ends them), then closes the database pool.
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    service: Arc<Service<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = tokio::spawn({
        let service = service.clone();
        async move {
            let mut every = tokio::time::interval(PURGE_EVERY);
            loop {
                every.tick().await;
                let now = service.now();
                if let Err(e) = service.accounts.pool.purge_expired(now).await {
                    log::warn!("purging expired rows: {e}");
                }
                let events_before = now - service.settings.event_retention_days * 86_400;
                if let Err(e) = service.accounts.pool.purge_events(events_before, events_before).await {
                    log::warn!("purging old security events: {e}");
                }
            }
        }
    });
    let forgetter = tokio::spawn({
        let service = service.clone();
        async move {
            let mut every = tokio::time::interval(FORGET_CLIENTS_EVERY);
            loop {
                every.tick().await;
                service.limit.sweep();
            }
        }
    });
    let app = http::router(service.clone());
    let served = listener::run(listener, app, service.settings.connections, shutdown).await;
    purger.abort();
    forgetter.abort();
    service.accounts.pool.close().await;
    served
}
