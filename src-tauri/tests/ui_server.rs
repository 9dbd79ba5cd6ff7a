//! Two desktop windows, each with its own data folder and keychain entry, as clients of one
//! running `latchkey-server` (`LATCHKEY_SERVER_URL`): an account made in one signs in on the
//! other, and a password change in one signs the other out at its next action. Real windows
//! (tauri-driver), real HTTP, real mail, the real keychain, the service on real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::fixture::{Fixture, PASSWORD};
use common::free_port;
use common::ui::{Driver, Window};
use latchkey_testkit::TestDatabase;

const NEW_PASSWORD: &str = "violet umbrella marathon 42";

async fn users_in(db: &TestDatabase) -> i64 {
    db.number("SELECT count(*) FROM users").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_on_two_desktops_through_the_server() {
    let server_db = TestDatabase::postgres().await;
    // The fixture's mail server serves the service; the windows send no mail themselves.
    let smtp = latchkey_testkit::SmtpServer::start();
    let url = common::start_server(smtp.port, &server_db).await;
    let first = Fixture::with_env(&[("LATCHKEY_SERVER_URL", url.clone())]);
    let second_data = tempfile::tempdir().unwrap();
    let second_driver = Driver::start(&[
        ("LATCHKEY_DATA_DIR", second_data.path().display().to_string()),
        ("LATCHKEY_SERVER_URL", url.clone()),
    ]);

    // First desktop: a new account. With a server, the first screen is sign-in.
    let a = first.launch().await;
    a.wait_screen("login-screen").await;
    a.click("to-signup").await;
    a.wait_screen("signup-screen").await;
    a.fill_signup("nat", "nat@example.com", PASSWORD).await;
    a.click("signup-submit").await;
    a.wait_screen("verify-screen").await;
    let code = common::code_in(&smtp.wait_for_message(1));
    a.fill("verify-code", &code).await;
    a.click("verify-submit").await;
    a.wait_screen("profile-screen").await;
    assert_eq!(users_in(&server_db).await, 1);
    assert_eq!(first.count("users").await, 0, "the account lives on the server, not in the data folder");

    // Second desktop: its own data folder and keychain entry, the same account.
    let b = Window(second_driver.launch().await);
    b.wait_screen("login-screen").await;
    b.login("nat@example.com", PASSWORD).await;
    b.wait_screen("profile-screen").await;
    assert!(b.text("profile-screen").await.contains("nat@example.com"));

    // A new password on the first desktop ends the second's session...
    a.click("to-change-password").await;
    a.wait_screen("password-screen").await;
    a.fill("password-current", PASSWORD).await;
    a.fill("password-new", NEW_PASSWORD).await;
    a.click("password-submit").await;
    a.wait_screen("profile-screen").await;

    // ...at its next action, which leads to sign-in with the reason.
    b.click("to-change-password").await;
    b.wait_screen("password-screen").await;
    b.fill("password-current", PASSWORD).await;
    b.fill("password-new", "quiet harbour lantern 17").await;
    b.click("password-submit").await;
    b.wait_screen("login-screen").await;
    let detail = b.wait_message("not_authenticated").await;
    assert!(detail.contains("signed out"), "{detail}");
    b.login("nat", NEW_PASSWORD).await;
    b.wait_screen("profile-screen").await;
    b.screenshot("server-second-desktop").await;

    // A restart of the first desktop is still signed in (the token in its keychain entry).
    a.close().await;
    let a = first.launch().await;
    a.wait_screen("profile-screen").await;

    // Devices: both desktops, this one marked. Signing the second out from the first ends its
    // session at its next action, which opens sign-in saying why.
    a.click("to-devices").await;
    a.wait_screen("devices-screen").await;
    let rows = a.wait_devices(2).await;
    assert_eq!(rows.iter().filter(|(_, current, _)| *current).count(), 1, "{rows:?}");
    a.axe("devices on the server").await;
    a.screenshot("server-devices").await;
    a.js("document.querySelector('.device-row:not(.current) .device-revoke').click();").await;
    a.wait_devices(1).await;
    b.click("to-change-email").await;
    b.wait_screen("email-screen").await;
    b.fill("email-password", NEW_PASSWORD).await;
    b.fill("email-new", "nat@example.net").await;
    b.click("email-submit").await;
    b.wait_screen("login-screen").await;
    let detail = b.wait_message("signed_out_elsewhere").await;
    assert!(detail.contains("another device"), "{detail}");
    b.axe("signed out from another device").await;
    b.screenshot("server-signed-out-elsewhere").await;
    // Its next start says the same, and forgets the ended session.
    b.close().await;
    let b = Window(second_driver.launch().await);
    b.wait_screen("login-screen").await;
    assert!(b.wait_message("signed_out_elsewhere").await.contains("another device"));
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_says_so_and_keeps_what_was_typed() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let f = Fixture::with_env(&[("LATCHKEY_SERVER_URL", closed)]);
    let w = f.launch().await;
    w.wait_screen("login-screen").await;
    w.fill("login-username", "nat").await;
    w.fill("login-password", PASSWORD).await;
    w.click("login-submit").await;
    let detail = w.wait_message("server_unreachable").await;
    assert!(detail.contains("cannot reach its server") && detail.contains("still here"), "{detail}");
    assert_eq!(w.el("login-username").await.prop("value").await.unwrap().as_deref(), Some("nat"));
    assert_eq!(w.el("login-password").await.prop("value").await.unwrap().as_deref(), Some(PASSWORD));
    w.axe("server unreachable").await;
    w.screenshot("server-unreachable").await;
    w.close().await;
}
