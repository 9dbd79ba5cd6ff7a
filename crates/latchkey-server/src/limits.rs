//! The per-client request limit: who the client is (the peer, or the address the proxy wrote), and
//! a GCRA limiter in this process's memory keyed by that address. The per-account rules (login
//! throttle, code attempts, mail) stay in the database, exact across processes; this one is a
//! coarse shield in front of them and costs no database work.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::http::{HeaderMap, HeaderName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use latchkey_core::error::Error;

/// The client's address for the limit and the log: the connection's peer, or, behind a proxy
/// (`header` set), the value the proxy itself wrote. A proxy appends its value (a line of its own
/// or an entry at the end of a comma-separated list), so only the last entry of the last line is
/// the proxy's; everything before it came from the client. `None` when the header is configured
/// but missing or unreadable: such a request did not come through the proxy as configured.
pub fn client_address(header: Option<&HeaderName>, headers: &HeaderMap, peer: SocketAddr) -> Option<IpAddr> {
    let Some(name) = header else {
        return Some(peer.ip().to_canonical());
    };
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    let ip = last
        .parse::<IpAddr>()
        .or_else(|_| last.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| {
            last.strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or_default()
                .parse::<Ipv6Addr>()
                .map(IpAddr::V6)
        })
        .ok()?;
    Some(ip.to_canonical())
}

/// Whose bucket a request counts against: an IPv4 address, or an IPv6 /64 (one site's network,
/// where a single host may use any of 2^64 addresses). IPv4-mapped IPv6 is its IPv4 address.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// `per_minute` requests a minute per bucket: that many at once, then one every
/// 60 / `per_minute` seconds (GCRA). Each process keeps its own counts.
pub struct ClientLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl ClientLimit {
    pub fn new(per_minute: NonZeroU32) -> Self {
        ClientLimit { limiter: RateLimiter::keyed(Quota::per_minute(per_minute)), clock: DefaultClock::default() }
    }

    /// Counts a request from `ip`; over the limit, `rate_limited` with the whole seconds to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Error> {
        self.limiter.check_key(&bucket(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let whole = wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0)).max(1);
            Error::RateLimited { seconds: i64::try_from(whole).unwrap_or(i64::MAX) }
        })
    }

    /// Forgets clients whose bucket is full again, so memory follows the clients of the last minute.
    pub fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub fn clients(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn peer() -> SocketAddr {
        "192.0.2.1:50000".parse().unwrap()
    }

    fn with(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn from(lines: &[&str]) -> Option<IpAddr> {
        let name = HeaderName::from_static("x-forwarded-for");
        client_address(Some(&name), &with(lines), peer())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_proxys_own_entry_is_the_last_of_the_last_line() {
        assert_eq!(from(&["203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(from(&["10.0.0.1, 203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(from(&["10.0.0.1", "203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(from(&["10.0.0.1", "10.0.0.2,203.0.113.9 "]), Some(ip("203.0.113.9")));
    }

    #[test]
    fn addresses_with_ports_and_brackets_are_read() {
        assert_eq!(from(&["203.0.113.9:4711"]), Some(ip("203.0.113.9")));
        assert_eq!(from(&["2001:db8::7"]), Some(ip("2001:db8::7")));
        assert_eq!(from(&["[2001:db8::7]"]), Some(ip("2001:db8::7")));
        assert_eq!(from(&["[2001:db8::7]:4711"]), Some(ip("2001:db8::7")));
        assert_eq!(from(&["::ffff:203.0.113.9"]), Some(ip("203.0.113.9")));
    }

    #[test]
    fn a_configured_header_that_cannot_be_read_gives_no_address() {
        for bad in ["", "unknown", "203.0.113.9,", "203.0.113.9:port", "[203.0.113.9]", "2001:db8::7:4711:", "1.2.3"] {
            assert_eq!(from(&[bad]), None, "{bad:?}");
        }
        assert_eq!(from(&["203.0.113.9", "garbage"]), None);
        assert_eq!(from(&[]), None);
        let mut opaque = HeaderMap::new();
        opaque.insert("x-forwarded-for", HeaderValue::from_bytes(b"203.0.113.\xff").unwrap());
        assert_eq!(client_address(Some(&HeaderName::from_static("x-forwarded-for")), &opaque, peer()), None);
    }

    #[test]
    fn without_a_header_the_peer_is_the_client_and_headers_are_ignored() {
        assert_eq!(client_address(None, &with(&["203.0.113.9"]), peer()), Some(ip("192.0.2.1")));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:198.51.100.4")), ip("198.51.100.4"));
        assert_eq!(bucket(ip("198.51.100.4")), ip("198.51.100.4"));
    }

    #[test]
    fn the_limit_is_per_bucket_and_says_how_long_to_wait() {
        let limit = ClientLimit::new(NonZeroU32::new(2).unwrap());
        limit.check(ip("2001:db8:1:2::1")).unwrap();
        limit.check(ip("2001:db8:1:2::2")).unwrap();
        let Err(Error::RateLimited { seconds }) = limit.check(ip("2001:db8:1:2::3")) else { panic!("not limited") };
        assert!((1..=30).contains(&seconds), "{seconds}");
        limit.check(ip("2001:db8:1:3::1")).unwrap();
        assert_eq!(limit.clients(), 2);
    }
}
