//! A step that acts on an account after a slow check (argon2) acts only on the account it read.
//! Each test holds one domain step at a store call (the `Gated` store below) until an attacker's
//! other requests and a stranger's sign-up have committed, then lets it go: the race an attacker
//! would need to win, made certain instead of likely. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::{Arc, Mutex};

use latchkey_core::auth::signup::SignupRequest;
use latchkey_core::auth::{Device, NewSession, THIS_WINDOW};
use latchkey_core::contract::{system_clock, Accounts, DatabaseAccounts};
use latchkey_core::error::{Error, Result};
use latchkey_core::store::*;
use latchkey_testkit::{code_in, SmtpServer, TestDatabase};
use tokio::sync::{oneshot, Notify};

/// The device the test's sessions are recorded for.
const HERE: Device<'static> = Device { label: "Test desktop", ip: None };

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a different horse battery";

/// Where a held step is: the store call it waits at, a signal when it gets there, and the word
/// to go on.
#[derive(Default)]
struct Gate {
    armed: Mutex<Option<(&'static str, oneshot::Sender<()>)>>,
    go: Notify,
}

/// A store that forwards every call, except that the first call of the armed method waits for
/// `Gate::go` after saying it arrived.
#[derive(Clone)]
struct Gated<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S> Gated<S> {
    async fn gate(&self, method: &'static str) {
        let arrived = {
            let mut armed = self.gate.armed.lock().unwrap();
            match armed.take() {
                Some((name, tx)) if name == method => Some(tx),
                other => {
                    *armed = other;
                    None
                }
            }
        };
        if let Some(tx) = arrived {
            let go = self.gate.go.notified();
            let _ = tx.send(());
            go.await;
        }
    }

    fn arm(&self, method: &'static str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.gate.armed.lock().unwrap() = Some((method, tx));
        rx
    }
}

impl<S: Store> Store for Gated<S> {
    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.gate("purge_expired").await;
        self.inner.purge_expired(now).await
    }
    async fn ping(&self) -> Result<()> {
        self.gate("ping").await;
        self.inner.ping().await
    }
    async fn close(&self) {
        self.gate("close").await;
        self.inner.close().await
    }
    fn connections(&self) -> latchkey_core::store::PoolUse {
        self.inner.connections()
    }
}

impl<S: Store> AccountStore for Gated<S> {
    async fn count_users(&self) -> Result<i64> {
        self.gate("count_users").await;
        self.inner.count_users().await
    }
    async fn username_exists(&self, username_key: &str, skeleton: &str) -> Result<bool> {
        self.gate("username_exists").await;
        self.inner.username_exists(username_key, skeleton).await
    }
    async fn find_user_by_email(&self, email_key: &str) -> Result<Option<UserRow>> {
        self.gate("find_user_by_email").await;
        self.inner.find_user_by_email(email_key).await
    }
    async fn find_users_for_login(&self, username_key: &str, email_key: &str) -> Result<Vec<UserRow>> {
        self.gate("find_users_for_login").await;
        self.inner.find_users_for_login(username_key, email_key).await
    }
    async fn find_user(&self, id: i64) -> Result<Option<UserRow>> {
        self.gate("find_user").await;
        self.inner.find_user(id).await
    }
    async fn find_active_user_by_email(&self, email_key: &str) -> Result<Option<UserRow>> {
        self.gate("find_active_user_by_email").await;
        self.inner.find_active_user_by_email(email_key).await
    }
    async fn address_is_a_username(&self, email_key: &str) -> Result<bool> {
        self.gate("address_is_a_username").await;
        self.inner.address_is_a_username(email_key).await
    }
    async fn rehash_password(&self, seen: Seen<'_>, password_hash: &str) -> Result<bool> {
        self.gate("rehash_password").await;
        self.inner.rehash_password(seen, password_hash).await
    }
    async fn complete_signup(
        &self,
        pending: &PendingRow,
        username_skeleton: &str,
        session: &NewSessionRow<'_>,
    ) -> Result<ProfileRow> {
        self.gate("complete_signup").await;
        self.inner.complete_signup(pending, username_skeleton, session).await
    }
    async fn replace_password(
        &self,
        seen: Seen<'_>,
        password_hash: &str,
        code: Option<&CodeRow>,
        throttle_key: &str,
        session: Option<&NewSessionRow<'_>>,
        now: i64,
    ) -> Result<Option<ProfileRow>> {
        self.gate("replace_password").await;
        self.inner.replace_password(seen, password_hash, code, throttle_key, session, now).await
    }
    async fn change_email(&self, seen: Seen<'_>, code: &CodeRow, session: &NewSessionRow<'_>) -> Result<ProfileRow> {
        self.gate("change_email").await;
        self.inner.change_email(seen, code, session).await
    }
    async fn delete_account(&self, seen: Seen<'_>, throttle_key: &str, now: i64) -> Result<()> {
        self.gate("delete_account").await;
        self.inner.delete_account(seen, throttle_key, now).await
    }
}

impl<S: Store> AdminStore for Gated<S> {
    async fn search_users(&self, prefix: &str, after: i64, limit: i64, now: i64) -> Result<Vec<AdminUserRow>> {
        self.inner.search_users(prefix, after, limit, now).await
    }
    async fn show_user(&self, user_id: i64, now: i64) -> Result<Option<AdminUserRow>> {
        self.inner.show_user(user_id, now).await
    }
    async fn admin_act(&self, user_id: i64, action: AdminAction, event: &NewEvent<'_>) -> Result<u64> {
        self.gate("admin_act").await;
        self.inner.admin_act(user_id, action, event).await
    }
    async fn sign_in_gates(&self, user_id: i64) -> Result<SignInGates> {
        self.inner.sign_in_gates(user_id).await
    }
}

impl<S: Store> SecondFactorStore for Gated<S> {
    async fn start_second_factor(&self, user_id: i64, secret: &[u8], now: i64) -> Result<bool> {
        self.inner.start_second_factor(user_id, secret, now).await
    }
    async fn find_second_factor(&self, user_id: i64) -> Result<Option<SecondFactorRow>> {
        self.inner.find_second_factor(user_id).await
    }
    async fn change_second_factor(
        &self,
        user_id: i64,
        proof: Proof<'_>,
        change: FactorChange<'_>,
        event: &NewEvent<'_>,
    ) -> Result<bool> {
        self.gate("change_second_factor").await;
        self.inner.change_second_factor(user_id, proof, change, event).await
    }
    async fn add_login_challenge(&self, challenge_hash: &[u8], seen: Seen<'_>, expires_at: i64) -> Result<()> {
        self.inner.add_login_challenge(challenge_hash, seen, expires_at).await
    }
    async fn find_login_challenge(&self, challenge_hash: &[u8], now: i64) -> Result<Option<ChallengeRow>> {
        self.inner.find_login_challenge(challenge_hash, now).await
    }
    async fn complete_second_factor_login(
        &self,
        challenge_hash: &[u8],
        throttle_key: &str,
        seen: Seen<'_>,
        proof: Proof<'_>,
        session: &NewSessionRow<'_>,
        known_since: i64,
    ) -> Result<SecondFactorSignIn> {
        self.gate("complete_second_factor_login").await;
        self.inner.complete_second_factor_login(challenge_hash, throttle_key, seen, proof, session, known_since).await
    }
}

impl<S: Store> EventStore for Gated<S> {
    async fn record_event(&self, event: &NewEvent<'_>) -> Result<()> {
        self.inner.record_event(event).await
    }
    async fn record_event_at_most_every(&self, event: &NewEvent<'_>, every: i64) -> Result<()> {
        self.inner.record_event_at_most_every(event, every).await
    }
    async fn list_events(&self, user_id: i64, since: i64, before: i64, limit: i64) -> Result<Vec<EventRow>> {
        self.inner.list_events(user_id, since, before, limit).await
    }
    async fn note_device(&self, user_id: i64, device: &str, network: &str, now: i64, known_since: i64) -> Result<bool> {
        self.gate("note_device").await;
        self.inner.note_device(user_id, device, network, now, known_since).await
    }
    async fn purge_events(&self, before: i64, devices_before: i64) -> Result<u64> {
        self.inner.purge_events(before, devices_before).await
    }
}

impl<S: Store> SessionStore for Gated<S> {
    async fn complete_login(
        &self,
        throttle_key: &str,
        seen: Seen<'_>,
        session: &NewSessionRow<'_>,
        known_since: i64,
    ) -> Result<Option<SignedInRow>> {
        self.gate("complete_login").await;
        self.inner.complete_login(throttle_key, seen, session, known_since).await
    }
    async fn find_session_profile(&self, token_hash: &[u8], now: i64) -> Result<Option<ProfileRow>> {
        self.gate("find_session_profile").await;
        self.inner.find_session_profile(token_hash, now).await
    }
    async fn find_session_user(&self, token_hash: &[u8], now: i64) -> Result<Option<UserRow>> {
        self.gate("find_session_user").await;
        self.inner.find_session_user(token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &[u8]) -> Result<bool> {
        self.gate("delete_session").await;
        self.inner.delete_session(token_hash).await
    }
    async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<()> {
        self.gate("touch_session").await;
        self.inner.touch_session(token_hash, now).await
    }
    async fn list_sessions(&self, user_id: i64, token_hash: &[u8], now: i64) -> Result<Vec<DeviceRow>> {
        self.gate("list_sessions").await;
        self.inner.list_sessions(user_id, token_hash, now).await
    }
    async fn end_sessions(&self, user_id: i64, token_hash: &[u8], public_id: Option<&str>, now: i64) -> Result<u64> {
        self.gate("end_sessions").await;
        self.inner.end_sessions(user_id, token_hash, public_id, now).await
    }
    async fn session_was_ended(&self, token_hash: &[u8]) -> Result<bool> {
        self.gate("session_was_ended").await;
        self.inner.session_was_ended(token_hash).await
    }
}

impl<S: Store> CodeStore for Gated<S> {
    async fn insert_pending_signup(&self, new: &NewPending<'_>, replaces: Option<&[u8]>) -> Result<i64> {
        self.gate("insert_pending_signup").await;
        self.inner.insert_pending_signup(new, replaces).await
    }
    async fn pending_signup_tags(&self) -> Result<Vec<String>> {
        self.gate("pending_signup_tags").await;
        self.inner.pending_signup_tags().await
    }
    async fn find_pending_by_owner(&self, owner_hash: &[u8]) -> Result<Option<PendingRow>> {
        self.gate("find_pending_by_owner").await;
        self.inner.find_pending_by_owner(owner_hash).await
    }
    async fn find_pending_by_address(&self, email_key: &str, username_key: &str) -> Result<Vec<PendingRow>> {
        self.gate("find_pending_by_address").await;
        self.inner.find_pending_by_address(email_key, username_key).await
    }
    async fn reserve_code_attempt(&self, table: CodeTable, id: i64, code_hash: &str, max: i64) -> Result<Option<i64>> {
        self.gate("reserve_code_attempt").await;
        self.inner.reserve_code_attempt(table, id, code_hash, max).await
    }
    async fn swap_code(&self, table: CodeTable, id: i64, old: &CodeState<'_>, new: &CodeState<'_>) -> Result<bool> {
        self.gate("swap_code").await;
        self.inner.swap_code(table, id, old, new).await
    }
    async fn delete_code(&self, table: CodeTable, id: i64) -> Result<()> {
        self.gate("delete_code").await;
        self.inner.delete_code(table, id).await
    }
    async fn delete_code_if(&self, table: CodeTable, id: i64, code_hash: &str) -> Result<bool> {
        self.gate("delete_code_if").await;
        self.inner.delete_code_if(table, id, code_hash).await
    }
    async fn find_account_code(&self, subject: Subject<'_>) -> Result<Option<CodeRow>> {
        self.gate("find_account_code").await;
        self.inner.find_account_code(subject).await
    }
    async fn replace_account_code(&self, new: &NewCode<'_>, cooldown: i64) -> Result<std::result::Result<i64, i64>> {
        self.gate("replace_account_code").await;
        self.inner.replace_account_code(new, cooldown).await
    }
    async fn refund_code_attempt(&self, id: i64, code_hash: &str) -> Result<()> {
        self.gate("refund_code_attempt").await;
        self.inner.refund_code_attempt(id, code_hash).await
    }
}

impl<S: Store> LimitStore for Gated<S> {
    async fn reserve_login_attempt(&self, key: &str, policy: LockPolicy, now: i64) -> Result<Reservation> {
        self.gate("reserve_login_attempt").await;
        self.inner.reserve_login_attempt(key, policy, now).await
    }
    async fn clear_login_throttle(&self, key: &str) -> Result<()> {
        self.gate("clear_login_throttle").await;
        self.inner.clear_login_throttle(key).await
    }
    async fn reserve_mail_slot(
        &self,
        address_key: &str,
        requester: &str,
        limits: MailLimits,
        now: i64,
    ) -> Result<std::result::Result<i64, i64>> {
        self.gate("reserve_mail_slot").await;
        self.inner.reserve_mail_slot(address_key, requester, limits, now).await
    }
    async fn release_mail_slot(&self, id: i64) -> Result<()> {
        self.gate("release_mail_slot").await;
        self.inner.release_mail_slot(id).await
    }
}

struct World {
    smtp: SmtpServer,
    db: TestDatabase,
}

async fn gated<S: Store>(pool: S, smtp: &SmtpServer) -> DatabaseAccounts<Gated<S>> {
    let pool = Gated { inner: pool, gate: Arc::new(Gate::default()) };
    DatabaseAccounts { pool, mailer: common::mailer(smtp), clock: system_clock() }
}

async fn sign_up<S: Store>(accounts: &DatabaseAccounts<S>, smtp: &SmtpServer, name: &str, email: &str) -> NewSession {
    let sent = started(accounts, name, email).await;
    verify(accounts, smtp, email, &sent).await
}

async fn started<S: Store>(accounts: &DatabaseAccounts<S>, name: &str, email: &str) -> String {
    let request = SignupRequest { username: name, email, password: PASSWORD, replaces: None };
    accounts.request_signup(request, THIS_WINDOW).await.unwrap().signup_id().to_string()
}

async fn verify<S: Store>(
    accounts: &DatabaseAccounts<S>,
    smtp: &SmtpServer,
    email: &str,
    signup_id: &str,
) -> NewSession {
    let code = code_in(&smtp.wait_for_mail(email, "verification code").await);
    accounts.verify_signup(signup_id, &code, HERE).await.unwrap()
}

/// Which of the attacker's steps straddles the delete.
#[derive(Clone, Copy, Debug)]
enum Step {
    ChangePassword,
    Login,
    Delete,
}

/// Mallory (the newest account) holds `step` after its argon2 check; meanwhile her account is
/// deleted from another session and Victor verifies his sign-up (on SQLite without AUTOINCREMENT
/// he would get Mallory's id). Then the step goes on. It must fail as signed out / wrong
/// credentials and leave Victor's account exactly as it was.
async fn race<S: Store>(pool: S, world: &World, step: Step) {
    let smtp = &world.smtp;
    let accounts = Arc::new(gated(pool, smtp).await);
    sign_up(&accounts, smtp, "ann", "ann@example.org").await;
    let mallory = sign_up(&accounts, smtp, "mallory", "mallory@example.org").await;
    let other = accounts.login("mallory", PASSWORD, HERE).await.unwrap();
    let victor_signup = started(&accounts, "victor", "victor@example.org").await;

    let (method, held) = match step {
        Step::ChangePassword => ("replace_password", accounts.clone()),
        Step::Login => ("complete_login", accounts.clone()),
        Step::Delete => ("delete_account", accounts.clone()),
    };
    let arrived = accounts.pool.arm(method);
    let token = mallory.token.clone();
    // What the held step got: `Ok` names whose account it acted on.
    let held = tokio::spawn(async move {
        match step {
            Step::ChangePassword => held
                .change_password(Some(&token), PASSWORD, NEW_PASSWORD, HERE)
                .await
                .map(|d| d.session.profile.username),
            Step::Login => held.login("mallory", PASSWORD, HERE).await.map(|s| s.profile.username),
            Step::Delete => held.delete_account(Some(&token), PASSWORD, "mallory").await.map(|_| "someone".into()),
        }
    });
    arrived.await.expect("the held step reached the store");

    // Mallory's other session deletes the account while the held step waits.
    accounts.delete_account(Some(&other.token), PASSWORD, "mallory").await.unwrap();
    let victor = verify(&accounts, smtp, "victor@example.org", &victor_signup).await;
    accounts.pool.gate.go.notify_one();
    let answer: Result<String> = held.await.unwrap();

    match (step, &answer) {
        (Step::Login, Err(Error::InvalidCredentials)) => {}
        (Step::ChangePassword | Step::Delete, Err(Error::NotAuthenticated)) => {}
        _ => panic!("{step:?}: expected to be refused, got {answer:?}"),
    }
    // Victor's account is untouched: his password, his session, his address.
    let me = accounts.whoami(Some(&victor.token)).await.expect("Victor is still signed in");
    assert_eq!((me.username.as_str(), me.email.as_str()), ("victor", "victor@example.org"));
    accounts.login("victor", PASSWORD, HERE).await.expect("Victor's password is unchanged");
    assert!(matches!(accounts.login("victor", NEW_PASSWORD, HERE).await, Err(Error::InvalidCredentials)));
    assert_eq!(world.db.number("SELECT count(*) FROM users").await, 2, "ann and victor");
}

async fn sqlite_world() -> (World, sqlx::SqlitePool) {
    let world = World { smtp: SmtpServer::start(), db: TestDatabase::sqlite() };
    let TestDatabase::Sqlite { path, .. } = &world.db else { unreachable!() };
    let pool = latchkey_core::store::open(path).await.unwrap();
    (world, pool)
}

async fn postgres_world() -> (World, sqlx::PgPool) {
    let world = World { smtp: SmtpServer::start(), db: TestDatabase::postgres().await };
    let pool = latchkey_core::store::postgres::open(&world.db.url()).await.unwrap();
    (world, pool)
}

#[tokio::test]
async fn a_password_change_straddling_a_delete_never_lands_on_the_next_account_sqlite() {
    let (world, pool) = sqlite_world().await;
    race(pool, &world, Step::ChangePassword).await;
}

#[tokio::test]
async fn a_password_change_straddling_a_delete_never_lands_on_the_next_account_postgres() {
    let (world, pool) = postgres_world().await;
    race(pool, &world, Step::ChangePassword).await;
}

#[tokio::test]
async fn a_login_straddling_a_delete_never_opens_the_next_account_sqlite() {
    let (world, pool) = sqlite_world().await;
    race(pool, &world, Step::Login).await;
}

#[tokio::test]
async fn a_login_straddling_a_delete_never_opens_the_next_account_postgres() {
    let (world, pool) = postgres_world().await;
    race(pool, &world, Step::Login).await;
}

#[tokio::test]
async fn a_delete_straddling_a_delete_never_removes_the_next_account_sqlite() {
    let (world, pool) = sqlite_world().await;
    race(pool, &world, Step::Delete).await;
}

#[tokio::test]
async fn a_delete_straddling_a_delete_never_removes_the_next_account_postgres() {
    let (world, pool) = postgres_world().await;
    race(pool, &world, Step::Delete).await;
}
