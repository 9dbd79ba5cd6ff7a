//! The accounts of a `latchkey-server`, for the desktop app with `LATCHKEY_SERVER_URL` set.
//!
//! A small HTTP/1.1 client over tokio and the platform's TLS (the same native-tls the mailer
//! links, certificates checked against the system's store): one request per connection, JSON in
//! and out, answers capped at 1 MiB. A general client (hyper, reqwest) would add several hundred
//! kilobytes to an installer whose size has a budget, for four verbs' worth of use.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::accounts::Accounts;
use crate::auth::account::{EmailChangeStarted, ResetRequest, SessionRenewed};
use crate::auth::login::{Screen, Startup};
use crate::auth::secret::Token;
use crate::auth::signup::{CodeSent, SignupRequest};
use crate::auth::{NewSession, Profile};
use crate::config::ServerUrl;
use crate::error::{Error, Flow, Result};
use crate::mail::Delivery;

/// Connecting, sending and reading one answer; argon2 on a busy server takes well under this.
const TIMEOUT: Duration = Duration::from_secs(20);
const ANSWER_MAX: usize = 1 << 20;

pub struct Remote {
    url: ServerUrl,
    tls: tokio_native_tls::TlsConnector,
}

impl Remote {
    pub fn new(url: ServerUrl) -> std::result::Result<Self, String> {
        let tls = native_tls::TlsConnector::new().map_err(|e| format!("TLS: {e}"))?;
        Ok(Remote { url, tls: tls.into() })
    }

    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// Sends one request and returns the envelope of a success, or the error it carries; a busy
    /// server is asked again after the wait it names (at most `BUSY_RETRIES` more times). Boxed:
    /// the sixteen methods share this one machine instead of each embedding a copy.
    fn call<'a>(
        &'a self,
        method: &'static str,
        path: &'static str,
        body: Option<Value>,
        token: Option<&'a Token>,
        flow: Flow,
    ) -> Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>> {
        Box::pin(async move {
            let mut tries = 0;
            loop {
                match self.call_once(method, path, body.clone(), token, flow).await {
                    Err(Error::Busy { seconds }) if tries < BUSY_RETRIES => {
                        tries += 1;
                        let wait = busy_wait(seconds) + jitter();
                        log::info!("server {} is busy: asking again in {} ms", self.url.host, wait.as_millis());
                        tokio::time::sleep(wait).await;
                    }
                    answer => return answer,
                }
            }
        })
    }

    async fn call_once(
        &self,
        method: &'static str,
        path: &'static str,
        body: Option<Value>,
        token: Option<&Token>,
        flow: Flow,
    ) -> Result<Value> {
        let (status, wait, answer) = tokio::time::timeout(TIMEOUT, self.exchange(method, path, body, token))
            .await
            .map_err(|_| unreachable_because(&self.url, "no answer in time"))?
            .map_err(|e| unreachable_because(&self.url, e))?;
        let reply: Value = serde_json::from_slice(&answer)
            .map_err(|_| unreachable_because(&self.url, format!("HTTP {status} without a JSON answer")))?;
        if reply["success"] == json!(true) {
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

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&Token>,
    ) -> std::result::Result<(u16, Option<i64>, Vec<u8>), String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: Latchkey/{}\r\n",
            self.url.prefix,
            self.url.host_header(),
            env!("CARGO_PKG_VERSION"),
        );
        if method == "POST" {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {}\r\n", token.expose()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());

        let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port)).await.map_err(|e| e.to_string())?;
        let stream: Box<dyn Connection> = if self.url.tls {
            Box::new(self.tls.connect(&self.url.host, tcp).await.map_err(|e| e.to_string())?)
        } else {
            Box::new(tcp)
        };
        let raw = send_and_read(stream, &request).await?;
        let (status, body) = parse_response(&raw)?;
        Ok((status, retry_after(&raw), body))
    }

    fn session(reply: &Value) -> Result<NewSession> {
        let token = reply["token"].as_str().ok_or_else(|| Error::internal("the server's answer", "no token"))?;
        Ok(NewSession { token: Token::from_stored(token.to_string()), profile: profile(&reply["profile"])? })
    }
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

/// A Retry-After header in seconds (the form the service sends; a date is not read).
fn retry_after(raw: &[u8]) -> Option<i64> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("retry-after").then(|| value.trim().parse::<i64>().ok()).flatten()
    })
}

fn unreachable_because(url: &ServerUrl, cause: impl std::fmt::Display) -> Error {
    log::warn!("server {}: {cause}", url.host);
    Error::ServerUnreachable(cause.to_string())
}

// The replies are read field by field rather than through serde's derived deserialisers: those
// would add tens of kilobytes to an installer whose size has a budget.

fn text(v: &Value, name: &str) -> Result<String> {
    v[name].as_str().map(str::to_string).ok_or_else(|| missing(name))
}

fn number(v: &Value, name: &str) -> Result<i64> {
    v[name].as_i64().ok_or_else(|| missing(name))
}

fn flag(v: &Value, name: &str) -> Result<bool> {
    v[name].as_bool().ok_or_else(|| missing(name))
}

fn missing(name: &str) -> Error {
    Error::internal("the server's answer", format!("no {name}"))
}

fn profile(v: &Value) -> Result<Profile> {
    Ok(Profile {
        username: text(v, "username")?,
        email: text(v, "email")?,
        is_active: flag(v, "is_active")?,
        is_admin: flag(v, "is_admin")?,
        date_joined: number(v, "date_joined")?,
        session_expires_at: number(v, "session_expires_at")?,
        pending_email: v["pending_email"].as_str().map(str::to_string),
    })
}

/// The server always mails its codes; it has no outbox on this computer to name.
fn code_sent(v: &Value) -> Result<CodeSent> {
    Ok(CodeSent {
        email: text(v, "email")?,
        delivery: Delivery::Smtp,
        resend_at: number(v, "resend_at")?,
        expires_at: number(v, "expires_at")?,
        signup_id: v["signup_id"].as_str().map(str::to_string),
        reset_id: v["reset_id"].as_str().map(str::to_string),
    })
}

fn replaced(v: &Value) -> Result<SessionRenewed> {
    Ok(SessionRenewed { session: Remote::session(v)?, notice_sent: flag(v, "notice_sent")? })
}

/// A TCP or TLS connection, one reader for both.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

async fn send_and_read(mut stream: Box<dyn Connection>, request: &[u8]) -> std::result::Result<Vec<u8>, String> {
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // TLS peers that close without close_notify: what arrived is complete if it parses.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.to_string()),
        }
        if raw.len() > ANSWER_MAX {
            return Err("the answer is too large".into());
        }
        // Something else on that port (mail, SSH) is told apart at once, not after the timeout;
        // a whole answer ends the read even if the server keeps the connection open.
        if raw.len() >= 5 && !raw.starts_with(b"HTTP/") {
            return Err("not an HTTP answer".into());
        }
        if is_complete(&raw) {
            break;
        }
    }
    Ok(raw)
}

/// Whether `raw` holds a whole answer framed by Content-Length or chunks.
fn is_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    if head.contains("\r\ntransfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    head.split("\r\n")
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|length| body.len() >= length)
}

/// Status and body of an HTTP/1.1 response read to the end of the connection: a body framed by
/// Content-Length, chunked, or by the close.
fn parse_response(raw: &[u8]) -> std::result::Result<(u16, Vec<u8>), String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("an incomplete HTTP answer")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "an HTTP head that is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {status_line:.40}"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "a bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let body = &raw[end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else if let Some(length) = length {
        body.get(..length).ok_or("an answer cut short")?.to_vec()
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or("a chunk cut short")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "a bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).ok_or("a chunk cut short")?);
        body = body.get(size + 2..).ok_or("a chunk cut short")?;
    }
}

impl Accounts for Remote {
    /// Signed in if the remembered session still opens; otherwise the sign-in screen (whether
    /// anyone has an account is the server's to know, not this desktop's).
    async fn startup<F: std::future::Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> Result<Startup> {
        let Some(token) = remembered().await else {
            return Ok(Startup { screen: Screen::Login, profile: None, stale_token: false });
        };
        match self.whoami(Some(&token)).await {
            Ok(profile) => Ok(Startup { screen: Screen::Profile, profile: Some(profile), stale_token: false }),
            Err(Error::NotAuthenticated) => Ok(Startup { screen: Screen::Login, profile: None, stale_token: true }),
            Err(e) => Err(e),
        }
    }

    // The requester is the service's to decide (this computer's address as it sees it).
    async fn request_signup(&self, req: SignupRequest<'_>, _requester: &str) -> Result<CodeSent> {
        let body =
            json!({"username": req.username, "email": req.email, "password": req.password, "signup_id": req.replaces});
        code_sent(&self.call("POST", "/users/signup/", Some(body), None, Flow::Signup).await?)
    }

    async fn resend_signup(&self, signup_id: &str, _requester: &str) -> Result<CodeSent> {
        let body = json!({"signup_id": signup_id});
        code_sent(&self.call("POST", "/users/signup/resend/", Some(body), None, Flow::Signup).await?)
    }

    async fn verify_signup(&self, signup_id: &str, code: &str) -> Result<NewSession> {
        let body = json!({"signup_id": signup_id, "code": code});
        Self::session(&self.call("POST", "/users/verification/", Some(body), None, Flow::Signup).await?)
    }

    async fn login(&self, identifier: &str, password: &str) -> Result<NewSession> {
        let body = json!({"identifier": identifier, "password": password});
        Self::session(&self.call("POST", "/users/login/", Some(body), None, Flow::Signup).await?)
    }

    async fn whoami(&self, token: Option<&Token>) -> Result<Profile> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        profile(&self.call("GET", "/users/who_am_i/", None, Some(token), Flow::Signup).await?)
    }

    async fn logout(&self, token: &Token) -> Result<()> {
        self.call("POST", "/users/logout/", Some(json!({})), Some(token), Flow::Signup).await.map(|_| ())
    }

    async fn request_reset(&self, email: &str, _requester: &str) -> Result<CodeSent> {
        let body = json!({"email": email});
        code_sent(&self.call("POST", "/users/password/reset/", Some(body), None, Flow::PasswordReset).await?)
    }

    async fn resend_reset(&self, reset_id: &str, _requester: &str) -> Result<CodeSent> {
        let body = json!({"reset_id": reset_id});
        code_sent(&self.call("POST", "/users/password/reset/resend/", Some(body), None, Flow::PasswordReset).await?)
    }

    async fn reset_password(&self, req: ResetRequest<'_>) -> Result<SessionRenewed> {
        let body = json!({"reset_id": req.reset_id, "code": req.code, "password": req.password});
        let reply = self.call("POST", "/users/password/reset/confirm/", Some(body), None, Flow::PasswordReset).await?;
        replaced(&reply)
    }

    async fn change_password(&self, token: Option<&Token>, current: &str, new: &str) -> Result<SessionRenewed> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let body = json!({"current_password": current, "new_password": new});
        let reply = self.call("POST", "/users/password/change/", Some(body), Some(token), Flow::PasswordReset).await?;
        replaced(&reply)
    }

    async fn request_email_change(
        &self,
        token: Option<&Token>,
        password: &str,
        new_email: &str,
    ) -> Result<EmailChangeStarted> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let body = json!({"password": password, "new_email": new_email});
        let reply = self.call("POST", "/users/email/change/", Some(body), Some(token), Flow::EmailChange).await?;
        Ok(EmailChangeStarted { sent: code_sent(&reply)?, profile: profile(&reply["profile"])? })
    }

    async fn resend_email_change(&self, token: Option<&Token>) -> Result<EmailChangeStarted> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let reply =
            self.call("POST", "/users/email/change/resend/", Some(json!({})), Some(token), Flow::EmailChange).await?;
        Ok(EmailChangeStarted { sent: code_sent(&reply)?, profile: profile(&reply["profile"])? })
    }

    async fn verify_email_change(&self, token: Option<&Token>, code: &str) -> Result<SessionRenewed> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let body = json!({"code": code});
        let reply =
            self.call("POST", "/users/email/change/verify/", Some(body), Some(token), Flow::EmailChange).await?;
        replaced(&reply)
    }

    async fn cancel_email_change(&self, token: Option<&Token>) -> Result<Profile> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let reply =
            self.call("POST", "/users/email/change/cancel/", Some(json!({})), Some(token), Flow::EmailChange).await?;
        profile(&reply["profile"])
    }

    async fn delete_account(&self, token: Option<&Token>, password: &str, confirm: &str) -> Result<bool> {
        let token = token.ok_or(Error::NotAuthenticated)?;
        let body = json!({"password": password, "confirm": confirm});
        let reply = self.call("POST", "/users/delete/", Some(body), Some(token), Flow::Signup).await?;
        flag(&reply, "notice_sent")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn answers_framed_by_length_chunks_or_the_close_are_read_whole() {
        let framed = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX: y\r\n\r\n{}  trailing";
        assert_eq!(parse_response(framed).unwrap(), (200, b"{}  ".to_vec()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=1\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (404, br#"{"a":1}"#.to_vec()));
        let closed = b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy";
        assert_eq!(parse_response(closed).unwrap(), (503, b"busy".to_vec()));
    }

    /// A server on loopback that answers each connection with the next of `answers` (then closes
    /// it), and counts the requests it read.
    async fn scripted(answers: Vec<String>) -> (Remote, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            for answer in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // The whole request: the head, then as many bytes as its Content-Length says.
                while !is_complete(&request) {
                    let n = stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the request ended early");
                    request.extend_from_slice(&chunk[..n]);
                }
                count.fetch_add(1, Ordering::SeqCst);
                stream.write_all(answer.as_bytes()).await.unwrap();
                let _ = stream.shutdown().await;
            }
        });
        (Remote::new(ServerUrl::parse(&url).unwrap()).unwrap(), served)
    }

    fn answer(status: &str, headers: &str, body: &Value) -> String {
        let body = body.to_string();
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}",
            body.len()
        )
    }

    fn busy(seconds: u32) -> String {
        let body = json!({"success": false, "code": "server_busy", "detail": "The server is busy; try again in a few seconds.", "retry_after": seconds});
        answer("503 Service Unavailable", &format!("Retry-After: {seconds}\r\n"), &body)
    }

    fn signed_in() -> String {
        let profile = json!({"username": "ann", "email": "ann@example.org", "is_active": true, "is_admin": false,
                             "date_joined": 1, "session_expires_at": 2});
        answer(
            "200 OK",
            "",
            &json!({"success": true, "detail": "Signed in as ann.", "token": "t0k3n", "profile": profile}),
        )
    }

    #[tokio::test]
    async fn a_busy_server_is_asked_again_after_its_retry_after() {
        let (remote, served) = scripted(vec![busy(1), signed_in()]).await;
        let started = std::time::Instant::now();
        let session = remote.login("ann", "correct horse battery").await.unwrap();
        assert_eq!((session.profile.username.as_str(), session.token.expose()), ("ann", "t0k3n"));
        assert_eq!(served.load(Ordering::SeqCst), 2, "asked again once");
        assert!(started.elapsed() >= Duration::from_secs(1), "after the second the server asked for");
    }

    #[tokio::test]
    async fn a_server_that_stays_busy_is_asked_three_times_then_the_person_is_told() {
        let (remote, served) = scripted(vec![busy(1), busy(1), busy(1), signed_in()]).await;
        match remote.login("ann", "correct horse battery").await {
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
        let head = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(retry_after(head), Some(2));
        assert_eq!(retry_after(b"HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n"), None);
        assert_eq!(retry_after(b"HTTP/1.1 200 OK\r\n\r\n"), None);
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"SMTP 220 hello\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}",
        ] {
            assert!(parse_response(raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_response(bad_chunk).is_err());
    }
}
