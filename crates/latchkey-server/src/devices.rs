//! The device label a new session records on the service: what Latchkey's own clients call
//! themselves (`X-Latchkey-Client`), else a short form of the `User-Agent` ("Firefox on Linux").

use axum::http::{header, HeaderMap};
use latchkey_core::auth::device_label;
use latchkey_core::wire::CLIENT_HEADER;

pub fn label(headers: &HeaderMap) -> String {
    // HTTP allows any byte but controls in a value; Latchkey's desktop sends its label as UTF-8.
    let text = |name| headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(named) = text(CLIENT_HEADER).filter(|t| !t.trim().is_empty()) {
        return device_label(&named);
    }
    device_label(&text(header::USER_AGENT.as_str()).map(|ua| short_user_agent(&ua)).unwrap_or_default())
}

/// A browser's name and system ("Firefox on Linux", "Chrome on Mac OSX"); for anything else
/// (a script, a library, a crawler) its first product token ("curl/8.5.0"), which says more than
/// the parser's category.
fn short_user_agent(ua: &str) -> String {
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN";
    let browser = |r: &woothee::parser::WootheeResult| matches!(r.category, "pc" | "smartphone" | "mobilephone");
    match woothee::parser::Parser::new().parse(ua) {
        Some(r) if browser(&r) && known(r.name) && known(r.os) => format!("{} on {}", r.name, r.os),
        Some(r) if browser(&r) && known(r.name) => r.name.to_string(),
        _ => ua.split_whitespace().next().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn a_named_client_is_its_name_else_the_user_agent_shortened() {
        let firefox = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(label(&headers(&[("user-agent", firefox)])), "Firefox on Linux");
        let named = headers(&[("user-agent", firefox), ("x-latchkey-client", "Läptop (Linux)".as_bytes())]);
        assert_eq!(label(&named), "Läptop (Linux)");
        assert_eq!(label(&headers(&[("user-agent", b"curl/8.5.0")])), "curl/8.5.0");
        assert_eq!(label(&HeaderMap::new()), "Unknown device");
        let long = "x".repeat(300);
        assert_eq!(label(&headers(&[("x-latchkey-client", long.as_bytes())])).chars().count(), 64);
    }
}
