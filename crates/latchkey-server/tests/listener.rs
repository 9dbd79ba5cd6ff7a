//! The listener against slow, idle and too many clients, over real sockets to the
//! `latchkey-server` process: a stalled head, an idle kept-alive connection and a slow body are
//! cut at their deadlines; connections over the cap (or over what the descriptor limit allows)
//! are refused at once while the service keeps answering; SIGTERM exits within its grace however
//! many connections are open.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;

use common::{slow_smtp, Server};
use latchkey_testkit::{free_port, Group, SmtpServer, TestDatabase};

/// Short deadlines, so each test takes seconds; the service's defaults are 10, 10 and 60 s.
const QUICK: [(&str, &str); 3] =
    [("LATCHKEY_HEADER_TIMEOUT_SECS", "1"), ("LATCHKEY_BODY_TIMEOUT_SECS", "1"), ("LATCHKEY_IDLE_TIMEOUT_SECS", "3")];
/// How much later than its deadline a connection may be cut (a busy machine, timer rounding).
const SLACK: Duration = Duration::from_secs(2);

/// A server on a SQLite file of its own; mail goes to a port nobody listens on (no test here
/// sends any, but the service will not start without an SMTP server to name).
fn server(extra: &[(&str, &str)]) -> (Server, TestDatabase) {
    let db = TestDatabase::sqlite();
    (Server::start(&db, free_port(), extra), db)
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://")).unwrap()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const HEALTHZ_THEN_CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/// Reads until the server closes the connection or `within` passes; returns what arrived and
/// when the connection closed (`None`: still open at the end).
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Some(left) = within.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) else {
            return (got, None);
        };
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (got, Some(started.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return (got, None),
            Err(_) => return (got, Some(started.elapsed())), // reset: closed too
        }
    }
}

/// Reads one whole response (head and `Content-Length` body) within `within`.
fn read_response(stream: &mut TcpStream, within: Duration) -> String {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let left = within.checked_sub(started.elapsed()).filter(|d| !d.is_zero());
        let left = left.unwrap_or_else(|| panic!("no whole response within {within:?}: {text:?}"));
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed before a whole response: {text:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no whole response within {within:?} ({e}): {text:?}"),
        }
    }
}

fn status_of(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or_default()
}

/// `/healthz` from a new client: its status, or "closed" when the server shut the connection.
fn health(server: &Server, within: Duration) -> String {
    let mut stream = connect(server);
    if stream.write_all(HEALTHZ_THEN_CLOSE).is_err() {
        return "closed".into();
    }
    let (got, closed) = read_until_closed(&mut stream, within);
    let text = String::from_utf8_lossy(&got).to_string();
    match (text.is_empty(), closed) {
        (false, _) => status_of(&text).to_string(),
        (true, Some(_)) => "closed".into(),
        (true, None) => panic!("/healthz neither answered nor refused within {within:?}"),
    }
}

#[test]
fn a_client_that_stalls_inside_its_request_head_is_disconnected() {
    let (server, _db) = server(&QUICK);

    // Half a head, then nothing.
    let mut half = connect(&server);
    half.write_all(b"POST /users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty").unwrap();
    // Nothing at all (a half-open connection).
    let mut silent = connect(&server);
    // A byte every 200 ms: never idle, never done. The deadline counts from the first byte.
    let mut dribble = connect(&server);
    let mut writer = dribble.try_clone().unwrap();
    std::thread::spawn(move || {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if writer.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });

    for (what, stream) in [("half a head", &mut half), ("nothing", &mut silent), ("a byte at a time", &mut dribble)] {
        let (got, closed) = read_until_closed(stream, Duration::from_secs(1) + SLACK);
        let after =
            closed.unwrap_or_else(|| panic!("{what}: still connected {:?} after the 1 s header timeout", SLACK));
        assert!(got.is_empty(), "{what}: {:?}", String::from_utf8_lossy(&got));
        eprintln!("{what}: closed after {after:?}");
    }
    assert_eq!(health(&server, Duration::from_secs(2)), "200");
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let (server, _db) = server(&QUICK);
    let mut stream = connect(&server);
    stream.write_all(HEALTHZ).unwrap();
    assert_eq!(status_of(&read_response(&mut stream, Duration::from_secs(2))), "200");
    // Longer than the header timeout: an idle connection is not a slow head.
    std::thread::sleep(Duration::from_millis(1500));
    stream.write_all(HEALTHZ).unwrap();
    assert_eq!(status_of(&read_response(&mut stream, Duration::from_secs(2))), "200");
    let (got, closed) = read_until_closed(&mut stream, Duration::from_secs(3) + SLACK);
    let after = closed.unwrap_or_else(|| panic!("still connected {:?} after the 3 s idle timeout", SLACK));
    assert!(got.is_empty());
    assert!(after >= Duration::from_secs(2), "closed after {after:?}, before the idle timeout");
}

#[test]
fn a_body_that_arrives_too_slowly_is_answered_408_and_the_connection_closed() {
    let (server, _db) = server(&QUICK);
    let mut stream = connect(&server);
    stream
        .write_all(b"POST /users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\"")
        .unwrap();
    let (got, closed) = read_until_closed(&mut stream, Duration::from_secs(1) + SLACK);
    let text = String::from_utf8_lossy(&got);
    assert!(closed.is_some(), "still connected after the 1 s body timeout: {text:?}");
    assert_eq!(status_of(&text), "408", "{text:?}");
    assert!(text.contains(r#""code":"body_timeout""#), "{text:?}");
}

#[test]
fn connections_over_the_cap_are_refused_at_once_and_the_service_answers_again_when_they_go() {
    let (server, _db) = server(&[("LATCHKEY_MAX_CONNECTIONS", "10"), ("LATCHKEY_HEADER_TIMEOUT_SECS", "30")]);
    assert_eq!(health(&server, Duration::from_secs(2)), "200"); // up, and no connection left open
    let mut open: Vec<TcpStream> = (0..15).map(|_| connect(&server)).collect();
    let mut refused = 0;
    for stream in &mut open {
        let (got, closed) = read_until_closed(stream, Duration::from_millis(300));
        if closed.is_some() {
            assert_eq!(status_of(&String::from_utf8_lossy(&got)), "503");
            refused += 1;
        }
    }
    assert_eq!(refused, 5, "the 5 connections over the cap of 10 are refused, the others kept");
    let started = Instant::now();
    assert_eq!(health(&server, Duration::from_secs(1)), "503", "over the cap: refused, not queued");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(open);
    let deadline = Instant::now() + Duration::from_secs(2);
    while health(&server, Duration::from_secs(1)) != "200" {
        assert!(Instant::now() < deadline, "the service answers again once the connections close");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The review's case: 300 stalled connections against a process allowed 256 descriptors. The cap
/// is fitted under the limit, so the service refuses what it cannot hold instead of running out
/// of descriptors and answering nobody; the stalled connections go at the header timeout.
#[test]
fn stalled_connections_beyond_the_descriptor_limit_do_not_stop_the_service() {
    let db = TestDatabase::sqlite();
    let server = Server::start_with(&db, free_port(), &[("LATCHKEY_HEADER_TIMEOUT_SECS", "2")], Some(256));
    let stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = connect(&server);
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let answer = health(&server, Duration::from_secs(2));
    assert!(answer == "200" || answer == "503" || answer == "closed", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Once the stalled connections reach the header timeout, everyone is served again.
    let deadline = Instant::now() + Duration::from_secs(2) + SLACK * 2;
    while health(&server, Duration::from_secs(2)) != "200" {
        assert!(Instant::now() < deadline, "the service never answered again");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stalled);
}

/// Sends SIGTERM and returns how long the process took to exit (panics after `within`).
fn terminate(process: &mut Group, within: Duration) -> (Duration, std::process::ExitStatus) {
    let pid = nix::unistd::Pid::from_raw(process.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            return (started.elapsed(), status);
        }
        assert!(started.elapsed() < within, "still running {within:?} after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_with_stalled_and_idle_connections_open_exits_at_once() {
    // The default header and idle timeouts (10 and 60 s): only shutdown itself closes these.
    let (mut server, _db) = server(&[("LATCHKEY_SHUTDOWN_GRACE_SECS", "5")]);
    let mut open = Vec::new();
    for _ in 0..5 {
        let mut stalled = connect(&server);
        stalled.write_all(b"POST /users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
        let mut idle = connect(&server);
        idle.write_all(HEALTHZ).unwrap();
        assert_eq!(status_of(&read_response(&mut idle, Duration::from_secs(2))), "200");
        open.extend([stalled, idle, connect(&server)]);
    }
    let (took, status) = terminate(&mut server.process, Duration::from_secs(3));
    assert!(status.success(), "{status:?}");
    eprintln!("exited {took:?} after SIGTERM with 15 connections open");
}

#[test]
fn sigterm_cuts_a_request_still_in_flight_at_the_grace() {
    let smtp = SmtpServer::start();
    let db = TestDatabase::sqlite();
    let mail = slow_smtp(smtp.port, Duration::from_secs(30));
    let mut server = Server::start(&db, mail, &[("LATCHKEY_SHUTDOWN_GRACE_SECS", "1")]);
    let mut stream = connect(&server);
    let body = r#"{"username": "late", "email": "late@example.org", "password": "correct horse battery staple"}"#;
    let head = format!(
        "POST /users/signup/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(format!("{head}{body}").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(500)); // the request is waiting on the mail server
    let (took, status) = terminate(&mut server.process, Duration::from_secs(1) + SLACK);
    assert!(status.success(), "{status:?}");
    assert!(took >= Duration::from_millis(900), "the request in flight had its grace: exited after {took:?}");
}
