//! Real services for the test suites of every crate: an SMTP server process (Debian's aiosmtpd)
//! on loopback, process groups that end with the test, free ports, and readers for delivered mail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child in its own process group; dropping it ends the whole group, so nothing outlives a
/// failing test.
pub struct Group(pub Child, bool);

impl Group {
    pub fn spawn(command: &mut Command) -> Group {
        let child = command.process_group(0).spawn().unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        Group(child, false)
    }

    pub fn stop(&mut self) {
        // procps' `kill -SIG -PGID` is unreliable here, so signal the group directly.
        let group = Pid::from_raw(self.0.id() as i32);
        if self.1 {
            return;
        }
        self.1 = true;
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Debian's aiosmtpd as a real SMTP server on loopback, delivering into a Maildir.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    /// aiosmtpd's TLS options (certificate and key), if any.
    tls_args: Vec<String>,
    process: Option<Group>,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(&[])
    }

    /// With extra aiosmtpd options, e.g. `--tlscert`/`--tlskey` (STARTTLS) or `--smtpscert`/`--smtpskey`.
    pub fn start_with(tls_args: &[&str]) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let mut server = SmtpServer {
            port: free_port(),
            maildir: dir.path().join("maildir"),
            tls_args: tls_args.iter().map(|a| a.to_string()).collect(),
            process: None,
            _dir: dir,
        };
        server.restart();
        server
    }

    /// Starts the server again on the same port (after `stop`).
    pub fn restart(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut command = Command::new("/usr/bin/python3");
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &listen])
            .args(&self.tls_args)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.process = Some(Group::spawn(&mut command));
        wait_for_port(self.port, "aiosmtpd");
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }

    /// Every delivered message, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return vec![];
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Waits for the `n`th message (1-based) and returns it.
    pub fn wait_for_message(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut all = self.messages();
            if all.len() >= n {
                return all.swap_remove(n - 1);
            }
            assert!(Instant::now() < deadline, "message {n} was not delivered; have {}", all.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The code in a delivered message: the plain-text line that is four spaces and six digits.
pub fn code_in(message: &str) -> String {
    code_of(message).unwrap_or_else(|| panic!("no code in message:\n{message}")).to_string()
}

/// The code in a message, if it has one.
pub fn code_of(message: &str) -> Option<&str> {
    message
        .lines()
        .find_map(|l| l.strip_prefix("    ").filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())))
}

impl SmtpServer {
    /// The newest delivered message to `to` whose subject contains `subject`, waiting for it on
    /// the test's runtime (so mail sent in the background on that runtime gets sent meanwhile).
    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.messages().into_iter().rev().find(|m| {
                header(m, "To").is_some_and(|t| t.contains(to))
                    && header(m, "Subject").is_some_and(|s| s.contains(subject))
            });
            if let Some(message) = found {
                return message;
            }
            assert!(Instant::now() < deadline, "no mail to {to} about {subject:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Another six-digit code than `code`: a wrong one.
pub fn other_code(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// A header of a delivered message (the first with this name, case-insensitive), unfolded.
pub fn header(message: &str, name: &str) -> Option<String> {
    let message = message.replace("\r\n", "\n");
    let head = message.split("\n\n").next().unwrap_or_default();
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}

/// The message with quoted-printable soft line breaks undone, so its sentences can be searched.
pub fn unfolded(message: &str) -> String {
    message.replace("=\r\n", "").replace("=\n", "")
}

/// Where `scripts/with-test-services.sh` (and so `make test`) puts its PostgreSQL server's URL.
pub const POSTGRES_ENV: &str = "LATCHKEY_TEST_POSTGRES";

/// A database for one test: a SQLite file in its own folder, or its own database on the test
/// PostgreSQL server. `url` is what `DATABASE_URL` takes.
pub enum TestDatabase {
    Sqlite { path: PathBuf, _dir: tempfile::TempDir },
    Postgres { url: String },
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary folder");
        TestDatabase::Sqlite { path: dir.path().join("latchkey.db"), _dir: dir }
    }

    /// A new, empty database on the test server (migrated by whoever opens it first).
    pub async fn postgres() -> TestDatabase {
        let server = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!("{POSTGRES_ENV} is not set: run the tests through scripts/with-test-services.sh (make test)")
        });
        let name = format!("test_{:016x}", rand::random::<u64>());
        let admin = sqlx::PgPool::connect(&server).await.expect("the test PostgreSQL server");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("CREATE DATABASE");
        admin.close().await;
        // postgres://user@host/DATABASE?options: only the database changes.
        let (address, options) = server.split_once('?').map_or((server.as_str(), ""), |(a, o)| (a, o));
        let base = address.rsplit_once('/').map_or(address, |(base, _)| base);
        let options = if options.is_empty() { String::new() } else { format!("?{options}") };
        TestDatabase::Postgres { url: format!("{base}/{name}{options}") }
    }

    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            TestDatabase::Postgres { url } => url.clone(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDatabase::Postgres { .. })
    }

    /// Runs one statement (the tests' way to move time along for rows), returns rows affected.
    pub async fn execute(&self, sql: &str) -> u64 {
        match self {
            TestDatabase::Sqlite { .. } => {
                let pool = sqlx::SqlitePool::connect(&self.url()).await.expect("SQLite");
                let n = sqlx::query(sql).execute(&pool).await.expect(sql).rows_affected();
                pool.close().await;
                n
            }
            TestDatabase::Postgres { url } => {
                let pool = sqlx::PgPool::connect(url).await.expect("PostgreSQL");
                let n = sqlx::query(sql).execute(&pool).await.expect(sql).rows_affected();
                pool.close().await;
                n
            }
        }
    }

    /// One number a query returns, such as `SELECT count(*) FROM users`.
    pub async fn number(&self, sql: &str) -> i64 {
        match self {
            TestDatabase::Sqlite { .. } => {
                let pool = sqlx::SqlitePool::connect(&self.url()).await.expect("SQLite");
                let n = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
                pool.close().await;
                n
            }
            TestDatabase::Postgres { url } => {
                let pool = sqlx::PgPool::connect(url).await.expect("PostgreSQL");
                let n = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
                pool.close().await;
                n
            }
        }
    }
}

/// What a person's authenticator app shows for this base32 key (as the set-up screen gives it,
/// dashes and all) at `unix_time`: RFC 6238, SHA-1, 6 digits, 30-second steps.
pub fn authenticator_code(key: &str, unix_time: u64) -> String {
    let secret = totp_rs::Secret::Encoded(key.replace(['-', ' '], "")).to_bytes().expect("a base32 key");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, secret, None, String::new()).generate(unix_time)
}

/// Seconds since the Unix epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// One sample of a `/metrics` scrape: its name, labels and value (a histogram's value is its
/// count, the `+Inf` bucket; its `_sum` and `_count` are samples of their own).
pub type MetricSample = (String, std::collections::HashMap<String, String>, f64);

/// Every sample of a `/metrics` text, read with a Prometheus text parser.
pub fn metric_samples(text: &str) -> Vec<MetricSample> {
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    parsed
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
                prometheus_parse::Value::Summary(_) => f64::NAN,
            };
            let labels = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            (s.metric, labels, value)
        })
        .collect()
}

/// Whether a sample is named `name` and its labels include `with`.
pub fn metric_is(sample: &MetricSample, name: &str, with: &[(&str, &str)]) -> bool {
    sample.0 == name && with.iter().all(|(k, v)| sample.1.get(*k).map(String::as_str) == Some(*v))
}
