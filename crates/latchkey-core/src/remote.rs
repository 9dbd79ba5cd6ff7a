//! The accounts of a `latchkey-server`, for the desktop app with `LATCHKEY_SERVER_URL` set.
//!
//! HTTP is hyper's, through `reqwest` over the platform's TLS (the same native-tls the mailer
//! links; certificates checked against the system's store). What that brings, and decides:
//! - proxies: `HTTPS_PROXY` (and `HTTP_PROXY` for a plain-http server on this computer, `NO_PROXY`,
//!   `ALL_PROXY`) are honoured as by curl, so a desktop behind a company proxy reaches its server;
//!   the operating system's own proxy settings are not read;
//! - IPv6 and IPv4: every address the name resolves to is tried, IPv6 first with IPv4 started
//!   300 ms later if it has not connected (happy eyeballs);
//! - one request per connection: a person asks at a person's pace, and a kept connection could be
//!   closed by the server's idle deadline at the moment a sign-in is sent on it.
//!
//! Requests are `wire`'s field types and replies are read into `wire`'s reply types, the very
//! ones the service writes.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::auth::account::{EmailChangeStarted, ResetRequest, SessionRenewed};
use crate::auth::export::Exported;
use crate::auth::login::{Screen, Startup};
use crate::auth::second_factor::{Enrolment, RecoveryCodes};
use crate::auth::secret::Token;
use crate::auth::signup::{CodeSent, SignupCredentials, SignupRequest};
use crate::auth::{Device, NewSession, Profile};
use crate::config::ServerUrl;
use crate::contract::Accounts;
use crate::error::{Error, Flow, Result};
use crate::mail::Delivery;
use crate::store::{DeviceRow, EventRow};
use crate::wire::{self, path, Reply};

/// Connecting, sending and reading one answer; argon2 on a busy server takes well under this.
const TIMEOUT: Duration = Duration::from_secs(20);
const ANSWER_MAX: usize = 1 << 20;

pub struct Remote {
    url: ServerUrl,
    /// `url` as text, without a trailing slash: each path is appended to it.
    base: String,
    http: reqwest::Client,
}

impl Remote {
    pub fn new(url: ServerUrl) -> std::result::Result<Self, String> {
        let http = reqwest::Client::builder()
            .tls_backend_native()
            .http1_only()
            // As browsers and curl write them: some proxies and old servers still compare names exactly.
            .http1_title_case_headers()
            .pool_max_idle_per_host(0)
            .timeout(TIMEOUT)
            .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Remote { base: url.to_string(), url, http })
    }

    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: Option<&(impl Serialize + Sync)>,
        token: Option<&Token>,
        flow: Flow,
    ) -> Result<T> {
        self.call_from(path, body, token, None, flow).await
    }

    /// Sends one request and returns the reply of a success, or the error it carries; a busy
    /// server is asked again after the wait it names (at most `BUSY_RETRIES` more times). A
    /// request that starts a session names this device (`CLIENT_HEADER`), for the devices list.
    async fn call_from<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: Option<&(impl Serialize + Sync)>,
        token: Option<&Token>,
        device: Option<Device<'_>>,
        flow: Flow,
    ) -> Result<T> {
        let body = match body {
            Some(fields) => Some(serde_json::to_vec(fields).map_err(|e| Error::internal("the request", e))?),
            None => None,
        };
        let mut tries = 0;
        let reply = loop {
            match self.call_once(path, body.as_deref(), token, device, flow).await {
                Err(Error::Busy { seconds }) if tries < BUSY_RETRIES => {
                    tries += 1;
                    let wait = busy_wait(seconds) + jitter();
                    log::info!("server {} is busy: asking again in {} ms", self.url.host, wait.as_millis());
                    tokio::time::sleep(wait).await;
                }
                answer => break answer?,
            }
        };
        serde_json::from_value::<Reply<T>>(reply).map(|r| r.data).map_err(|e| Error::internal("the server's answer", e))
    }

    /// A POST with a JSON body, or a GET without one.
    async fn call_once(
        &self,
        path: &str,
        body: Option<&[u8]>,
        token: Option<&Token>,
        device: Option<Device<'_>>,
        flow: Flow,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let request = match body {
            Some(body) => {
                self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_vec())
            }
            None => self.http.get(url),
        };
        let request = request.header(reqwest::header::ACCEPT, "application/json");
        let request = match token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        };
        // HTTP carries any byte but controls in a header: the label's UTF-8 goes as it is.
        let label = device.and_then(|d| reqwest::header::HeaderValue::from_bytes(d.label.as_bytes()).ok());
        let request = match label {
            Some(label) => request.header(wire::CLIENT_HEADER, label),
            None => request,
        };
        let mut response = request.send().await.map_err(|e| unreachable_because(&self.url, cause(&e)))?;
        let status = response.status();
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unreachable_because(&self.url, cause(&e)))? {
            if answer.len() + chunk.len() > ANSWER_MAX {
                return Err(unreachable_because(&self.url, "the answer is too large"));
            }
            answer.extend_from_slice(&chunk);
        }
        let reply: Value = serde_json::from_slice(&answer)
            .map_err(|_| unreachable_because(&self.url, format!("HTTP {status} without a JSON answer")))?;
        if reply["success"] == Value::Bool(true) {
            return Ok(reply);
        }
        if reply["code"].as_str().is_none() {
            return Err(unreachable_because(&self.url, format!("HTTP {status} without an error code")));
        }
        Err(match Error::from_reply(&reply, flow) {
            // The header is HTTP's own word on when to come back; the body says the same.
            Error::Busy { seconds } => Error::Busy { seconds: wait.unwrap_or(seconds) },
            other => other,
        })
    }
}

/// What went wrong beneath reqwest's "error sending request for url (…)": its causes, innermost
/// last ("client error (Connect): tcp connect error: Connection refused (os error 111)").
fn cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        causes.push(inner.to_string());
        source = inner.source();
    }
    if causes.is_empty() {
        return e.to_string();
    }
    causes.join(": ")
}

/// A busy server (503 `server_busy`) is asked again this many times, so the person sees a slower
/// button rather than an error; after that the error is shown.
const BUSY_RETRIES: u32 = 2;
/// The longest wait between two tries, whatever the server asks: beyond it the person is better
/// served by being told.
const BUSY_WAIT_MAX_SECS: u64 = 5;

/// The server's Retry-After, within one to five seconds.
fn busy_wait(seconds: i64) -> Duration {
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0).clamp(1, BUSY_WAIT_MAX_SECS))
}

/// Up to half a second more, so desktops turned away at one moment do not all come back at the next.
fn jitter() -> Duration {
    use rand::TryRngCore;
    Duration::from_millis(u64::from(rand::rngs::OsRng.try_next_u32().unwrap_or(0) % 500))
}

/// Logged where it is handled, with the server's name in the cause.
fn unreachable_because(url: &ServerUrl, cause: impl std::fmt::Display) -> Error {
    Error::ServerUnreachable(format!("{}: {cause}", url.host))
}

/// The server always mails its codes; it has no outbox on this computer to name.
fn mailed(mut sent: CodeSent) -> CodeSent {
    sent.delivery = Delivery::Smtp;
    sent
}

fn renewed(reply: wire::RenewedReply) -> SessionRenewed {
    SessionRenewed { session: reply.session.into_session(), notice_sent: reply.notice_sent }
}

fn started(mut started: EmailChangeStarted) -> EmailChangeStarted {
    started.sent = mailed(started.sent);
    started
}

/// A request with no fields still sends `{}`: the service reads a JSON body on every POST.
const EMPTY_BODY: Option<&wire::NoFields> = Some(&wire::NoFields {});

impl Accounts for Remote {
    /// Signed in if the remembered session still opens; otherwise the sign-in screen (whether
    /// anyone has an account is the server's to know, not this desktop's).
    async fn startup<F: std::future::Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> Result<Startup> {
        let signed_out = |elsewhere| Startup {
            screen: Screen::Login,
            profile: None,
            stale_token: true,
            signed_out_elsewhere: elsewhere,
        };
        let Some(token) = remembered().await else {
            return Ok(Startup { stale_token: false, ..signed_out(false) });
        };
        match self.whoami(Some(&token)).await {
            Ok(profile) => Ok(Startup {
                screen: Screen::Profile,
                profile: Some(profile),
                stale_token: false,
                signed_out_elsewhere: false,
            }),
            Err(Error::NotAuthenticated) => Ok(signed_out(false)),
            Err(Error::SignedOutElsewhere) => Ok(signed_out(true)),
            Err(e) => Err(e),
        }
    }

    // The requester is the service's to decide (this computer's address as it sees it).
    async fn request_signup(&self, req: SignupRequest<'_>, _requester: &str) -> Result<CodeSent> {
        let fields = wire::SignupFields {
            username: req.username,
            email: req.email,
            password: req.password,
            signup_id: req.replaces,
        };
        self.call(path::SIGNUP, Some(&fields), None, Flow::Signup).await.map(mailed)
    }

    async fn resend_signup(&self, signup_id: &str, _requester: &str) -> Result<CodeSent> {
        let fields = wire::SignupIdFields { signup_id };
        self.call(path::SIGNUP_RESEND, Some(&fields), None, Flow::Signup).await.map(mailed)
    }

    async fn verify_signup(&self, signup_id: &str, code: &str, device: Device<'_>) -> Result<NewSession> {
        let fields = wire::VerifyFields { signup_id, code };
        let reply: wire::SessionReply =
            self.call_from(path::VERIFICATION, Some(&fields), None, Some(device), Flow::Signup).await?;
        Ok(reply.into_session())
    }

    async fn verify_with_credentials(
        &self,
        credentials: SignupCredentials<'_>,
        code: &str,
        device: Device<'_>,
    ) -> Result<NewSession> {
        let fields = wire::OriginalVerifyFields {
            email: credentials.email,
            username: credentials.username,
            password: credentials.password,
            otp: code,
        };
        let reply: wire::SessionReply =
            self.call_from(path::VERIFICATION, Some(&fields), None, Some(device), Flow::Signup).await?;
        Ok(reply.into_session())
    }

    async fn login(&self, identifier: &str, password: &str, device: Device<'_>) -> Result<NewSession> {
        let fields = wire::LoginFields { identifier, password };
        let reply: wire::SessionReply =
            self.call_from(path::LOGIN, Some(&fields), None, Some(device), Flow::Signup).await?;
        Ok(reply.into_session())
    }

    async fn whoami(&self, token: Option<&Token>) -> Result<Profile> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        self.call(path::WHO_AM_I, None::<&wire::NoFields>, Some(token), Flow::Signup).await
    }

    async fn logout(&self, token: &Token) -> Result<()> {
        self.call::<wire::Empty>(path::LOGOUT, EMPTY_BODY, Some(token), Flow::Signup).await.map(|_| ())
    }

    async fn request_reset(&self, email: &str, _requester: &str) -> Result<CodeSent> {
        let fields = wire::EmailFields { email };
        self.call(path::RESET, Some(&fields), None, Flow::PasswordReset).await.map(mailed)
    }

    async fn resend_reset(&self, reset_id: &str, _requester: &str) -> Result<CodeSent> {
        let fields = wire::ResetIdFields { reset_id };
        self.call(path::RESET_RESEND, Some(&fields), None, Flow::PasswordReset).await.map(mailed)
    }

    async fn reset_password(&self, req: ResetRequest<'_>, device: Device<'_>) -> Result<SessionRenewed> {
        let fields = wire::ResetFields { reset_id: req.reset_id, code: req.code, password: req.password };
        self.call_from(path::RESET_CONFIRM, Some(&fields), None, Some(device), Flow::PasswordReset).await.map(renewed)
    }

    async fn change_password(
        &self,
        token: Option<&Token>,
        current: &str,
        new: &str,
        device: Device<'_>,
    ) -> Result<SessionRenewed> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::PasswordChangeFields { current_password: current, new_password: new };
        let reply =
            self.call_from(path::PASSWORD_CHANGE, Some(&fields), Some(token), Some(device), Flow::PasswordReset);
        reply.await.map(renewed)
    }

    async fn request_email_change(
        &self,
        token: Option<&Token>,
        password: &str,
        new_email: &str,
    ) -> Result<EmailChangeStarted> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::EmailChangeFields { password, new_email };
        self.call(path::EMAIL_CHANGE, Some(&fields), Some(token), Flow::EmailChange).await.map(started)
    }

    async fn resend_email_change(&self, token: Option<&Token>) -> Result<EmailChangeStarted> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        self.call(path::EMAIL_CHANGE_RESEND, EMPTY_BODY, Some(token), Flow::EmailChange).await.map(started)
    }

    async fn verify_email_change(
        &self,
        token: Option<&Token>,
        code: &str,
        device: Device<'_>,
    ) -> Result<SessionRenewed> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::CodeFields { code };
        let reply =
            self.call_from(path::EMAIL_CHANGE_VERIFY, Some(&fields), Some(token), Some(device), Flow::EmailChange);
        reply.await.map(renewed)
    }

    async fn cancel_email_change(&self, token: Option<&Token>) -> Result<Profile> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let reply: wire::SignedInProfile =
            self.call(path::EMAIL_CHANGE_CANCEL, EMPTY_BODY, Some(token), Flow::EmailChange).await?;
        Ok(reply.profile)
    }

    async fn delete_account(&self, token: Option<&Token>, password: &str, confirm: &str) -> Result<bool> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::DeleteFields { password, confirm };
        let reply: wire::Deleted = self.call(path::DELETE, Some(&fields), Some(token), Flow::Signup).await?;
        Ok(reply.notice_sent)
    }

    async fn sessions(&self, token: Option<&Token>) -> Result<Vec<DeviceRow>> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let reply: wire::Sessions =
            self.call(path::SESSIONS, None::<&wire::NoFields>, Some(token), Flow::Signup).await?;
        Ok(reply.sessions)
    }

    async fn revoke_session(&self, token: Option<&Token>, id: &str) -> Result<()> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::SessionIdFields { id };
        self.call::<wire::Empty>(path::SESSIONS_REVOKE, Some(&fields), Some(token), Flow::Signup).await.map(|_| ())
    }

    async fn activity(&self, token: Option<&Token>, before: Option<i64>, limit: Option<i64>) -> Result<Vec<EventRow>> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        // The page rides in the query string: a GET has no body.
        let mut query = Vec::new();
        query.extend(before.map(|b| format!("before={b}")));
        query.extend(limit.map(|l| format!("limit={l}")));
        let path = if query.is_empty() {
            path::ACTIVITY.to_string()
        } else {
            format!("{}?{}", path::ACTIVITY, query.join("&"))
        };
        let reply = self.call_once(&path, None, Some(token), None, Flow::Signup).await?;
        let page: Reply<wire::Activity> =
            serde_json::from_value(reply).map_err(|e| Error::internal("the server's answer", e))?;
        Ok(page.data.events)
    }

    async fn export_data(&self, token: Option<&Token>, password: &str) -> Result<Exported> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::PasswordFields { password };
        self.call(path::EXPORT, Some(&fields), Some(token), Flow::Signup).await
    }

    async fn login_second_factor(&self, challenge: &str, code: &str, device: Device<'_>) -> Result<NewSession> {
        let fields = wire::ChallengeFields { challenge, code };
        let reply: wire::SessionReply =
            self.call_from(path::LOGIN_SECOND_FACTOR, Some(&fields), None, Some(device), Flow::Signup).await?;
        Ok(reply.into_session())
    }

    async fn second_factor_setup(&self, token: Option<&Token>, password: &str) -> Result<Enrolment> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::PasswordFields { password };
        self.call(path::SECOND_FACTOR_SETUP, Some(&fields), Some(token), Flow::Signup).await
    }

    async fn second_factor_confirm(&self, token: Option<&Token>, code: &str) -> Result<RecoveryCodes> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::CodeFields { code };
        self.call(path::SECOND_FACTOR_CONFIRM, Some(&fields), Some(token), Flow::Signup).await
    }

    async fn second_factor_disable(&self, token: Option<&Token>, password: &str, code: &str) -> Result<bool> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::PasswordCodeFields { password, code };
        let reply: wire::Notified =
            self.call(path::SECOND_FACTOR_DISABLE, Some(&fields), Some(token), Flow::Signup).await?;
        Ok(reply.notice_sent)
    }

    async fn second_factor_recovery_codes(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> Result<RecoveryCodes> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let fields = wire::PasswordCodeFields { password, code };
        self.call(path::SECOND_FACTOR_RECOVERY_CODES, Some(&fields), Some(token), Flow::Signup).await
    }

    async fn revoke_other_sessions(&self, token: Option<&Token>) -> Result<u64> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let reply: wire::Revoked =
            self.call(path::SESSIONS_REVOKE_OTHERS, EMPTY_BODY, Some(token), Flow::Signup).await?;
        Ok(reply.revoked)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use proptest::prelude::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Whether `raw` holds a whole request: the head, then as many bytes as its Content-Length says.
    fn whole_request(raw: &[u8]) -> bool {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        raw.len() >= end + 4 + length
    }

    /// A server on loopback that answers each connection with the next of `answers` (then closes
    /// it), and counts the requests it read.
    async fn scripted(answers: Vec<Vec<u8>>) -> (Remote, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            for answer in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                while !whole_request(&request) {
                    let n = stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the request ended early");
                    request.extend_from_slice(&chunk[..n]);
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            }
        });
        (Remote::new(ServerUrl::parse(&url).unwrap()).unwrap(), served)
    }

    fn answer(status: &str, headers: &str, body: &Value) -> Vec<u8> {
        let body = body.to_string();
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn busy(seconds: u32) -> Vec<u8> {
        let body = json!({"success": false, "code": "server_busy", "detail": "The server is busy; try again in a few seconds.", "retry_after": seconds});
        answer("503 Service Unavailable", &format!("Retry-After: {seconds}\r\n"), &body)
    }

    fn signed_in_body() -> Value {
        let profile = json!({"username": "ann", "email": "ann@example.org", "is_active": true, "is_admin": false,
                             "date_joined": 1, "session_expires_at": 2});
        json!({"success": true, "detail": "Signed in as ann.", "token": "t0k3n", "expires_at": 2, "profile": profile})
    }

    fn signed_in() -> Vec<u8> {
        answer("200 OK", "", &signed_in_body())
    }

    #[tokio::test]
    async fn answers_framed_by_length_chunks_or_the_close_are_read_whole() {
        let body = signed_in_body().to_string();
        let (half, rest) = body.split_at(body.len() / 2);
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{half}\r\n{:x};x=1\r\n{rest}\r\n0\r\n\r\n",
            half.len(),
            rest.len()
        );
        let closed = format!("HTTP/1.0 200 OK\r\n\r\n{body}");
        let (remote, served) = scripted(vec![signed_in(), chunked.into_bytes(), closed.into_bytes()]).await;
        for _ in 0..3 {
            let session = remote.login("ann", "correct horse battery", crate::auth::TEST_DEVICE).await.unwrap();
            assert_eq!((session.profile.username.as_str(), session.token.expose()), ("ann", "t0k3n"));
        }
        assert_eq!(served.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_busy_server_is_asked_again_after_its_retry_after() {
        let (remote, served) = scripted(vec![busy(1), signed_in()]).await;
        let started = std::time::Instant::now();
        let session = remote.login("ann", "correct horse battery", crate::auth::TEST_DEVICE).await.unwrap();
        assert_eq!((session.profile.username.as_str(), session.token.expose()), ("ann", "t0k3n"));
        assert_eq!(served.load(Ordering::SeqCst), 2, "asked again once");
        assert!(started.elapsed() >= Duration::from_secs(1), "after the second the server asked for");
    }

    #[tokio::test]
    async fn a_server_that_stays_busy_is_asked_three_times_then_the_person_is_told() {
        let (remote, served) = scripted(vec![busy(1), busy(1), busy(1), signed_in()]).await;
        match remote.login("ann", "correct horse battery", crate::auth::TEST_DEVICE).await {
            Err(Error::Busy { seconds }) => assert_eq!(seconds, 1),
            other => panic!("expected server_busy, got {other:?}"),
        }
        assert_eq!(served.load(Ordering::SeqCst), 3, "the first request and two more, not a fourth");
    }

    #[test]
    fn the_wait_is_the_servers_retry_after_within_one_to_five_seconds() {
        assert_eq!(busy_wait(1), Duration::from_secs(1));
        assert_eq!(busy_wait(0), Duration::from_secs(1));
        assert_eq!(busy_wait(3), Duration::from_secs(3));
        assert_eq!(busy_wait(3600), Duration::from_secs(5), "a long wait is cut short; the person may try again");
    }

    /// What the client makes of `raw` as the whole answer to one sign-in.
    fn login_answered_with(raw: Vec<u8>) -> Result<NewSession> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (remote, _) = scripted(vec![raw]).await;
            remote.login("ann", "correct horse battery", crate::auth::TEST_DEVICE).await
        })
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"SMTP 220 hello\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ] {
            let answer = login_answered_with(raw.to_vec());
            assert!(
                matches!(answer, Err(Error::ServerUnreachable(_))),
                "{:?}: {answer:?}",
                String::from_utf8_lossy(raw)
            );
        }
        // Valid HTTP and JSON, but not a session: an error the person can report, not a panic.
        let answer = login_answered_with(answer("200 OK", "", &json!({"success": true, "detail": "?"})));
        assert!(matches!(answer, Err(Error::Internal(_))), "{answer:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever bytes come back (after an HTTP-looking start or not), the answer is an error
        /// and nothing panics.
        #[test]
        fn arbitrary_answers_are_errors(
            head in prop::sample::select(vec![&b""[..], b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 503 x\r\nContent-Length: 5\r\n\r\n"]),
            tail in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut raw = head.to_vec();
            raw.extend_from_slice(&tail);
            prop_assert!(login_answered_with(raw).is_err());
        }
    }
}
