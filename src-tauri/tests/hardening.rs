//! Attack and fault tests. Each prints the figure it proves, e.g. `figure: bad input: ...`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::SqlitePool;
use tauri::test::{mock_builder, mock_context, noop_assets};

use latchkey_lib::auth::{login, signup, Device};
use latchkey_lib::config::{Config, Security, DEFAULT_FROM};
use latchkey_lib::keychain::Keychain;
use latchkey_lib::mail::{Delivery, Mailer};
use latchkey_lib::{store, App, Error};

/// The device the test's sessions are recorded for.
const HERE: Device<'static> = Device { label: "Test desktop", ip: None };

const PASSWORD: &str = "correct horse battery";

async fn fresh_db(dir: &Path) -> SqlitePool {
    store::open(&dir.join("latchkey.db")).await.unwrap()
}

fn outbox(dir: &Path) -> Mailer {
    Mailer::outbox(&dir.join("outbox"), DEFAULT_FROM).unwrap()
}

fn code_of(sent: &signup::CodeSent) -> String {
    let Delivery::Outbox { path } = &sent.delivery else { panic!("outbox expected") };
    common::code_in(&std::fs::read_to_string(path).unwrap())
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Bad input through the IPC layer

/// Strings that have broken other programs.
fn nasty_string(rng: &mut StdRng) -> String {
    let pool: &[&str] = &[
        "",
        " ",
        "\0",
        "a\0b@example.com",
        "\u{7}\u{1b}[31m\r\n\t",
        "'; DROP TABLE users; --",
        "\" OR \"1\"=\"1",
        "admin'--",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "аdmin", // Cyrillic а
        "ｆｕｌｌｗｉｄｔｈ",
        "עברית-العربية",
        "👩‍👩‍👧‍👦🔑",
        "\u{202e}gnp.exe",
        "ﬁ ligature",
        "%s%s%n",
        "../../etc/passwd",
        "ann@example.com",
        "ann@@example.com",
        "12345",
        "123456",
        "12 34 56",
        "password",
        "null",
        "\u{feff}ann",
        "a",
    ];
    match rng.random_range(0..40) {
        0 => "x".repeat(rng.random_range(100_000..1_000_001)),
        1 => {
            (0..rng.random_range(1..200)).map(|_| char::from_u32(rng.random_range(0..0x3000)).unwrap_or('?')).collect()
        }
        _ => pool[rng.random_range(0..pool.len())].to_string(),
    }
}

fn nasty_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => json!(rng.random::<i64>()),
        2 => json!(rng.random::<f64>()),
        3 => json!(rng.random::<bool>()),
        4 => json!([nasty_string(rng)]),
        5 => json!({ "nested": nasty_string(rng) }),
        _ => Value::String(nasty_string(rng)),
    }
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = ["latchkey.db", "latchkey.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok().map(|b| (f.to_string(), b)))
        .collect();
    files.sort();
    files
}

#[test]
fn bad_input_never_panics_gets_a_structured_error_and_changes_nothing() {
    common::require_session_bus();
    let dir = tempfile::tempdir().unwrap();
    let state = tauri::async_runtime::block_on(App::open(
        &Config::from_lookup(|_| None).unwrap(),
        dir.path(),
        Keychain::new("latchkey-test", "bad-input"),
        latchkey_lib::state::system_clock(),
    ))
    .unwrap();
    let app = latchkey_lib::builder(mock_builder()).manage(state).build(mock_context(noop_assets())).unwrap();
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let commands: &[(&str, &[&str])] = &[
        ("request_signup", &["username", "email", "password"]),
        ("verify_signup", &["signup_id", "code"]),
        ("resend_code", &["signup_id"]),
        ("login", &["identifier", "password"]),
        ("check_password", &["username", "email", "password"]),
        ("whoami", &[]),
        ("logout", &[]),
        ("startup", &[]),
        ("request_password_reset", &["email"]),
        ("resend_password_reset", &["reset_id"]),
        ("reset_password", &["reset_id", "code", "password"]),
        ("change_password", &["current_password", "new_password"]),
        ("request_email_change", &["password", "new_email"]),
        ("resend_email_change", &[]),
        ("verify_email_change", &["code"]),
        ("cancel_email_change", &[]),
        ("delete_account", &["password", "confirm"]),
    ];
    // Every panic anywhere in the process is counted, whether or not something caught it.
    static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        previous(info);
    }));
    let mut rng = StdRng::seed_from_u64(0x01a7_c4e4);
    let (mut cases, mut refused_unchanged, mut structured) = (0, 0, 0);
    let started = Instant::now();
    while cases < 10_000 {
        let (cmd, fields) = commands[rng.random_range(0..commands.len())];
        let body = match rng.random_range(0..8) {
            0 => nasty_value(&mut rng),
            1 => json!({ "request": nasty_value(&mut rng) }),
            _ => {
                let mut request = serde_json::Map::new();
                for field in fields.iter() {
                    if rng.random_range(0..8) != 0 {
                        request.insert(field.to_string(), nasty_value(&mut rng));
                    }
                }
                json!({ "request": request })
            }
        };
        let before = snapshot(dir.path());
        cases += 1;
        match common::invoke_with_body(&window, cmd, body.clone()) {
            Ok(reply) => {
                assert_eq!(reply["success"], true, "{cmd}: {reply}");
            }
            Err(error) => {
                assert_eq!(error["success"], false, "{cmd} {body:.200}: unstructured error {error}");
                let code = error["code"].as_str().unwrap_or_else(|| panic!("{cmd}: no code in {error}"));
                assert!(error["detail"].as_str().is_some_and(|d| !d.is_empty()), "{cmd}: {error}");
                structured += 1;
                if code == "invalid_input" {
                    assert!(before == snapshot(dir.path()), "{cmd} refused {body:.200} but changed the database");
                    refused_unchanged += 1;
                }
            }
        }
    }
    let panics = PANICS.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "figure: bad input: {cases} cases across {} commands in {:.1} s, {panics} panics, {structured} structured errors, \
         {refused_unchanged} refused as invalid_input with the database byte-for-byte unchanged",
        commands.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(panics, 0, "a command panicked");
    assert!(refused_unchanged > 5_000);
}

// ---------------------------------------------------------------------------------------------
// Races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_right_codes_make_one_account_and_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let pool = fresh_db(dir.path()).await;
    let req =
        signup::SignupRequest { username: "racer", email: "racer@example.com", password: PASSWORD, replaces: None };
    let sent =
        signup::request_code(&pool, &outbox(dir.path()), req, latchkey_lib::auth::THIS_WINDOW, 1_000).await.unwrap();
    let code = code_of(&sent);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (pool, code, id, dir) =
                (pool.clone(), code.clone(), sent.signup_id().to_string(), dir.path().to_path_buf());
            tokio::spawn(async move { signup::verify(&pool, &outbox(&dir), &id, &code, HERE, 1_001).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap().is_ok());
    }
    let (users, sessions) =
        (count(&pool, "SELECT count(*) FROM users").await, count(&pool, "SELECT count(*) FROM sessions").await);
    println!("figure: races: 20 concurrent verifications with the right code -> {ok} success, {users} account, {sessions} session");
    assert_eq!((ok, users, sessions), (1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn competing_signups_for_one_username_or_email_never_make_two_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let pool = fresh_db(dir.path()).await;
    let mailer = Arc::new(outbox(dir.path()));
    let rounds = 10;
    for round in 0..rounds {
        let name = format!("dup{round}");
        // Two people race for the same username with different emails, and two for the same email.
        let attempts = [
            (name.clone(), format!("{name}.a@example.com")),
            (name.clone(), format!("{name}.b@example.com")),
            (format!("{name}x"), format!("{name}.a@example.com")),
        ];
        let tasks: Vec<_> = attempts
            .into_iter()
            .map(|(username, email)| {
                let (pool, mailer) = (pool.clone(), mailer.clone());
                tokio::spawn(async move {
                    let req = signup::SignupRequest {
                        username: &username,
                        email: &email,
                        password: PASSWORD,
                        replaces: None,
                    };
                    let Ok(sent) =
                        signup::request_code(&pool, &mailer, req, latchkey_lib::auth::THIS_WINDOW, 1_000).await
                    else {
                        return;
                    };
                    let _ = signup::verify(&pool, &mailer, sent.signup_id(), &code_of(&sent), HERE, 1_001).await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
    let dup_names =
        count(&pool, "SELECT count(*) FROM (SELECT username_key FROM users GROUP BY username_key HAVING count(*) > 1)")
            .await;
    let dup_emails =
        count(&pool, "SELECT count(*) FROM (SELECT email_key FROM users GROUP BY email_key HAVING count(*) > 1)").await;
    let accounts = count(&pool, "SELECT count(*) FROM users").await;
    println!("figure: races: {rounds} rounds of 3 competing sign-ups -> {accounts} accounts, {dup_names} duplicate usernames, {dup_emails} duplicate emails");
    assert_eq!((dup_names, dup_emails), (0, 0));
    assert!(accounts >= rounds);
}

// ---------------------------------------------------------------------------------------------
// Crashes: a child runs the real store and domain code in a loop and is killed with SIGKILL.

const CRASH_DIR: &str = "LATCHKEY_CRASH_DIR";

/// The child's loop; only runs when the parent test starts it.
#[tokio::test]
#[ignore = "started by crashes_at_random_points_keep_the_database_consistent"]
async fn crash_worker() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else { return };
    let dir = Path::new(&dir);
    let pool = fresh_db(dir).await;
    let mailer = outbox(dir);
    let journal_path = dir.join("journal");
    for i in 0.. {
        let now = 2_000_000 + i;
        let name = format!("w{}_{i}", std::process::id());
        let email = format!("{name}@example.com");
        let req = signup::SignupRequest { username: &name, email: &email, password: PASSWORD, replaces: None };
        let sent = signup::request_code(&pool, &mailer, req, latchkey_lib::auth::THIS_WINDOW, now).await.unwrap();
        signup::verify(&pool, &mailer, sent.signup_id(), &code_of(&sent), HERE, now).await.unwrap();
        // Reported done only after the call returned: this must survive any crash.
        let journal = |line: String| {
            use std::io::Write;
            let mut journal = std::fs::OpenOptions::new().create(true).append(true).open(&journal_path).unwrap();
            writeln!(journal, "{line}").unwrap();
            journal.sync_all().unwrap();
        };
        journal(format!("created {name}"));
        let session = login::login(&pool, &name, PASSWORD, HERE, now).await.unwrap();
        login::logout(&pool, &session.token).await.unwrap();
        journal(format!("logged-out {}", session.token.expose()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_at_random_points_keep_the_database_consistent() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let kills = 50;
    let mut checks = 0;
    let (mut logins, mut logouts) = (0, 0);
    let mut checked_logins = std::collections::HashSet::new();
    for _ in 0..kills {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_worker", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(40..450))).await;
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        child.wait().unwrap();

        let pool = fresh_db(dir.path()).await;
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
        assert_eq!(integrity, "ok");
        let bad_hashes =
            count(&pool, "SELECT count(*) FROM users WHERE password_hash NOT LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'")
                .await;
        assert_eq!(bad_hashes, 0, "every account has a valid password hash");
        let orphans = count(&pool, "SELECT count(*) FROM sessions WHERE user_id NOT IN (SELECT id FROM users)").await;
        assert_eq!(orphans, 0, "no session points nowhere");
        checks += 3;
        // What the worker reported done must hold: each new account signs in with its password,
        // and no logged-out token opens a profile any more.
        let journal = std::fs::read_to_string(dir.path().join("journal")).unwrap_or_default();
        let at = 3_000_000;
        for line in journal.lines() {
            if let Some(name) = line.strip_prefix("created ") {
                if checked_logins.insert(name.to_string()) {
                    let session = login::login(&pool, name, PASSWORD, HERE, at).await;
                    assert!(session.is_ok(), "{name} was reported created before the crash: {session:?}");
                    login::logout(&pool, &session.unwrap().token).await.unwrap();
                    logins += 1;
                }
            } else if let Some(token) = line.strip_prefix("logged-out ") {
                let token = latchkey_lib::auth::secret::Token::from_stored(token.to_string());
                let me = login::whoami(&pool, Some(&token), at).await;
                assert!(matches!(me, Err(Error::NotAuthenticated)), "a reported logout still opens a profile");
                logouts += 1;
            }
        }
        pool.close().await;
    }
    let pool = fresh_db(dir.path()).await;
    let accounts = count(&pool, "SELECT count(*) FROM users").await;
    println!(
        "figure: crashes: {kills} SIGKILLs at random points; {checks} integrity, hash and orphan checks, \
         {logins} reported accounts signed in with their password, {logouts} checks that a reported logout's token is refused; \
         {accounts} accounts intact"
    );
    assert!(accounts > 0 && logins > 0 && logouts > 0, "the worker got some work done between kills");
}

// ---------------------------------------------------------------------------------------------
// Mail faults

fn faulty_mailer(port: u16) -> Mailer {
    common::smtp_mailer("127.0.0.1", port, Security::None)
}

#[tokio::test]
async fn mail_faults_give_mail_failed_leave_nothing_and_the_next_try_works() {
    let dir = tempfile::tempdir().unwrap();
    let pool = fresh_db(dir.path()).await;
    let req = || signup::SignupRequest {
        username: "mailfault",
        email: "mailfault@example.com",
        password: PASSWORD,
        replaces: None,
    };
    let down = faulty_mailer(common::free_port());
    let refusing = common::FaultySmtp::start("refuse-recipient");
    let dropping = common::FaultySmtp::start("close-mid-message");
    let (mut faults, mut rows_left) = (0, 0);
    for (what, mailer) in [
        ("down", down),
        ("refuses the recipient", faulty_mailer(refusing.port)),
        ("closes mid-message", faulty_mailer(dropping.port)),
    ] {
        let result = signup::request_code(&pool, &mailer, req(), latchkey_lib::auth::THIS_WINDOW, 1_000).await;
        assert!(matches!(result, Err(Error::MailFailed(_))), "server {what}: {result:?}");
        let left = count(&pool, "SELECT count(*) FROM pending_signups").await
            + count(&pool, "SELECT count(*) FROM mail_sends").await;
        rows_left += left;
        assert_eq!(left, 0, "server {what}: nothing half-created, no mail slot taken");
        faults += 1;
    }
    let good = common::SmtpServer::start();
    let sent = signup::request_code(&pool, &faulty_mailer(good.port), req(), latchkey_lib::auth::THIS_WINDOW, 1_001)
        .await
        .unwrap();
    let code = common::code_in(&good.wait_for_message(1));
    signup::verify(&pool, &faulty_mailer(good.port), sent.signup_id(), &code, HERE, 1_002).await.unwrap();
    println!("figure: mail faults: {faults} faults (down, recipient refused, closed mid-message) -> mail_failed, {rows_left} rows left; the next try worked");
}
