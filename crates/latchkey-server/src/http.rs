//! Routes, handlers and the envelope. Every reply is `{success, detail, ...}` as the original's,
//! plus `code` on errors and the fields the desktop app's commands return.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Extension, MatchedPath, Request as HttpRequest, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use cookie::{Cookie, SameSite};
use serde::Serialize;

use latchkey_core::auth::secret::Token;
use latchkey_core::auth::{self, Device, SESSION_TTL_SECS};
use latchkey_core::error::{Error, Result};
use latchkey_core::store::Store;
use latchkey_core::wire::{self, path, Renewal, RenewedReply, Reply, SessionReply, Signed};

use crate::extractors::{is_cross_site, Fields, Session};
use crate::limits::client_address;
use crate::Service;

/// The session cookie. The `__Host-` prefix makes browsers keep it only as this host set it
/// (`Secure`, `Path=/`, no `Domain`), so a sibling subdomain cannot plant one.
pub const COOKIE: &str = "__Host-sessionid";
/// The name the cookie had before (the original's Django name): no longer read, cleared when a
/// session begins or ends.
const OLD_COOKIE: &str = "sessionid";

type Shared<S> = State<Arc<Service<S>>>;

pub fn router<S: Store>(service: Arc<Service<S>>) -> Router {
    Router::new()
        .route(path::SIGNUP, hashing(signup::<S>))
        .route(path::SIGNUP_RESEND, hashing(resend_signup::<S>))
        .route(path::VERIFICATION, hashing(verification::<S>))
        .route(path::LOGIN, hashing(login::<S>))
        .route(path::WHO_AM_I, get(who_am_i::<S>))
        .route(path::LOGOUT, post(logout::<S>))
        .route(path::PASSWORD_CHECK, post(check_password::<S>))
        .route(path::RESET, hashing(request_reset::<S>))
        .route(path::RESET_RESEND, hashing(resend_reset::<S>))
        .route(path::RESET_CONFIRM, hashing(reset_password::<S>))
        .route(path::PASSWORD_CHANGE, hashing(change_password::<S>))
        .route(path::EMAIL_CHANGE, hashing(request_email_change::<S>))
        .route(path::EMAIL_CHANGE_RESEND, hashing(resend_email_change::<S>))
        .route(path::EMAIL_CHANGE_VERIFY, hashing(verify_email_change::<S>))
        .route(path::EMAIL_CHANGE_CANCEL, post(cancel_email_change::<S>))
        .route(path::DELETE, hashing(delete_account::<S>))
        .route(path::SESSIONS, get(sessions::<S>))
        .route(path::SESSIONS_REVOKE, post(revoke_session::<S>))
        .route(path::SESSIONS_REVOKE_OTHERS, post(revoke_other_sessions::<S>))
        .route(path::ACTIVITY, get(activity::<S>))
        .route(path::EXPORT, hashing(export_data::<S>))
        .route(path::LOGIN_SECOND_FACTOR, hashing(login_second_factor::<S>))
        .route(path::SECOND_FACTOR_SETUP, hashing(second_factor_setup::<S>))
        .route(path::SECOND_FACTOR_CONFIRM, hashing(second_factor_confirm::<S>))
        .route(path::SECOND_FACTOR_DISABLE, hashing(second_factor_disable::<S>))
        .route(path::SECOND_FACTOR_RECOVERY_CODES, hashing(second_factor_recovery_codes::<S>))
        .route(path::HEALTH, get(healthz::<S>))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(service.clone(), guard_and_log::<S>))
        .with_state(service)
}

/// A POST endpoint whose work includes argon2: admitted to argon2's queue before it does anything
/// else, or answered 503 `server_busy` at once when the queue is full, so a refused request has
/// spent no login attempt, code attempt or mail slot and can simply be sent again.
pub(crate) fn hashing<H, T, St>(handler: H) -> MethodRouter<St>
where
    H: Handler<T, St>,
    T: 'static,
    St: Clone + Send + Sync + 'static,
{
    post(handler).route_layer(middleware::from_fn(admit_to_argon2))
}

async fn admit_to_argon2(request: HttpRequest, next: Next) -> Response {
    match auth::secret::admitted(next.run(request)).await {
        Ok(response) => response,
        Err(e) => Failure::Domain(e).into_response(),
    }
}

/// An error as the envelope, with the status the original (or HTTP) gives it: a domain error, or
/// one of the service's own refusals, which come before any domain work.
#[derive(Debug)]
pub enum Failure {
    Domain(Error),
    Refused(Refusal),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Domain(e)
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

/// The HTTP service's own refusals, about the request rather than the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A browser page of another site sent a state-changing request without a bearer token.
    CrossSite,
    /// Two session cookies in one request.
    DuplicateSessionCookie,
    /// A body that is neither JSON (`application/json`) nor a form.
    UnsupportedMediaType,
    /// Over `BODY_LIMIT`.
    BodyTooLarge,
    /// The body did not arrive within `LATCHKEY_BODY_TIMEOUT_SECS`.
    BodyTimeout,
    /// The connection failed while the body was read.
    BodyUnreadable,
    /// `LATCHKEY_CLIENT_IP_HEADER` is set but this request's value is missing or not an address.
    ClientAddressUnreadable,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::CrossSite => "cross_site_request",
            Refusal::DuplicateSessionCookie => "duplicate_session_cookie",
            Refusal::UnsupportedMediaType => "unsupported_media_type",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::BodyUnreadable => "invalid_input",
            Refusal::ClientAddressUnreadable => "client_address_unreadable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Refusal::CrossSite => StatusCode::FORBIDDEN,
            Refusal::DuplicateSessionCookie | Refusal::BodyUnreadable | Refusal::ClientAddressUnreadable => {
                StatusCode::BAD_REQUEST
            }
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Refusal::CrossSite => "This request came from another site, so it was refused. Use Latchkey's own pages.",
            Refusal::DuplicateSessionCookie => {
                "The request carried two session cookies. Clear this site's cookies and sign in again."
            }
            Refusal::UnsupportedMediaType => {
                "Send the fields as JSON (Content-Type: application/json) or as a form (application/x-www-form-urlencoded)."
            }
            Refusal::BodyTooLarge => "The request is too large.",
            Refusal::BodyTimeout => "The request's body arrived too slowly.",
            Refusal::BodyUnreadable => "The request's body could not be read.",
            Refusal::ClientAddressUnreadable => "The request did not come through the service's proxy as configured.",
        }
    }
}

pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidInput { .. }
        | Error::NoPendingSignup
        | Error::InvalidCode { .. }
        | Error::CodeExpired(_)
        | Error::TooManyAttempts(_)
        | Error::NoPendingReset
        | Error::NoPendingEmailChange => StatusCode::BAD_REQUEST,
        Error::UsernameTaken | Error::EmailTaken => StatusCode::CONFLICT,
        // As the original: an unknown user and a wrong password are both "not found".
        Error::InvalidCredentials => StatusCode::NOT_FOUND,
        Error::NotAuthenticated | Error::SignedOutElsewhere | Error::SecondFactorRequired { .. } => {
            StatusCode::UNAUTHORIZED
        }
        Error::InvalidSecondFactor | Error::NoPendingSignIn | Error::NoSecondFactorSetup => StatusCode::BAD_REQUEST,
        Error::SecondFactorAlreadyOn | Error::SecondFactorNotOn => StatusCode::CONFLICT,
        Error::NoSuchSession | Error::NoSuchAccount => StatusCode::NOT_FOUND,
        Error::WrongPassword | Error::PasswordResetRequired | Error::NotAdmin | Error::ReauthRequired => {
            StatusCode::FORBIDDEN
        }
        Error::ResendTooSoon { .. } | Error::LoginThrottled { .. } | Error::RateLimited { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        Error::MailFailed(_) | Error::StartupFailed(_) | Error::ServerUnreachable(_) | Error::Busy { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answer's code, kept on the response for the metrics (the body is not read again).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let error = match self {
            Failure::Domain(error) => error,
            Failure::Refused(refusal) => {
                let body = serde_json::json!({"success": false, "code": refusal.code(), "detail": refusal.detail()});
                let mut response = (refusal.status(), Json(body)).into_response();
                response.extensions_mut().insert(ErrorCode(refusal.code()));
                if matches!(refusal, Refusal::BodyTimeout | Refusal::BodyTooLarge | Refusal::BodyUnreadable) {
                    // The rest of the body may still be on its way: the connection cannot carry another request.
                    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return response;
            }
        };
        let status = status_of(&error);
        let mut response = (status, Json(&error)).into_response();
        response.extensions_mut().insert(ErrorCode(error.code()));
        let retry = match &error {
            Error::ResendTooSoon { seconds } | Error::RateLimited { seconds } | Error::Busy { seconds } => {
                Some(*seconds)
            }
            Error::LoginThrottled { seconds } => *seconds,
            _ => None,
        };
        if let Some(value) = retry.and_then(|s| HeaderValue::from_str(&s.max(1).to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if matches!(error, Error::NotAuthenticated | Error::SignedOutElsewhere) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type Answer = std::result::Result<Response, Failure>;

fn ok<T: Serialize>(reply: Result<Reply<T>>) -> Answer {
    Ok((StatusCode::OK, Json(reply?)).into_response())
}

fn session_cookie(token: &Token) -> Cookie<'static> {
    Cookie::build((COOKIE, token.expose().to_string()))
        .max_age(cookie::time::Duration::seconds(SESSION_TTL_SECS))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .build()
}

fn cleared_cookie(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, ""))
        .max_age(cookie::time::Duration::ZERO)
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .build()
}

/// Sets `cookie` (the session, or its clearing) and clears the cookie's old name.
fn with_cookie(mut response: Response, cookie: Cookie<'static>) -> Response {
    for cookie in [cookie, cleared_cookie(OLD_COOKIE)] {
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A new session: its token in the body (for bearer clients) and in the cookie (for browsers).
/// The service's sessions always outlive the request, so the reply is worded as remembered.
fn signed_in(status: StatusCode, signed: Signed) -> Answer {
    let cookie = session_cookie(&signed.session.token);
    let detail = signed.detail(true);
    let body = wire::reply(detail, SessionReply::new(signed.session))?;
    Ok(with_cookie((status, Json(body)).into_response(), cookie))
}

fn renewed(renewal: Renewal) -> Answer {
    let cookie = session_cookie(&renewal.done.session.token);
    let detail = renewal.detail(true);
    let data = RenewedReply { notice_sent: renewal.done.notice_sent, session: SessionReply::new(renewal.done.session) };
    Ok(with_cookie(ok(wire::reply(detail, data))?, cookie))
}

async fn signup<S: Store>(State(s): Shared<S>, Extension(from): Extension<Client>, Fields(r): Fields) -> Answer {
    ok(wire::request_signup(&s.accounts, &r, &from.bucket).await)
}

async fn resend_signup<S: Store>(State(s): Shared<S>, Extension(from): Extension<Client>, Fields(r): Fields) -> Answer {
    ok(wire::resend_signup(&s.accounts, &r, &from.bucket).await)
}

async fn verification<S: Store>(State(s): Shared<S>, Extension(from): Extension<Client>, Fields(r): Fields) -> Answer {
    signed_in(StatusCode::CREATED, wire::verify_signup(&s.accounts, &r, from.device()).await?)
}

async fn login<S: Store>(State(s): Shared<S>, Extension(from): Extension<Client>, Fields(r): Fields) -> Answer {
    signed_in(StatusCode::OK, wire::login(&s.accounts, &r, from.device()).await?)
}

async fn who_am_i<S: Store>(State(s): Shared<S>, session: Session) -> Answer {
    ok(wire::whoami(&s.accounts, session.token()).await)
}

async fn logout<S: Store>(State(s): Shared<S>, session: Session) -> Answer {
    Ok(with_cookie(ok(wire::logout(&s.accounts, session.token()).await)?, cleared_cookie(COOKIE)))
}

/// Needs no account, but its body is read under the service's settings (the body deadline).
async fn check_password<S: Store>(_: Shared<S>, Fields(r): Fields) -> Answer {
    ok(wire::check_password(&r))
}

async fn request_reset<S: Store>(State(s): Shared<S>, Extension(from): Extension<Client>, Fields(r): Fields) -> Answer {
    ok(wire::request_reset(&s.accounts, &r, &from.bucket).await)
}

async fn resend_reset<S: Store>(State(s): Shared<S>, Extension(from): Extension<Client>, Fields(r): Fields) -> Answer {
    ok(wire::resend_reset(&s.accounts, &r, &from.bucket).await)
}

async fn reset_password<S: Store>(
    State(s): Shared<S>,
    Extension(from): Extension<Client>,
    Fields(r): Fields,
) -> Answer {
    renewed(wire::reset_password(&s.accounts, &r, from.device()).await?)
}

async fn change_password<S: Store>(
    State(s): Shared<S>,
    Extension(from): Extension<Client>,
    session: Session,
    Fields(r): Fields,
) -> Answer {
    renewed(wire::change_password(&s.accounts, &r, session.token(), from.device()).await?)
}

async fn request_email_change<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::request_email_change(&s.accounts, &r, session.token()).await)
}

async fn resend_email_change<S: Store>(State(s): Shared<S>, session: Session) -> Answer {
    ok(wire::resend_email_change(&s.accounts, session.token()).await)
}

async fn verify_email_change<S: Store>(
    State(s): Shared<S>,
    Extension(from): Extension<Client>,
    session: Session,
    Fields(r): Fields,
) -> Answer {
    renewed(wire::verify_email_change(&s.accounts, &r, session.token(), from.device()).await?)
}

async fn cancel_email_change<S: Store>(State(s): Shared<S>, session: Session) -> Answer {
    ok(wire::cancel_email_change(&s.accounts, session.token()).await)
}

async fn delete_account<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    let answer = ok(wire::delete_account(&s.accounts, &r, session.token()).await)?;
    Ok(with_cookie(answer, cleared_cookie(COOKIE)))
}

async fn sessions<S: Store>(State(s): Shared<S>, session: Session) -> Answer {
    ok(wire::sessions(&s.accounts, session.token()).await)
}

async fn revoke_session<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::revoke_session(&s.accounts, &r, session.token()).await)
}

async fn revoke_other_sessions<S: Store>(State(s): Shared<S>, session: Session) -> Answer {
    ok(wire::revoke_other_sessions(&s.accounts, session.token()).await)
}

async fn login_second_factor<S: Store>(
    State(s): Shared<S>,
    Extension(from): Extension<Client>,
    Fields(r): Fields,
) -> Answer {
    signed_in(StatusCode::OK, wire::login_second_factor(&s.accounts, &r, from.device()).await?)
}

async fn second_factor_setup<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::second_factor_setup(&s.accounts, &r, session.token()).await)
}

async fn second_factor_confirm<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::second_factor_confirm(&s.accounts, &r, session.token()).await)
}

async fn second_factor_disable<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::second_factor_disable(&s.accounts, &r, session.token()).await)
}

async fn second_factor_recovery_codes<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::second_factor_recovery_codes(&s.accounts, &r, session.token()).await)
}

async fn export_data<S: Store>(State(s): Shared<S>, session: Session, Fields(r): Fields) -> Answer {
    ok(wire::export_data(&s.accounts, &r, session.token()).await)
}

/// `?before=ID&limit=N`; a value that is not a number is `invalid_input`.
async fn activity<S: Store>(State(s): Shared<S>, session: Session, uri: axum::http::Uri) -> Answer {
    let page = match uri.query() {
        None => wire::ActivityPage::default(),
        Some(query) => serde_urlencoded::from_str(query)
            .map_err(|_| Error::invalid("limit", "The page is `before` and `limit`, each a whole number."))?,
    };
    ok(wire::activity(&s.accounts, &page, session.token()).await)
}

/// For load balancers and monitoring: 200 when the database answers, 503 when it does not.
async fn healthz<S: Store>(State(s): Shared<S>) -> Response {
    match s.accounts.pool.ping().await {
        Ok(_) => (StatusCode::OK, Json(serde_json::json!({"success": true, "detail": "ok"}))).into_response(),
        Err(e) => {
            log::error!("health check: database: {e}");
            let body =
                serde_json::json!({"success": false, "code": "unhealthy", "detail": "The database does not answer."});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub(crate) async fn not_found() -> Response {
    let body = serde_json::json!({"success": false, "code": "not_found", "detail": "There is no such endpoint."});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// Who sent a request: its bucket for the per-requester mail limits (an IPv4 address or an IPv6
/// /64, as the per-client limit counts it), its address and its device label, which a new
/// session records. The label is read from the headers only by a request that starts a session
/// (who-am-i never parses a User-Agent).
#[derive(Clone)]
struct Client {
    bucket: String,
    ip: String,
    headers: HeaderMap,
    device: std::sync::OnceLock<String>,
}

impl Client {
    fn new(ip: IpAddr, headers: &HeaderMap) -> Self {
        let mut named = HeaderMap::new();
        for name in [header::USER_AGENT, header::HeaderName::from_static(wire::CLIENT_HEADER)] {
            if let Some(value) = headers.get(&name) {
                named.insert(name, value.clone());
            }
        }
        Client {
            bucket: crate::limits::bucket(ip).to_string(),
            ip: ip.to_string(),
            headers: named,
            device: std::sync::OnceLock::new(),
        }
    }

    fn device(&self) -> Device<'_> {
        let label = self.device.get_or_init(|| crate::devices::label(&self.headers));
        Device { label, ip: Some(&self.ip) }
    }
}

/// Counts every request but the health check against its client, refuses what a browser page of
/// another site sends (see `admit`), and logs one JSON line per request: method, path, status,
/// time, client address. Never a body, a header or a query string.
async fn guard_and_log<S: Store>(
    State(s): Shared<S>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: HttpRequest,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let client = client_address(s.settings.client_ip_header.as_ref(), request.headers(), peer);
    // Who asks, for the handlers' per-requester mail limits and the sessions they start.
    if let Some(ip) = client {
        let from = Client::new(ip, request.headers());
        request.extensions_mut().insert(from);
    }
    let response = if path == "/healthz" || method == Method::OPTIONS {
        next.run(request).await
    } else {
        match admit(&s, client, &method, request.headers()) {
            Ok(()) => next.run(request).await,
            Err(failure) => failure.into_response(),
        }
    };
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    s.metrics.request(&route, method.as_str(), response.status().as_u16(), code, started.elapsed());
    let line = serde_json::json!({
        "event": "request",
        "method": method.as_str(),
        "path": path,
        "status": response.status().as_u16(),
        "ms": started.elapsed().as_secs_f64() * 1000.0,
        "client": client.map_or_else(|| "unreadable".to_string(), |ip| ip.to_string()),
    });
    log::info!("{line}");
    response
}

/// What every request but the health check passes before its handler: a client address it can
/// read (with `LATCHKEY_CLIENT_IP_HEADER` set, the proxy's value; never the peer instead, which
/// would put every client of the proxy in one bucket); the per-client limit, in memory (no
/// database work before the handler); at most one session cookie; and, for a request that may change something (any method but GET,
/// HEAD and OPTIONS) and carries no bearer token, that no browser page of another site sent it.
/// That covers requests the session cookie authenticates and the ones that set it (login,
/// verification, reset), so another site can neither act as a signed-in person nor sign them
/// into an account of its choosing. A bearer token is never attached by a browser on its own.
fn admit<S>(
    s: &Service<S>,
    client: Option<IpAddr>,
    method: &Method,
    headers: &HeaderMap,
) -> std::result::Result<(), Failure> {
    // Logged as `"client": "unreadable"` in the request's line.
    let ip = client.ok_or(Refusal::ClientAddressUnreadable)?;
    s.limit.check(ip)?;
    let session = Session::from_headers(headers)?;
    if !method.is_safe() && !session.is_bearer() && is_cross_site(headers) {
        return Err(Refusal::CrossSite.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_host_only_http_only_secure_strict_and_lasts_30_days() {
        let text = session_cookie(&Token::from_stored("tok".into())).to_string();
        assert!(text.starts_with("__Host-sessionid=tok;"), "{text}");
        for part in ["Max-Age=2592000", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(text.split("; ").any(|p| p == part), "{part} in {text}");
        }
        assert!(!text.contains("Domain"), "{text}");
    }

    #[test]
    fn login_failures_are_not_found_as_in_the_original() {
        assert_eq!(status_of(&Error::InvalidCredentials), StatusCode::NOT_FOUND);
        assert_eq!(status_of(&Error::NotAuthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(status_of(&Error::RateLimited { seconds: 3 }), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn every_refusal_has_its_own_code_except_an_unreadable_body() {
        let all = [
            Refusal::CrossSite,
            Refusal::DuplicateSessionCookie,
            Refusal::UnsupportedMediaType,
            Refusal::BodyTooLarge,
            Refusal::BodyTimeout,
            Refusal::ClientAddressUnreadable,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(Refusal::CrossSite.status(), StatusCode::FORBIDDEN);
        assert_eq!(Refusal::BodyUnreadable.code(), "invalid_input");
    }
}
