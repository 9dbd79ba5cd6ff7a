//! Configuration from the environment and one settings file, validated once at start-up.
//!
//! Precedence: the process environment, then the settings file: the one `LATCHKEY_ENV_FILE` names,
//! else `.env.local` in the app's config directory. Never a file in the working directory: one left
//! in whatever folder the app is started from could send mail, and the SMTP password, to another
//! server, or move the data folder. An empty value counts as unset.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Names a settings file to read instead of the config directory's.
pub const ENV_FILE_VAR: &str = "LATCHKEY_ENV_FILE";
/// The settings file's name in the app's config directory.
pub const ENV_FILE_NAME: &str = ".env.local";
/// Settings are a few lines; anything bigger is not a settings file.
const ENV_FILE_MAX: u64 = 64 * 1024;

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
    /// `LATCHKEY_SERVER_URL`: the accounts live on this service instead of in the data folder.
    pub server: Option<ServerUrl>,
}

/// Where a `latchkey-server` answers: HTTPS, or plain HTTP to this computer only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    pub tls: bool,
    /// A name or an IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// A path the service is mounted under ("" or "/accounts"), without a trailing slash.
    pub prefix: String,
}

impl ServerUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("LATCHKEY_SERVER_URL {why}, such as https://accounts.example.org");
        // The URL parser would quietly drop a tab or a newline; a setting holding one is a mistake.
        if text.chars().any(char::is_control) {
            return Err(bad("must not contain control characters"));
        }
        let url = url::Url::parse(text).map_err(|e| bad(&format!("is not an address ({e})")))?;
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("must be an https:// address")),
        };
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must be a plain address without a query, a fragment or a login"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("needs a host name")),
        };
        let port = match url.port() {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(0) => return Err(bad("has a bad port number")),
            Some(p) => p,
        };
        if !tls && !is_loopback(&host) {
            return Err(format!(
                "LATCHKEY_SERVER_URL must use https:// for {host}: plain http would send passwords and sessions unencrypted (http is only for a server on this computer)"
            ));
        }
        let prefix = url.path().trim_end_matches('/').to_string();
        Ok(ServerUrl { tls, host, port, prefix })
    }

    /// The Host header's value.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", if self.tls { "https" } else { "http" }, self.host_header(), self.prefix)
    }
}

pub const DEFAULT_FROM: &str = "Latchkey <latchkey@localhost>";

impl Config {
    /// Reads the process environment and the settings file.
    pub fn load(config_dir: Option<&Path>) -> Result<Self, String> {
        Self::load_with(|key| std::env::var(key).ok(), config_dir)
    }

    /// `load` with the environment given, for tests.
    pub fn load_with(env: impl Fn(&str) -> Option<String>, config_dir: Option<&Path>) -> Result<Self, String> {
        // An empty variable is unset, so it does not hide the file's value.
        let env = |key: &str| env(key).filter(|v| !v.trim().is_empty());
        let file_values = match env(ENV_FILE_VAR) {
            Some(named) => read_settings_file(Path::new(&named))?,
            None => match config_dir.map(|dir| dir.join(ENV_FILE_NAME)) {
                Some(path) if path_exists(&path) => read_settings_file(&path)?,
                _ => HashMap::new(),
            },
        };
        Self::from_lookup(|key| env(key).or_else(|| file_values.get(key).cloned()))
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
        if let Some(smtp) = &smtp {
            let login = smtp.username.is_some() || smtp.password.is_some();
            if smtp.security == Security::None && login && !is_loopback(&smtp.host) {
                return Err(format!(
                    "SMTP_SECURITY=none would send the SMTP login unencrypted to {}; use starttls or tls \
                     (none is only for a server on this computer)",
                    smtp.host
                ));
            }
        }
        let mail_from = get("SMTP_FROM")
            .or_else(|| smtp.as_ref().and_then(|s| s.username.clone()).filter(|u| u.contains('@')))
            .unwrap_or_else(|| DEFAULT_FROM.to_string());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!("SMTP_FROM is not a valid address: {mail_from:?}"));
        }
        let server = get("LATCHKEY_SERVER_URL").map(|url| ServerUrl::parse(&url)).transpose()?;
        Ok(Config { data_dir, smtp, mail_from, server })
    }
}

/// 127.0.0.0/8, ::1 or "localhost": a server on this computer, where nothing crosses a network.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether anything is there, a dangling link included (which then fails to open, loudly).
fn path_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Reads a settings file after checking, on the opened file, that it is safe to trust.
fn read_settings_file(path: &Path) -> Result<HashMap<String, String>, String> {
    let refuse = |why: String| format!("the settings file {} {why}", path.display());
    let file = open_without_blocking(path).map_err(|e| refuse(format!("cannot be opened: {e}")))?;
    let metadata = file.metadata().map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if let Some(why) = distrust(&FileFacts::of(&metadata), current_user()) {
        return Err(refuse(why));
    }
    // Read at most one byte past the limit: the file may have grown since it was checked.
    let mut bytes = Vec::new();
    file.take(ENV_FILE_MAX + 1).read_to_end(&mut bytes).map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > ENV_FILE_MAX {
        return Err(refuse(format!("is larger than {} KiB", ENV_FILE_MAX / 1024)));
    }
    let values = parse_env_file(&bytes).map_err(refuse)?;
    log::info!("settings from {}", path.display());
    Ok(values)
}

/// Opening a FIFO waits for a writer unless asked not to; the type is checked right after.
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nix::libc::O_NONBLOCK);
    }
    options.open(path)
}

/// What is checked about a settings file before it is read.
#[derive(Debug, Clone, Copy)]
struct FileFacts {
    regular: bool,
    len: u64,
    /// Owner and permission bits (Unix only).
    owner: Option<u32>,
    mode: Option<u32>,
}

impl FileFacts {
    fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let (owner, mode) = {
            use std::os::unix::fs::MetadataExt;
            (Some(metadata.uid()), Some(metadata.mode()))
        };
        #[cfg(not(unix))]
        let (owner, mode) = (None, None);
        FileFacts { regular: metadata.is_file(), len: metadata.len(), owner, mode }
    }
}

#[cfg(unix)]
fn current_user() -> Option<u32> {
    Some(nix::unistd::geteuid().as_raw())
}

#[cfg(not(unix))]
fn current_user() -> Option<u32> {
    None
}

/// Why a settings file must not be trusted, if it must not.
fn distrust(file: &FileFacts, user: Option<u32>) -> Option<String> {
    if !file.regular {
        return Some("is not a regular file".into());
    }
    if let (Some(owner), Some(user)) = (file.owner, user) {
        if owner != user {
            return Some(format!("belongs to another user (uid {owner}); it must be your own file"));
        }
    }
    if let Some(mode) = file.mode {
        if mode & 0o022 != 0 {
            return Some(format!("can be changed by other users (mode {:o}); run chmod go-w on it", mode & 0o777));
        }
    }
    if file.len > ENV_FILE_MAX {
        return Some(format!("is larger than {} KiB", ENV_FILE_MAX / 1024));
    }
    None
}

/// `KEY=value` lines with dotenvy's rules (comments, `export`, quotes, escapes), without touching
/// the process environment. A line that does not parse is refused by its number, never shown: it
/// may hold a password.
fn parse_env_file(bytes: &[u8]) -> Result<HashMap<String, String>, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut values = HashMap::new();
    for item in dotenvy::from_read_iter(bytes) {
        match item {
            Ok((key, value)) => {
                values.insert(key, value);
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                // dotenvy gives the line, or the part after `=`, that it could not read.
                let text = String::from_utf8_lossy(bytes);
                let first = line.lines().next().unwrap_or("").trim();
                let number = text.lines().position(|l| l.contains(first)).map_or(0, |i| i + 1);
                return Err(format!("has a line that is not KEY=value (line {number})"));
            }
            Err(e) => return Err(format!("cannot be read ({})", error_kind(&e))),
        }
    }
    Ok(values)
}

/// A dotenvy error without the text it may quote.
fn error_kind(e: &dotenvy::Error) -> &'static str {
    match e {
        dotenvy::Error::Io(_) => "it is not UTF-8 text",
        _ => "it is not a settings file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_server_url_is_https_or_plain_http_to_this_computer_only() {
        let url = |u: &str| config(&[("LATCHKEY_SERVER_URL", u)]).map(|c| c.server.unwrap());
        let https = url("https://accounts.example.org/").unwrap();
        assert_eq!(
            (https.tls, https.host.as_str(), https.port, https.prefix.as_str()),
            (true, "accounts.example.org", 443, "")
        );
        assert_eq!(https.to_string(), "https://accounts.example.org");
        let mounted = url("HTTPS://example.org:8443/latchkey/").unwrap();
        assert_eq!(
            (mounted.port, mounted.prefix.as_str(), mounted.host_header().as_str()),
            (8443, "/latchkey", "example.org:8443")
        );
        let local = url("http://127.0.0.1:8080").unwrap();
        assert_eq!((local.tls, local.port), (false, 8080));
        let v6 = url("http://[::1]:9000").unwrap();
        assert_eq!((v6.host.as_str(), v6.host_header().as_str()), ("::1", "[::1]:9000"));
        assert!(url("http://localhost").is_ok());
        assert!(url("http://accounts.example.org").unwrap_err().contains("https"));
        assert!(url("http://10.0.0.5:8080").unwrap_err().contains("https"));
        for bad in [
            "accounts.example.org",
            "ftp://x",
            "https://",
            "https://a:0",
            "https://a:99999",
            "https://u:p@a",
            "https://a/?x=1",
            "https://[::1",
            "https://accounts.example.org/\tx",
            "https://accounts.example.org/a\nb",
            "https://accounts.exam\u{7f}ple.org",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert_eq!(config(&[]).unwrap().server, None);
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

    /// The environment given as pairs; nothing from the process environment.
    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn settings_dir(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ENV_FILE_NAME), text).unwrap();
        dir
    }

    fn smtp_host(c: &Config) -> Option<&str> {
        c.smtp.as_ref().map(|s| s.host.as_str())
    }

    #[test]
    fn a_settings_file_in_the_working_directory_is_never_read() {
        let planted = settings_dir("SMTP_HOST=mail.attacker.example\nLATCHKEY_DATA_DIR=/tmp/elsewhere\n");
        let before = std::env::current_dir().unwrap();
        std::env::set_current_dir(planted.path()).unwrap();
        let loaded = Config::load_with(env(&[]), None);
        std::env::set_current_dir(before).unwrap();
        let c = loaded.unwrap();
        assert_eq!((smtp_host(&c), c.data_dir.as_deref()), (None, None));
    }

    #[test]
    fn the_config_directory_file_is_read_and_the_environment_wins() {
        let dir = settings_dir("SMTP_HOST=mail.example.org\nSMTP_PORT=2525 # the submission port\n");
        let c = Config::load_with(env(&[("SMTP_PORT", "587")]), Some(dir.path())).unwrap();
        assert_eq!((smtp_host(&c), c.smtp.as_ref().unwrap().port), (Some("mail.example.org"), 587));
        let c = Config::load_with(env(&[]), Some(dir.path())).unwrap();
        assert_eq!(c.smtp.unwrap().port, 2525);
        // No file is no settings, not an error.
        assert!(Config::load_with(env(&[]), Some(&dir.path().join("missing"))).unwrap().smtp.is_none());
    }

    #[test]
    fn an_empty_environment_variable_falls_through_to_the_settings_file() {
        let dir = settings_dir("SMTP_HOST=mail.example.org\n");
        let c = Config::load_with(env(&[("SMTP_HOST", ""), ("LATCHKEY_ENV_FILE", "")]), Some(dir.path())).unwrap();
        assert_eq!(smtp_host(&c), Some("mail.example.org"));
    }

    #[test]
    fn latchkey_env_file_names_the_file_to_read_which_must_exist() {
        let config_dir = settings_dir("SMTP_HOST=from.config.dir\n");
        let named = settings_dir("SMTP_HOST=from.named.file\n");
        let path = named.path().join(ENV_FILE_NAME);
        let c = Config::load_with(env(&[(ENV_FILE_VAR, path.to_str().unwrap())]), Some(config_dir.path())).unwrap();
        assert_eq!(smtp_host(&c), Some("from.named.file"));
        let missing = named.path().join("nope");
        let e = Config::load_with(env(&[(ENV_FILE_VAR, missing.to_str().unwrap())]), None).unwrap_err();
        assert!(e.contains(missing.to_str().unwrap()) && e.contains("cannot be opened"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn unsafe_settings_files_are_refused_naming_the_path_and_the_reason() {
        use std::os::unix::fs::PermissionsExt;
        let refused = |path: &Path| {
            let named = path.to_str().unwrap().to_string();
            // In a thread, so a file that blocks (a FIFO) fails the test instead of hanging it.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(Config::load_with(env(&[(ENV_FILE_VAR, &named)]), None).err()));
            let e = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("start-up hung on the file").unwrap();
            assert!(e.contains(path.to_str().unwrap()), "{e}");
            e
        };
        let dir = settings_dir("SMTP_HOST=mail.example.org\n");
        let file = dir.path().join(ENV_FILE_NAME);
        for mode in [0o664, 0o646, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(refused(&file).contains("can be changed by other users"));
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Config::load_with(env(&[(ENV_FILE_VAR, file.to_str().unwrap())]), None).is_ok());

        let big = dir.path().join("big");
        std::fs::write(&big, format!("A={}\n", "x".repeat(64 * 1024))).unwrap();
        assert!(refused(&big).contains("larger than 64 KiB"));
        assert!(refused(dir.path()).contains("not a regular file"));
        assert!(refused(Path::new("/dev/zero")).contains("not a regular file"));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(refused(&fifo).contains("not a regular file"));
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        let facts = FileFacts { regular: true, len: 10, owner: Some(1000), mode: Some(0o100600) };
        assert!(distrust(&facts, Some(1000)).is_none());
        assert!(distrust(&facts, Some(1001)).unwrap().contains("belongs to another user"));
    }

    #[test]
    fn smtp_credentials_are_never_sent_without_tls_except_to_this_computer() {
        let plain = |host: &str, login: (&str, &str)| config(&[("SMTP_HOST", host), ("SMTP_SECURITY", "none"), login]);
        for login in [("SMTP_USERNAME", "me"), ("SMTP_PASSWORD", "secret")] {
            let e = plain("mail.example.org", login).unwrap_err();
            assert!(e.contains("SMTP_SECURITY") && e.contains("mail.example.org"), "{e}");
            assert!(plain("192.168.1.5", login).is_err());
            for local in ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]"] {
                assert!(plain(local, login).is_ok(), "{local}");
            }
        }
        // Without a login there is nothing to protect; with TLS the login is protected.
        assert!(plain("mail.example.org", ("SMTP_FROM", "a@b.example")).is_ok());
        assert!(config(&[("SMTP_HOST", "mail.example.org"), ("SMTP_USERNAME", "me")]).is_ok());
    }

    #[test]
    fn the_settings_file_follows_dotenv_quoting() {
        let text = "\u{feff}# a comment\nexport A=1\nB=\"two words\"\nC='literal $HOME \\n'\nD=value # a comment\n\
                    E=\"line\\nbreak\"\nF=\nG=a\\ b\n";
        let v = parse_env_file(text.as_bytes()).unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "literal $HOME \\n");
        assert_eq!(v["D"], "value");
        assert_eq!(v["E"], "line\nbreak");
        assert_eq!(v["F"], "");
        assert_eq!(v["G"], "a b");
        // `${NAME}` takes an earlier key; a later line wins.
        let v =
            parse_env_file(b"LATCHKEY_T_HOST=mail.example.org\nH=\"smtp.${LATCHKEY_T_HOST}\"\nH2=x\nH2=y\n").unwrap();
        assert_eq!((v["H"].as_str(), v["H2"].as_str()), ("smtp.mail.example.org", "y"));
    }

    #[test]
    fn a_bad_line_is_refused_by_number_without_showing_it() {
        let e = parse_env_file(b"A=1\n\nSMTP_PASSWORD=hunter2 secret\n").unwrap_err();
        assert!(e.contains("line 3") && !e.contains("hunter2"), "{e}");
    }
}
