//! Configuration from the environment and `.env.local` files, validated once at start-up.
//!
//! Precedence: the process environment, then `.env.local` in the working directory, then
//! `.env.local` in the app's config directory. An empty value counts as unset.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub security: Security,
}

// Hand-written so the password can never reach a log line.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("security", &self.security)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `LATCHKEY_DATA_DIR`; `None` means the OS app-data directory.
    pub data_dir: Option<PathBuf>,
    /// `None`: no SMTP host configured, so messages go to the outbox.
    pub smtp: Option<SmtpSettings>,
    pub mail_from: String,
}

pub const DEFAULT_FROM: &str = "Latchkey <latchkey@localhost>";

impl Config {
    /// Reads the process environment and the `.env.local` files.
    pub fn load(config_dir: Option<&Path>) -> Result<Self, String> {
        let mut files = vec![PathBuf::from(".env.local")];
        if let Some(dir) = config_dir {
            files.push(dir.join(".env.local"));
        }
        let mut file_values = HashMap::new();
        // Later files have lower precedence, so earlier ones are inserted last.
        for file in files.iter().rev() {
            if let Ok(text) = std::fs::read_to_string(file) {
                file_values.extend(parse_env_file(&text));
            }
        }
        Self::from_lookup(|key| std::env::var(key).ok().or_else(|| file_values.get(key).cloned()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |key: &str| lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let data_dir = get("LATCHKEY_DATA_DIR").map(PathBuf::from);
        let seed_user = get("Email_User");
        let seed_pass = get("Email_Pass");

        let host = match (get("SMTP_HOST"), &seed_user) {
            (Some(host), _) => Some(host),
            // The original service's variables meant Gmail.
            (None, Some(_)) => Some("smtp.gmail.com".to_string()),
            (None, None) => None,
        };
        let smtp = match host {
            None => None,
            Some(host) => {
                let security = match get("SMTP_SECURITY").as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("starttls") => Security::StartTls,
                    Some("tls") => Security::Tls,
                    Some("none") => Security::None,
                    Some(other) => return Err(format!("SMTP_SECURITY must be starttls, tls or none, not {other:?}")),
                };
                let port = match get("SMTP_PORT") {
                    Some(p) => p
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| format!("SMTP_PORT must be a port number, not {p:?}"))?,
                    None => match security {
                        Security::StartTls => 587,
                        Security::Tls => 465,
                        Security::None => 25,
                    },
                };
                Some(SmtpSettings {
                    host,
                    port,
                    username: get("SMTP_USERNAME").or(seed_user.clone()),
                    password: get("SMTP_PASSWORD").or(seed_pass),
                    security,
                })
            }
        };
        let mail_from = get("SMTP_FROM")
            .or_else(|| smtp.as_ref().and_then(|s| s.username.clone()).filter(|u| u.contains('@')))
            .unwrap_or_else(|| DEFAULT_FROM.to_string());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!("SMTP_FROM is not a valid address: {mail_from:?}"));
        }
        Ok(Config { data_dir, smtp, mail_from })
    }
}

/// `KEY=value` lines; `#` comments, optional `export`, optional single or double quotes.
fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = [('"', '"'), ('\'', '\'')]
                .iter()
                .find_map(|(open, close)| value.strip_prefix(*open)?.strip_suffix(*close))
                .unwrap_or(value);
            Some((key.trim().to_string(), unquoted.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn no_smtp_host_means_outbox() {
        let c = config(&[]).unwrap();
        assert!(c.smtp.is_none());
        assert_eq!(c.mail_from, DEFAULT_FROM);
    }

    #[test]
    fn empty_smtp_host_counts_as_unset() {
        assert!(config(&[("SMTP_HOST", "  ")]).unwrap().smtp.is_none());
    }

    #[test]
    fn seed_variables_mean_gmail_with_starttls() {
        let c = config(&[("Email_User", "me@gmail.com"), ("Email_Pass", "app pw")]).unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.security), ("smtp.gmail.com", 587, Security::StartTls));
        assert_eq!(smtp.username.as_deref(), Some("me@gmail.com"));
        assert_eq!(c.mail_from, "me@gmail.com");
    }

    #[test]
    fn smtp_host_overrides_gmail_and_ports_follow_security() {
        let c = config(&[("Email_User", "me@gmail.com"), ("SMTP_HOST", "mail.example.org"), ("SMTP_SECURITY", "tls")])
            .unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.org", 465));
        let none = config(&[("SMTP_HOST", "127.0.0.1"), ("SMTP_SECURITY", "none")]).unwrap().smtp.unwrap();
        assert_eq!(none.port, 25);
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        assert!(config(&[("SMTP_HOST", "h"), ("SMTP_PORT", "x")]).unwrap_err().contains("SMTP_PORT"));
        assert!(config(&[("SMTP_HOST", "h"), ("SMTP_SECURITY", "ssl3")]).unwrap_err().contains("SMTP_SECURITY"));
        assert!(config(&[("SMTP_FROM", "not an address")]).unwrap_err().contains("SMTP_FROM"));
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = config(&[("SMTP_HOST", "h"), ("SMTP_PASSWORD", "hunter2-secret")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2-secret"));
    }

    #[test]
    fn env_file_parsing_handles_quotes_comments_and_export() {
        let v = parse_env_file("# c\nexport A=1\nEmail_Pass=\"app password\"\nB='x'\n\nbad line\n");
        assert_eq!(v["A"], "1");
        assert_eq!(v["Email_Pass"], "app password");
        assert_eq!(v["B"], "x");
        assert!(!v.contains_key("bad line"));
    }
}
