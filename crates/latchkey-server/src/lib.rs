//! Latchkey's accounts over HTTP: the original service's API (`/users/signup/`,
//! `/users/verification/`, `/users/login/`, `/users/who_am_i/`) and the rest of an account's life
//! under the same prefix, through the same `Accounts` contract as the desktop app. Handlers are
//! thin: parse the request, ask the accounts, word the reply with `latchkey_core::wire`.

pub mod admin;
pub mod admin_http;
mod devices;
pub mod extractors;
pub mod http;
pub mod limits;
pub mod listener;
pub mod metrics;
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
    pub metrics: Arc<metrics::Metrics>,
    /// The admin port's re-authentications: when each administrator's session (by its token's
    /// hash) last entered its password. In memory: a restart asks again, which is the safe way.
    pub reauthenticated: std::sync::Mutex<std::collections::HashMap<[u8; 32], Timestamp>>,
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
        let metrics = Arc::new(metrics::Metrics::new());
        let mailer = mailer(&settings)?.watched(metrics.mail_watch());
        // One queue per process: the last service started in it sets its places. The threads are
        // started at the first hash, so a thread count must come before it.
        if let Some(threads) = settings.argon2_threads {
            auth::secret::set_threads(threads).map_err(|e| format!("LATCHKEY_ARGON2_THREADS: {e}"))?;
        }
        auth::secret::set_queue_bound(settings.hash_queue);
        auth::secret::watch_waits(metrics.wait_watch());
        let limit = ClientLimit::new(settings.ip_limit_per_minute);
        let accounts = DatabaseAccounts { pool, mailer, clock: system_clock() };
        let reauthenticated = Default::default();
        Ok(Arc::new(Service { accounts, settings, limit, metrics, reauthenticated }))
    }

    pub fn now(&self) -> Timestamp {
        self.accounts.now()
    }
}

/// Opens the database `DATABASE_URL` names (creating and migrating it as needed), then serves
/// (the admin port too, if `admin` is given) until `shutdown` completes.
pub async fn open_and_serve(
    settings: Settings,
    listener: tokio::net::TcpListener,
    admin: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    match settings.database.clone() {
        Database::Sqlite(path) => {
            let named = |e: &dyn std::fmt::Display| format!("database {}: {e}", path.display());
            let pool = store::open(&path).await.map_err(|e| named(&e))?;
            store::users::fill_skeletons(&pool, auth::validate::username_skeleton).await.map_err(|e| named(&e))?;
            serve(listener, admin, Service::new(pool, settings)?, shutdown).await
        }
        Database::Postgres(url) => {
            // Never the URL in the message: it may hold a password.
            let pool = store::postgres::open(&url).await.map_err(|e| format!("database (PostgreSQL): {e}"))?;
            serve(listener, admin, Service::new(pool, settings)?, shutdown).await
        }
    }
    .map_err(|e| format!("serving: {e}"))
}

/// Expired sign-ups, sessions, codes and counters are swept this often (requests also sweep).
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Clients whose per-client bucket is full again are forgotten this often.
const FORGET_CLIENTS_EVERY: Duration = Duration::from_secs(60);

/// Serves `service` on `listener`, and the admin port on `admin` if given, until `shutdown`
/// completes (see `listener::run` for the connections' deadlines, the cap and how shutdown ends
/// them), then closes the database pool.
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    admin: Option<tokio::net::TcpListener>,
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
    // One shutdown for both ports.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let stopped = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    let admin_port = admin.map(|admin| {
        let app = admin_http::router(service.clone());
        tokio::spawn(listener::run(admin, app, service.settings.connections, stopped()))
    });
    let signal = tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.send_replace(true);
        }
    });
    let app = http::router(service.clone());
    let served = listener::run(listener, app, service.settings.connections, stopped()).await;
    signal.abort();
    // The public port may also end by an error: the admin port ends with it.
    stop.send_replace(true);
    if let Some(admin_port) = admin_port {
        match admin_port.await {
            Ok(Err(e)) => log::warn!("the admin port: {e}"),
            Err(e) => log::warn!("the admin port: {e}"),
            Ok(Ok(())) => {}
        }
    }
    purger.abort();
    forgetter.abort();
    service.accounts.pool.close().await;
    served
}
