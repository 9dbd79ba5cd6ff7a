//! What several of the service's test files build the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use latchkey_core::config::{Security, SmtpSettings};
use latchkey_core::mail::Mailer;
use latchkey_testkit::SmtpServer;

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
