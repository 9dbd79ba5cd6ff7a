//! The whole life of an account through the real window: a forgotten password reset with an
//! emailed code, a password change, an email change confirmed at the new address, the account
//! deleted, and a session that ends while a signed-in screen is open. Real mail to a real SMTP
//! server on loopback, the token in the real Secret Service, a fresh data directory per test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::fixture::{clear_keychain, kept_token, keychain_token, Fixture, PASSWORD};
use common::ui::{Window, ENTER, WAIT};
use common::{code_in, header, other_code, unfolded};

/// Long, uncommon, unrelated to every username and address below: accepted everywhere.
const NEW_PASSWORD: &str = "plum orbit canvas";

/// Waits for the `n`th delivered message (1-based) and checks who it is for.
fn mail_to(f: &Fixture, n: usize, address: &str) -> String {
    let message = f.smtp.wait_for_message(n);
    let to = header(&message, "To").unwrap_or_default();
    assert!(to.contains(address), "message {n} is for {to:?}, not {address}:\n{message}");
    message
}

/// Waits until the live strength hint under `input` shows this strength.
async fn wait_strength(w: &Window, input: &str, strength: &str) {
    let output = format!("{input}-strength");
    let deadline = std::time::Instant::now() + WAIT;
    while w.attr(&output, "data-strength").await.as_deref() != Some(strength) {
        assert!(std::time::Instant::now() < deadline, "{input}: {:?}", w.text(&output).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An error shown on its field: the message carries `code`, the input is marked, described by the
/// error and focused.
async fn field_error(w: &Window, code: &str, field: &str) -> String {
    let detail = w.wait_message(code).await;
    assert_eq!(w.attr(field, "aria-invalid").await.as_deref(), Some("true"), "{field}: {detail}");
    let described = w.attr(field, "aria-describedby").await.unwrap_or_default();
    assert!(described.contains(&format!("{field}-error")), "{field}: {described}");
    assert_eq!(w.focused_id().await, field, "{detail}");
    detail
}

/// The screen fits the default 480x760 window without scrolling.
async fn fits(w: &Window, screen: &str) {
    let overflow = w.js("return document.documentElement.scrollHeight - window.innerHeight;").await;
    assert!(overflow.as_i64().unwrap() <= 0, "{screen} is {overflow} px too tall for the window");
}

/// The page after a moment: no screen change and no message may arrive late.
async fn settle(w: &Window) {
    w.js("return new Promise(r => setTimeout(r, 800));").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_with_an_emailed_code_and_every_old_session_ends() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "rosa", "rosa@example.com").await;
    w.close().await;
    // This desktop forgets its session (it stays in the database, like one on another desktop),
    // and a third device signs in too.
    clear_keychain();
    f.exec(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT randomblob(32), id, strftime('%s', 'now'), strftime('%s', 'now') + 86400 FROM users",
    )
    .await;
    let old_sessions = f.strings("SELECT hex(token_hash) FROM sessions").await;
    assert_eq!(old_sessions.len(), 2);

    let w = f.launch().await;
    w.wait_screen("login-screen").await;
    // A throttled sign-in points to the reset instead of the wait.
    for _ in 0..5 {
        w.clear_message().await;
        w.login("ghost", "wrong horse battery").await;
        w.wait_message("invalid_credentials").await;
    }
    w.clear_message().await;
    w.login("ghost", "wrong horse battery").await;
    let detail = w.wait_message("login_throttled").await;
    assert!(detail.contains("Forgot password?"), "{detail}");
    assert_eq!(w.focused_id().await, "to-forgot", "the way to the reset has focus");
    assert!(w.visible("to-forgot").await);
    w.axe("sign-in throttled").await;

    w.click("to-forgot").await;
    w.wait_screen("forgot-screen").await;
    assert_eq!(w.focused_id().await, "forgot-email");
    assert_eq!(w.message().await.0, "", "leaving the sign-in screen took its error along");
    w.fill("forgot-email", "nobody@example.com").await;
    fits(&w, "forgot").await;
    w.axe("forgot screen").await;
    w.screenshot("forgot").await;

    // An address no account has: the same reply and screen as a real one, and no mail.
    w.click("forgot-submit").await;
    w.wait_screen("reset-screen").await;
    let unknown = w.wait_message("").await;
    let unknown_info = w.text("reset-info").await;
    assert!(unknown.contains("nobody@example.com"), "{unknown}");
    w.click("reset-back").await;
    w.wait_screen("login-screen").await;
    w.click("to-forgot").await;
    w.wait_screen("forgot-screen").await;
    assert_eq!(w.el("forgot-email").await.prop("value").await.unwrap().as_deref(), Some(""), "cleared on leaving");
    w.fill("forgot-email", "rosa@example.com").await;
    f.age_mail_sends().await; // the sign-up code went to this address moments ago
    w.click("forgot-submit").await;
    w.wait_screen("reset-screen").await;
    let known = w.wait_message("").await;
    assert_eq!(known.replace("rosa@example.com", "@"), unknown.replace("nobody@example.com", "@"));
    assert_eq!(
        w.text("reset-info").await.replace("rosa@example.com", "@"),
        unknown_info.replace("nobody@example.com", "@")
    );
    let code = code_in(&mail_to(&f, 2, "rosa@example.com"));
    settle(&w).await;
    assert_eq!(f.smtp.messages().len(), 2, "no mail for the unknown address");
    assert_eq!(w.focused_id().await, "reset-code");
    fits(&w, "reset").await;
    w.axe("reset screen").await;
    w.screenshot("reset").await;

    // Too soon for another code; a wrong code; a password the rules refuse.
    w.click("reset-resend").await;
    assert!(w.wait_message("resend_too_soon").await.contains("second"));
    assert_eq!(w.focused_id().await, "reset-resend");
    w.fill("reset-code", &other_code(&code)).await;
    w.fill("reset-password", NEW_PASSWORD).await;
    w.click("reset-submit").await;
    assert!(w.wait_message("invalid_code").await.contains("left"));
    assert_eq!(w.focused_id().await, "reset-code", "focus goes back to the code");
    w.axe("wrong reset code").await;
    w.fill("reset-code", &code).await;
    w.fill("reset-password", "password123").await;
    w.click("reset-submit").await;
    assert!(field_error(&w, "invalid_input", "reset-password").await.contains("common"));
    w.axe("refused new password").await;

    w.fill("reset-password", NEW_PASSWORD).await;
    wait_strength(&w, "reset-password", "strong").await;
    w.click("reset-submit").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "rosa");
    kept_token(None).await; // this desktop is signed in
    let sessions = f.strings("SELECT hex(token_hash) FROM sessions").await;
    assert_eq!(sessions.len(), 1, "only this desktop's new session");
    assert!(!old_sessions.contains(&sessions[0]), "every session from before the reset is gone");
    let notice = mail_to(&f, 3, "rosa@example.com");
    assert!(header(&notice, "Subject").unwrap().contains("password was reset"), "{notice}");

    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.login("rosa", PASSWORD).await;
    w.wait_message("invalid_credentials").await;
    w.login("rosa", NEW_PASSWORD).await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_keeps_this_desktop_signed_in_and_retires_the_old_one() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "pia", "pia@example.com").await;
    let first_token = kept_token(None).await;

    w.click("to-change-password").await;
    w.wait_screen("password-screen").await;
    assert_eq!(w.focused_id().await, "password-current");
    assert_eq!(w.attr("password-new", "maxlength").await, None, "a long pasted password is never cut");
    w.fill("password-new", "pia-rocks-2024").await;
    wait_strength(&w, "password-new", "weak").await;
    assert!(w.text("password-new-strength").await.contains("username"));
    w.fill("password-new", NEW_PASSWORD).await;
    wait_strength(&w, "password-new", "strong").await;
    w.fill("password-current", "wrong horse battery").await;
    fits(&w, "password").await;
    w.axe("change password screen").await;
    w.screenshot("password").await;

    // While the command runs the whole form is inert, not only the button.
    let busy = w
        .js("document.getElementById('password-submit').click();
             const input = document.getElementById('password-current');
             return [input.closest('[inert]') !== null, document.getElementById('password-cancel').closest('[inert]') !== null,
                     document.getElementById('password-screen').getAttribute('aria-busy')];")
        .await;
    assert_eq!(busy, serde_json::json!([true, true, "true"]));
    field_error(&w, "wrong_password", "password-current").await;
    assert_eq!(w.js("return document.getElementById('password-current').closest('[inert]') === null;").await, true);
    w.axe("wrong current password").await;
    w.screenshot("error-wrong-password").await;

    w.fill("password-current", PASSWORD).await;
    w.fill("password-new", "short").await;
    w.click("password-submit").await;
    field_error(&w, "invalid_input", "password-new").await;

    w.fill("password-new", NEW_PASSWORD).await;
    w.keys(ENTER).await; // Enter submits
    w.wait_screen("profile-screen").await;
    assert!(!w.wait_message("").await.is_empty());
    assert_eq!(w.text("profile-username").await, "pia");
    let second_token = kept_token(Some(&first_token)).await;
    assert_ne!(first_token, second_token, "a new session token");
    assert_eq!(f.count("sessions").await, 1);
    let notice = mail_to(&f, 2, "pia@example.com");
    assert!(header(&notice, "Subject").unwrap().contains("password was changed"), "{notice}");

    // Cancel leaves the screen with its fields empty and nothing changed.
    w.click("to-change-password").await;
    w.wait_screen("password-screen").await;
    assert_eq!(w.el("password-current").await.prop("value").await.unwrap().as_deref(), Some(""));
    w.fill("password-current", "typed then abandoned").await;
    w.click("password-cancel").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.el("password-current").await.prop("value").await.unwrap().as_deref(), Some(""));

    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.login("pia", PASSWORD).await;
    w.wait_message("invalid_credentials").await;
    w.login("pia", NEW_PASSWORD).await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_is_confirmed_at_the_new_address_and_announced_at_the_old_one() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "eve", "eve@example.com").await;

    w.click("to-change-email").await;
    w.wait_screen("email-screen").await;
    assert_eq!(w.focused_id().await, "email-password");
    w.fill("email-password", PASSWORD).await;
    w.fill("email-new", "not-an-email").await;
    w.click("email-submit").await;
    field_error(&w, "invalid_input", "email-new").await;
    w.axe("invalid new email").await;
    w.fill("email-password", "wrong horse battery").await;
    w.fill("email-new", "eve.new@example.com").await;
    w.click("email-submit").await;
    field_error(&w, "wrong_password", "email-password").await;
    w.fill("email-password", PASSWORD).await;
    fits(&w, "email").await;
    w.axe("change email screen").await;
    w.screenshot("email").await;

    // The code goes to the new address; the profile shows the change waiting, and it can be cancelled.
    w.click("email-submit").await;
    w.wait_screen("email-verify-screen").await;
    assert_eq!(w.focused_id().await, "email-verify-code");
    assert!(w.wait_message("").await.contains("eve.new@example.com"));
    assert!(w.text("email-verify-info").await.contains("eve.new@example.com"));
    let first_code = code_in(&mail_to(&f, 2, "eve.new@example.com"));
    fits(&w, "email-verify").await;
    w.axe("email verify screen").await;
    w.screenshot("email-verify").await;
    w.click("email-verify-resend").await;
    w.wait_message("resend_too_soon").await;

    // An answer that arrives after leaving the screen changes nothing: a wrong code sent, then "back".
    w.fill("email-verify-code", &other_code(&first_code)).await;
    w.js(
        "document.getElementById('email-verify-submit').click(); document.getElementById('email-verify-back').click();",
    )
    .await;
    w.wait_screen("profile-screen").await;
    settle(&w).await;
    assert!(w.visible("profile-screen").await);
    assert_eq!(w.message().await, (String::new(), String::new()), "the late invalid_code was dropped");
    assert_eq!(w.attr("email-verify-code", "aria-invalid").await, None);

    assert!(w.visible("profile-pending").await);
    assert_eq!(w.text("profile-pending-email").await, "eve.new@example.com");
    assert_eq!(w.text("profile-email").await, "eve@example.com");
    fits(&w, "profile with an email change waiting").await;
    w.axe("profile with an email change waiting").await;
    w.screenshot("profile-pending-email").await;
    w.click("cancel-email-change").await;
    let deadline = std::time::Instant::now() + WAIT;
    while w.visible("profile-pending").await {
        assert!(std::time::Instant::now() < deadline, "the change is still shown: {:?}", w.message().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(w.message().await.1, "");
    assert_eq!(w.text("profile-email").await, "eve@example.com");

    // Again, this time with the code: the address changes, and the old one hears of it.
    f.age_mail_sends().await; // the first code went to that address moments ago
    w.click("to-change-email").await;
    w.wait_screen("email-screen").await;
    w.fill("email-password", PASSWORD).await;
    w.fill("email-new", "eve.new@example.com").await;
    w.click("email-submit").await;
    w.wait_screen("email-verify-screen").await;
    let code = code_in(&mail_to(&f, 3, "eve.new@example.com"));
    w.fill("email-verify-code", &code).await;
    w.click("email-verify-submit").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-email").await, "eve.new@example.com");
    assert!(!w.visible("profile-pending").await);
    let notice = mail_to(&f, 4, "eve@example.com");
    assert!(header(&notice, "Subject").unwrap().contains("email address was changed"), "{notice}");
    let body = unfolded(&notice);
    assert!(!body.contains("eve.new@example.com"), "the new address is masked:\n{body}");
    assert!(body.contains("ev*****@example.com"), "the new address, partly masked:\n{body}");

    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.login("eve.new@example.com", PASSWORD).await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_gone_and_its_name_and_address_are_free_again() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "dan", "dan@example.com").await;

    w.click("to-delete-account").await;
    w.wait_screen("delete-screen").await;
    assert_eq!(w.focused_id().await, "delete-password");
    assert!(w.text("delete-screen").await.contains("cannot be undone"));
    assert!(w.text("delete-confirm-hint").await.contains("dan"));
    w.fill("delete-password", PASSWORD).await;
    w.fill("delete-confirm", "dan_typo").await;
    fits(&w, "delete").await;
    w.axe("delete screen").await;
    w.screenshot("delete").await;
    w.click("delete-submit").await;
    field_error(&w, "invalid_input", "delete-confirm").await;
    w.axe("mismatched confirmation").await;
    w.fill("delete-password", "wrong horse battery").await;
    w.fill("delete-confirm", "dan").await;
    w.click("delete-submit").await;
    field_error(&w, "wrong_password", "delete-password").await;
    assert_eq!(f.count("users").await, 1);

    w.click("delete-cancel").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.message().await.0, "", "leaving took the error along");
    w.click("to-delete-account").await;
    w.wait_screen("delete-screen").await;
    assert_eq!(w.attr("delete-password", "aria-invalid").await, None);
    w.fill("delete-password", PASSWORD).await;
    w.fill("delete-confirm", "dan").await;
    w.click("delete-submit").await;
    w.wait_screen("signup-screen").await;
    assert!(w.wait_message("").await.contains("deleted"));
    assert_eq!(w.focused_id().await, "signup-username");
    assert_eq!(w.el("signup-username").await.prop("value").await.unwrap().as_deref(), Some(""));
    assert!(keychain_token().is_none(), "the keychain entry is gone");
    assert_eq!((f.count("users").await, f.count("sessions").await), (0, 0));
    mail_to(&f, 2, "dan@example.com");
    w.axe("account deleted").await;
    w.screenshot("deleted").await;

    f.age_mail_sends().await; // the first sign-up's code went to this address moments ago
    f.sign_up(&w, "dan", "dan@example.com").await;
    assert_eq!(w.text("profile-username").await, "dan");
    assert_eq!(f.count("users").await, 1);
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ended_elsewhere_leads_to_sign_in_with_a_reason() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "nat", "nat@example.com").await;
    w.click("to-change-password").await;
    w.wait_screen("password-screen").await;
    w.fill("password-current", PASSWORD).await;
    w.fill("password-new", NEW_PASSWORD).await;
    f.exec("DELETE FROM sessions").await; // say, a password reset on another desktop

    w.click("password-submit").await;
    w.wait_screen("login-screen").await;
    let detail = w.wait_message("not_authenticated").await;
    assert!(detail.contains("signed out") && detail.contains("sign in again"), "{detail}");
    assert_eq!(w.focused_id().await, "login-username");
    assert_eq!(w.attr("password-current", "aria-invalid").await, None);
    assert_eq!(w.el("password-current").await.prop("value").await.unwrap().as_deref(), Some(""), "secrets left behind");
    w.axe("session ended").await;

    w.login("nat", PASSWORD).await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mail_server_the_reset_names_the_outbox_folder_and_reveals_nothing() {
    let f = Fixture::with_env(&[("SMTP_HOST", String::new())]);
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    w.click("to-login").await;
    w.wait_screen("login-screen").await;
    w.fill("login-username", "Nobody@Example.com").await;
    w.click("to-forgot").await;
    w.wait_screen("forgot-screen").await;
    let typed = w.el("forgot-email").await.prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("Nobody@Example.com"), "the address typed to sign in is offered");
    w.keys(ENTER).await;
    w.wait_screen("reset-screen").await;
    let detail = w.wait_message("").await;
    let outbox = f.data.path().join("outbox");
    assert!(detail.contains(&outbox.display().to_string()) && !detail.contains(".eml"), "{detail}");
    assert!(w.text("reset-info").await.contains("folder"));
    let files = std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "no message for an address no account has");
    w.axe("reset, outbox").await;
    w.close().await;
}

/// Devices on this computer: the window's session and one begun elsewhere on the same database
/// (another sign-in of the same account). The list marks this one; "Sign out" on the other row
/// ends that session, which learns why at its next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devices_screen_lists_each_session_and_signs_another_out() {
    use latchkey_lib::auth::{login, Device};
    let f = Fixture::new();
    let w = f.launch().await;
    f.sign_up(&w, "dee", "dee@example.com").await;
    let pool = f.db().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let elsewhere = Device { label: "Spare laptop", ip: None };
    let other = login::login(&pool, "dee", PASSWORD, elsewhere, now).await.unwrap();

    w.click("to-devices").await;
    w.wait_screen("devices-screen").await;
    let rows = w.wait_devices(2).await;
    let this: Vec<_> = rows.iter().filter(|(_, current, _)| *current).collect();
    assert_eq!(this.len(), 1, "{rows:?}");
    assert!(this[0].2.contains("Linux"), "this computer's name and system: {rows:?}");
    let (other_id, _, label) = rows.iter().find(|(_, current, _)| !current).unwrap();
    assert_eq!(label, "Spare laptop");
    assert!(w.visible("devices-revoke-others").await);
    let buttons = w.js("return document.querySelectorAll('.device-row.current .device-revoke').length").await;
    assert_eq!(buttons, 0, "this device signs out with the profile's Sign out");
    w.axe("devices").await;
    fits(&w, "devices").await;
    w.screenshot("devices").await;

    let click = format!("document.querySelector('[data-session-id=\"{other_id}\"] .device-revoke').click();");
    w.js(&click).await;
    let left = w.wait_devices(1).await;
    assert!(left[0].1, "{left:?}");
    assert!(w.text("message").await.contains("signed out"));
    assert!(!w.visible("devices-revoke-others").await);
    let after = login::whoami(&pool, Some(&other.token), now + 1).await;
    assert!(matches!(after, Err(latchkey_lib::Error::SignedOutElsewhere)), "{after:?}");
    // This window goes on.
    w.click("devices-back").await;
    w.wait_screen("profile-screen").await;
    fits(&w, "profile").await;

    // Activity: each of those events once, newest first.
    w.click("to-activity").await;
    w.wait_screen("activity-screen").await;
    let read = "return [...document.querySelectorAll('#activity-list .activity-row')].map(r => r.dataset.kind);";
    let deadline = std::time::Instant::now() + WAIT;
    let kinds = loop {
        let kinds: Vec<String> = serde_json::from_value(w.js(read).await).unwrap();
        if !kinds.is_empty() || std::time::Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(kinds, ["session_revoked", "sign_in", "signed_up"]);
    assert!(w.text("activity-list").await.contains("Spare laptop"));
    assert!(!w.visible("activity-more").await);
    w.axe("activity").await;
    fits(&w, "activity").await;
    w.screenshot("activity").await;
    pool.close().await;
    w.close().await;
}

/// Answers the system's save dialog as a person would: waits for it, then types a whole path in
/// its name field and presses Enter (keys through the X server, like a keyboard's).
fn answer_save_dialog(path: &std::path::Path) {
    let xdotool = |args: &[&str]| {
        let out = std::process::Command::new("xdotool").args(args).output().expect("xdotool (make deps installs it)");
        assert!(out.status.success(), "xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // The dialog is up once it is mapped and takes the keyboard's focus (there is no window
    // manager on the test display to give it).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let search = ["search", "--onlyvisible", "--name", "Save your Latchkey data"];
        let found = std::process::Command::new("xdotool").args(search).output();
        let ids = found.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
        let focused = ids.lines().last().filter(|id| !id.is_empty()).is_some_and(|id| {
            let focus = std::process::Command::new("xdotool").args(["windowfocus", "--sync", id]).output();
            focus.is_ok_and(|o| o.status.success())
        });
        if focused {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no save dialog took the focus");
        std::thread::sleep(Duration::from_millis(100));
    }
    xdotool(&["key", "--clearmodifiers", "ctrl+a"]);
    xdotool(&["type", "--delay", "5", &path.display().to_string()]);
    xdotool(&["key", "Return"]);
}

/// "Download my data": the password first (a wrong one is refused and counted), then the
/// system's save dialog, then one owner-only JSON file with the profile, the devices and the
/// activity, and a notice by mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_data_is_saved_where_i_choose_after_my_password() {
    let f = Fixture::new();
    let w = f.launch().await;
    f.sign_up(&w, "eli", "eli@example.com").await;
    let mails = f.smtp.messages().len();
    w.click("to-export").await;
    w.wait_screen("export-screen").await;
    w.axe("export").await;
    fits(&w, "export").await;

    w.fill("export-password", "wrong horse battery").await;
    w.click("export-submit").await;
    field_error(&w, "wrong_password", "export-password").await;
    w.screenshot("export-wrong-password").await;

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("my latchkey data.json");
    w.fill("export-password", PASSWORD).await;
    w.click("export-submit").await;
    let answered = target.clone();
    tokio::task::spawn_blocking(move || answer_save_dialog(&answered)).await.unwrap();
    w.wait_screen("profile-screen").await;
    let detail = w.text("message").await;
    assert!(detail.contains("my latchkey data.json"), "{detail}");
    w.screenshot("export-saved").await;

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!((data["format"].as_str(), data["profile"]["username"].as_str()), (Some("latchkey-data-1"), Some("eli")));
    assert_eq!(data["devices"].as_array().unwrap().len(), 1);
    let kinds: Vec<&str> = data["activity"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["data_exported", "signed_up"]);
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("argon2"));
    let notice = mail_to(&f, mails + 1, "eli@example.com");
    assert!(unfolded(&notice).contains("was just downloaded"));
    w.close().await;
}

/// Two-step sign-in through the window: set up by reading the key off the screen and computing
/// the app's code in the test, the recovery codes shown once, then a sign-in with password and
/// code, another with a recovery code, and the second factor turned off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_sign_in_is_set_up_used_and_turned_off_in_the_window() {
    use latchkey_testkit::{authenticator_code, unix_now};
    let f = Fixture::new();
    let w = f.launch().await;
    f.sign_up(&w, "tia", "tia@example.com").await;
    assert!(w.text("to-second-factor").await.ends_with("off"));
    w.click("to-second-factor").await;
    w.wait_screen("second-factor-screen").await;
    w.axe("two-step sign-in, off").await;
    w.fill("second-factor-password", PASSWORD).await;
    w.click("second-factor-start").await;
    w.wait_visible("second-factor-enrol").await;
    let key = w.text("second-factor-secret").await;
    assert_eq!(key.replace('-', "").len(), 32, "a 20-byte key in base32: {key}");
    let drawn = w.js("return document.querySelectorAll('#second-factor-qr svg').length").await;
    assert_eq!(drawn, 1);
    w.axe("two-step sign-in, set-up").await;
    fits(&w, "two-step set-up").await;
    w.screenshot("second-factor-setup").await;
    // The step before now: the sign-in below uses now's.
    w.fill("second-factor-code", &authenticator_code(&key, unix_now() - 30)).await;
    w.click("second-factor-confirm").await;
    w.wait_visible("second-factor-codes").await;
    let read = "return [...document.querySelectorAll('#recovery-codes li')].map(li => li.textContent);";
    let codes: Vec<String> = serde_json::from_value(w.js(read).await).unwrap();
    assert_eq!(codes.len(), 10);
    w.axe("recovery codes").await;
    w.screenshot("second-factor-recovery-codes").await;
    w.click("recovery-codes-done").await;
    w.wait_screen("profile-screen").await;
    assert!(w.text("to-second-factor").await.ends_with("on"));

    // Password, then the app's code.
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.login("tia", PASSWORD).await;
    w.wait_screen("login-code-screen").await;
    w.axe("two-step sign-in code").await;
    w.fill("login-code", &authenticator_code(&key, unix_now())).await;
    w.screenshot("login-code").await;
    w.click("login-code-submit").await;
    w.wait_screen("profile-screen").await;

    // Password, then a recovery code; the same one again is refused.
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.login("tia", PASSWORD).await;
    w.wait_screen("login-code-screen").await;
    w.fill("login-code", &codes[0]).await;
    w.click("login-code-submit").await;
    w.wait_screen("profile-screen").await;

    // Off: the password and a code (a recovery code will do).
    w.click("to-second-factor").await;
    w.wait_screen("second-factor-screen").await;
    assert!(w.text("second-factor-info").await.contains("9 recovery codes are left"));
    w.fill("second-factor-password", PASSWORD).await;
    w.fill("second-factor-code", &codes[0]).await;
    w.click("second-factor-disable").await;
    w.wait_message("invalid_second_factor").await;
    w.fill("second-factor-code", &codes[1]).await;
    w.click("second-factor-disable").await;
    w.wait_screen("profile-screen").await;
    assert!(w.text("to-second-factor").await.ends_with("off"));
    w.close().await;
}
