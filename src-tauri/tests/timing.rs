//! Login and reset timing, in its own test binary so no other test shares the machine while it measures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use latchkey_lib::auth::{account, login, signup, Device};
use latchkey_lib::config::DEFAULT_FROM;
use latchkey_lib::mail::{Delivery, Mailer};
use latchkey_lib::{store, Error};

/// The device the test's sessions are recorded for.
const HERE: Device<'static> = Device { label: "Test desktop", ip: None };

const PASSWORD: &str = "correct horse battery";

/// The medians of both samples in milliseconds, and unknown / known.
fn medians(mut known: Vec<Duration>, mut unknown: Vec<Duration>) -> (f64, f64, f64) {
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    (k, u, u / k)
}

/// A fresh database with one account, "timer" (timer@example.com), and its outbox mailer.
async fn timer_account() -> (tempfile::TempDir, sqlx::SqlitePool, Mailer) {
    let dir = tempfile::tempdir().unwrap();
    let pool = store::open(&dir.path().join("latchkey.db")).await.unwrap();
    let outbox = Mailer::outbox(&dir.path().join("outbox"), DEFAULT_FROM).unwrap();
    add_account(&pool, &outbox, "timer").await;
    (dir, pool, outbox)
}

/// The account NAME (NAME@example.com, password `PASSWORD`), signed up and verified.
async fn add_account(pool: &sqlx::SqlitePool, outbox: &Mailer, name: &str) {
    let email = format!("{name}@example.com");
    let req = signup::SignupRequest { username: name, email: &email, password: PASSWORD, replaces: None };
    let sent = signup::request_code(pool, outbox, req, latchkey_lib::auth::THIS_WINDOW, 1_000).await.unwrap();
    let Delivery::Outbox { path } = &sent.delivery else { panic!("outbox expected") };
    let code = common::code_in(&std::fs::read_to_string(path).unwrap());
    signup::verify(pool, outbox, sent.signup_id(), &code, HERE, 1_000).await.unwrap();
}

/// A shared 2-core machine has bursts of other work (a build's pages being written back, another
/// process's argon2): a round whose medians fall outside the band is measured again, up to this
/// many rounds in all. A real difference (no hashing, or mail sent before answering, for one
/// kind) is 2x or more in every round.
const ROUNDS: usize = 3;

/// Whether a round's ratio is within the band every timing test holds to.
fn alike(ratio: f64) -> bool {
    (0.9..=1.1).contains(&ratio)
}

/// The timing tests measure one at a time: run side by side they would time each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_and_wrong_password_take_the_same_time() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (_dir, pool, _outbox) = timer_account().await;
    let timed = |identifier: String| {
        let pool = pool.clone();
        async move {
            // Throttling would skip the argon2 work; this test measures the work itself.
            sqlx::query("DELETE FROM login_throttle").execute(&pool).await.unwrap();
            let started = Instant::now();
            let result = login::login(&pool, &identifier, "wrong horse battery", HERE, 1_000).await;
            let elapsed = started.elapsed();
            assert!(matches!(result, Err(Error::InvalidCredentials)));
            elapsed
        }
    };
    // Warm-up, then alternate so both see the same machine load.
    timed("timer".into()).await;
    timed("nobody".into()).await;
    let mut ratios = vec![];
    for round in 1..=ROUNDS {
        let (mut known, mut unknown) = (vec![], vec![]);
        for i in 0..30 {
            // Which goes first alternates: argon2's worker threads take jobs in turn, so a fixed
            // order would always give one kind the same thread (and that thread's core).
            if i % 2 == 0 {
                known.push(timed("timer".into()).await);
                unknown.push(timed(format!("nobody{i}")).await);
            } else {
                unknown.push(timed(format!("nobody{i}")).await);
                known.push(timed("timer".into()).await);
            }
        }
        let (k, u, ratio) = medians(known, unknown);
        println!(
            "figure: timing: median login {k:.1} ms for a wrong password, {u:.1} ms for an unknown user (ratio {ratio:.3}, 30 each, round {round})"
        );
        if alike(ratio) {
            return;
        }
        ratios.push(ratio);
    }
    panic!("ratios {ratios:?}");
}

/// An operator's deactivation says nothing to someone trying the account: its right password
/// answers as any wrong password does, in the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_account_answers_its_right_password_as_a_wrong_one_in_the_same_time() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (_dir, pool, outbox) = timer_account().await;
    add_account(&pool, &outbox, "gone").await;
    let deactivate = store::AdminAction::Deactivate;
    latchkey_lib::auth::admin::act(&pool, &outbox, "gone", deactivate, "timing test", 1_000).await.unwrap();
    let timed = |identifier: &'static str, password: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("DELETE FROM login_throttle").execute(&pool).await.unwrap();
            let started = Instant::now();
            let result = login::login(&pool, identifier, password, HERE, 1_000).await;
            let elapsed = started.elapsed();
            assert!(matches!(result, Err(Error::InvalidCredentials)), "{identifier}: {result:?}");
            elapsed
        }
    };
    timed("timer", "wrong horse battery").await;
    timed("gone", PASSWORD).await;
    let mut ratios = vec![];
    for round in 1..=ROUNDS {
        let (mut wrong, mut deactivated) = (vec![], vec![]);
        for i in 0..30 {
            if i % 2 == 0 {
                wrong.push(timed("timer", "wrong horse battery").await);
                deactivated.push(timed("gone", PASSWORD).await);
            } else {
                deactivated.push(timed("gone", PASSWORD).await);
                wrong.push(timed("timer", "wrong horse battery").await);
            }
        }
        let (w, d, ratio) = medians(wrong, deactivated);
        println!(
            "figure: deactivation timing: median login {w:.1} ms for a wrong password, {d:.1} ms for a deactivated account's right password (ratio {ratio:.3}, 30 each, round {round})"
        );
        if alike(ratio) {
            return;
        }
        ratios.push(ratio);
    }
    panic!("ratios {ratios:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_request_takes_the_same_time_for_a_known_and_an_unknown_address() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (dir, pool, outbox) = timer_account().await;
    let timed = |email: &'static str, now: i64| {
        let (pool, outbox) = (pool.clone(), outbox.clone());
        async move {
            // The per-address mail limits would refuse early; this test measures the work itself.
            sqlx::query("DELETE FROM mail_sends").execute(&pool).await.unwrap();
            let started = Instant::now();
            let reply =
                account::request_reset(&pool, &outbox, email, latchkey_lib::auth::THIS_WINDOW, now).await.unwrap();
            (started.elapsed(), serde_json::to_value(reply).unwrap())
        }
    };
    // Warm-up, then alternate so both see the same machine load; each round is past the cooldown.
    timed("timer@example.com", 2_000).await;
    timed("nobody@example.com", 2_000).await;
    // The known address's mail is written in the background: wait for it before the next
    // measurement, so its disk write is not billed to the unknown address.
    let written = |n: usize| {
        let dir = dir.path().join("outbox");
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::fs::read_dir(&dir).map_or(0, |d| d.count()) < n {
                assert!(Instant::now() < deadline, "the reset mail was not written");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    written(1).await;
    let mut ratios = vec![];
    for round in 1..=ROUNDS {
        let base = std::fs::read_dir(dir.path().join("outbox")).map_or(0, |d| d.count());
        let (mut known, mut unknown) = (vec![], vec![]);
        for i in 1..=40 {
            let now = 2_000 + 61 * (i + 40 * round as i64);
            // Which goes first alternates, as in the login test.
            let ((k, mut k_reply), (u, mut u_reply)) = if i % 2 == 0 {
                let known = timed("timer@example.com", now).await;
                written(base + i as usize).await;
                (known, timed("nobody@example.com", now).await)
            } else {
                let unknown = timed("nobody@example.com", now).await;
                let known = timed("timer@example.com", now).await;
                written(base + i as usize).await;
                (known, unknown)
            };
            for reply in [&mut k_reply, &mut u_reply] {
                let reply = reply.as_object_mut().unwrap();
                reply.remove("email");
                assert!(reply.remove("reset_id").is_some(), "each gets its own reset id");
            }
            assert_eq!(k_reply, u_reply, "the same reply");
            known.push(k);
            unknown.push(u);
        }
        let (k, u, ratio) = medians(known, unknown);
        println!(
            "figure: reset timing: median reset request {k:.1} ms for a known address, {u:.1} ms for an unknown one (ratio {ratio:.3}, 40 each, round {round})"
        );
        // A leak (mail sent before answering, no hashing for an unknown address) would be 2x or more.
        if alike(ratio) {
            return;
        }
        ratios.push(ratio);
    }
    panic!("ratios {ratios:?}");
}

/// A sign-up for an address that has an account does the same work as one for a new address
/// (both hashes, one mail awaited: the owner's notice instead of the code) and answers alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_takes_the_same_time_for_a_new_and_a_taken_address() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (_dir, pool, outbox) = timer_account().await;
    let timed = |email: String, now: i64| {
        let (pool, outbox) = (pool.clone(), outbox.clone());
        async move {
            // The per-address and per-requester limits would refuse early; this measures the work.
            sqlx::query("DELETE FROM mail_sends").execute(&pool).await.unwrap();
            let req = signup::SignupRequest { username: "newcomer", email: &email, password: PASSWORD, replaces: None };
            let started = Instant::now();
            let reply = signup::request_code(&pool, &outbox, req, latchkey_lib::auth::THIS_WINDOW, now).await.unwrap();
            let elapsed = started.elapsed();
            let mut reply = serde_json::to_value(reply).unwrap();
            let reply = reply.as_object_mut().unwrap();
            for random in ["email", "signup_id", "delivery"] {
                assert!(reply.remove(random).is_some(), "{random}");
            }
            (elapsed, serde_json::Value::Object(reply.clone()))
        }
    };
    timed("timer@example.com".into(), 2_000).await;
    timed("new0@example.com".into(), 2_000).await;
    let mut ratios = vec![];
    for round in 1..=ROUNDS {
        let (mut taken, mut new) = (vec![], vec![]);
        for i in 1..=30 {
            let now = 2_000 + i + 30 * round as i64;
            let ((t, t_reply), (n, n_reply)) = if i % 2 == 0 {
                let t = timed("timer@example.com".into(), now).await;
                (t, timed(format!("new{i}@example.com"), now).await)
            } else {
                let n = timed(format!("new{i}@example.com"), now).await;
                (timed("timer@example.com".into(), now).await, n)
            };
            assert_eq!(t_reply, n_reply, "the same reply");
            taken.push(t);
            new.push(n);
        }
        let (t, n, ratio) = medians(taken, new);
        println!(
            "figure: sign-up timing: median sign-up {t:.1} ms for a taken address, {n:.1} ms for a new one (ratio {ratio:.3}, 30 each, round {round})"
        );
        // A leak (no hashing, or no mail awaited, for a taken address) would be 2x or more.
        if alike(ratio) {
            return;
        }
        ratios.push(ratio);
    }
    panic!("ratios {ratios:?}");
}
