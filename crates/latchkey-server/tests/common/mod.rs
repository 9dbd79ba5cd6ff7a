//! What several of the service's test files build the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#![allow(dead_code)] // each test file uses its part

use std::process::{Command, Stdio};

use latchkey_core::config::{Security, SmtpSettings};
use latchkey_core::mail::Mailer;
use latchkey_testkit::{free_port, wait_for_port, Group, SmtpServer, TestDatabase};

/// A `latchkey-server` process on loopback, on `db`, sending mail to the test's SMTP server;
/// `extra` settings on top. Ends with the test.
pub struct Server {
    pub base: String,
    pub process: Group,
}

impl Server {
    pub fn start(db: &TestDatabase, smtp_port: u16, extra: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey-server"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", db.url())
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", smtp_port.to_string())
            .env("SMTP_SECURITY", "none")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            // Not piped: nobody reads it, and a full pipe would stall the server's logging.
            .stderr(Stdio::null());
        let process = Group::spawn(&mut command);
        wait_for_port(port, "latchkey-server");
        Server { base: format!("http://127.0.0.1:{port}"), process }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The domain's mailer, sending to the test's SMTP server on loopback.
pub fn mailer(smtp: &SmtpServer) -> Mailer {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: smtp.port,
        username: None,
        password: None,
        security: Security::None,
    };
    Mailer::smtp(&settings, "Latchkey <no-reply@latchkey.test>").unwrap()
}
