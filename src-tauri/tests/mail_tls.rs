//! Mail over TLS through the platform's TLS stack to a real aiosmtpd on loopback, with a
//! certificate authority made for the test: refused while the system does not trust it, delivered
//! once it does (through `SSL_CERT_FILE`, the standard OpenSSL variable, so the app needs no
//! test-only setting).
//!
//! One test in its own binary: it changes the process environment, which nothing may read at the
//! same time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::Path;
use std::process::Command;

use common::{code_in, smtp_mailer, SmtpServer};
use latchkey_lib::config::Security;
use latchkey_lib::mail::{CodeEmail, Delivery};
use latchkey_lib::Error;

/// A CA and a `localhost` certificate it signed, made with the openssl command.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Latchkey test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
}

fn email() -> CodeEmail<'static> {
    CodeEmail { username: "ann", to: "ann@example.com", code: "271828", valid_minutes: 10 }
}

#[tokio::test]
async fn tls_is_verified_against_the_system_trust_store() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let starttls = SmtpServer::start_with(&["--tlscert", cert, "--tlskey", key]);
    let implicit = SmtpServer::start_with(&["--smtpscert", cert, "--smtpskey", key]);

    // Not trusted yet: both refuse, nothing is delivered.
    for (server, security) in [(&starttls, Security::StartTls), (&implicit, Security::Tls)] {
        let sent = smtp_mailer("localhost", server.port, security).send_code(&email()).await;
        let Err(Error::MailFailed(reason)) = sent else { panic!("an untrusted certificate was accepted: {sent:?}") };
        println!("untrusted: {reason}");
        assert!(server.messages().is_empty());
    }

    // The system now trusts the test CA (OpenSSL reads SSL_CERT_FILE when a connection is set up).
    std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
    for (server, security) in [(&starttls, Security::StartTls), (&implicit, Security::Tls)] {
        assert_eq!(smtp_mailer("localhost", server.port, security).send_code(&email()).await.unwrap(), Delivery::Smtp);
        assert_eq!(code_in(&server.wait_for_message(1)), "271828");
    }

    // A trusted certificate for another name is still refused: the host name is checked too.
    let other_name = smtp_mailer("127.0.0.1", starttls.port, Security::StartTls).send_code(&email()).await;
    assert!(matches!(other_name, Err(Error::MailFailed(_))), "{other_name:?}");
    assert_eq!(starttls.messages().len(), 1);
}
