//! The listener: accepts connections up to a cap, serves each with hyper's HTTP/1.1 under the
//! service's deadlines, and at shutdown closes every connection without a request in flight at
//! once and gives the others a bounded grace.
//!
//! The deadlines, per connection:
//! - a request's head must arrive within `header_timeout` of its first byte (a new connection's
//!   first head, within `header_timeout` of the connection opening);
//! - a kept-alive connection may wait `idle_timeout` for the next request's first byte;
//! - a request's body must arrive within `body_timeout` of the handler asking for it (`http.rs`);
//! - while a request is in flight (from its head until its response is written) neither of the
//!   first two runs.
//!
//! hyper's own `header_read_timeout` is not used: it also runs while a kept-alive connection waits
//! for its next request, so it cannot tell a slow head from an idle connection.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};
use tower::Service as _;

use crate::settings::Connections;

/// Descriptors kept for everything but client connections: the database pool, the listener, logs.
const RESERVED_DESCRIPTORS: u64 = 64;
/// A connection refused over the cap is told so in one write, then closed.
const BUSY_BODY: &str =
    r#"{"success":false,"code":"server_busy","detail":"The service is busy. Please try again in a moment."}"#;
/// How often a refusal over the cap is logged, at most.
const BUSY_LOG_EVERY: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, closes idle and
/// stalled connections at once, lets requests in flight finish for `shutdown_grace`, and closes
/// whatever is left.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let cap = fit_to_descriptor_limit(limits.max_connections);
    let permits = Arc::new(Semaphore::new(cap));
    let (stop, stopping) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder.keep_alive(true).header_read_timeout(None);
    let builder = Arc::new(builder);
    let busy = busy_response();
    let mut connections = JoinSet::new();
    let mut last_busy_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        // Out of descriptors, most likely: wait for some to close rather than spin.
                        log::error!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    // Never queued: a client over the cap hears at once that it should come back.
                    let _ = stream.try_write(busy.as_bytes());
                    if last_busy_log.is_none_or(|at| at.elapsed() >= BUSY_LOG_EVERY) {
                        log::warn!("{cap} connections open (LATCHKEY_MAX_CONNECTIONS): refusing new ones");
                        last_busy_log = Some(Instant::now());
                    }
                    continue;
                };
                let served = connection(stream, peer, app.clone(), builder.clone(), limits, stopping.clone(), permit);
                connections.spawn(served);
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let finished =
        tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} });
    if finished.await.is_err() {
        log::warn!(
            "{} connections still busy after {} s (LATCHKEY_SHUTDOWN_GRACE_SECS): closing them",
            connections.len(),
            limits.shutdown_grace.as_secs()
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// One connection, from accept to close. Dropping the hyper connection closes the socket.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<http1::Builder>,
    limits: Connections,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { stream, activity: activity.clone() });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::begin(activity.clone());
            let mut app = app.clone();
            async move {
                let response = app.call(request).await?;
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _in_flight: in_flight }))
            }
        }
    });
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    let mut stop_asked = false;
    loop {
        tokio::select! {
            done = served.as_mut() => {
                if let Err(e) = done {
                    log::debug!("connection from {peer}: {e}");
                }
                break;
            }
            () = activity.expired(limits) => {
                log::debug!("connection from {peer}: closed, too slow or idle too long");
                break;
            }
            _ = stopping.wait_for(|stop| *stop), if !stop_asked => {
                stop_asked = true;
                if activity.is_quiet() {
                    break;
                }
                // hyper answers the request in flight, then closes.
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection is doing, as its reads and its requests tell it.
struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    /// Requests whose response is not yet written.
    in_flight: usize,
    /// When the last response was written (or the connection opened).
    idle_since: Instant,
    /// The first byte of a head not yet complete (the opening, for a new connection).
    head_started: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Activity {
            state: Mutex::new(State { in_flight: 0, idle_since: now, head_started: Some(now) }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: between requests, they begin the next head, which now has a deadline.
    fn read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            self.changed.notify_one();
        }
    }

    fn is_quiet(&self) -> bool {
        self.state().in_flight == 0
    }

    /// When the connection should be closed, as things stand; none while a request is in flight.
    fn deadline(&self, limits: Connections) -> Option<Instant> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(at) => at + limits.header_timeout,
            None => state.idle_since + limits.idle_timeout,
        })
    }

    /// Completes when the connection has been idle too long or sent too slow a head.
    async fn expired(&self, limits: Connections) {
        loop {
            let changed = self.changed.notified();
            match self.deadline(limits) {
                None => changed.await,
                Some(deadline) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(deadline) => {
                            if self.deadline(limits).is_some_and(|d| d <= Instant::now()) {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A request from its head until its response is written (or dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        {
            let mut state = activity.state();
            state.in_flight += 1;
            state.head_started = None;
        }
        activity.changed.notify_one();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.0.state();
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
                state.head_started = None;
            }
        }
        self.0.changed.notify_one();
    }
}

/// A response body that holds its request in flight until hyper has written it.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The client's socket, telling the connection's activity when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

fn busy_response() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{BUSY_BODY}",
        BUSY_BODY.len()
    )
}

/// Errors of one connection that came and went before it was accepted: not the listener's.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Raises this process's open-files limit to its hard limit (systemd's default soft limit is
/// 1024), so the connection cap, not the descriptor table, decides when to refuse.
pub fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            // Some systems report an unlimited hard limit that the kernel will not grant.
            let wanted = hard.min(1 << 20);
            if soft < wanted {
                if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, wanted, hard) {
                    log::warn!("cannot raise the open-files limit from {soft}: {e}");
                }
            }
        }
    }
}

/// The connection cap this process can keep: each connection may need a second descriptor while
/// its request sends mail, and the pool and the listener need theirs. Lowered (with a warning)
/// rather than let `accept` fail for want of descriptors, which refuses everyone.
fn fit_to_descriptor_limit(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use nix::sys::resource::{getrlimit, Resource};
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) {
            let fits = usize::try_from(soft.saturating_sub(RESERVED_DESCRIPTORS) / 2).unwrap_or(usize::MAX).max(1);
            if fits < wanted {
                log::warn!(
                    "LATCHKEY_MAX_CONNECTIONS is {wanted}, but the open-files limit ({soft}) leaves room for {fits}: \
                     serving at most {fits} connections (raise LimitNOFILE or ulimit -n for more)"
                );
                return fits;
            }
        }
    }
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Connections {
        Connections {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4,
            shutdown_grace: Duration::from_secs(10),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_deadline_and_an_idle_one_the_idle_deadline() {
        let activity = Arc::new(Activity::new());
        let opened = Instant::now();
        assert_eq!(activity.deadline(limits()), Some(opened + Duration::from_secs(10)));

        let request = InFlight::begin(activity.clone());
        assert_eq!(activity.deadline(limits()), None);
        activity.read(); // the body, while in flight: no deadline of its own here
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(activity.deadline(limits()), None);
        drop(request);
        let answered = Instant::now();
        assert_eq!(activity.deadline(limits()), Some(answered + Duration::from_secs(60)));

        tokio::time::advance(Duration::from_secs(30)).await;
        activity.read(); // the next request begins
        assert_eq!(activity.deadline(limits()), Some(Instant::now() + Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.read(); // more of the same head does not move its deadline
        assert_eq!(activity.deadline(limits()), Some(answered + Duration::from_secs(40)));
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_waits_while_a_request_is_in_flight() {
        let activity = Arc::new(Activity::new());
        let request = InFlight::begin(activity.clone());
        let expired = tokio::time::timeout(Duration::from_secs(1000), activity.expired(limits()));
        assert!(expired.await.is_err(), "a request in flight has no deadline here");
        drop(request);
        let started = Instant::now();
        activity.expired(limits()).await;
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[test]
    fn the_busy_answer_is_a_whole_http_response() {
        let text = busy_response();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert_eq!(serde_json::from_str::<serde_json::Value>(body).unwrap()["code"], "server_busy");
    }
}
