//! The domain: sign-up with an emailed code, login and sessions. No Tauri and no SQL here; the
//! current time is always an argument.

pub mod account;
pub mod activity;
pub mod admin;
mod code;
mod common_passwords;
pub mod devices;
pub mod export;
pub mod guess;
pub mod login;
pub mod policy;
pub mod second_factor;
pub mod secret;
pub mod signup;
mod skeleton;
pub mod validate;

/// The numbers the rules go by live in `crate::limits` (the store reads them too); here under
/// their old paths.
pub use crate::limits::{
    CODE_TTL_SECS, LOGIN_FREE_FAILURES, LOGIN_HARD_LIMIT, LOGIN_LOCK_BASE_SECS, LOGIN_LOCK_MAX_SECS, MAIL_LIMITS,
    MAX_CODE_ATTEMPTS, RESEND_COOLDOWN_SECS, SESSION_TTL_SECS,
};

/// Who a request comes from, for the per-requester limits: the client address the service
/// resolved, or the one window of the desktop app.
pub const THIS_WINDOW: &str = "window";

/// Seconds since the Unix epoch; what every `now` argument means.
pub type Timestamp = i64;

/// Who is signed in: the account without its password hash, and when the session ends.
pub use crate::store::sessions::ProfileRow as Profile;

/// A freshly created session: the raw token goes to the keychain, never to the database.
#[derive(Debug)]
pub struct NewSession {
    pub token: secret::Token,
    pub profile: Profile,
}

/// The device a request comes from, as its session records it and the devices list shows it:
/// a label (the desktop's machine, or what a client of the service says it is, see
/// `device_label`) and, on the service, the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device<'a> {
    pub label: &'a str,
    pub ip: Option<&'a str>,
}

#[cfg(test)]
pub(crate) const TEST_DEVICE: Device<'static> = Device { label: "Test device", ip: None };

/// The longest device label kept, in characters.
pub const DEVICE_LABEL_MAX: usize = 64;

/// A label as a person can read it in a list: control characters gone, spaces collapsed, at most
/// `DEVICE_LABEL_MAX` characters; "Unknown device" when nothing is left.
pub fn device_label(raw: &str) -> String {
    let words: Vec<&str> = raw.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let label: String = words.join(" ").chars().take(DEVICE_LABEL_MAX).collect();
    if label.is_empty() {
        "Unknown device".to_string()
    } else {
        label
    }
}

/// The network a sign-in came from, for telling a new device from a known one: an IPv4 /24, an
/// IPv6 /64, or this computer (the desktop's own database, no address).
pub fn network_of(ip: Option<&str>) -> String {
    match ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()).map(|ip| ip.to_canonical()) {
        Some(std::net::IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{}/64", std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        None => "this computer".to_string(),
    }
}

/// A session about to begin: its token (for the keychain or the client), the token's hash, its
/// public id and its device's network (for the database).
pub(crate) struct Minted {
    pub token: secret::Token,
    digest: [u8; 32],
    public_id: String,
    network: String,
}

impl Minted {
    pub fn new(device: Device<'_>) -> crate::error::Result<Self> {
        let token = secret::Token::generate()?;
        let network = network_of(device.ip);
        Ok(Minted { digest: token.digest(), token, public_id: secret::public_id()?, network })
    }

    /// The row that records it, begun at `now` on `device`, for `SESSION_TTL_SECS`.
    pub fn row<'a>(&'a self, device: Device<'a>, now: Timestamp) -> crate::store::NewSessionRow<'a> {
        crate::store::NewSessionRow {
            token_hash: &self.digest,
            public_id: &self.public_id,
            device: device.label,
            ip: device.ip,
            network: &self.network,
            now,
            expires_at: now + SESSION_TTL_SECS,
        }
    }

    pub fn into_session(self, profile: Profile) -> NewSession {
        NewSession { token: self.token, profile }
    }
}

#[cfg(test)]
mod device_tests {
    use super::*;

    #[test]
    fn labels_are_one_readable_line_of_bounded_length() {
        assert_eq!(device_label("  Firefox \n on\tLinux\u{7}  "), "Firefox on Linux");
        assert_eq!(device_label("\u{1b}[31m"), "[31m");
        assert_eq!(device_label(" \r\n "), "Unknown device");
        assert_eq!(device_label(&"x".repeat(500)).chars().count(), DEVICE_LABEL_MAX);
    }

    #[test]
    fn networks_are_a_v4_24_a_v6_64_or_this_computer() {
        assert_eq!(network_of(Some("192.0.2.77")), "192.0.2.0/24");
        assert_eq!(network_of(Some("::ffff:192.0.2.77")), "192.0.2.0/24");
        assert_eq!(network_of(Some("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(network_of(None), "this computer");
        assert_eq!(network_of(Some("not an address")), "this computer");
    }
}
