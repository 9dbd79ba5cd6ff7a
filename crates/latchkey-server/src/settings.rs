//! The service's settings, from the environment (and the settings file `LATCHKEY_ENV_FILE` names,
//! as for the desktop app). Checked whole at start-up: a wrong value stops the service with a
//! sentence that names it, never a default silently used instead.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderName;
use latchkey_core::config::{Config, SmtpSettings};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://latchkey-server.db";
/// Requests per client address per minute.
pub const DEFAULT_IP_LIMIT: NonZeroU32 = match NonZeroU32::new(120) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};
/// A request's head (request line and headers) must arrive within this many seconds of its first
/// byte (of the connection's opening, for its first request).
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// A request's body must arrive within this many seconds of the handler asking for it.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;
/// A kept-alive connection may wait this long for its next request.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
/// Open client connections; more are answered 503 and closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// At shutdown, requests in flight get this long to finish; then every connection is closed.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;
/// No deadline above an hour: a longer one is a typo, not a policy.
const MAX_SECS: u64 = 3600;
/// Places in argon2's queue for each argon2 thread (one per core): about 1.6 s of hashing at
/// 25 ms a hash, well inside any client's patience, and more than the bench's 200 clients on two
/// processes ever hold at once.
pub const HASH_QUEUE_PER_THREAD: usize = 64;

#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// The whole `postgres://` URL, as sqlx reads it (host, port, user, password, database, options).
    Postgres(String),
}

/// A `DATABASE_URL` may hold a password: shown (in logs, panics, `{:?}`) with `***` in its place.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(text) => {
                let shown = match url::Url::parse(text) {
                    Ok(mut url) => {
                        if url.password().is_some() {
                            let _ = url.set_password(Some("***"));
                        }
                        url.to_string()
                    }
                    Err(_) => "(not a URL)".to_string(),
                };
                f.debug_tuple("Postgres").field(&shown).finish()
            }
        }
    }
}

/// Where the service's mail goes.
#[derive(Debug, Clone)]
pub enum MailTo {
    Smtp(SmtpSettings),
    /// `LATCHKEY_OUTBOX`: written as `.eml` files in this folder, for trying the service on one
    /// machine. Only while the service listens on loopback: nobody else can read the codes there.
    Outbox(std::path::PathBuf),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// `LATCHKEY_ADMIN_LISTEN`: the admin port (`/metrics`, `/admin/`). Unset: none. A bare port
    /// is on loopback.
    pub admin_listen: Option<SocketAddr>,
    pub database: Database,
    pub mail: MailTo,
    pub mail_from: String,
    /// Behind a reverse proxy: the header it puts the client's address in. Unset, the peer's address.
    pub client_ip_header: Option<HeaderName>,
    pub ip_limit_per_minute: NonZeroU32,
    pub connections: Connections,
    /// Requests that may hash (or wait to) at once in this process; more are refused at once with
    /// 503 `server_busy`.
    pub hash_queue: usize,
    /// `LATCHKEY_ARGON2_THREADS`: this process's argon2 threads. Unset: one per core, which
    /// `make bench-server` found fastest even for two processes on one machine (the README's
    /// "Scale and speed"); fewer bound the memory, 19 MiB a thread.
    pub argon2_threads: Option<usize>,
    /// `LATCHKEY_EVENT_RETENTION_DAYS`: how long security events are kept (default 400).
    pub event_retention_days: i64,
}

/// How the listener treats connections: deadlines, a cap, and how long shutdown waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

impl Settings {
    pub fn load() -> Result<Self, String> {
        let mail = Config::load_with(|key| std::env::var(key).ok(), None)?;
        Self::from_parts(|key| std::env::var(key).ok(), mail)
    }

    pub fn from_parts(lookup: impl Fn(&str) -> Option<String>, mail: Config) -> Result<Self, String> {
        let get = |key: &str| lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let listen_text = get("LATCHKEY_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text.parse().map_err(|_| {
            format!("LATCHKEY_LISTEN must be an address and port such as {DEFAULT_LISTEN}, not {listen_text:?}")
        })?;
        let admin_listen = match get("LATCHKEY_ADMIN_LISTEN") {
            None => None,
            Some(text) => Some(admin_address(&text, listen)?),
        };
        let database = database(&get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE.to_string()))?;
        // A server's mail goes to people on other computers: a file in an outbox reaches only
        // someone at this machine, so the outbox is for trying the service on loopback alone.
        let mail_to = match (get("LATCHKEY_OUTBOX"), mail.smtp) {
            (Some(_), Some(_)) => {
                return Err("set SMTP_HOST or LATCHKEY_OUTBOX, not both: mail goes one way".to_string());
            }
            (Some(dir), None) if !std::net::SocketAddr::ip(&listen).is_loopback() => {
                return Err(format!(
                    "LATCHKEY_OUTBOX ({dir}) writes every mail, codes included, to files on this machine, so it is \
                     only for a service on loopback; LATCHKEY_LISTEN is {listen}. Set SMTP_HOST to serve others."
                ));
            }
            (Some(dir), None) => MailTo::Outbox(dir.into()),
            (None, Some(smtp)) => MailTo::Smtp(smtp),
            (None, None) => return Err("the service sends codes by mail: set SMTP_HOST (and SMTP_PORT, SMTP_SECURITY, SMTP_USERNAME, SMTP_PASSWORD as needed), or LATCHKEY_OUTBOX=DIR to try it on this machine".to_string()),
        };
        let client_ip_header = match get("LATCHKEY_CLIENT_IP_HEADER") {
            None => None,
            Some(name) => Some(
                HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("LATCHKEY_CLIENT_IP_HEADER must be a header name, not {name:?}"))?,
            ),
        };
        let ip_limit_per_minute = match get("LATCHKEY_IP_LIMIT") {
            None => DEFAULT_IP_LIMIT,
            Some(n) => n
                .parse::<NonZeroU32>()
                .map_err(|_| format!("LATCHKEY_IP_LIMIT must be a number of requests per minute, not {n:?}"))?,
        };
        let seconds = |key: &str, default: u64| -> Result<Duration, String> {
            match get(key) {
                None => Ok(Duration::from_secs(default)),
                Some(n) => {
                    n.parse::<u64>().ok().filter(|n| (1..=MAX_SECS).contains(n)).map(Duration::from_secs).ok_or_else(
                        || format!("{key} must be a whole number of seconds from 1 to {MAX_SECS}, not {n:?}"),
                    )
                }
            }
        };
        let connections = Connections {
            header_timeout: seconds("LATCHKEY_HEADER_TIMEOUT_SECS", DEFAULT_HEADER_TIMEOUT_SECS)?,
            body_timeout: seconds("LATCHKEY_BODY_TIMEOUT_SECS", DEFAULT_BODY_TIMEOUT_SECS)?,
            idle_timeout: seconds("LATCHKEY_IDLE_TIMEOUT_SECS", DEFAULT_IDLE_TIMEOUT_SECS)?,
            max_connections: match get("LATCHKEY_MAX_CONNECTIONS") {
                None => DEFAULT_MAX_CONNECTIONS,
                Some(n) => n.parse::<usize>().ok().filter(|n| (1..=1_000_000).contains(n)).ok_or_else(|| {
                    format!("LATCHKEY_MAX_CONNECTIONS must be a number of connections from 1 to 1000000, not {n:?}")
                })?,
            },
            shutdown_grace: seconds("LATCHKEY_SHUTDOWN_GRACE_SECS", DEFAULT_SHUTDOWN_GRACE_SECS)?,
        };
        let argon2_threads = match get("LATCHKEY_ARGON2_THREADS") {
            None => None,
            Some(n) => Some(n.parse::<usize>().ok().filter(|n| (1..=1024).contains(n)).ok_or_else(|| {
                format!("LATCHKEY_ARGON2_THREADS must be a number of threads from 1 to 1024, not {n:?}")
            })?),
        };
        let event_retention_days = match get("LATCHKEY_EVENT_RETENTION_DAYS") {
            None => latchkey_core::limits::EVENT_RETENTION_DAYS,
            Some(n) => n.parse::<i64>().ok().filter(|n| (1..=36_500).contains(n)).ok_or_else(|| {
                format!("LATCHKEY_EVENT_RETENTION_DAYS must be a number of days from 1 to 36500, not {n:?}")
            })?,
        };
        let hash_queue = match get("LATCHKEY_HASH_QUEUE") {
            None => HASH_QUEUE_PER_THREAD * argon2_threads.unwrap_or_else(latchkey_core::auth::secret::threads),
            Some(n) => n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("LATCHKEY_HASH_QUEUE must be a number of requests that may wait for argon2, not {n:?}")
            })?,
        };
        Ok(Settings {
            listen,
            admin_listen,
            database,
            mail: mail_to,
            mail_from: mail.mail_from,
            client_ip_header,
            ip_limit_per_minute,
            connections,
            hash_queue,
            argon2_threads,
            event_retention_days,
        })
    }
}

/// A port alone is on loopback (the admin port is for this machine unless the operator names an
/// address); never the public port's own address.
fn admin_address(text: &str, public: SocketAddr) -> Result<SocketAddr, String> {
    let address = match text.parse::<u16>() {
        Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
        Err(_) => text.parse().map_err(|_| {
            format!("LATCHKEY_ADMIN_LISTEN must be a port (on loopback) or an address and port such as 127.0.0.1:9090, not {text:?}")
        })?,
    };
    if address.port() == public.port()
        && (address.ip() == public.ip() || address.ip().is_unspecified() || public.ip().is_unspecified())
    {
        return Err(format!("LATCHKEY_ADMIN_LISTEN ({address}) must not be LATCHKEY_LISTEN's port: the admin port is never the public one"));
    }
    Ok(address)
}

fn database(url: &str) -> Result<Database, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(
                "DATABASE_URL sqlite:// needs a file path, such as sqlite:///var/lib/latchkey/latchkey.db".into()
            );
        }
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Database::Postgres(url.to_string()));
    }
    Err("DATABASE_URL must start with postgres:// (PostgreSQL) or sqlite:// (a file on this machine)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let env: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = |key: &str| env.get(key).cloned();
        let mail = Config::from_lookup(lookup)?;
        Settings::from_parts(lookup, mail)
    }

    #[test]
    fn defaults_listen_on_loopback_with_a_local_sqlite_file() {
        let s = settings(&[("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")]).unwrap();
        assert_eq!(s.listen, DEFAULT_LISTEN.parse::<SocketAddr>().unwrap());
        assert_eq!(s.database, Database::Sqlite(PathBuf::from("latchkey-server.db")));
        assert_eq!(s.client_ip_header, None);
        assert_eq!(s.admin_listen, None, "no admin port unless asked");
        assert_eq!(s.ip_limit_per_minute, DEFAULT_IP_LIMIT);
        let c = s.connections;
        assert_eq!(c.header_timeout, Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS));
        assert_eq!(c.body_timeout, Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS));
        assert_eq!(c.idle_timeout, Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS));
        assert_eq!(c.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(c.shutdown_grace, Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS));
    }

    #[test]
    fn connection_settings_are_read_by_name() {
        let s = settings(&[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_SECURITY", "none"),
            ("LATCHKEY_HEADER_TIMEOUT_SECS", "2"),
            ("LATCHKEY_BODY_TIMEOUT_SECS", "3"),
            ("LATCHKEY_IDLE_TIMEOUT_SECS", "4"),
            ("LATCHKEY_MAX_CONNECTIONS", "5"),
            ("LATCHKEY_SHUTDOWN_GRACE_SECS", "6"),
            ("LATCHKEY_IP_LIMIT", "7"),
        ])
        .unwrap();
        let c = s.connections;
        let secs = |n| Duration::from_secs(n);
        assert_eq!(
            (c.header_timeout, c.body_timeout, c.idle_timeout, c.max_connections, c.shutdown_grace),
            (secs(2), secs(3), secs(4), 5, secs(6))
        );
        assert_eq!(s.ip_limit_per_minute.get(), 7);
        assert_eq!(s.hash_queue, HASH_QUEUE_PER_THREAD * latchkey_core::auth::secret::threads());
        assert_eq!(s.argon2_threads, None, "one per core unless set");
        assert_eq!(s.event_retention_days, 400);
        let mail = [("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")];
        let kept = settings(&[mail[0], mail[1], ("LATCHKEY_EVENT_RETENTION_DAYS", "30")]).unwrap();
        assert_eq!(kept.event_retention_days, 30);
        for bad in ["0", "-1", "forever"] {
            let e = settings(&[mail[0], mail[1], ("LATCHKEY_EVENT_RETENTION_DAYS", bad)]).unwrap_err();
            assert!(e.contains("LATCHKEY_EVENT_RETENTION_DAYS"), "{e}");
        }
    }

    #[test]
    fn the_argon2_thread_count_sizes_the_queue_unless_it_is_set_too() {
        let mail = [("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")];
        let one = settings(&[mail[0], mail[1], ("LATCHKEY_ARGON2_THREADS", "1")]).unwrap();
        assert_eq!((one.argon2_threads, one.hash_queue), (Some(1), HASH_QUEUE_PER_THREAD));
        let both = settings(&[mail[0], mail[1], ("LATCHKEY_ARGON2_THREADS", "3"), ("LATCHKEY_HASH_QUEUE", "10")]);
        assert_eq!(both.map(|s| (s.argon2_threads, s.hash_queue)).unwrap(), (Some(3), 10));
    }

    #[test]
    fn wrong_values_are_refused_by_name() {
        let mail = [("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")];
        let with = |extra: (&str, &str)| settings(&[mail[0], mail[1], extra]).unwrap_err();
        assert!(with(("LATCHKEY_LISTEN", "everywhere")).contains("LATCHKEY_LISTEN"));
        assert!(with(("DATABASE_URL", "mysql://db")).contains("DATABASE_URL"));
        assert!(with(("LATCHKEY_IP_LIMIT", "0")).contains("LATCHKEY_IP_LIMIT"));
        assert!(with(("LATCHKEY_IP_LIMIT", "99999999999")).contains("LATCHKEY_IP_LIMIT"));
        for key in [
            "LATCHKEY_HEADER_TIMEOUT_SECS",
            "LATCHKEY_BODY_TIMEOUT_SECS",
            "LATCHKEY_IDLE_TIMEOUT_SECS",
            "LATCHKEY_SHUTDOWN_GRACE_SECS",
            "LATCHKEY_MAX_CONNECTIONS",
        ] {
            for wrong in ["0", "-1", "ten", "1.5", "99999999"] {
                assert!(with((key, wrong)).contains(key), "{key}={wrong}");
            }
        }
        assert!(with(("LATCHKEY_HASH_QUEUE", "0")).contains("LATCHKEY_HASH_QUEUE"));
        assert!(with(("LATCHKEY_HASH_QUEUE", "many")).contains("LATCHKEY_HASH_QUEUE"));
        for wrong in ["0", "-1", "all", "1025"] {
            assert!(with(("LATCHKEY_ARGON2_THREADS", wrong)).contains("LATCHKEY_ARGON2_THREADS"), "{wrong}");
        }
        assert!(with(("LATCHKEY_CLIENT_IP_HEADER", "bad header")).contains("LATCHKEY_CLIENT_IP_HEADER"));
        assert!(settings(&[]).unwrap_err().contains("SMTP_HOST"));
        // The outbox, for trying it on one machine: on loopback only, and never beside SMTP.
        let outbox = settings(&[("LATCHKEY_OUTBOX", "/tmp/out")]).unwrap();
        assert!(matches!(outbox.mail, MailTo::Outbox(ref dir) if dir.ends_with("out")));
        let v6 = settings(&[("LATCHKEY_OUTBOX", "/tmp/out"), ("LATCHKEY_LISTEN", "[::1]:8000")]).unwrap();
        assert!(matches!(v6.mail, MailTo::Outbox(_)));
        for public in ["0.0.0.0:8000", "192.0.2.4:8000", "[::]:8000"] {
            let e = settings(&[("LATCHKEY_OUTBOX", "/tmp/out"), ("LATCHKEY_LISTEN", public)]).unwrap_err();
            assert!(e.contains("only for a service on loopback") && e.contains(public), "{e}");
        }
        let both = settings(&[("LATCHKEY_OUTBOX", "/tmp/out"), ("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")]);
        assert!(both.unwrap_err().contains("not both"));
    }

    #[test]
    fn the_admin_port_is_on_loopback_unless_an_address_is_named_and_never_the_public_one() {
        let mail = [("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")];
        let with = |value: &str| settings(&[mail[0], mail[1], ("LATCHKEY_ADMIN_LISTEN", value)]);
        assert_eq!(with("9090").unwrap().admin_listen, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(with("[::1]:9091").unwrap().admin_listen, Some("[::1]:9091".parse().unwrap()));
        assert_eq!(with("10.0.0.5:9092").unwrap().admin_listen, Some("10.0.0.5:9092".parse().unwrap()));
        for wrong in ["admin", "99999", "127.0.0.1:8080", "0.0.0.0:8080"] {
            assert!(with(wrong).unwrap_err().contains("LATCHKEY_ADMIN_LISTEN"), "{wrong}");
        }
    }

    #[test]
    fn a_database_path_and_a_proxy_header_are_taken_as_given() {
        let s = settings(&[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_SECURITY", "none"),
            ("DATABASE_URL", "sqlite:///var/lib/latchkey/latchkey.db?mode=rwc"),
            ("LATCHKEY_CLIENT_IP_HEADER", "X-Real-IP"),
            ("LATCHKEY_LISTEN", "0.0.0.0:9000"),
        ])
        .unwrap();
        assert_eq!(s.database, Database::Sqlite(PathBuf::from("/var/lib/latchkey/latchkey.db")));
        assert_eq!(s.client_ip_header.unwrap().as_str(), "x-real-ip");
        assert_eq!(s.listen.port(), 9000);
    }

    #[test]
    fn a_postgres_url_is_kept_whole_for_the_driver() {
        let url = "postgres://latchkey:secret@db.internal:5432/latchkey?sslmode=require";
        let s = settings(&[("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none"), ("DATABASE_URL", url)]).unwrap();
        assert_eq!(s.database, Database::Postgres(url.to_string()));
    }

    #[test]
    fn a_database_password_never_shows_in_debug_output() {
        let s = settings(&[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_SECURITY", "none"),
            ("DATABASE_URL", "postgres://latchkey:s3cret-pw@db.example.org:5432/accounts?sslmode=require"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("postgres://latchkey:***@db.example.org:5432/accounts?sslmode=require"), "{shown}");
        assert_eq!(
            s.database,
            Database::Postgres("postgres://latchkey:s3cret-pw@db.example.org:5432/accounts?sslmode=require".into())
        );
    }
}
