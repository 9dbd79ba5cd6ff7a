//! Routes, handlers and the envelope. Every reply is `{success, detail, ...}` as the original's,
//! plus `code` on errors and the fields the desktop app's commands return.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request as HttpRequest, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};

use latchkey_core::accounts::Accounts;
use latchkey_core::api::{
    code_sent_detail, reply, reset_sent_detail, with_notice, Deleted, Empty, Reply, Request, SignedInProfile,
};
use latchkey_core::auth::account::{PasswordReplaced, ResetRequest};
use latchkey_core::auth::secret::Token;
use latchkey_core::auth::signup::{self, SignupCredentials, SignupRequest};
use latchkey_core::auth::{self, NewSession, Profile, SESSION_TTL_SECS};
use latchkey_core::error::{Error, Result};
use latchkey_core::store::Store;

use crate::Service;

/// The session cookie, named as the original's Django session.
pub const COOKIE: &str = "sessionid";
/// Forms are small; anything bigger is not one of ours.
const BODY_LIMIT: usize = 16 * 1024;
/// The longest token we issue is 43 characters; a longer one is not worth a database lookup.
const TOKEN_MAX: usize = 128;

type Shared<S> = State<Arc<Service<S>>>;

pub fn router<S: Store>(service: Arc<Service<S>>) -> Router {
    Router::new()
        .route("/users/signup/", hashing(signup::<S>))
        .route("/users/signup/resend/", hashing(resend_signup::<S>))
        .route("/users/verification/", hashing(verification::<S>))
        .route("/users/login/", hashing(login::<S>))
        .route("/users/who_am_i/", get(who_am_i::<S>))
        .route("/users/logout/", post(logout::<S>))
        .route("/users/password/check/", post(check_password))
        .route("/users/password/reset/", hashing(request_reset::<S>))
        .route("/users/password/reset/resend/", hashing(resend_reset::<S>))
        .route("/users/password/reset/confirm/", hashing(reset_password::<S>))
        .route("/users/password/change/", hashing(change_password::<S>))
        .route("/users/email/change/", hashing(request_email_change::<S>))
        .route("/users/email/change/resend/", hashing(resend_email_change::<S>))
        .route("/users/email/change/verify/", hashing(verify_email_change::<S>))
        .route("/users/email/change/cancel/", post(cancel_email_change::<S>))
        .route("/users/delete/", hashing(delete_account::<S>))
        .route("/healthz", get(healthz::<S>))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(service.clone(), limit_and_log::<S>))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(service)
}

/// A POST endpoint whose work includes argon2: admitted to argon2's queue before it does anything
/// else, or answered 503 `server_busy` at once when the queue is full, so a refused request has
/// spent no login attempt, code attempt or mail slot and can simply be sent again.
fn hashing<H, T, St>(handler: H) -> MethodRouter<St>
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
        Err(e) => Failure(e).into_response(),
    }
}

/// An error as the envelope, with the status the original (or HTTP) gives it.
pub struct Failure(Error);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e)
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
        Error::NotAuthenticated => StatusCode::UNAUTHORIZED,
        Error::WrongPassword => StatusCode::FORBIDDEN,
        Error::ResendTooSoon { .. } | Error::LoginThrottled { .. } | Error::RateLimited { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        Error::MailFailed(_) | Error::StartupFailed(_) | Error::ServerUnreachable(_) | Error::Busy { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let mut response = (status, Json(&self.0)).into_response();
        let retry = match &self.0 {
            Error::ResendTooSoon { seconds } | Error::RateLimited { seconds } | Error::Busy { seconds } => {
                Some(*seconds)
            }
            Error::LoginThrottled { seconds } => *seconds,
            _ => None,
        };
        if let Some(value) = retry.and_then(|s| HeaderValue::from_str(&s.max(1).to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if matches!(self.0, Error::NotAuthenticated) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type Answer = std::result::Result<Response, Failure>;

fn ok<T: Serialize>(status: StatusCode, reply: Result<Reply<T>>) -> Answer {
    Ok((status, Json(reply?)).into_response())
}

/// A body as JSON (the original's clients) or a form: either way, a map of fields.
fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Request> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let value = if form {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()
            .map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>()))
    } else if body.is_empty() {
        Some(Value::Object(Map::new()))
    } else {
        serde_json::from_slice(body).ok()
    };
    Request::parse(value)
}

/// The session token: `Authorization: Bearer` (native clients) or the session cookie (browsers).
fn token(headers: &HeaderMap) -> Option<Token> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let cookie = || {
        headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
            |pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == COOKIE).then_some(value)
            },
        )
    };
    bearer.or_else(cookie).filter(|t| !t.is_empty() && t.len() <= TOKEN_MAX).map(|t| Token::from_stored(t.to_string()))
}

fn session_cookie(token: &Token) -> HeaderValue {
    let value =
        format!("{COOKIE}={}; Max-Age={SESSION_TTL_SECS}; Path=/; HttpOnly; Secure; SameSite=Strict", token.expose());
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("sessionid=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// A new session: its token in the body (for bearer clients) and in the cookie (for browsers).
#[derive(Serialize)]
struct SessionReply {
    profile: Profile,
    token: String,
    expires_at: i64,
}

#[derive(Serialize)]
struct RenewedReply {
    profile: Profile,
    token: String,
    expires_at: i64,
    notice_sent: bool,
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

fn signed_in(status: StatusCode, detail: String, session: NewSession) -> Answer {
    let cookie = session_cookie(&session.token);
    let expires_at = session.profile.session_expires_at;
    let data = SessionReply { token: session.token.expose().to_string(), profile: session.profile, expires_at };
    Ok(with_cookie(ok(status, reply(detail, data))?, cookie))
}

fn renewed(done: PasswordReplaced, what: &str) -> Answer {
    let cookie = session_cookie(&done.session.token);
    let data = RenewedReply {
        token: done.session.token.expose().to_string(),
        expires_at: done.session.profile.session_expires_at,
        profile: done.session.profile,
        notice_sent: done.notice_sent,
    };
    Ok(with_cookie(ok(StatusCode::OK, reply(with_notice(what.to_string(), done.notice_sent), data))?, cookie))
}

async fn signup<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let req = SignupRequest {
        username: r.text("username")?,
        email: r.text("email")?,
        password: r.text("password")?,
        replaces: r.optional_text("signup_id")?,
    };
    let sent = s.accounts.request_signup(req).await?;
    ok(StatusCode::OK, reply(code_sent_detail(&sent, false), sent))
}

async fn resend_signup<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let sent = s.accounts.resend_signup(r.text("signup_id")?).await?;
    ok(StatusCode::OK, reply(code_sent_detail(&sent, true), sent))
}

/// The original's clients send the email, the code as `otp`, and the username and password again;
/// Latchkey's own send the sign-up id and the code.
async fn verification<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let code = match r.optional_text("otp")? {
        Some(otp) => otp,
        None => r.text("code")?,
    };
    let session = match r.optional_text("signup_id")? {
        Some(id) => s.accounts.verify_signup(id, code).await?,
        None => {
            let credentials = SignupCredentials {
                email: r.text("email")?,
                username: r.text("username")?,
                password: r.text("password")?,
            };
            signup::verify_with_credentials(&s.accounts.pool, &s.accounts.mailer, credentials, code, s.now()).await?
        }
    };
    let detail = format!("Welcome, {}! Your account is ready.", session.profile.username);
    signed_in(StatusCode::CREATED, detail, session)
}

/// `username` or `email` (the original's fields) or `identifier` (the desktop app's).
async fn login<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let identifier = match (r.optional_text("identifier")?, r.optional_text("username")?) {
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => r.text("email")?,
    };
    let session = s.accounts.login(identifier, r.text("password")?).await?;
    let detail = format!("Signed in as {}.", session.profile.username);
    signed_in(StatusCode::OK, detail, session)
}

async fn who_am_i<S: Store>(State(s): Shared<S>, headers: HeaderMap) -> Answer {
    let profile = s.accounts.whoami(token(&headers).as_ref()).await?;
    ok(StatusCode::OK, reply(format!("Signed in as {}.", profile.username), profile))
}

async fn logout<S: Store>(State(s): Shared<S>, headers: HeaderMap) -> Answer {
    if let Some(token) = token(&headers) {
        s.accounts.logout(&token).await?;
    }
    Ok(with_cookie(ok(StatusCode::OK, reply("You have signed out.", Empty {}))?, cleared_cookie()))
}

async fn check_password(headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let verdict = auth::policy::check(r.text("password")?, r.text("username")?, r.text("email")?);
    ok(StatusCode::OK, reply(verdict.hint.clone(), verdict))
}

async fn request_reset<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let sent = s.accounts.request_reset(r.text("email")?).await?;
    ok(StatusCode::OK, reply(reset_sent_detail(&sent, false), sent))
}

async fn resend_reset<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let sent = s.accounts.resend_reset(r.text("email")?).await?;
    ok(StatusCode::OK, reply(reset_sent_detail(&sent, true), sent))
}

async fn reset_password<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let req = ResetRequest { email: r.text("email")?, code: r.text("code")?, password: r.text("password")? };
    let done = s.accounts.reset_password(req).await?;
    renewed(done, "Your password was reset and every other session was signed out. You are signed in.")
}

async fn change_password<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let (current, new) = (r.text("current_password")?, r.text("new_password")?);
    let done = s.accounts.change_password(token(&headers).as_ref(), current, new).await?;
    renewed(done, "Your password was changed and every other session was signed out.")
}

async fn request_email_change<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let (password, new_email) = (r.text("password")?, r.text("new_email")?);
    let started = s.accounts.request_email_change(token(&headers).as_ref(), password, new_email).await?;
    ok(StatusCode::OK, reply(code_sent_detail(&started.sent, false), started))
}

async fn resend_email_change<S: Store>(State(s): Shared<S>, headers: HeaderMap) -> Answer {
    let started = s.accounts.resend_email_change(token(&headers).as_ref()).await?;
    ok(StatusCode::OK, reply(code_sent_detail(&started.sent, true), started))
}

async fn verify_email_change<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let changed = s.accounts.verify_email_change(token(&headers).as_ref(), r.text("code")?).await?;
    let done = format!("Your email address is now {}.", changed.profile.email);
    ok(StatusCode::OK, reply(with_notice(done, changed.notice_sent), changed))
}

async fn cancel_email_change<S: Store>(State(s): Shared<S>, headers: HeaderMap) -> Answer {
    let profile = s.accounts.cancel_email_change(token(&headers).as_ref()).await?;
    let detail = "The email change was cancelled. Your address stays as it was.";
    ok(StatusCode::OK, reply(detail, SignedInProfile { profile }))
}

async fn delete_account<S: Store>(State(s): Shared<S>, headers: HeaderMap, body: Bytes) -> Answer {
    let r = parse(&headers, &body)?;
    let (password, confirm) = (r.text("password")?, r.text("confirm")?);
    let notice_sent = s.accounts.delete_account(token(&headers).as_ref(), password, confirm).await?;
    let answer = ok(
        StatusCode::OK,
        reply(with_notice("Your account was deleted.".into(), notice_sent), Deleted { notice_sent }),
    )?;
    Ok(with_cookie(answer, cleared_cookie()))
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

async fn not_found() -> Response {
    let body = serde_json::json!({"success": false, "code": "not_found", "detail": "There is no such endpoint."});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// The client's address: from the configured proxy header (its last hop, the one our proxy
/// added), else the connection's peer. A header nobody configured is never trusted.
fn client_ip<S>(s: &Service<S>, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    s.settings
        .client_ip_header
        .as_ref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Counts every request but the health check against its client address, and logs one JSON line
/// per request: method, path, status, time, address. Never a body, a header or a query string.
async fn limit_and_log<S: Store>(
    State(s): Shared<S>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: HttpRequest,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let ip = client_ip(&s, request.headers(), peer);
    let response = if path == "/healthz" || method == Method::OPTIONS {
        next.run(request).await
    } else {
        match auth::rate::claim(&s.accounts.pool, &ip.to_string(), s.settings.ip_limit_per_minute, s.now()).await {
            Ok(()) => next.run(request).await,
            Err(e) => Failure(e).into_response(),
        }
    };
    let line = serde_json::json!({
        "event": "request",
        "method": method.as_str(),
        "path": path,
        "status": response.status().as_u16(),
        "ms": started.elapsed().as_secs_f64() * 1000.0,
        "client": ip.to_string(),
    });
    log::info!("{line}");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_session_cookie() {
        let mut h = HeaderMap::new();
        assert!(token(&h).is_none());
        h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; sessionid=abc; other=1"));
        assert_eq!(token(&h).unwrap().expose(), "abc");
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(token(&h).unwrap().expose(), "xyz");
        let mut long = HeaderMap::new();
        long.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {}", "a".repeat(200))).unwrap());
        assert!(token(&long).is_none());
    }

    #[test]
    fn the_session_cookie_is_http_only_secure_strict_and_lasts_30_days() {
        let cookie = session_cookie(&Token::from_stored("tok".into()));
        let text = cookie.to_str().unwrap();
        for part in ["sessionid=tok", "Max-Age=2592000", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(text.split("; ").any(|p| p == part), "{part} in {text}");
        }
    }

    #[test]
    fn login_failures_are_not_found_as_in_the_original() {
        assert_eq!(status_of(&Error::InvalidCredentials), StatusCode::NOT_FOUND);
        assert_eq!(status_of(&Error::NotAuthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(status_of(&Error::RateLimited { seconds: 3 }), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn bodies_are_json_or_forms() {
        let mut h = HeaderMap::new();
        let r = parse(&h, &Bytes::from_static(br#"{"email":"a@example.org"}"#)).unwrap();
        assert_eq!(r.text("email").unwrap(), "a@example.org");
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let r = parse(&h, &Bytes::from_static(b"email=b%40example.org&otp=123456")).unwrap();
        assert_eq!((r.text("email").unwrap(), r.text("otp").unwrap()), ("b@example.org", "123456"));
        assert!(parse(&HeaderMap::new(), &Bytes::from_static(b"not json")).is_err());
    }
}
