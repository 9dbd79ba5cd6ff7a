//! The real window, driven through tauri-driver under Xvfb, with mail going to a real SMTP server
//! on loopback and the token to the real Secret Service.

mod common;

use std::process::Command;

use common::ui::{Driver, Window};
use common::{code_in, SmtpServer};

fn clear_keychain() {
    let _ = Command::new("secret-tool").args(["clear", "service", "latchkey", "username", "session"]).status();
}

fn keychain_has_token() -> bool {
    Command::new("secret-tool")
        .args(["lookup", "service", "latchkey", "username", "session"])
        .output()
        .map(|o| o.status.success() && !o.stdout.is_empty())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_through_the_window_and_stay_signed_in_across_restarts() {
    common::require_session_bus();
    clear_keychain();
    let smtp = SmtpServer::start();
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(&[
        ("LATCHKEY_DATA_DIR", data.path().display().to_string()),
        ("SMTP_HOST", "127.0.0.1".into()),
        ("SMTP_PORT", smtp.port.to_string()),
        ("SMTP_SECURITY", "none".into()),
        ("SMTP_FROM", "Latchkey <no-reply@latchkey.test>".into()),
    ]);

    // First launch: no accounts, so the sign-up screen.
    let w = Window(driver.launch().await);
    w.wait_screen("signup-screen").await;
    w.screenshot("signup").await;
    w.fill("signup-username", "ann_smoke").await;
    w.fill("signup-email", "Ann.Smoke@Example.com").await;
    w.fill("signup-password", "correct horse battery").await;
    w.click("signup-submit").await;
    w.wait_screen("verify-screen").await;
    let sent = w.wait_message("").await;
    assert!(sent.contains("Ann.Smoke@Example.com"), "{sent}");
    let code = code_in(&smtp.wait_for_message(1));
    w.screenshot("verify").await;

    // A wrong code first: invalid_code with the attempts left.
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    w.fill("verify-code", &wrong).await;
    w.click("verify-submit").await;
    let detail = w.wait_message("invalid_code").await;
    assert!(detail.contains("4 attempts left"), "{detail}");
    // Resending at once is too soon.
    w.click("verify-resend").await;
    let detail = w.wait_message("resend_too_soon").await;
    assert!(detail.contains("second"), "{detail}");

    // The right code, pasted with a space, signs in.
    w.fill("verify-code", &format!("{} {}", &code[..3], &code[3..])).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "ann_smoke");
    assert_eq!(w.text("profile-email").await, "Ann.Smoke@Example.com");
    assert!(keychain_has_token(), "the token is in the Secret Service");
    w.screenshot("profile").await;
    w.close().await;

    // Relaunch: still signed in.
    let w = Window(driver.launch().await);
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "ann_smoke");
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    assert!(!keychain_has_token(), "sign-out removes the token");
    w.close().await;

    // Relaunch: signed out, on the login screen. Wrong password, then right, by email.
    let w = Window(driver.launch().await);
    w.wait_screen("login-screen").await;
    w.fill("login-username", "ann_smoke").await;
    w.fill("login-password", "wrong horse battery").await;
    w.click("login-submit").await;
    let detail = w.wait_message("invalid_credentials").await;
    w.screenshot("login-error").await;
    w.fill("login-username", "nobody_at_all").await;
    w.fill("login-password", "wrong horse battery").await;
    w.click("login-submit").await;
    // Wait for the button to come back, then compare: the same sentence for an unknown user.
    w.wait_message("invalid_credentials").await;
    assert_eq!(w.message().await.0, detail);
    w.fill("login-username", "ann.smoke@example.com").await;
    w.fill("login-password", "correct horse battery").await;
    w.click("login-submit").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "ann_smoke");
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.close().await;

    // Nothing secret in plaintext in the data directory; the database file is private.
    let db = data.path().join("latchkey.db");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
    for file in common::files_below(data.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in ["correct horse battery", code.as_str()] {
            assert!(!common::contains_bytes(&bytes, secret.as_bytes()), "{} holds a secret", file.display());
        }
    }
}
