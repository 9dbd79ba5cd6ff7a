//! The session token in the real Secret Service (gnome-keyring on a private D-Bus session).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::process::Command;

use latchkey_lib::auth::secret::Token;
use latchkey_lib::keychain::Keychain;

fn secret_tool_lookup(service: &str, account: &str) -> Option<String> {
    let out = Command::new("secret-tool").args(["lookup", "service", service, "username", account]).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

#[tokio::test]
async fn token_round_trips_through_the_secret_service_and_is_really_stored() {
    common::require_session_bus();
    let keychain = Keychain::new("latchkey-test", "round-trip");
    keychain.clear().await.unwrap();
    assert!(keychain.load().await.unwrap().is_none());

    let token = Token::generate().unwrap();
    keychain.store(&token).await.unwrap();
    // A second, independent client (libsecret's secret-tool) sees it: not an in-memory mock.
    assert_eq!(secret_tool_lookup("latchkey-test", "round-trip").as_deref(), Some(token.expose()));
    // A fresh handle reads it back.
    let again = Keychain::new("latchkey-test", "round-trip").load().await.unwrap();
    assert_eq!(again.as_ref().map(Token::expose), Some(token.expose()));

    keychain.clear().await.unwrap();
    assert!(secret_tool_lookup("latchkey-test", "round-trip").is_none());
    assert!(keychain.load().await.unwrap().is_none());
    // Clearing twice is fine.
    keychain.clear().await.unwrap();
}

#[tokio::test]
async fn a_new_token_replaces_the_old_one() {
    common::require_session_bus();
    let keychain = Keychain::new("latchkey-test", "replace");
    let (first, second) = (Token::generate().unwrap(), Token::generate().unwrap());
    keychain.store(&first).await.unwrap();
    keychain.store(&second).await.unwrap();
    assert_eq!(secret_tool_lookup("latchkey-test", "replace").as_deref(), Some(second.expose()));
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "latchkey-test", "username", "replace"])
        .output()
        .unwrap();
    let items = String::from_utf8_lossy(&out.stdout).matches("[/").count()
        + String::from_utf8_lossy(&out.stderr).matches("[/").count();
    assert_eq!(items, 1, "exactly one keychain item");
    keychain.clear().await.unwrap();
}
