//! What several of the service's test files build the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#![allow(dead_code)] // each test file uses its part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use latchkey_core::config::{Security, SmtpSettings};
use latchkey_core::mail::Mailer;
use latchkey_testkit::{free_port, wait_for_port, Group, SmtpServer, TestDatabase};

/// A `latchkey-server` process on loopback, on `db`, sending mail to the test's SMTP server;
/// `extra` settings on top. Ends with the test.
pub struct Server {
    pub base: String,
    pub process: Group,
}

impl Server {
    pub fn start(db: &TestDatabase, smtp_port: u16, extra: &[(&str, &str)]) -> Server {
        Server::start_with(db, smtp_port, extra, None)
    }

    /// With at most `open_files` descriptors (soft and hard, so the server cannot raise it).
    pub fn start_with(db: &TestDatabase, smtp_port: u16, extra: &[(&str, &str)], open_files: Option<u64>) -> Server {
        let port = free_port();
        let binary = env!("CARGO_BIN_EXE_latchkey-server");
        let mut command = match open_files {
            None => Command::new(binary),
            Some(n) => {
                let mut shell = Command::new("/bin/sh");
                shell.args(["-c", &format!("ulimit -n {n} && exec \"$0\""), binary]);
                shell
            }
        };
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", db.url())
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", smtp_port.to_string())
            .env("SMTP_SECURITY", "none")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            // Not piped: nobody reads it, and a full pipe would stall the server's logging.
            .stderr(Stdio::null());
        let process = Group::spawn(&mut command);
        wait_for_port(port, "latchkey-server");
        Server { base: format!("http://127.0.0.1:{port}"), process }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The domain's mailer, sending to the test's SMTP server on loopback.
pub fn mailer(smtp: &SmtpServer) -> Mailer {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: smtp.port,
        username: None,
        password: None,
        security: Security::None,
    };
    Mailer::smtp(&settings, "Latchkey <no-reply@latchkey.test>").unwrap()
}

/// An SMTP server that answers `delay` late: a sign-up is still sending its mail for that long.
pub fn slow_smtp(to: u16, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let server = TcpStream::connect(("127.0.0.1", to)).unwrap();
                let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pipe(&mut up_from, &mut up_to));
                let (mut down_from, mut down_to) = (server, client);
                pipe(&mut down_from, &mut down_to);
            });
        }
    });
    port
}

/// SMTP that holds each connection until the test lets it through, and says when one arrives: a
/// sign-up sending its mail keeps its place in argon2's queue meanwhile.
pub fn held_smtp(to: u16) -> (u16, std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let _ = arrived_tx.send(());
            if released.recv().is_err() {
                return; // the test is over
            }
            let server = TcpStream::connect(("127.0.0.1", to)).unwrap();
            let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(&mut up_from, &mut up_to));
            let (mut down_from, mut down_to) = (server, client);
            std::thread::spawn(move || pipe(&mut down_from, &mut down_to));
        }
    });
    (port, arrived, release)
}

fn pipe(from: &mut TcpStream, to: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
