//! `make bench-server`: the service under load, measured from outside over real HTTP.
//!
//! Seeds a database with N accounts in bulk (not through the API): a database of its own on the
//! PostgreSQL server `LATCHKEY_TEST_POSTGRES` names, or a SQLite file when that is unset. Starts
//! two `latchkey-server` processes on it, and reports login throughput against the argon2 limit, who-am-i latency,
//! sign-up and verification throughput with mail to a loopback SMTP server, and each process's
//! peak memory under 200 concurrent clients. Run by scripts/bench-server.sh, which builds the
//! release binaries and starts the mail server and PostgreSQL.
//!
//! Usage: load <server binary> <smtp port> <maildir> <accounts> [--json FILE]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops loudly on a broken setup

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_testkit::TestDatabase;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";
const LOAD_SECS: u64 = 10;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, binary, smtp_port, maildir, accounts, rest @ ..] = args.as_slice() else {
        eprintln!("usage: load <server binary> <smtp port> <maildir> <accounts> [--json FILE]");
        std::process::exit(2);
    };
    let accounts: usize = accounts.parse().unwrap();
    let json_out = rest.iter().position(|a| a == "--json").and_then(|i| rest.get(i + 1)).cloned();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let figures = runtime.block_on(run(Path::new(binary), smtp_port, Path::new(maildir), accounts));
    if let Some(path) = json_out {
        std::fs::write(path, figures.to_string()).unwrap();
    }
    if !print_table(&figures) {
        std::process::exit(1);
    }
}

/// The figures beside their targets; false when a target is missed.
fn print_table(f: &Value) -> bool {
    let n = |key: &str| f[key].as_f64().unwrap_or(f64::NAN);
    let mut all_met = true;
    let mut row = |figure: String, target: String, measured: String, met: Option<bool>| {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => {
                all_met = false;
                "MISSED"
            }
            None => "",
        };
        println!("{figure:<46} {target:>20} {measured:>22} {verdict:>6}");
    };
    let limit = n("argon2_limit_per_s");
    println!(
        "{} accounts (seeded in {:.0} s), two server processes on one {}, {} cores; bare argon2id verify {:.1} ms with every core verifying ({:.1} ms alone), so at most {:.1} verifies/s",
        f["accounts"], n("seed_seconds"), f["database"].as_str().unwrap_or("?"), f["cores"], n("bare_verify_ms"), n("bare_verify_alone_ms"), limit
    );
    println!("{:<46} {:>20} {:>22} {:>6}", "figure", "target", "measured", "");
    row(
        "login throughput (8 clients)".into(),
        format!(">= {:.1}/s (0.85x)", 0.85 * limit),
        format!("{:.1}/s ({:.2}x)", n("logins_per_s"), n("logins_per_s") / limit),
        Some(n("logins_per_s") >= 0.85 * limit),
    );
    let cpu = &f["login_cpu_ms"];
    let ms = |key: &str| cpu[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "  where a login's share of the machine went (CPU ms per login, {:.1} ms in all): argon2 threads {:.1} (bare verify {:.1}), the servers' other threads {:.1}, PostgreSQL {:.1}, the load generator {:.1}, anything else {:.1}, idle {:.1}",
        ms("all_cores"), ms("argon2_threads"), n("bare_verify_ms"), ms("server_other_threads"), ms("postgres"), ms("load_generator"), ms("other"), ms("idle")
    );
    println!(
        "  a login in the server (its /metrics): {:.1} ms from arrival to answer on average, of which {:.1} ms its hash waited for an argon2 thread",
        ms("in_server"), ms("argon2_wait")
    );
    let p99 = n("whoami_p99_ms");
    row("who-am-i p99 latency".into(), "< 2 ms".into(), format!("{p99:.2} ms"), Some(p99 < 2.0));
    let (p50, small50, small99) = (n("whoami_p50_ms"), n("whoami_1k_p50_ms"), n("whoami_1k_p99_ms"));
    row(
        "who-am-i p50, vs 1,000 accounts".into(),
        "within 1.2x".into(),
        format!("{p50:.2} vs {small50:.2} ms"),
        Some(p50 <= 1.2 * small50),
    );
    row(
        "who-am-i p99, vs 1,000 accounts".into(),
        "within 1.2x".into(),
        format!("{p99:.2} vs {small99:.2} ms"),
        Some(p99 <= 1.2 * small99),
    );
    let (tracked50, tracked99) = (n("whoami_tracked_p50_ms"), n("whoami_tracked_p99_ms"));
    row(
        format!("who-am-i p99, last use written ({:.1}% of requests)", 100.0 * n("whoami_tracked_written")),
        "< 2 ms".into(),
        format!("{tracked99:.2} ms (p50 {tracked50:.2})"),
        Some(tracked99 < 2.0),
    );
    row(
        "sign-up throughput (mail to loopback SMTP)".into(),
        format!("(argon2: {:.1}/s)", limit / 2.0),
        format!("{:.1}/s", n("signups_per_s")),
        None,
    );
    row(
        format!("verification throughput ({} sign-ups)", f["verifications_checked"]),
        format!("(argon2: {:.1}/s)", limit / 2.0),
        format!("{:.1}/s", n("verifications_per_s")),
        None,
    );
    row("logins under 200 concurrent clients".into(), String::new(), format!("{:.1}/s", n("crowd_logins_per_s")), None);
    let eight: Vec<f64> =
        f["peak_rss_8_clients_mib"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
    for (i, peak) in f["peak_rss_mib"].as_array().into_iter().flatten().filter_map(Value::as_f64).enumerate() {
        let base = eight.get(i).copied().unwrap_or(f64::NAN);
        row(
            format!("peak memory, process {}, 200 clients vs 8", i + 1),
            "within 1.25x".into(),
            format!("{peak:.1} vs {base:.1} MiB"),
            Some(peak <= 1.25 * base),
        );
    }
    all_met
}

struct Servers {
    urls: Vec<String>,
    /// Each process's admin port, for its /metrics.
    admin: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }
}

fn start_servers(binary: &Path, db: &TestDatabase, smtp_port: &str) -> Servers {
    let (mut urls, mut admin, mut children) = (vec![], vec![], vec![]);
    for _ in 0..2 {
        let port = latchkey_testkit::free_port();
        let admin_port = latchkey_testkit::free_port();
        let child = Command::new(binary)
            .env_clear()
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_ADMIN_LISTEN", admin_port.to_string())
            .env("DATABASE_URL", db.url())
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", smtp_port)
            .env("SMTP_SECURITY", "none")
            // Every client here is one address: the per-address limit would measure itself.
            .env("LATCHKEY_IP_LIMIT", "1000000000")
            .env("RUST_LOG", "warn")
            // The bench's own choice for the two processes, if it makes one (see the README).
            .envs(std::env::var("LATCHKEY_ARGON2_THREADS").ok().map(|n| ("LATCHKEY_ARGON2_THREADS", n)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        latchkey_testkit::wait_for_port(port, "latchkey-server");
        latchkey_testkit::wait_for_port(admin_port, "the admin port");
        urls.push(format!("http://127.0.0.1:{port}"));
        admin.push(format!("http://127.0.0.1:{admin_port}"));
        children.push(child);
    }
    Servers { urls, admin, children }
}

/// A fresh database: PostgreSQL when the bench runs beside one, else a SQLite file.
async fn database() -> TestDatabase {
    match std::env::var_os(latchkey_testkit::POSTGRES_ENV) {
        Some(_) => TestDatabase::postgres().await,
        None => TestDatabase::sqlite(),
    }
}

/// N accounts named bench<i>, all with the same password hash, in one transaction; skeletons
/// computed as sign-up computes them.
async fn seed(db: &TestDatabase, accounts: usize) {
    let hash = latchkey_core::auth::secret::hash(PASSWORD).unwrap();
    let rows = |start: usize, end: usize| -> (Vec<String>, Vec<String>, Vec<String>) {
        let names: Vec<String> = (start..end).map(|i| format!("bench{i}")).collect();
        let skeletons = names.iter().map(|n| latchkey_core::auth::validate::username_skeleton(n)).collect();
        let emails = names.iter().map(|n| format!("{n}@example.org")).collect();
        (names, skeletons, emails)
    };
    match db {
        TestDatabase::Sqlite { path, .. } => {
            let pool = latchkey_core::store::open(path).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            const ROWS: usize = 1000;
            for start in (0..accounts).step_by(ROWS) {
                let (names, skeletons, emails) = rows(start, (start + ROWS).min(accounts));
                let mut sql = String::from(
                    "INSERT INTO users (username, username_key, username_skeleton, email, email_key, password_hash, date_joined) VALUES ",
                );
                sql.push_str(&vec!["(?, ?, ?, ?, ?, ?, 0)"; names.len()].join(", "));
                let mut query = sqlx::query(&sql);
                for ((name, skeleton), email) in names.into_iter().zip(skeletons).zip(emails) {
                    query = query
                        .bind(name.clone())
                        .bind(name)
                        .bind(skeleton)
                        .bind(email.clone())
                        .bind(email)
                        .bind(hash.clone());
                }
                query.execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
            pool.close().await;
        }
        TestDatabase::Postgres { url } => {
            let pool = latchkey_core::store::postgres::open(url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            const ROWS: usize = 20_000;
            for start in (0..accounts).step_by(ROWS) {
                let (names, skeletons, emails) = rows(start, (start + ROWS).min(accounts));
                sqlx::query(
                    "INSERT INTO users (username, username_key, username_skeleton, email, email_key, password_hash, date_joined)
                     SELECT n, n, s, e, e, $4, 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS t (n, s, e)",
                )
                .bind(&names)
                .bind(&skeletons)
                .bind(&emails)
                .bind(&hash)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            // Settled, as a database that grew to this size over time is: vacuumed (else
            // autovacuum visits the million new rows during the measurements), with fresh
            // statistics, and the bulk load's WAL checkpointed.
            sqlx::query("VACUUM (ANALYZE)").execute(&pool).await.unwrap();
            sqlx::query("CHECKPOINT").execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// Bare argon2id verifies with the service's parameters, in this process: the median time of one
/// alone (of 21), and how many verifies a second every core together completes in `secs`
/// (`cores` threads verifying in a loop). The second is the machine's physical limit: on a
/// machine whose cores share a physical core, a memory bus or a CPU quota, it is below cores
/// divided by the first.
fn bare_verify(cores: usize, secs: u64) -> (Duration, f64) {
    let hash = latchkey_core::auth::secret::hash(PASSWORD).unwrap();
    let verify = || assert!(latchkey_core::auth::secret::verify(PASSWORD, &hash).unwrap());
    let mut alone: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            verify();
            t.elapsed()
        })
        .collect();
    alone.sort();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let done: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        verify();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    (alone[alone.len() / 2], done as f64 / started.elapsed().as_secs_f64())
}

async fn post(http: &reqwest::Client, url: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `clients` tasks calling `job(i)` for `secs` seconds; returns completed calls per second.
async fn throughput<F, Fut>(clients: usize, secs: u64, job: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let job = Arc::new(job);
    let done = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (job, done, next) = (job.clone(), done.clone(), next.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if job(next.fetch_add(1, Ordering::Relaxed)).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// `clients` tasks sharing `n` jobs until none is left; returns completed calls per second.
async fn drain<F, Fut>(clients: usize, n: usize, job: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let job = Arc::new(job);
    let (done, next) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (job, done, next) = (job.clone(), done.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    if job(i).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Who-am-i one request at a time through a kept-alive connection, on each (url, token) in turn:
/// after a warm-up, 10 rounds of 300 requests to each, so that every target sees the machine as
/// it is at the same moments (one target measured minutes after another compares two moments of
/// a shared machine as much as two databases). p50 and p99 in ms, per target.
async fn whoami_latency(http: &reqwest::Client, targets: &[(&str, &str)]) -> Vec<(f64, f64)> {
    let ask = |url: &str, token: &str| http.get(format!("{url}/users/who_am_i/")).bearer_auth(token.to_string()).send();
    for (url, token) in targets {
        // Every process in the same state first: its database pool at full size, as the main
        // processes' is after the logins (the pool hands out its idle connections in turn, so a
        // pool of 16 spreads one client's requests over 16 database processes, a pool of 1 not).
        let (client, base, bearer) = (http.clone(), url.to_string(), token.to_string());
        throughput(64, 2, move |_| {
            let request = client.get(format!("{base}/users/who_am_i/")).bearer_auth(&bearer).send();
            async move { request.await.is_ok() }
        })
        .await;
        for _ in 0..200 {
            ask(url, token).await.unwrap();
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(3000); targets.len()];
    for _round in 0..10 {
        for ((url, token), times) in targets.iter().zip(&mut times) {
            for _ in 0..300 {
                let t = Instant::now();
                let r = ask(url, token).await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.bytes().await.unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    times
        .into_iter()
        .map(|mut times| {
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (percentile(&times, 0.5), percentile(&times, 0.99))
        })
        .collect()
}

/// Who-am-i when the sessions' last use is due to be written (it is written at most once every 5
/// minutes): `tokens` sessions, their last use moved 10 minutes back, asked in turn, so each
/// session's first request in the run writes and the rest read. p50 and p99 in ms, and the share
/// of requests that wrote.
async fn whoami_tracking(http: &reqwest::Client, url: &str, db: &TestDatabase, tokens: &[String]) -> (f64, f64, f64) {
    db.execute("UPDATE sessions SET last_seen_at = last_seen_at - 600").await;
    let due = "SELECT count(*) FROM sessions WHERE last_seen_at < created_at";
    let unwritten = db.number(due).await;
    let mut times: Vec<f64> = Vec::with_capacity(3000);
    for i in 0..3000 {
        let t = Instant::now();
        let r = http.get(format!("{url}/users/who_am_i/")).bearer_auth(&tokens[i % tokens.len()]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.bytes().await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    assert_eq!(unwritten - db.number(due).await, tokens.len() as i64, "each session's last use was written once");
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&times, 0.5), percentile(&times, 0.99), tokens.len() as f64 / times.len() as f64)
}

/// (sum, count) of a histogram over every process's /metrics, with these labels.
async fn histogram(http: &reqwest::Client, admin: &[String], name: &str, with: &[(&str, &str)]) -> (f64, f64) {
    let (sum, count) = (format!("{name}_sum"), format!("{name}_count"));
    let (mut total, mut n) = (0.0, 0.0);
    for base in admin {
        let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        for sample in latchkey_testkit::metric_samples(&text) {
            if latchkey_testkit::metric_is(&sample, &sum, with) {
                total += sample.2;
            } else if latchkey_testkit::metric_is(&sample, &count, with) {
                n += sample.2;
            }
        }
    }
    (total, n)
}

/// CPU seconds used so far, read from /proc: one process's threads (those whose name starts with
/// `threads`, or all), every PostgreSQL process, and the whole machine (busy, and all).
struct Cpu {
    tick: f64,
}

impl Cpu {
    fn new() -> Cpu {
        let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
        Cpu { tick: 1.0 / String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap() }
    }

    /// (name, utime + stime in ticks) of a /proc stat line.
    fn stat(text: &str) -> Option<(String, f64)> {
        let (open, close) = (text.find('(')?, text.rfind(')')?);
        let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some((text[open + 1..close].to_string(), ticks))
    }

    fn threads(&self, pid: u32, named: Option<&str>) -> f64 {
        let mut ticks = 0.0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            if let Some((name, t)) = Cpu::stat(&text) {
                if named.is_none_or(|prefix| name.starts_with(prefix)) {
                    ticks += t;
                }
            }
        }
        ticks * self.tick
    }

    fn postgres(&self) -> f64 {
        let mut ticks = 0.0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if let Some(("postgres", t)) = Cpu::stat(&text).as_ref().map(|(n, t)| (n.as_str(), *t)) {
                ticks += t;
            }
        }
        ticks * self.tick
    }

    /// (busy, all) CPU seconds of the machine, every core.
    fn machine(&self) -> (f64, f64) {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<f64> =
            text.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
        let all: f64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
        ((all - idle) * self.tick, all * self.tick)
    }

    /// Everything at once: argon2 threads, the servers' other threads, PostgreSQL, this process,
    /// the machine busy, the machine in all.
    fn sample(&self, servers: &[u32]) -> [f64; 6] {
        let argon2: f64 = servers.iter().map(|p| self.threads(*p, Some("argon2-"))).sum();
        let all: f64 = servers.iter().map(|p| self.threads(*p, None)).sum();
        let (busy, total) = self.machine();
        [argon2, all - argon2, self.postgres(), self.threads(std::process::id(), None), busy, total]
    }
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn codes_by_address(maildir: &Path) -> HashMap<String, String> {
    let mut codes = HashMap::new();
    for entry in std::fs::read_dir(maildir.join("new")).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let to = latchkey_testkit::header(&text, "To").unwrap_or_default();
        let address = to.trim_start_matches(|c| c != '<').trim_matches(['<', '>']).to_string();
        let address = if address.is_empty() { to } else { address };
        if let Some(code) = latchkey_testkit::code_of(&text) {
            codes.insert(address, code.to_string());
        }
    }
    codes
}

/// A database of `accounts` accounts with its own two processes, and a session on it: what the
/// main database's who-am-i is compared with, kept up beside it so both are measured in turn.
async fn beside(binary: &Path, smtp_port: &str, accounts: usize) -> (TestDatabase, Servers, String) {
    let db = database().await;
    seed(&db, accounts).await;
    let servers = start_servers(binary, &db, smtp_port);
    let url = &servers.urls[0];
    let (_, signed_in) = post(
        &reqwest::Client::new(),
        &format!("{url}/users/login/"),
        json!({"username": "bench0", "password": PASSWORD}),
        None,
    )
    .await;
    let token = signed_in["token"].as_str().unwrap().to_string();
    (db, servers, token)
}

async fn run(binary: &Path, smtp_port: &str, maildir: &Path, accounts: usize) -> Value {
    let (_small_db, small, small_token) = beside(binary, smtp_port, 1000).await;
    let db = database().await;
    let seeding = Instant::now();
    seed(&db, accounts).await;
    let seed_secs = seeding.elapsed().as_secs_f64();
    let servers = start_servers(binary, &db, smtp_port);
    let urls = Arc::new(servers.urls.clone());
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (alone, limit) = bare_verify(cores, LOAD_SECS);
    // The time of one verify when every core verifies, as the limit implies.
    let bare = Duration::from_secs_f64(cores as f64 / limit);

    // Logins: distinct accounts, right password, both processes in turn; 8 clients keep every
    // argon2 thread busy.
    let login = {
        let (http, urls) = (http.clone(), urls.clone());
        move |i: usize| {
            let (http, urls) = (http.clone(), urls.clone());
            async move {
                let url = format!("{}/users/login/", urls[i % urls.len()]);
                let body = json!({"username": format!("bench{}", i % accounts), "password": PASSWORD});
                post(&http, &url, body, None).await.0 == 200
            }
        }
    };
    let cpu = Cpu::new();
    let pids: Vec<u32> = servers.children.iter().map(Child::id).collect();
    let login_route = [("route", "/users/login/")];
    let waits_before = histogram(&http, &servers.admin, "latchkey_argon2_wait_seconds", &[]).await;
    let served_before = histogram(&http, &servers.admin, "latchkey_http_request_duration_seconds", &login_route).await;
    let before = cpu.sample(&pids);
    let login_started = Instant::now();
    let logins = throughput(8, LOAD_SECS, login).await;
    let login_count = logins * login_started.elapsed().as_secs_f64();
    let after = cpu.sample(&pids);
    let waits = histogram(&http, &servers.admin, "latchkey_argon2_wait_seconds", &[]).await;
    let served = histogram(&http, &servers.admin, "latchkey_http_request_duration_seconds", &login_route).await;
    let mean = |(s1, c1): (f64, f64), (s0, c0): (f64, f64)| 1000.0 * (s1 - s0) / (c1 - c0).max(1.0);
    let spent: Vec<f64> = before.iter().zip(after).map(|(b, a)| (a - b) * 1000.0 / login_count).collect();
    // Milliseconds of CPU per login: where the machine's time went while logins ran.
    let per_login = json!({
        "argon2_threads": spent[0],
        "server_other_threads": spent[1],
        "postgres": spent[2],
        "load_generator": spent[3],
        "other": spent[4] - spent[0] - spent[1] - spent[2] - spent[3],
        "idle": spent[5] - spent[4],
        "all_cores": spent[5],
        "argon2_wait": mean(waits, waits_before),
        "in_server": mean(served, served_before),
    });
    let peaks_8: Vec<f64> = servers.children.iter().map(|c| peak_rss_mib(c.id())).collect();

    // 200 clients at once: memory stays bounded by argon2's threads, not by the clients.
    let crowd = {
        let (http, urls) = (http.clone(), urls.clone());
        move |i: usize| {
            let (http, urls) = (http.clone(), urls.clone());
            async move {
                let url = format!("{}/users/login/", urls[i % urls.len()]);
                let body = json!({"username": format!("bench{}", (i * 7919) % accounts), "password": PASSWORD});
                post(&http, &url, body, None).await.0 == 200
            }
        }
    };
    let crowd_rate = throughput(200, 5, crowd).await;
    let peaks: Vec<f64> = servers.children.iter().map(|c| peak_rss_mib(c.id())).collect();

    let (_, signed_in) =
        post(&http, &format!("{}/users/login/", urls[0]), json!({"username": "bench0", "password": PASSWORD}), None)
            .await;
    let token = signed_in["token"].as_str().unwrap().to_string();
    let measured = whoami_latency(&reqwest::Client::new(), &[(&urls[0], &token), (&small.urls[0], &small_token)]).await;
    let [(p50, p99), (small_p50, small_p99)] = measured[..] else { unreachable!() };
    drop(small);
    // 100 sessions whose last use is due: one request in 30 writes it.
    let mut tokens = Vec::new();
    for i in 0..100 {
        let body = json!({"username": format!("bench{}", (i * 104_729) % accounts), "password": PASSWORD});
        let (_, signed_in) = post(&http, &format!("{}/users/login/", urls[i % urls.len()]), body, None).await;
        tokens.push(signed_in["token"].as_str().unwrap().to_string());
    }
    let (tracked_p50, tracked_p99, written) = whoami_tracking(&http, &urls[0], &db, &tokens).await;

    // Sign-ups with mail to the loopback SMTP server, then their verifications.
    let run_id = std::process::id();
    let signup = {
        let (http, urls) = (http.clone(), urls.clone());
        move |i: usize| {
            let (http, urls) = (http.clone(), urls.clone());
            async move {
                let url = format!("{}/users/signup/", urls[i % urls.len()]);
                let body = json!({"username": format!("new{run_id}x{i}"), "email": format!("new{run_id}x{i}@example.org"), "password": PASSWORD});
                post(&http, &url, body, None).await.0 == 200
            }
        }
    };
    let signups = throughput(8, LOAD_SECS, signup).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // the last messages reach the Maildir
    let codes = Arc::new(codes_by_address(maildir));
    let pending: Arc<Vec<(String, String)>> = Arc::new(
        codes
            .iter()
            .filter(|(a, _)| a.starts_with(&format!("new{run_id}x")))
            .map(|(a, c)| (a.clone(), c.clone()))
            .collect(),
    );
    let verify = {
        let (http, urls, pending) = (http.clone(), urls.clone(), pending.clone());
        move |i: usize| {
            let (http, urls, pending) = (http.clone(), urls.clone(), pending.clone());
            async move {
                let Some((email, code)) = pending.get(i) else { return false };
                let username = email.split('@').next().unwrap_or_default();
                let url = format!("{}/users/verification/", urls[i % urls.len()]);
                let body = json!({"email": email, "otp": code, "username": username, "password": PASSWORD});
                post(&http, &url, body, None).await.0 == 201
            }
        }
    };
    let verified_rate = drain(8, pending.len(), verify).await;

    json!({
        "accounts": accounts,
        "database": if db.is_postgres() { "PostgreSQL database" } else { "SQLite file" },
        "seed_seconds": seed_secs,
        "cores": cores,
        "bare_verify_ms": bare.as_secs_f64() * 1000.0,
        "bare_verify_alone_ms": alone.as_secs_f64() * 1000.0,
        "argon2_limit_per_s": limit,
        "logins_per_s": logins,
        "login_cpu_ms": per_login,
        "whoami_p50_ms": p50,
        "whoami_p99_ms": p99,
        "whoami_1k_p50_ms": small_p50,
        "whoami_1k_p99_ms": small_p99,
        "whoami_tracked_p50_ms": tracked_p50,
        "whoami_tracked_p99_ms": tracked_p99,
        "whoami_tracked_written": written,
        "signups_per_s": signups,
        "verifications_per_s": verified_rate,
        "verifications_checked": pending.len(),
        "crowd_logins_per_s": crowd_rate,
        "peak_rss_mib": peaks,
        "peak_rss_8_clients_mib": peaks_8,
    })
}
