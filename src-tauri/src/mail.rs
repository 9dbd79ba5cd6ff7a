//! Sending the verification email: lettre's async SMTP transport, or, when no SMTP host is
//! configured, `.eml` files in the outbox directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use crate::config::{Security, SmtpSettings};
use crate::error::{Error, Result};

pub const OUTBOX_DIR: &str = "outbox";
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a message went, for the verify screen.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Delivery {
    Smtp,
    /// Mail delivery is not configured; the message was written to this file.
    Outbox {
        path: PathBuf,
    },
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox { transport: AsyncFileTransport<Tokio1Executor>, dir: PathBuf },
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// What a code email says.
pub struct CodeEmail<'a> {
    pub username: &'a str,
    pub to: &'a str,
    pub code: &'a str,
    pub valid_minutes: i64,
}

impl Mailer {
    pub fn smtp(settings: &SmtpSettings, from: &str) -> Result<Self, String> {
        let builder = match settings.security {
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host),
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host),
            Security::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)),
        }
        .map_err(|e| format!("SMTP settings for {}: {e}", settings.host))?;
        let mut builder = builder.port(settings.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(username) = &settings.username {
            let password = settings.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Mailer { transport: Transport::Smtp(builder.build()), from: parse_from(from)? })
    }

    /// The embedded default. The directory is created when the first message is written.
    pub fn outbox(dir: &Path, from: &str) -> Result<Self, String> {
        Ok(Mailer {
            transport: Transport::Outbox { transport: AsyncFileTransport::new(dir), dir: dir.to_path_buf() },
            from: parse_from(from)?,
        })
    }

    pub async fn send_code(&self, email: &CodeEmail<'_>) -> Result<Delivery> {
        let message = build_message(&self.from, email)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| mail_failed("SMTP", e))?;
                Ok(Delivery::Smtp)
            }
            Transport::Outbox { transport, dir } => {
                crate::files::create_private_dir(dir).map_err(|e| mail_failed("outbox", e))?;
                let id = transport.send(message).await.map_err(|e| mail_failed("outbox", e))?;
                Ok(Delivery::Outbox { path: dir.join(format!("{id}.eml")) })
            }
        }
    }
}

fn parse_from(from: &str) -> Result<Mailbox, String> {
    from.parse().map_err(|e| format!("sender address {from:?}: {e}"))
}

fn mail_failed(via: &str, cause: impl std::fmt::Display) -> Error {
    // The cause names hosts and SMTP replies, never the message body.
    log::warn!("sending the verification email through {via} failed: {cause}");
    Error::MailFailed(format!("{via}: {cause}"))
}

fn build_message(from: &Mailbox, email: &CodeEmail<'_>) -> Result<Message> {
    let address = email.to.parse().map_err(|e| mail_failed("address", e))?;
    let to = Mailbox::new(Some(email.username.to_string()), address);
    let (plain, html) = bodies(email);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject("Your Latchkey verification code")
        .multipart(MultiPart::alternative_plain_html(plain, html))
        .map_err(|e| mail_failed("message", e))
}

/// The plain-text and HTML versions of the message.
fn bodies(email: &CodeEmail<'_>) -> (String, String) {
    let (code, minutes) = (email.code, email.valid_minutes);
    let plain = format!(
        "Hello {name},\n\n\
         Your Latchkey verification code is:\n\n    {code}\n\n\
         It is valid for {minutes} minutes. Enter it in the Latchkey window to finish creating your account.\n\n\
         If you did not ask for this code, you can ignore this email: no account will be created.\n",
        name = email.username,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#1b1f2a\">\
         <p>Hello {name},</p><p>Your Latchkey verification code is:</p>\
         <p style=\"font-size:28px;font-weight:bold;letter-spacing:6px\">{code}</p>\
         <p>It is valid for {minutes} minutes. Enter it in the Latchkey window to finish creating your account.</p>\
         <p style=\"color:#5b6275\">If you did not ask for this code, you can ignore this email: no account will be created.</p>\
         </body></html>",
        name = html_escape(email.username),
    );
    (plain, html)
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email<'a>(username: &'a str) -> CodeEmail<'a> {
        CodeEmail { username, to: "ann@example.com", code: "042917", valid_minutes: 10 }
    }

    #[tokio::test]
    async fn outbox_writes_a_private_eml_file_with_plain_and_html_parts() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join(OUTBOX_DIR);
        let mailer = Mailer::outbox(&outbox, crate::config::DEFAULT_FROM).unwrap();
        let delivery = mailer.send_code(&email("ann")).await.unwrap();
        let Delivery::Outbox { path } = delivery else { panic!("expected the outbox") };
        assert!(path.starts_with(&outbox));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Subject: Your Latchkey verification code"));
        assert!(text.contains("To: ann <ann@example.com>"));
        assert!(text.contains("text/plain") && text.contains("text/html"));
        assert!(text.contains("    042917\r\n") || text.contains("    042917\n"));
        assert!(text.contains("valid for 10 minutes"));
        assert!(text.contains("did not ask for this code"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[test]
    fn html_part_escapes_the_username() {
        let (plain, text) = bodies(&email("a<b>&c"));
        assert!(plain.contains("Hello a<b>&c,"));
        assert!(text.contains("<p>Hello a&lt;b&gt;&amp;c,</p>"));
        assert!(!text.contains("<p>Hello a<b>"));
    }
}
