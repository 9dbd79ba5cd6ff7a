//! Sending the verification email: lettre's async SMTP transport, or, when no SMTP host is
//! configured, `.eml` files in the outbox directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde::Serialize;

use crate::config::{Security, SmtpSettings};
use crate::error::{Error, Result};

pub const OUTBOX_DIR: &str = "outbox";
const SIGN_UP_FILE_PREFIX: &str = "signup-";
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a message went, for the verify screen.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Delivery {
    Smtp,
    /// Mail delivery is not configured; the message was written to this file.
    Outbox {
        path: PathBuf,
    },
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files, owner-only, in this folder.
    Outbox(PathBuf),
}

/// Cheap to clone: the SMTP transport is a shared pool.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    watch: Option<Watch>,
}

/// Told of every message's outcome (the service's metrics).
pub type Watch = std::sync::Arc<dyn Fn(MailOutcome) + Send + Sync>;

/// One message's outcome: which code it carried (none for a notice) and whether it went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailOutcome {
    pub code: Option<CodePurpose>,
    pub delivered: bool,
}

/// Who a message is for.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub name: &'a str,
    pub address: &'a str,
}

/// Which emailed code a code message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    Signup,
    PasswordReset,
    EmailChange,
}

impl CodePurpose {
    pub fn name(self) -> &'static str {
        match self {
            CodePurpose::Signup => "signup",
            CodePurpose::PasswordReset => "password_reset",
            CodePurpose::EmailChange => "email_change",
        }
    }
}

/// Every message Latchkey sends. Only code messages carry a code; none carries a password or a
/// session token.
#[derive(Debug, Clone, Copy)]
pub enum Letter<'a> {
    Code {
        purpose: CodePurpose,
        code: &'a str,
        valid_minutes: i64,
    },
    PasswordReset,
    PasswordChanged,
    /// To the old address; the new one is shown partly masked.
    EmailChanged {
        masked_new_address: &'a str,
    },
    AccountDeleted,
    /// An operator changed the account; `what` finishes "Your Latchkey account …".
    ByAdministrator {
        what: &'a str,
    },
    SecondFactorOn,
    SecondFactorOff,
    RecoveryCodesRegenerated,
    /// A recovery code signed in; `left` remain.
    RecoveryCodeUsed {
        left: i64,
    },
    /// The owner downloaded a copy of the account's data.
    DataExported,
    /// A sign-in from a device and network not seen on the account in 90 days.
    NewSignIn {
        /// Seconds since the Unix epoch.
        at: i64,
        device: &'a str,
        /// The client's address; `None` on this computer's own database.
        from: Option<&'a str>,
    },
    /// To an address that has an account, instead of a code: someone tried to sign up with it.
    SignupAttempt,
    /// To an address that has an account, instead of a code: another account asked to move to it.
    AddressWanted,
}

impl Letter<'_> {
    pub fn code_purpose(&self) -> Option<CodePurpose> {
        match self {
            Letter::Code { purpose, .. } => Some(*purpose),
            _ => None,
        }
    }
}

/// What a sign-up code email says (the sign-up flow's shorthand for a code letter).
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
        Ok(Mailer { transport: Transport::Smtp(builder.build()), from: parse_from(from)?, watch: None })
    }

    /// The embedded default. The directory is created when the first message is written.
    pub fn outbox(dir: &Path, from: &str) -> Result<Self, String> {
        Ok(Mailer { transport: Transport::Outbox(dir.to_path_buf()), from: parse_from(from)?, watch: None })
    }

    /// The same mailer, telling `watch` of every message's outcome.
    pub fn watched(self, watch: Watch) -> Self {
        Mailer { watch: Some(watch), ..self }
    }

    /// Where messages go, as far as can be said without sending one: the outbox folder, if any.
    pub fn destination(&self) -> Delivery {
        match &self.transport {
            Transport::Smtp(_) => Delivery::Smtp,
            Transport::Outbox(dir) => Delivery::Outbox { path: dir.clone() },
        }
    }

    pub async fn send_code(&self, email: &CodeEmail<'_>) -> Result<Delivery> {
        self.send_sign_up_code(email, None).await
    }

    /// A sign-up code; in the outbox its file is named after `tag`, so `sweep_sign_up_files` can
    /// remove it once that sign-up is over.
    pub async fn send_sign_up_code(&self, email: &CodeEmail<'_>, tag: Option<&str>) -> Result<Delivery> {
        let letter =
            Letter::Code { purpose: CodePurpose::Signup, code: email.code, valid_minutes: email.valid_minutes };
        let message = build_message(&self.from, Recipient { name: email.username, address: email.to }, letter)?;
        self.deliver(message, tag, Some(CodePurpose::Signup)).await
    }

    pub async fn send(&self, to: Recipient<'_>, letter: Letter<'_>) -> Result<Delivery> {
        self.send_tagged(to, letter, None).await
    }

    /// Any letter; in the outbox named after a sign-up's `tag`, as its code would have been, so it
    /// goes when that sign-up does.
    pub async fn send_tagged(&self, to: Recipient<'_>, letter: Letter<'_>, tag: Option<&str>) -> Result<Delivery> {
        let message = build_message(&self.from, to, letter)?;
        self.deliver(message, tag, letter.code_purpose()).await
    }

    /// Outbox only: the sign-up code files there now, with the tag each was named after.
    pub fn sign_up_files(&self) -> Vec<(String, PathBuf)> {
        let Transport::Outbox(dir) = &self.transport else { return vec![] };
        let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
        entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                let tag = name.to_str()?.strip_prefix(SIGN_UP_FILE_PREFIX)?.split('-').next()?.to_string();
                Some((tag, entry.path()))
            })
            .collect()
    }

    /// Removes outbox files whose code is no longer of use.
    pub fn discard(&self, files: &[PathBuf]) {
        for file in files {
            if let Err(e) = std::fs::remove_file(file) {
                log::warn!("could not remove an old outbox file: {e}");
            }
        }
    }

    /// Sends in the background: the caller's answer and timing must not depend on whether (or how
    /// fast) the message goes out. A failure is logged.
    pub fn send_detached(&self, to: Recipient<'_>, letter: Letter<'_>) {
        let message = match build_message(&self.from, to, letter) {
            Ok(message) => message,
            Err(e) => return log::warn!("an email was not sent: {e}"),
        };
        let mailer = self.clone();
        let code = letter.code_purpose();
        tokio::spawn(async move {
            if let Err(e) = mailer.deliver(message, None, code).await {
                log::warn!("an email was not sent: {e}");
            }
        });
    }

    async fn deliver(&self, message: Message, tag: Option<&str>, code: Option<CodePurpose>) -> Result<Delivery> {
        let result = self.transport(message, tag).await;
        if let Some(watch) = &self.watch {
            watch(MailOutcome { code, delivered: result.is_ok() });
        }
        result
    }

    async fn transport(&self, message: Message, tag: Option<&str>) -> Result<Delivery> {
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| mail_failed("SMTP", e))?;
                Ok(Delivery::Smtp)
            }
            Transport::Outbox(dir) => {
                match crate::private_files::ensure_private_dir(dir).map_err(|e| mail_failed("outbox", e))? {
                    Ok(()) => {}
                    Err(why) => return Err(mail_failed("outbox", format!("{} is {why}", dir.display()))),
                }
                // Hex, so the tag and the random part never contain the separator.
                let mut random = [0u8; 12];
                OsRng.try_fill_bytes(&mut random).map_err(|e| Error::internal("OS random number generator", e))?;
                let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
                let path = match tag {
                    Some(tag) => dir.join(format!("{SIGN_UP_FILE_PREFIX}{tag}-{random}.eml")),
                    None => dir.join(format!("{random}.eml")),
                };
                let bytes = message.formatted();
                let write = {
                    let path = path.clone();
                    tokio::task::spawn_blocking(move || crate::private_files::write_private_new(&path, &bytes))
                };
                write.await?.map_err(|e| mail_failed("outbox", e))?;
                Ok(Delivery::Outbox { path })
            }
        }
    }
}

fn parse_from(from: &str) -> Result<Mailbox, String> {
    from.parse().map_err(|e| format!("sender address {from:?}: {e}"))
}

fn mail_failed(via: &str, cause: impl std::fmt::Display) -> Error {
    // The cause names hosts and SMTP replies, never the message body. A reply is the server's text:
    // escaped, so it cannot forge log lines or drive the terminal.
    let cause = escape_controls(&cause.to_string());
    Error::MailFailed(format!("{via}: {cause}"))
}

/// Control characters (and the Unicode line and direction marks) as visible escapes.
fn escape_controls(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    text.chars().map(|c| if hidden(c) { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn build_message(from: &Mailbox, to: Recipient<'_>, letter: Letter<'_>) -> Result<Message> {
    let address = to.address.parse().map_err(|e| mail_failed("address", e))?;
    let mailbox = Mailbox::new(Some(to.name.to_string()), address);
    let text = compose(to.name, letter);
    Message::builder()
        .from(from.clone())
        .to(mailbox)
        .subject(text.subject)
        .multipart(MultiPart::alternative_plain_html(text.plain(), text.html()))
        .map_err(|e| mail_failed("message", e))
}

/// One block of a message; the plain and HTML versions are both drawn from the same blocks.
enum Block {
    Para(String),
    Code(String),
    /// The closing "what if this was not you" line, shown quieter in HTML.
    Aside(String),
}

struct Text {
    subject: &'static str,
    greeting: String,
    blocks: Vec<Block>,
}

impl Text {
    fn plain(&self) -> String {
        let mut out = format!("{},\n\n", self.greeting);
        for block in &self.blocks {
            match block {
                Block::Para(p) | Block::Aside(p) => out.push_str(&format!("{p}\n\n")),
                Block::Code(code) => out.push_str(&format!("    {code}\n\n")),
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    fn html(&self) -> String {
        let mut out = String::from("<!doctype html><html><body style=\"font-family:sans-serif;color:#1b1f2a\">");
        out.push_str(&format!("<p>{},</p>", html_escape(&self.greeting)));
        for block in &self.blocks {
            match block {
                Block::Para(p) => out.push_str(&format!("<p>{}</p>", html_escape(p))),
                Block::Code(code) => out.push_str(&format!(
                    "<p style=\"font-size:28px;font-weight:bold;letter-spacing:6px\">{}</p>",
                    html_escape(code)
                )),
                Block::Aside(p) => out.push_str(&format!("<p style=\"color:#5b6275\">{}</p>", html_escape(p))),
            }
        }
        out.push_str("</body></html>");
        out
    }
}

/// Every message's words, in one place.
fn compose(name: &str, letter: Letter<'_>) -> Text {
    use Block::{Aside, Code, Para};
    let not_you = "If this was not you, reset your password at once with \"Forgot password?\" on Latchkey's \
                   sign-in screen: that ends every session of your account.";
    let (subject, blocks) = match letter {
        Letter::Code { purpose, code, valid_minutes } => {
            let (subject, what, ignore) = match purpose {
                CodePurpose::Signup => (
                    "Your Latchkey verification code",
                    "Your Latchkey verification code is:",
                    "If you did not ask for this code, you can ignore this email: no account will be created.",
                ),
                CodePurpose::PasswordReset => (
                    "Your Latchkey password reset code",
                    "Someone asked to reset the password of your Latchkey account. Your code is:",
                    "If you did not ask for this code, you can ignore this email: your password stays as it is.",
                ),
                CodePurpose::EmailChange => (
                    "Confirm your new Latchkey email address",
                    "To make this your Latchkey account's email address, enter this code:",
                    "If you did not ask for this, you can ignore this email: nothing changes.",
                ),
            };
            let enter = match purpose {
                CodePurpose::Signup => "Enter it in the Latchkey window to finish creating your account.",
                CodePurpose::PasswordReset => "Enter it in the Latchkey window with your new password.",
                CodePurpose::EmailChange => "Enter it in the Latchkey window to confirm the change.",
            };
            let validity = format!("It is valid for {valid_minutes} minutes. {enter}");
            (subject, vec![Para(what.into()), Code(code.into()), Para(validity), Aside(ignore.into())])
        }
        Letter::PasswordReset => (
            "Your Latchkey password was reset",
            vec![
                Para(
                    "The password of your Latchkey account was just reset with a code sent to this address. \
                      Every session that was signed in has been signed out."
                        .into(),
                ),
                Aside(not_you.into()),
            ],
        ),
        Letter::PasswordChanged => (
            "Your Latchkey password was changed",
            vec![
                Para(
                    "The password of your Latchkey account was just changed. Every other session has been \
                      signed out."
                        .into(),
                ),
                Aside(not_you.into()),
            ],
        ),
        Letter::EmailChanged { masked_new_address } => (
            "Your Latchkey email address was changed",
            vec![
                Para(format!(
                    "The email address of your Latchkey account was just changed to {masked_new_address}. \
                     This address will no longer receive messages about the account."
                )),
                Aside(
                    "If this was not you, someone who knows your password has taken over your account: \
                       sign in if you still can, change your password and your address back, and tell whoever \
                       looks after this computer."
                        .into(),
                ),
            ],
        ),
        Letter::NewSignIn { at, device, from } => {
            let when =
                httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64));
            let from = from.map_or_else(|| "this computer".to_string(), |ip| format!("the address {ip}"));
            (
                "New sign-in to your Latchkey account",
                vec![
                    Para(format!("Your Latchkey account was signed in from a device it had not used recently: {device}, from {from}, on {when}.")),
                    Para("If this was you, there is nothing to do.".into()),
                    Aside(
                        "Not you? Reset your password now: in Latchkey choose Sign in, then \"Forgot password?\", \
                         and enter the code we email you with a new password. That signs out every device. Then \
                         check Profile, Devices and Activity."
                            .into(),
                    ),
                ],
            )
        }
        Letter::ByAdministrator { what } => (
            "An administrator changed your Latchkey account",
            vec![
                Para(format!("Your Latchkey account {what}, by an administrator of this Latchkey service.")),
                Aside("If you did not expect this, reply to the service's administrators.".into()),
            ],
        ),
        Letter::SecondFactorOn => (
            "Two-step sign-in is on for your Latchkey account",
            vec![
                Para("Signing in to your Latchkey account now needs a code from your authenticator app (or one of your recovery codes) after the password.".into()),
                Aside(not_you.into()),
            ],
        ),
        Letter::SecondFactorOff => (
            "Two-step sign-in was turned off for your Latchkey account",
            vec![
                Para("Two-step sign-in was turned off: your Latchkey account now signs in with its password alone.".into()),
                Aside(not_you.into()),
            ],
        ),
        Letter::RecoveryCodesRegenerated => (
            "New recovery codes for your Latchkey account",
            vec![
                Para("New recovery codes were made for your Latchkey account; the old ones no longer work.".into()),
                Aside(not_you.into()),
            ],
        ),
        Letter::RecoveryCodeUsed { left } => (
            "A recovery code was used to sign in to your Latchkey account",
            vec![
                Para(format!("A recovery code was just used to sign in to your Latchkey account. {left} recovery codes are left; make new ones in Profile, Two-step sign-in, when few are left.")),
                Aside(not_you.into()),
            ],
        ),
        Letter::DataExported => (
            "A copy of your Latchkey data was downloaded",
            vec![
                Para(
                    "A copy of your Latchkey account's data (your profile, devices and activity) was just \
                      downloaded with your password."
                        .into(),
                ),
                Aside(
                    "Not you? Someone knows your password: reset it with \"Forgot password?\" on the sign-in \
                       screen, which signs out every device."
                        .into(),
                ),
            ],
        ),
        Letter::AccountDeleted => (
            "Your Latchkey account was deleted",
            vec![
                Para(
                    "Your Latchkey account and everything it held were deleted, as asked. Your username and \
                      this address are free to use again."
                        .into(),
                ),
                Aside(
                    "If this was not you, someone who knew your password deleted the account; you can sign \
                       up again with the same username and address."
                        .into(),
                ),
            ],
        ),
        Letter::SignupAttempt => (
            "Someone tried to sign up to Latchkey with your address",
            vec![
                Para(
                    "Someone just tried to create a new Latchkey account with this email address, which already \
                      belongs to your account. No account was created and nothing about yours changed."
                        .into(),
                ),
                Para(
                    "If it was you, sign in instead; if you forgot your password, use \"Forgot password?\" on \
                      Latchkey's sign-in screen."
                        .into(),
                ),
                Aside("If it was not you, you can ignore this email.".into()),
            ],
        ),
        Letter::AddressWanted => (
            "Someone tried to move a Latchkey account to your address",
            vec![
                Para(
                    "Someone signed in to another Latchkey account asked to make this email address theirs. It \
                      belongs to your account, so nothing changed and no code was sent."
                        .into(),
                ),
                Aside("You do not need to do anything. If this keeps happening, tell whoever runs the service.".into()),
            ],
        ),
    };
    Text { subject, greeting: format!("Hello {name}"), blocks }
}

/// "an****@example.com": enough for the owner to recognise, not enough to read off.
pub fn mask_address(address: &str) -> String {
    let Some((local, domain)) = address.rsplit_once('@') else { return "***".to_string() };
    let shown: String = local.chars().take(if local.chars().count() > 4 { 2 } else { 1 }).collect();
    format!("{shown}{}@{domain}", "*".repeat(local.chars().count().saturating_sub(shown.chars().count()).max(3)))
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "owner-only");
        }
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
        let text = compose("a<b>&c", Letter::PasswordChanged);
        assert!(text.plain().starts_with("Hello a<b>&c,"));
        assert!(text.html().contains("<p>Hello a&lt;b&gt;&amp;c,</p>"));
        assert!(!text.html().contains("<p>Hello a<b>"));
    }

    #[test]
    fn only_code_letters_carry_a_code_and_each_notice_says_what_happened() {
        let letters = [
            (Letter::PasswordReset, "was just reset"),
            (Letter::PasswordChanged, "was just changed"),
            (Letter::EmailChanged { masked_new_address: "ne***@example.org" }, "ne***@example.org"),
            (Letter::AccountDeleted, "were deleted"),
            (Letter::DataExported, "was just downloaded"),
            (Letter::SecondFactorOn, "needs a code from your authenticator app"),
            (Letter::ByAdministrator { what: "was unlocked" }, "was unlocked, by an administrator"),
            (Letter::SecondFactorOff, "was turned off"),
            (Letter::RecoveryCodesRegenerated, "the old ones no longer work"),
            (Letter::RecoveryCodeUsed { left: 9 }, "9 recovery codes are left"),
            (
                Letter::NewSignIn { at: 0, device: "Firefox on Linux", from: Some("192.0.2.7") },
                "Firefox on Linux, from the address 192.0.2.7, on Thu, 01 Jan 1970 00:00:00 GMT",
            ),
            (Letter::SignupAttempt, "already belongs to your account"),
            (Letter::AddressWanted, "no code was sent"),
        ];
        for (letter, words) in letters {
            let text = compose("ann", letter);
            assert!(text.subject.contains("Latchkey"));
            assert!(text.plain().contains(words) && text.html().contains(words), "{words}");
            assert!(!text.blocks.iter().any(|b| matches!(b, Block::Code(_))), "{words}");
        }
        for purpose in [CodePurpose::Signup, CodePurpose::PasswordReset, CodePurpose::EmailChange] {
            let text = compose("ann", Letter::Code { purpose, code: "042917", valid_minutes: 10 });
            assert!(text.plain().contains("\n    042917\n") && text.html().contains(">042917<"));
            assert!(text.plain().contains("valid for 10 minutes"));
        }
    }

    #[test]
    fn server_text_is_stored_and_logged_without_control_characters() {
        let reply = "550 no such user\r\n[INFO] forged line \x1b[31mred\u{202e}";
        let Error::MailFailed(stored) = mail_failed("SMTP", reply) else { panic!("expected mail_failed") };
        assert!(!stored.chars().any(|c| c.is_control() || c == '\u{202e}'), "{stored:?}");
        assert!(stored.contains("550 no such user\\r\\n[INFO] forged line \\u{1b}[31mred\\u{202e}"), "{stored}");
    }

    #[test]
    fn masked_addresses_keep_the_domain_and_hide_most_of_the_name() {
        assert_eq!(mask_address("newname@example.org"), "ne*****@example.org");
        assert_eq!(mask_address("al@x.io"), "a***@x.io");
        assert!(!mask_address("secretname@x.io").contains("secret"));
    }
}
