//! The UI as people use it: the real window (WebKitGTK) through tauri-driver under Xvfb, mail to a
//! real SMTP server on loopback, the token in the real Secret Service. Each test starts from a
//! fresh data directory; time-based cases move timestamps in the test's own database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::fixture::{clear_keychain, kept_token, keychain_token, Fixture, PASSWORD};
use common::ui::{Window, ENTER, TAB};
use common::{code_in, contains_bytes, files_below};

fn other(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

async fn login(w: &Window, identifier: &str, password: &str) {
    w.fill("login-username", identifier).await;
    w.fill("login-password", password).await;
    w.click("login-submit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_sign_up_relaunch_logout_and_login_by_username_and_email() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    assert_eq!(w.focused_id().await, "signup-username", "focus starts in the first field");
    let overflow = w.js("return document.documentElement.scrollHeight - window.innerHeight;").await;
    assert!(overflow.as_i64().unwrap() <= 0, "the sign-up form fits the default window: {overflow} px too tall");
    w.axe("sign-up screen").await;
    w.screenshot("signup").await;

    let code = f.request_code(&w, "ann_happy", "Ann.Happy@Example.com").await;
    assert!(w.text("verify-info").await.contains("Ann.Happy@Example.com"));
    assert!(w.wait_message("").await.contains("Ann.Happy@Example.com"));
    assert_eq!(w.focused_id().await, "verify-code");
    w.axe("verify screen").await;
    w.screenshot("verify").await;

    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "ann_happy");
    assert_eq!(w.text("profile-email").await, "Ann.Happy@Example.com");
    assert!(!w.text("profile-joined").await.is_empty());
    assert!(w.text("profile-expires").await.contains(&(chrono_year_in_30_days())));
    kept_token(None).await; // the token is in the Secret Service
    w.axe("profile screen").await;
    w.screenshot("profile").await;
    w.close().await;

    let w = f.launch().await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "ann_happy");
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    assert!(keychain_token().is_none(), "sign-out removes the token");
    assert_eq!(f.count("sessions").await, 0);
    w.close().await;

    let w = f.launch().await;
    w.wait_screen("login-screen").await;
    w.axe("login screen").await;
    w.screenshot("login").await;
    login(&w, "ANN_HAPPY", PASSWORD).await;
    w.wait_screen("profile-screen").await;
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    login(&w, "ann.happy@example.com", PASSWORD).await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.text("profile-username").await, "ann_happy");
    kept_token(None).await;
    w.close().await;

    // Nothing secret in plaintext anywhere in the data directory; the database is private.
    use std::os::unix::fs::PermissionsExt;
    let db = f.data.path().join("latchkey.db");
    assert_eq!(std::fs::metadata(db).unwrap().permissions().mode() & 0o777, 0o600);
    let token = keychain_token().unwrap();
    for file in files_below(f.data.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [PASSWORD, code.as_str(), token.as_str()] {
            assert!(!contains_bytes(&bytes, secret.as_bytes()), "{} holds a secret", file.display());
        }
    }
}

/// The year shown for "signed in until" (30 days ahead), from the system clock like the window's.
fn chrono_year_in_30_days() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let days = (now + 30 * 86_400) / 86_400;
    // Civil-from-days (Howard Hinnant), enough for the year.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_errors_are_shown_on_their_fields() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;

    // The live hint applies the sign-up rules as the password is typed.
    w.fill("signup-username", "annie").await;
    w.fill("signup-email", "annie@example.com").await;
    for (typed, strength, words) in [
        ("password123", "weak", "most common"),
        ("annie-rocks-2024", "weak", "username"),
        ("zebra-lantern-quilt", "strong", "Strong"),
    ] {
        w.fill("signup-password", typed).await;
        let deadline = std::time::Instant::now() + common::ui::WAIT;
        while w.attr("signup-password-strength", "data-strength").await.as_deref() != Some(strength)
            || !w.text("signup-password-strength").await.contains(words)
        {
            assert!(std::time::Instant::now() < deadline, "{typed}: {}", w.text("signup-password-strength").await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    w.fill("signup-password", "password123").await;
    w.click("signup-submit").await;
    assert!(w.wait_message("invalid_input").await.contains("most common"));
    w.screenshot("error-common-password").await;

    let cases = [
        ("ab", "ann@example.com", PASSWORD, "signup-username", "3 to 150"),
        ("bad name", "ann@example.com", PASSWORD, "signup-username", "only letters"),
        ("annie", "not-an-email", PASSWORD, "signup-email", "valid email"),
        ("annie", "ann@example.com", "short", "signup-password", "at least 8"),
    ];
    for (username, email, password, field, words) in cases {
        w.fill_signup(username, email, password).await;
        w.clear_message().await; // the previous case left an invalid_input message too
        w.click("signup-submit").await;
        let detail = w.wait_message("invalid_input").await;
        assert!(detail.contains(words), "{field}: {detail}");
        assert_eq!(w.attr(field, "aria-invalid").await.as_deref(), Some("true"), "{field}");
        let described = w.attr(field, "aria-describedby").await.unwrap_or_default();
        assert!(described.contains(&format!("{field}-error")), "{field}: {described}");
        assert_eq!(w.focused_id().await, field);
        if field == "signup-email" {
            w.axe("invalid email").await;
            w.screenshot("error-invalid-email").await;
        }
    }
    assert_eq!(f.count("pending_signups").await, 0);
    assert!(f.smtp.messages().is_empty());

    // Taken username and email (the email compared case-insensitively).
    f.sign_up(&w, "taken_one", "taken@example.com").await;
    w.click("logout").await;
    w.wait_screen("login-screen").await;
    w.click("to-signup").await;
    w.wait_screen("signup-screen").await;
    // A username is public: a taken one is said.
    w.fill_signup("TAKEN_ONE", "fresh@example.com", PASSWORD).await;
    w.click("signup-submit").await;
    w.wait_message("username_taken").await;
    assert_eq!(f.count("pending_signups").await, 0);
    // An address is not: the window goes to the code step as for a new one, and the address's
    // owner is told instead of sent a code.
    let before = f.smtp.messages().len();
    f.age_mail_sends().await; // this window's last code mail to the address was moments ago
    w.fill_signup("fresh_one", "Taken@EXAMPLE.com", PASSWORD).await;
    w.click("signup-submit").await;
    w.wait_screen("verify-screen").await;
    let notice = f.smtp.wait_for_message(before + 1);
    assert!(notice.contains("taken@example.com") && notice.contains("tried to sign up"), "{notice}");
    assert!(latchkey_testkit::code_of(&notice).is_none(), "the owner gets no code");
    w.axe("address taken").await;
    w.screenshot("signup-address-taken").await;
    assert_eq!(f.count("users").await, 1);
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_errors_wrong_code_attempt_limit_too_soon_expired_and_missing() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    let code = f.request_code(&w, "vera", "vera@example.com").await;

    // Early resend: refused with the seconds to wait, and the countdown is on the button.
    assert!(w.text("verify-resend").await.contains("in "), "countdown shown");
    w.click("verify-resend").await;
    let detail = w.wait_message("resend_too_soon").await;
    assert!(detail.contains("second"), "{detail}");
    assert_eq!(f.smtp.messages().len(), 1);

    // Wrong codes count down, the fifth ends the sign-up.
    for left in (1..=4).rev() {
        w.fill("verify-code", &other(&code)).await;
        w.click("verify-submit").await;
        let deadline = std::time::Instant::now() + common::ui::WAIT;
        let detail = loop {
            let detail = w.wait_message("invalid_code").await;
            if detail.contains(&format!("{left} attempt")) {
                break detail;
            }
            assert!(std::time::Instant::now() < deadline, "never {left} attempts left: {detail}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(detail.contains("left"), "{detail}");
        if left == 4 {
            assert_eq!(w.attr("verify-code", "aria-invalid").await, None, "a wrong code is not malformed input");
            w.axe("wrong code").await;
            w.screenshot("error-wrong-code").await;
        }
    }
    w.fill("verify-code", &other(&code)).await;
    w.click("verify-submit").await;
    w.wait_message("too_many_attempts").await;
    assert_eq!(f.count("pending_signups").await, 0);
    w.screenshot("error-too-many-attempts").await;
    // After that even the right code fails.
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_message("no_pending_signup").await;
    assert_eq!(f.count("users").await, 0);
    w.click("verify-back").await;
    w.wait_screen("signup-screen").await;

    // Expired: the code's ten minutes are moved into the past.
    f.age_mail_sends().await; // the per-address mail limit would hold the next code for a minute
    let code = f.request_code(&w, "vera", "vera@example.com").await;
    f.exec("UPDATE pending_signups SET expires_at = expires_at - 601").await;
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_message("code_expired").await;
    assert_eq!(f.count("pending_signups").await, 0);
    w.click("verify-back").await;
    w.wait_screen("signup-screen").await;

    // No pending sign-up: it vanished (say, purged) while the verify screen was open.
    f.age_mail_sends().await;
    let code = f.request_code(&w, "vera", "vera@example.com").await;
    f.exec("DELETE FROM pending_signups").await;
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_message("no_pending_signup").await;
    assert_eq!(f.count("users").await, 0);
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_after_the_cooldown_replaces_the_code_and_go_back_keeps_the_fields() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    let old = f.request_code(&w, "rhea", "rhea@example.com").await;

    // "Wrong address? Go back" returns to the filled-in form.
    w.click("verify-back").await;
    w.wait_screen("signup-screen").await;
    assert_eq!(w.el("signup-username").await.prop("value").await.unwrap().as_deref(), Some("rhea"));
    assert_eq!(w.el("signup-email").await.prop("value").await.unwrap().as_deref(), Some("rhea@example.com"));
    let old = {
        // Submitting again replaces the pending sign-up with a new code.
        let _ = old;
        f.age_mail_sends().await; // the per-address mail limit would hold it for a minute
        f.request_code(&w, "rhea", "rhea@example.com").await
    };
    assert_eq!(f.count("pending_signups").await, 1, "the window's earlier sign-up was replaced, not kept");

    f.exec("UPDATE pending_signups SET last_sent_at = last_sent_at - 60").await;
    f.age_mail_sends().await;
    w.clear_message().await;
    w.click("verify-resend").await;
    let detail = w.wait_message("").await;
    assert!(detail.contains("new"), "{detail}");
    let new = code_in(&f.smtp.wait_for_message(3));
    w.screenshot("verify-resent").await;
    if new != old {
        w.fill("verify-code", &old).await;
        w.click("verify-submit").await;
        w.wait_message("invalid_code").await;
    }
    // Pasted with a dash.
    w.fill("verify-code", &format!("{}-{}", &new[..3], &new[3..])).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_failure_is_clear_leaves_nothing_and_a_retry_works() {
    let mut f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.smtp.stop();
    w.fill_signup("mona", "mona@example.com", PASSWORD).await;
    w.click("signup-submit").await;
    let detail = w.wait_message("mail_failed").await;
    assert!(detail.contains("try again"), "{detail}");
    assert!(w.visible("signup-screen").await);
    assert_eq!(f.count("pending_signups").await, 0);
    w.axe("mail failed").await;
    w.screenshot("error-mail-failed").await;

    f.smtp.restart();
    w.click("signup-submit").await;
    w.wait_screen("verify-screen").await;
    let code = code_in(&f.smtp.wait_for_message(1));
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_credentials_are_the_same_for_every_reason() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "lena", "lena@example.com").await;
    w.click("logout").await;
    w.wait_screen("login-screen").await;

    login(&w, "lena", "wrong horse battery").await;
    let wrong = w.wait_message("invalid_credentials").await;
    w.axe("invalid credentials").await;
    w.screenshot("error-invalid-credentials").await;
    w.clear_message().await;
    login(&w, "nobody_here", PASSWORD).await;
    assert_eq!(w.wait_message("invalid_credentials").await, wrong);
    w.clear_message().await;
    f.exec("UPDATE users SET is_active = 0").await;
    login(&w, "lena", PASSWORD).await;
    assert_eq!(w.wait_message("invalid_credentials").await, wrong);
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_opens_on_login_and_leaves_the_keychain() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "exp", "exp@example.com").await;
    kept_token(None).await;
    w.close().await;

    f.exec("UPDATE sessions SET expires_at = strftime('%s', 'now') - 1").await;
    let w = f.launch().await;
    w.wait_screen("login-screen").await;
    assert!(keychain_token().is_none(), "the expired token is removed from the keychain");
    assert_eq!(f.count("sessions").await, 0, "and purged from the database");
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keychain_sign_in_works_for_this_run_and_says_so() {
    let f = Fixture::with_env(&[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/latchkey-no-bus".into())]);
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    f.sign_up(&w, "kim", "kim@example.com").await;
    // The profile shows at once; the keychain's failure is said as soon as it is known.
    let detail = w.wait_message_saying("keychain is not available").await;
    assert!(detail.starts_with("Welcome"), "the greeting stays: {detail}");
    w.screenshot("keychain-unavailable").await;
    w.close().await;
    clear_keychain();
    let w = f.launch().await;
    w.wait_screen("login-screen").await;
    login(&w, "kim", PASSWORD).await;
    w.wait_screen("profile-screen").await;
    w.wait_message_saying("keychain is not available").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_submission_sends_one_request_and_one_email() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    w.fill_signup("dora", "dora@example.com", PASSWORD).await;
    // Two clicks and a submit in the same moment, then Enter pressed for real (a WebDriver key
    // action, a trusted event) while the request is still running, as an impatient person would.
    w.js("const b = document.getElementById('signup-submit'); b.click(); b.click(); b.form.requestSubmit();").await;
    w.el("signup-password").await.send_keys(ENTER).await.ok(); // the field may already be inert or hidden
    w.wait_screen("verify-screen").await;
    let code = code_in(&f.smtp.wait_for_message(1));
    // The button is back; had a second request gone out, its email would be here by now.
    w.el("signup-submit").await;
    w.js("return new Promise(r => setTimeout(r, 300));").await;
    assert_eq!(f.smtp.messages().len(), 1, "one email");
    w.fill("verify-code", &code).await;
    w.js("const b = document.getElementById('verify-submit'); b.click(); b.click();").await;
    w.wait_screen("profile-screen").await;
    assert_eq!((f.count("users").await, f.count("sessions").await), (1, 1));
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_sign_up_with_the_keyboard_alone() {
    let f = Fixture::new();
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    assert_eq!(w.focused_id().await, "signup-username");
    w.keys(&format!("kbd_user{TAB}")).await;
    assert_eq!(w.focused_id().await, "signup-email");
    w.keys(&format!("kbd@example.com{TAB}")).await;
    assert_eq!(w.focused_id().await, "signup-password");
    w.keys(&format!("{PASSWORD}{ENTER}")).await;
    w.wait_screen("verify-screen").await;
    let code = code_in(&f.smtp.wait_for_message(1));
    assert_eq!(w.focused_id().await, "verify-code");
    w.keys(&format!("{code}{ENTER}")).await;
    w.wait_screen("profile-screen").await;
    assert_eq!(w.focused_id().await, "profile-title", "focus moves to the new screen's heading");
    w.keys(TAB).await;
    assert_eq!(w.focused_id().await, "logout");
    w.keys(ENTER).await;
    w.wait_screen("login-screen").await;
    assert_eq!(w.focused_id().await, "login-username");
    w.keys(&format!("kbd_user{TAB}{PASSWORD}{ENTER}")).await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_mode_says_where_the_message_was_written() {
    let f = Fixture::with_env(&[("SMTP_HOST", String::new())]);
    let w = f.launch().await;
    w.wait_screen("signup-screen").await;
    w.fill_signup("otto", "otto@example.com", PASSWORD).await;
    w.click("signup-submit").await;
    w.wait_screen("verify-screen").await;
    let detail = w.wait_message("").await;
    let outbox = f.data.path().join("outbox");
    assert!(detail.contains("not set up") && detail.contains(&outbox.display().to_string()), "{detail}");
    assert!(w.text("verify-info").await.contains("saved as a file"));
    assert!(f.smtp.messages().is_empty());
    let file = std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path();
    let code = code_in(&std::fs::read_to_string(&file).unwrap());
    assert!(!w.js("return document.body.innerText;").await.as_str().unwrap().contains(&code), "code never shown");
    w.axe("outbox notice").await;
    w.screenshot("verify-outbox").await;
    w.fill("verify-code", &code).await;
    w.click("verify-submit").await;
    w.wait_screen("profile-screen").await;
    w.close().await;
}
