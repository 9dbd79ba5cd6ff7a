//! What a handler takes from a request besides the path: the session it presents, and its body as
//! fields. Also the rule that tells a request from another site, which the middleware applies.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request as HttpRequest};
use axum::http::request::Parts;
use axum::http::uri::{Authority, Scheme};
use axum::http::{header, HeaderMap, Uri};
use cookie::Cookie;
use http_body::Body as _;
use latchkey_core::auth::secret::Token;
use latchkey_core::store::Store;
use latchkey_core::wire::Request;
use serde_json::{Map, Value};

use crate::http::{Failure, Refusal, COOKIE};
use crate::Service;

/// Forms are small; anything bigger is not one of ours.
pub const BODY_LIMIT: usize = 16 * 1024;
/// The longest token we issue is 43 characters; a longer one is not worth a database lookup.
const TOKEN_MAX: usize = 128;

/// The session a request presents: `Authorization: Bearer` (native clients, never sent by a
/// browser on its own) or the session cookie (browsers). Two session cookies are refused: a
/// browser holds one `__Host-` cookie per name and host, so a second was planted or forged, and
/// the service will not guess which one the person meant.
pub enum Session {
    None,
    Bearer(Token),
    Cookie(Token),
}

impl Session {
    pub fn from_headers(headers: &HeaderMap) -> Result<Session, Failure> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let mut cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == COOKIE);
        let cookie = cookies.next();
        if cookies.next().is_some() {
            return Err(Refusal::DuplicateSessionCookie.into());
        }
        let usable = |t: &str| !t.is_empty() && t.len() <= TOKEN_MAX;
        Ok(match (bearer, cookie) {
            (Some(t), _) => Session::Bearer(Token::from_stored(t.to_string())).only_if(usable(t)),
            (None, Some(c)) => Session::Cookie(Token::from_stored(c.value().to_string())).only_if(usable(c.value())),
            (None, None) => Session::None,
        })
    }

    fn only_if(self, usable: bool) -> Session {
        if usable {
            self
        } else {
            Session::None
        }
    }

    pub fn token(&self) -> Option<&Token> {
        match self {
            Session::None => None,
            Session::Bearer(t) | Session::Cookie(t) => Some(t),
        }
    }

    pub fn is_bearer(&self) -> bool {
        matches!(self, Session::Bearer(_))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Failure> {
        Session::from_headers(&parts.headers)
    }
}

/// Whether a browser sent this request from a page of another site. `Origin` (sent by browsers
/// with every POST) must name this service's own host, as the `Host` header does: over `https`,
/// or over `http` to this computer only (`localhost`, a loopback address), where a developer
/// runs it without TLS. Without `Origin`, `Sec-Fetch-Site` saying `cross-site` or `same-site`
/// (a sibling subdomain) counts too. A client that sends neither (a native client, curl) is not a
/// browser page and is not refused here.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (Some(origin), None) => {
            let host =
                headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(|h| h.parse::<Authority>().ok());
            let origin = origin.to_str().ok().and_then(|o| o.parse::<Uri>().ok());
            match (origin, host) {
                (Some(origin), Some(host)) => !is_same_origin(&origin, &host),
                _ => true,
            }
        }
        (Some(_), Some(_)) => true,
        (None, _) => headers.get("sec-fetch-site").is_some_and(|v| {
            v.as_bytes().eq_ignore_ascii_case(b"cross-site") || v.as_bytes().eq_ignore_ascii_case(b"same-site")
        }),
    }
}

fn is_same_origin(origin: &Uri, host: &Authority) -> bool {
    let scheme_fits = match origin.scheme() {
        Some(s) if *s == Scheme::HTTPS => true,
        Some(s) if *s == Scheme::HTTP => is_this_computer(host.host()),
        _ => false,
    };
    // An origin is a scheme and an authority, nothing more (no path, query or user).
    let bare = origin.path_and_query().is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty());
    let same_authority = origin.authority().is_some_and(|a| a == host && !a.as_str().contains('@'));
    scheme_fits && bare && same_authority
}

fn is_this_computer(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The request's body as a map of fields: JSON with `Content-Type: application/json`, or a form
/// with `application/x-www-form-urlencoded` (as the original's Django form clients send); an empty
/// body needs no type. Any other type is refused unread (415), as is a body over `BODY_LIMIT`
/// (413) or one that does not arrive within `LATCHKEY_BODY_TIMEOUT_SECS` (408,
/// `body_timeout`, and the connection is closed: the rest of the body may still be coming).
pub struct Fields(pub Request);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    Json,
    Form,
    Unstated,
}

fn media(headers: &HeaderMap) -> Result<Media, Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Media::Unstated);
    };
    let essence = value.to_str().ok().and_then(|v| v.split(';').next()).unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(Media::Json)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(Media::Form)
    } else {
        Err(Refusal::UnsupportedMediaType)
    }
}

fn parse(media: Media, body: &[u8]) -> Result<Request, Failure> {
    let value = match media {
        _ if body.is_empty() => Some(Value::Object(Map::new())),
        Media::Unstated => return Err(Refusal::UnsupportedMediaType.into()),
        Media::Json => serde_json::from_slice(body).ok(),
        Media::Form => serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()
            .map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>())),
    };
    Ok(Request::parse(value)?)
}

impl<S: Store> FromRequest<Arc<Service<S>>> for Fields {
    type Rejection = Failure;

    async fn from_request(request: HttpRequest, service: &Arc<Service<S>>) -> Result<Self, Failure> {
        let media = media(request.headers())?;
        let body: Body = request.into_body();
        if body.size_hint().lower() > BODY_LIMIT as u64 {
            return Err(Refusal::BodyTooLarge.into());
        }
        let read = axum::body::to_bytes(body, BODY_LIMIT);
        let bytes = match tokio::time::timeout(service.settings.connections.body_timeout, read).await {
            Err(_) => return Err(Refusal::BodyTimeout.into()),
            Ok(Err(e)) if is_length_limit(&e) => return Err(Refusal::BodyTooLarge.into()),
            Ok(Err(e)) => {
                log::debug!("reading a request body: {e}");
                return Err(Refusal::BodyUnreadable.into());
            }
            Ok(Ok(bytes)) => bytes,
        };
        parse(media, &bytes).map(Fields)
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_session_cookie() {
        let token = |pairs: &[(&'static str, &'static str)]| {
            Session::from_headers(&headers(pairs)).ok().and_then(|s| s.token().map(|t| t.expose().to_string()))
        };
        assert_eq!(token(&[]), None);
        assert_eq!(token(&[("cookie", "theme=dark; __Host-sessionid=abc; other=1")]).as_deref(), Some("abc"));
        assert_eq!(
            token(&[("cookie", "__Host-sessionid=abc"), ("authorization", "Bearer xyz")]).as_deref(),
            Some("xyz")
        );
        // The old name is not a session any more: a sibling subdomain could have set it.
        assert_eq!(token(&[("cookie", "sessionid=abc")]), None);
        let long: &'static str = Box::leak(format!("Bearer {}", "a".repeat(200)).into_boxed_str());
        assert_eq!(token(&[("authorization", long)]), None);
    }

    #[test]
    fn two_session_cookies_are_refused_one_beside_the_old_name_is_not() {
        for two in [
            &[("cookie", "__Host-sessionid=a; __Host-sessionid=b")][..],
            &[("cookie", "__Host-sessionid=a"), ("cookie", "__Host-sessionid=b")],
        ] {
            assert!(matches!(
                Session::from_headers(&headers(two)),
                Err(Failure::Refused(Refusal::DuplicateSessionCookie))
            ));
        }
        let leftover =
            Session::from_headers(&headers(&[("cookie", "sessionid=old; __Host-sessionid=new")])).ok().unwrap();
        assert_eq!(leftover.token().unwrap().expose(), "new");
    }

    #[test]
    fn another_sites_origin_is_cross_site_this_hosts_is_not() {
        let cross = |pairs: &[(&'static str, &'static str)]| is_cross_site(&headers(pairs));
        assert!(!cross(&[("host", "accounts.example.org"), ("origin", "https://accounts.example.org")]));
        assert!(!cross(&[("host", "Accounts.Example.org:8443"), ("origin", "https://accounts.example.org:8443")]));
        assert!(!cross(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]));
        assert!(!cross(&[("host", "localhost:8080"), ("origin", "http://localhost:8080")]));
        assert!(!cross(&[("host", "[::1]:8080"), ("origin", "http://[::1]:8080")]));
        assert!(cross(&[("host", "accounts.example.org"), ("origin", "https://evil.example")]));
        assert!(cross(&[("host", "accounts.example.org"), ("origin", "https://app.example.org")]));
        assert!(cross(&[("host", "accounts.example.org"), ("origin", "http://accounts.example.org")]));
        assert!(cross(&[("host", "accounts.example.org"), ("origin", "https://accounts.example.org:444")]));
        assert!(cross(&[("host", "accounts.example.org"), ("origin", "null")]));
        assert!(cross(&[("host", "accounts.example.org"), ("origin", "https://accounts.example.org/path")]));
        assert!(cross(&[("origin", "https://accounts.example.org")]));
        assert!(cross(&[
            ("host", "accounts.example.org"),
            ("origin", "https://accounts.example.org"),
            ("origin", "https://evil.example")
        ]));
        assert!(cross(&[("sec-fetch-site", "cross-site")]));
        assert!(cross(&[("sec-fetch-site", "same-site")]));
        assert!(!cross(&[("sec-fetch-site", "same-origin")]));
        assert!(!cross(&[("sec-fetch-site", "none")]));
        assert!(!cross(&[("host", "accounts.example.org")]));
    }

    #[test]
    fn bodies_are_json_or_forms_by_their_stated_type() {
        let json = media(&headers(&[("content-type", "application/json; charset=utf-8")])).unwrap();
        let r = parse(json, br#"{"email":"a@example.org"}"#).ok().unwrap();
        assert_eq!(r.text("email").unwrap(), "a@example.org");
        let form = media(&headers(&[("content-type", "application/x-www-form-urlencoded")])).unwrap();
        let r = parse(form, b"email=b%40example.org&otp=123456").ok().unwrap();
        assert_eq!((r.text("email").unwrap(), r.text("otp").unwrap()), ("b@example.org", "123456"));
        assert!(parse(json, b"not json").is_err());
        for other in ["text/plain", "multipart/form-data; boundary=x", "application/jsonx", "application/x-json"] {
            let h = headers(&[("content-type", other)]);
            assert!(matches!(media(&h), Err(Refusal::UnsupportedMediaType)), "{other}");
        }
        let unstated = media(&HeaderMap::new()).unwrap();
        assert!(parse(unstated, b"").is_ok(), "an empty body needs no type");
        assert!(matches!(parse(unstated, b"{}"), Err(Failure::Refused(Refusal::UnsupportedMediaType))));
    }
}
