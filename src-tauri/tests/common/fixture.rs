//! One UI test's world: a fresh data directory, a real SMTP server, a tauri-driver that launches
//! the app against both, and direct access to the app's database for moving timestamps.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use sqlx::SqlitePool;

use super::ui::{Driver, Window};
use super::SmtpServer;

pub const PASSWORD: &str = "correct horse battery";

/// UI tests share the one keychain entry and the display: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub struct Fixture {
    pub smtp: SmtpServer,
    pub data: tempfile::TempDir,
    /// Everything the app and the drivers printed.
    pub log: std::path::PathBuf,
    _logs: tempfile::TempDir,
    pub driver: Driver,
    _serial: MutexGuard<'static, ()>,
}

pub fn clear_keychain() {
    let _ = Command::new("secret-tool").args(["clear", "service", "latchkey"]).status();
}

/// The session token in the app's keychain entry (a `{"server", "token"}` record).
pub fn keychain_token() -> Option<String> {
    let out = Command::new("secret-tool").args(["lookup", "service", "latchkey"]).output().ok()?;
    let stored = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || stored.is_empty() {
        return None;
    }
    let record: serde_json::Value = serde_json::from_str(&stored).expect("the entry is a {server, token} record");
    Some(record["token"].as_str().expect("a token in the entry").to_string())
}

/// The session token once the keychain holds one other than `not`: a sign-in's keychain write
/// finishes just after the window has its answer. Fails after a few seconds.
pub async fn kept_token(not: Option<&str>) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match keychain_token() {
            Some(token) if Some(token.as_str()) != not => return token,
            held => assert!(std::time::Instant::now() < deadline, "the keychain holds {:?}", held.is_some()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        Self::with_env(&[])
    }

    /// Extra environment for the app (later entries win).
    pub fn with_env(extra: &[(&str, String)]) -> Fixture {
        let serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        super::require_session_bus();
        clear_keychain();
        let smtp = SmtpServer::start();
        let data = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("LATCHKEY_DATA_DIR", data.path().display().to_string()),
            ("SMTP_HOST", "127.0.0.1".to_string()),
            ("SMTP_PORT", smtp.port.to_string()),
            ("SMTP_SECURITY", "none".to_string()),
            ("SMTP_FROM", "Latchkey <no-reply@latchkey.test>".to_string()),
        ];
        env.extend(extra.iter().cloned());
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("app.log");
        let driver = Driver::start_logged(&env, Some(&log));
        Fixture { smtp, data, log, _logs: logs, driver, _serial: serial }
    }

    /// Fills and submits the sign-up form, waits for the verify screen, returns the emailed code.
    pub async fn request_code(&self, w: &Window, username: &str, email: &str) -> String {
        let before = self.smtp.messages().len();
        w.fill_signup(username, email, PASSWORD).await;
        w.click("signup-submit").await;
        w.wait_screen("verify-screen").await;
        super::code_in(&self.smtp.wait_for_message(before + 1))
    }

    /// A whole sign-up through the window, ending on the profile screen.
    pub async fn sign_up(&self, w: &Window, username: &str, email: &str) {
        let code = self.request_code(w, username, email).await;
        w.fill("verify-code", &code).await;
        w.click("verify-submit").await;
        w.wait_screen("profile-screen").await;
    }

    pub async fn launch(&self) -> Window {
        Window(self.driver.launch().await)
    }

    /// The app's own database, opened beside the running app (WAL allows it).
    pub async fn db(&self) -> SqlitePool {
        latchkey_lib::store::open(&self.data.path().join("latchkey.db")).await.unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let pool = self.db().await;
        let n = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }

    /// The first column of every row, as text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let pool = self.db().await;
        let rows = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }

    /// Moves every recorded code mail an hour into the past, so the per-address mail limit lets
    /// the next code through at once.
    pub async fn age_mail_sends(&self) {
        self.exec("UPDATE mail_sends SET sent_at = sent_at - 3600").await;
    }

    pub async fn exec(&self, sql: &str) {
        let pool = self.db().await;
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        clear_keychain();
    }
}
