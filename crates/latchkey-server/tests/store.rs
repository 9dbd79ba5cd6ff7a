//! The store's steps, one suite on both engines: each test below is generic over `Store` and runs
//! on a fresh SQLite file (the real migrations, `store::open`) and on a fresh PostgreSQL database
//! (`store::postgres::open`), so a statement written once for both, or a step each engine writes
//! its own way, answers the same on each.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use latchkey_core::error::Error;
use latchkey_core::store::{
    CodeRow, CodeState, CodeTable, LockPolicy, MailLimits, NewCode, NewPending, NewSessionRow, PendingRow, Reservation,
    Seen, Store, Subject, UserRow,
};
use latchkey_core::store::{EventKind, FactorChange, NewEvent, Proof, SecondFactorSignIn};
use latchkey_testkit::TestDatabase;

/// Each test once per engine: `on_sqlite::name` and `on_postgresql::name`. PostgreSQL's fail when
/// the test server is not configured, as every PostgreSQL test here does.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            use latchkey_testkit::TestDatabase;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = TestDatabase::sqlite();
                    let TestDatabase::Sqlite { path, .. } = &db else { unreachable!() };
                    let pool = latchkey_core::store::open(path).await.unwrap();
                    super::$name(&pool, &db).await;
                }
            )*
        }
        mod on_postgresql {
            use latchkey_testkit::TestDatabase;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = TestDatabase::postgres().await;
                    let pool = latchkey_core::store::postgres::open(&db.url()).await.unwrap();
                    super::$name(&pool, &db).await;
                }
            )*
        }
    };
}

on_both_engines!(
    accounts_are_found_by_name_address_and_id,
    a_taken_name_or_address_is_named_and_nothing_is_half_done,
    pending_signups_belong_to_their_owner_and_are_used_once,
    sessions_start_are_found_and_end_at_their_expiry_or_sign_out,
    a_changed_password_hash_refuses_every_write_on_the_account_read,
    a_password_change_consumes_its_code_and_ends_every_session,
    an_email_change_moves_the_address_or_changes_nothing,
    code_attempts_are_counted_refunded_and_need_the_current_code,
    an_account_code_is_replaced_only_after_its_cooldown,
    login_attempts_lock_then_lock_for_good_and_clear,
    mail_slots_are_limited_per_requester_and_address_and_released,
    purge_removes_exactly_what_expired,
    devices_are_listed_ended_one_or_all_others_and_remembered_as_ended,
    a_new_device_is_new_once_even_when_it_signs_in_many_times_at_once,
    a_sign_in_finds_its_device_new_once_even_when_many_sign_in_at_once,
    a_second_factor_code_or_recovery_code_signs_in_once_however_many_try_at_once,
);

const T0: i64 = 1_900_000_000;
const DAY: i64 = 86_400;

fn owner(name: &str) -> [u8; 32] {
    let mut owner = [0u8; 32];
    owner[..name.len()].copy_from_slice(name.as_bytes());
    owner
}

/// A pending sign-up of `name` (its own key and skeleton) made at `now`, valid 10 minutes.
async fn pending(store: &impl Store, name: &str, email: &str, now: i64) -> PendingRow {
    let owner = owner(name);
    let password_hash = format!("hash-of-{name}");
    let new = NewPending {
        username: name,
        username_key: &name.to_lowercase(),
        email,
        email_key: &email.to_lowercase(),
        password_hash: &password_hash,
        code_hash: "code",
        owner_hash: &owner,
        now,
        expires_at: now + 600,
    };
    store.insert_pending_signup(&new, None).await.unwrap();
    store.find_pending_by_owner(&owner).await.unwrap().unwrap()
}

/// An account made through its sign-up at `now`, with a first session `token` that lasts a day.
async fn account(store: &impl Store, name: &str, email: &str, token: u8, now: i64) -> UserRow {
    let row = pending(store, name, email, now).await;
    store.complete_signup(&row, &row.username_key, &session_until(&[token; 32], now, now + DAY)).await.unwrap();
    store.find_user_by_email(&email.to_lowercase()).await.unwrap().unwrap()
}

/// A session for this window, lasting a day.
fn session(token_hash: &[u8], now: i64) -> NewSessionRow<'_> {
    session_until(token_hash, now, now + DAY)
}

/// A session begun at `now` until `expires_at`, its public id made from its token's hash.
fn session_until(token_hash: &[u8], now: i64, expires_at: i64) -> NewSessionRow<'_> {
    let public_id: &'static str = Box::leak(format!("id-{token_hash:02x?}").into_boxed_str());
    NewSessionRow { token_hash, public_id, device: "Test desktop", ip: None, network: "this computer", now, expires_at }
}

fn reset<'a>(owner: &'a [u8], address: &'a str, code_hash: &'a str, now: i64) -> NewCode<'a> {
    NewCode {
        subject: Subject::Reset(owner),
        user_id: None,
        email_key: address,
        new_email: None,
        code_hash,
        now,
        expires_at: now + 600,
    }
}

/// An email change to `new_email` (a key: lower case).
fn email_change<'a>(user: &UserRow, new_email: &'a str, code_hash: &'a str, now: i64) -> NewCode<'a> {
    NewCode {
        subject: Subject::EmailChange(user.id),
        user_id: Some(user.id),
        email_key: new_email,
        new_email: Some(new_email),
        code_hash,
        now,
        expires_at: now + 600,
    }
}

async fn accounts_are_found_by_name_address_and_id(store: &impl Store, db: &TestDatabase) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let ann = account(store, "Ann", "Ann@Example.org", 1, T0).await;
    // A username that is someone else's address: sign-in by it finds both, the name first.
    let bob = account(store, "ann@example.org", "bob@example.org", 2, T0).await;
    assert_eq!(store.count_users().await.unwrap(), 2);
    assert_eq!(
        (ann.username.as_str(), ann.email.as_str(), ann.email_key.as_str()),
        ("Ann", "Ann@Example.org", "ann@example.org")
    );
    assert!(ann.is_active && !ann.is_admin);
    assert_eq!(ann.date_joined, T0);
    assert_eq!(ann.password_hash, "hash-of-Ann");
    assert!(bob.id > ann.id);

    assert_eq!(store.find_user(ann.id).await.unwrap().unwrap().username, "Ann");
    assert!(store.find_user(bob.id + 1).await.unwrap().is_none());
    let found = store.find_users_for_login("ann@example.org", "ann@example.org").await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [bob.id, ann.id]);
    let found = store.find_users_for_login("ann", "ann").await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [ann.id]);
    assert!(store.find_users_for_login("' OR 1=1 --", "' OR '1'='1").await.unwrap().is_empty());

    // Taken: a name, its look-alike skeleton, an account's address, a pending sign-up's address.
    assert!(store.username_exists("ann", "nothing").await.unwrap());
    assert!(store.username_exists("nothing", "ann").await.unwrap());
    assert!(store.username_exists("bob@example.org", "nothing").await.unwrap());
    pending(store, "Cy", "cy@example.org", T0).await;
    assert!(store.username_exists("cy@example.org", "nothing").await.unwrap());
    assert!(!store.username_exists("dee", "dee").await.unwrap());
    assert!(store.address_is_a_username("ann@example.org").await.unwrap());
    assert!(!store.address_is_a_username("bob@example.org").await.unwrap());

    // An inactive account is still found by address, but not as an active one.
    assert!(store.find_active_user_by_email("ann@example.org").await.unwrap().is_some());
    assert_eq!(db.execute("UPDATE users SET is_active = (1 = 0) WHERE username = 'Ann'").await, 1);
    assert!(store.find_active_user_by_email("ann@example.org").await.unwrap().is_none());
    assert!(!store.find_user_by_email("ann@example.org").await.unwrap().unwrap().is_active);
}

async fn a_taken_name_or_address_is_named_and_nothing_is_half_done(store: &impl Store, db: &TestDatabase) {
    account(store, "ace", "ace@example.org", 1, T0).await;
    let same_name = pending(store, "ACE", "other@example.org", T0).await;
    let result = store.complete_signup(&same_name, "ace", &session_until(&[2; 32], T0, T0 + DAY)).await;
    assert!(matches!(result, Err(Error::UsernameTaken)), "{result:?}");
    // Cyrillic "асе": another key, the same skeleton.
    let look_alike = pending(store, "\u{430}\u{441}\u{435}", "third@example.org", T0).await;
    let result = store.complete_signup(&look_alike, "ace", &session_until(&[3; 32], T0, T0 + DAY)).await;
    assert!(matches!(result, Err(Error::UsernameTaken)), "{result:?}");
    let same_address = pending(store, "bea", "ACE@example.org", T0).await;
    let result = store.complete_signup(&same_address, "bea", &session_until(&[4; 32], T0, T0 + DAY)).await;
    assert!(matches!(result, Err(Error::EmailTaken)), "{result:?}");
    // Each refusal rolled back whole: the pending rows stay, no account, no session.
    let counts = (
        db.number("SELECT count(*) FROM users").await,
        db.number("SELECT count(*) FROM sessions").await,
        db.number("SELECT count(*) FROM pending_signups").await,
    );
    assert_eq!(counts, (1, 1, 3));
    assert!(store.find_pending_by_owner(&owner("bea")).await.unwrap().is_some());
}

async fn pending_signups_belong_to_their_owner_and_are_used_once(store: &impl Store, db: &TestDatabase) {
    let first = pending(store, "ann", "ann@example.org", T0).await;
    assert_eq!((first.attempts, first.last_sent_at, first.expires_at), (0, T0, T0 + 600));
    // Someone else with the same name and address: a row of its own.
    let mine = owner("ann");
    let theirs = [9u8; 32];
    let new = NewPending {
        username: "ann",
        username_key: "ann",
        email: "ann@example.org",
        email_key: "ann@example.org",
        password_hash: "theirs",
        code_hash: "their code",
        owner_hash: &theirs,
        now: T0 + 1,
        expires_at: T0 + 601,
    };
    store.insert_pending_signup(&new, None).await.unwrap();
    // The first owner again, replacing only its own row.
    let again = NewPending { owner_hash: &mine, code_hash: "new code", password_hash: "mine", now: T0 + 2, ..new };
    let id = store.insert_pending_signup(&again, Some(&mine)).await.unwrap();
    assert!(id > first.id);
    assert_eq!(db.number("SELECT count(*) FROM pending_signups").await, 2);
    assert_eq!(store.find_pending_by_owner(&mine).await.unwrap().unwrap().code_hash, "new code");
    assert_eq!(store.find_pending_by_owner(&theirs).await.unwrap().unwrap().code_hash, "their code");
    let by_address = store.find_pending_by_address("ann@example.org", "ann").await.unwrap();
    assert_eq!(by_address.iter().map(|p| p.code_hash.as_str()).collect::<Vec<_>>(), ["new code", "their code"]);
    assert!(store.find_pending_by_address("ann@example.org", "bob").await.unwrap().is_empty());

    // The outbox tags: the first 8 bytes of each owner hash, in lower-case hex, on both engines.
    let mut tags = store.pending_signup_tags().await.unwrap();
    tags.sort();
    assert_eq!(tags, ["0909090909090909", "616e6e0000000000"]);

    let row = store.find_pending_by_owner(&mine).await.unwrap().unwrap();
    let profile = store.complete_signup(&row, "ann", &session_until(&[1; 32], T0 + 3, T0 + DAY)).await.unwrap();
    assert_eq!((profile.username.as_str(), profile.date_joined, profile.session_expires_at), ("ann", T0 + 3, T0 + DAY));
    assert!(store.find_pending_by_owner(&mine).await.unwrap().is_none());
    let again = store.complete_signup(&row, "ann", &session_until(&[2; 32], T0 + 4, T0 + DAY)).await;
    assert!(matches!(again, Err(Error::NoPendingSignup)), "{again:?}");
    // A row whose code was replaced meanwhile is not consumed either.
    let stale =
        PendingRow { code_hash: "old code".into(), ..store.find_pending_by_owner(&theirs).await.unwrap().unwrap() };
    let result = store.complete_signup(&stale, "ann2", &session_until(&[3; 32], T0 + 4, T0 + DAY)).await;
    assert!(matches!(result, Err(Error::NoPendingSignup)), "{result:?}");
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn sessions_start_are_found_and_end_at_their_expiry_or_sign_out(store: &impl Store, db: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    store.reserve_login_attempt("user:ann", POLICY, T0).await.unwrap();
    let profile = store
        .complete_login("user:ann", ann.seen(), &session_until(&[2; 32], T0 + 10, T0 + 100), T0 - 90 * DAY)
        .await
        .unwrap()
        .unwrap()
        .profile;
    assert_eq!(
        (profile.username.as_str(), profile.session_expires_at, profile.pending_email.as_deref()),
        ("ann", T0 + 100, None)
    );
    // The sign-in cleared the login count.
    assert_eq!(db.number("SELECT count(*) FROM login_throttle").await, 0);

    assert_eq!(store.find_session_profile(&[2; 32], T0 + 99).await.unwrap().unwrap(), profile);
    assert!(store.find_session_profile(&[2; 32], T0 + 100).await.unwrap().is_none());
    assert_eq!(store.find_session_user(&[2; 32], T0 + 99).await.unwrap().unwrap().id, ann.id);
    assert!(store.find_session_user(&[2; 32], T0 + 100).await.unwrap().is_none());
    assert!(store.find_session_profile(&[7; 32], T0).await.unwrap().is_none());

    // Sign-out: the first delete ends it, the second finds nothing; the other session lives on.
    assert!(store.delete_session(&[1; 32]).await.unwrap());
    assert!(!store.delete_session(&[1; 32]).await.unwrap());
    assert!(store.find_session_profile(&[1; 32], T0).await.unwrap().is_none());
    assert!(store.find_session_profile(&[2; 32], T0 + 11).await.unwrap().is_some());

    // An inactive account has no session and cannot sign in.
    db.execute("UPDATE users SET is_active = (1 = 0)").await;
    assert!(store.find_session_profile(&[2; 32], T0 + 11).await.unwrap().is_none());
    assert!(store.find_session_user(&[2; 32], T0 + 11).await.unwrap().is_none());
    assert!(store
        .complete_login("user:ann", ann.seen(), &session_until(&[3; 32], T0 + 12, T0 + 100), T0 - 90 * DAY)
        .await
        .unwrap()
        .is_none());
    assert_eq!(db.number("SELECT count(*) FROM sessions").await, 1);
}

/// The compare-and-set every write on an account is: a request that read the account and then
/// waited (on argon2) writes nothing if the password hash changed meanwhile.
async fn a_changed_password_hash_refuses_every_write_on_the_account_read(store: &impl Store, db: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    let stale = ann.seen();
    assert!(store.rehash_password(stale, "stronger").await.unwrap());
    // The same id with the old hash is no longer the account.
    assert!(!store.rehash_password(stale, "again").await.unwrap());
    assert!(!store.rehash_password(Seen { id: ann.id + 1, password_hash: "stronger" }, "x").await.unwrap());

    store.reserve_login_attempt("user:ann", POLICY, T0).await.unwrap();
    assert!(store
        .complete_login("user:ann", stale, &session_until(&[2; 32], T0, T0 + DAY), T0 - 90 * DAY)
        .await
        .unwrap()
        .is_none());
    // Nothing written: no session, and the login count still there.
    assert!(store.find_session_profile(&[2; 32], T0).await.unwrap().is_none());
    assert_eq!(db.number("SELECT failures FROM login_throttle").await, 1);

    let result = store.replace_password(stale, "new", None, "user:ann", Some(&session(&[3; 32], T0)), T0).await;
    assert!(matches!(result, Err(Error::NotAuthenticated)), "{result:?}");
    store.replace_account_code(&email_change(&ann, "new@example.org", "c", T0), 60).await.unwrap().unwrap();
    let code = store.find_account_code(Subject::EmailChange(ann.id)).await.unwrap().unwrap();
    let result = store.change_email(stale, &code, &session(&[4; 32], T0)).await;
    assert!(matches!(result, Err(Error::NotAuthenticated)), "{result:?}");
    let result = store.delete_account(stale, "user:ann", T0).await;
    assert!(matches!(result, Err(Error::NotAuthenticated)), "{result:?}");

    let now = store.find_user(ann.id).await.unwrap().unwrap();
    assert_eq!((now.password_hash.as_str(), now.email.as_str()), ("stronger", "ann@example.org"));
    assert!(store.find_account_code(Subject::EmailChange(ann.id)).await.unwrap().is_some());
    assert!(store.find_session_profile(&[1; 32], T0).await.unwrap().is_some());
    assert!(store.find_session_profile(&[3; 32], T0).await.unwrap().is_none());
    assert_eq!(db.number("SELECT failures FROM login_throttle").await, 1);

    // With what is there now, the account goes with its sessions, codes and login count.
    store.delete_account(now.seen(), "user:ann", T0 + 3).await.unwrap();
    assert!(store.find_user(ann.id).await.unwrap().is_none());
    assert_eq!(store.count_users().await.unwrap(), 0);
    for table in ["sessions", "account_codes", "login_throttle"] {
        assert_eq!(db.number(&format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
}

async fn a_password_change_consumes_its_code_and_ends_every_session(store: &impl Store, db: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    let requester = [5u8; 32];
    store.replace_account_code(&reset(&requester, "ann@example.org", "right", T0), 60).await.unwrap().unwrap();
    let code = store.find_account_code(Subject::Reset(&requester)).await.unwrap().unwrap();
    assert_eq!((code.user_id, code.email_key.as_str(), code.attempts), (None, "ann@example.org", 0));

    // A code replaced meanwhile: nothing changes, not even the hash written before it was checked.
    let stale = CodeRow { code_hash: "replaced".into(), ..code.clone() };
    let result =
        store.replace_password(ann.seen(), "new", Some(&stale), "user:ann", Some(&session(&[2; 32], T0)), T0).await;
    assert!(matches!(result, Err(Error::NoPendingReset)), "{result:?}");
    // A code sent to an address the account no longer has: nothing either.
    let elsewhere = CodeRow { email_key: "old@example.org".into(), ..code.clone() };
    let result =
        store.replace_password(ann.seen(), "new", Some(&elsewhere), "user:ann", Some(&session(&[2; 32], T0)), T0).await;
    assert!(matches!(result, Err(Error::NotAuthenticated)), "{result:?}");
    assert_eq!(store.find_user(ann.id).await.unwrap().unwrap().password_hash, "hash-of-ann");
    assert!(store.find_session_profile(&[2; 32], T0).await.unwrap().is_none());

    store.reserve_login_attempt("user:ann", POLICY, T0).await.unwrap();
    store.replace_account_code(&email_change(&ann, "new@example.org", "c", T0), 60).await.unwrap().unwrap();
    let profile = store
        .replace_password(ann.seen(), "new", Some(&code), "user:ann", Some(&session(&[2; 32], T0 + 1)), T0 + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((profile.username.as_str(), profile.session_expires_at), ("ann", T0 + 1 + DAY));
    assert_eq!(store.find_user(ann.id).await.unwrap().unwrap().password_hash, "new");
    // Only this window's new session; the reset and every other code of the account are gone.
    assert!(store.find_session_profile(&[1; 32], T0 + 1).await.unwrap().is_none());
    assert!(store.find_session_profile(&[2; 32], T0 + 1).await.unwrap().is_some());
    assert!(store.find_account_code(Subject::Reset(&requester)).await.unwrap().is_none());
    assert!(store.find_account_code(Subject::EmailChange(ann.id)).await.unwrap().is_none());
    assert_eq!(db.number("SELECT count(*) FROM login_throttle").await, 0);

    // Without a code (signed in): the same, from the account as read now.
    let now = store.find_user(ann.id).await.unwrap().unwrap();
    store
        .replace_password(now.seen(), "newer", None, "user:ann", Some(&session(&[3; 32], T0 + 2)), T0 + 2)
        .await
        .unwrap();
    assert!(store.find_session_profile(&[2; 32], T0 + 2).await.unwrap().is_none());
    assert_eq!(db.number("SELECT count(*) FROM sessions").await, 1);
}

async fn an_email_change_moves_the_address_or_changes_nothing(store: &impl Store, _: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    account(store, "bob", "bob@example.org", 2, T0).await;
    let change = NewCode { new_email: Some("New@example.org"), ..email_change(&ann, "new@example.org", "c", T0) };
    store.replace_account_code(&change, 60).await.unwrap().unwrap();
    let profile = store.find_session_profile(&[1; 32], T0 + 1).await.unwrap().unwrap();
    assert_eq!(profile.pending_email.as_deref(), Some("New@example.org"));
    // Expired, it is no longer pending.
    assert!(store.find_session_profile(&[1; 32], T0 + 600).await.unwrap().unwrap().pending_email.is_none());
    let code = store.find_account_code(Subject::EmailChange(ann.id)).await.unwrap().unwrap();
    assert_eq!((code.user_id, code.new_email.as_deref()), (Some(ann.id), Some("New@example.org")));

    // Another account's address: refused whole.
    let taken =
        CodeRow { email_key: "bob@example.org".into(), new_email: Some("bob@example.org".into()), ..code.clone() };
    let result = store.change_email(ann.seen(), &taken, &session(&[3; 32], T0 + 1)).await;
    assert!(matches!(result, Err(Error::EmailTaken)), "{result:?}");
    // A code replaced meanwhile: the address stays.
    let stale = CodeRow { code_hash: "replaced".into(), ..code.clone() };
    let result = store.change_email(ann.seen(), &stale, &session(&[3; 32], T0 + 1)).await;
    assert!(matches!(result, Err(Error::NoPendingEmailChange)), "{result:?}");
    assert_eq!(store.find_user(ann.id).await.unwrap().unwrap().email, "ann@example.org");

    let requester = [5u8; 32];
    let ann_reset = NewCode { user_id: Some(ann.id), ..reset(&requester, "ann@example.org", "r", T0) };
    store.replace_account_code(&ann_reset, 60).await.unwrap().unwrap();
    let profile = store.change_email(ann.seen(), &code, &session(&[3; 32], T0 + 1)).await.unwrap();
    assert_eq!((profile.email.as_str(), profile.pending_email), ("New@example.org", None));
    let moved = store.find_user(ann.id).await.unwrap().unwrap();
    assert_eq!((moved.email.as_str(), moved.email_key.as_str()), ("New@example.org", "new@example.org"));
    // The reset sent to the old address and every other session end with the move.
    assert!(store.find_account_code(Subject::Reset(&requester)).await.unwrap().is_none());
    assert!(store.find_session_profile(&[1; 32], T0 + 1).await.unwrap().is_none());
    assert!(store.find_session_profile(&[3; 32], T0 + 1).await.unwrap().is_some());
}

async fn code_attempts_are_counted_refunded_and_need_the_current_code(store: &impl Store, _: &TestDatabase) {
    let row = pending(store, "ann", "ann@example.org", T0).await;
    let table = CodeTable::PendingSignups;
    assert_eq!(store.reserve_code_attempt(table, row.id, "wrong", 3).await.unwrap(), None);
    for n in 1..=3 {
        assert_eq!(store.reserve_code_attempt(table, row.id, "code", 3).await.unwrap(), Some(n));
    }
    assert_eq!(store.reserve_code_attempt(table, row.id, "code", 3).await.unwrap(), None);

    // A resend swaps the code only from the state it read.
    let old = CodeState { code_hash: "code", attempts: 3, last_sent_at: T0, expires_at: T0 + 600 };
    let new = CodeState { code_hash: "code2", attempts: 0, last_sent_at: T0 + 60, expires_at: T0 + 660 };
    assert!(store.swap_code(table, row.id, &old, &new).await.unwrap());
    assert!(!store.swap_code(table, row.id, &old, &new).await.unwrap());
    let now = store.find_pending_by_owner(&owner("ann")).await.unwrap().unwrap();
    assert_eq!(
        (now.code_hash.as_str(), now.attempts, now.last_sent_at, now.expires_at),
        ("code2", 0, T0 + 60, T0 + 660)
    );
    assert_eq!(store.reserve_code_attempt(table, row.id, "code2", 3).await.unwrap(), Some(1));
    assert!(!store.delete_code_if(table, row.id, "code").await.unwrap());
    assert!(store.delete_code_if(table, row.id, "code2").await.unwrap());
    assert!(store.find_pending_by_owner(&owner("ann")).await.unwrap().is_none());

    // An account code: the same, and an attempt spent on the right code can be given back.
    let table = CodeTable::AccountCodes;
    let id = store.replace_account_code(&reset(&[5; 32], "a@example.org", "h", T0), 60).await.unwrap().unwrap();
    assert_eq!(store.reserve_code_attempt(table, id, "h", 2).await.unwrap(), Some(1));
    assert_eq!(store.reserve_code_attempt(table, id, "h", 2).await.unwrap(), Some(2));
    assert_eq!(store.reserve_code_attempt(table, id, "h", 2).await.unwrap(), None);
    store.refund_code_attempt(id, "other").await.unwrap();
    assert_eq!(store.find_account_code(Subject::Reset(&[5; 32])).await.unwrap().unwrap().attempts, 2);
    store.refund_code_attempt(id, "h").await.unwrap();
    assert_eq!(store.reserve_code_attempt(table, id, "h", 2).await.unwrap(), Some(2));
    for _ in 0..3 {
        store.refund_code_attempt(id, "h").await.unwrap();
    }
    // Never below zero.
    assert_eq!(store.find_account_code(Subject::Reset(&[5; 32])).await.unwrap().unwrap().attempts, 0);
    store.delete_code(table, id).await.unwrap();
    assert!(store.find_account_code(Subject::Reset(&[5; 32])).await.unwrap().is_none());
}

async fn an_account_code_is_replaced_only_after_its_cooldown(store: &impl Store, db: &TestDatabase) {
    let (mine, theirs) = ([1u8; 32], [2u8; 32]);
    let first = store.replace_account_code(&reset(&mine, "a@example.org", "h1", T0), 60).await.unwrap().unwrap();
    assert_eq!(store.replace_account_code(&reset(&mine, "a@example.org", "h2", T0 + 30), 60).await.unwrap(), Err(30));
    // Another requester's reset of the same address is its own.
    assert!(store.replace_account_code(&reset(&theirs, "a@example.org", "h3", T0 + 30), 60).await.unwrap().is_ok());
    let second = store.replace_account_code(&reset(&mine, "a@example.org", "h2", T0 + 60), 60).await.unwrap().unwrap();
    assert_ne!(first, second);
    let row = store.find_account_code(Subject::Reset(&mine)).await.unwrap().unwrap();
    assert_eq!((row.id, row.code_hash.as_str(), row.attempts, row.expires_at), (second, "h2", 0, T0 + 660));
    assert_eq!(store.find_account_code(Subject::Reset(&theirs)).await.unwrap().unwrap().code_hash, "h3");
    assert_eq!(db.number("SELECT count(*) FROM account_codes").await, 2);

    // An expired code makes way at once, whatever the cooldown.
    let third = store.replace_account_code(&reset(&theirs, "a@example.org", "h4", T0 + 630), 3600).await.unwrap();
    assert!(third.is_ok(), "{third:?}");

    // An email change is found by its account, not by a requester.
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    store.replace_account_code(&email_change(&ann, "new@example.org", "e", T0), 60).await.unwrap().unwrap();
    assert_eq!(
        store.replace_account_code(&email_change(&ann, "other@example.org", "f", T0 + 59), 60).await.unwrap(),
        Err(1)
    );
    let change = store.find_account_code(Subject::EmailChange(ann.id)).await.unwrap().unwrap();
    assert_eq!((change.code_hash.as_str(), change.new_email.as_deref()), ("e", Some("new@example.org")));
    assert!(store.find_account_code(Subject::EmailChange(ann.id + 1)).await.unwrap().is_none());
}

const POLICY: LockPolicy = LockPolicy { free: 5, base_secs: 30, max_secs: 900, hard_limit: 8 };

async fn login_attempts_lock_then_lock_for_good_and_clear(store: &impl Store, db: &TestDatabase) {
    for n in 1..=5 {
        assert_eq!(store.reserve_login_attempt("k", POLICY, T0).await.unwrap(), Reservation::Granted { n });
    }
    // The fifth already holds the lock its failure would cause.
    assert_eq!(store.reserve_login_attempt("k", POLICY, T0).await.unwrap(), Reservation::Locked { until: T0 + 30 });
    // Each further failure doubles it.
    assert_eq!(store.reserve_login_attempt("k", POLICY, T0 + 30).await.unwrap(), Reservation::Granted { n: 6 });
    assert_eq!(
        store.reserve_login_attempt("k", POLICY, T0 + 31).await.unwrap(),
        Reservation::Locked { until: T0 + 90 }
    );
    assert_eq!(store.reserve_login_attempt("k", POLICY, T0 + 90).await.unwrap(), Reservation::Granted { n: 7 });
    assert_eq!(store.reserve_login_attempt("k", POLICY, T0 + 210).await.unwrap(), Reservation::Granted { n: 8 });
    // The hard limit: no time unlocks it.
    assert_eq!(store.reserve_login_attempt("k", POLICY, T0 + 100 * DAY).await.unwrap(), Reservation::LockedForGood);
    assert_eq!(db.number("SELECT failures FROM login_throttle WHERE identifier_key = 'k'").await, 8);
    // Other keys count on their own.
    assert_eq!(store.reserve_login_attempt("other", POLICY, T0).await.unwrap(), Reservation::Granted { n: 1 });
    store.clear_login_throttle("k").await.unwrap();
    assert_eq!(store.reserve_login_attempt("k", POLICY, T0 + 100 * DAY).await.unwrap(), Reservation::Granted { n: 1 });
    assert_eq!(db.number("SELECT failures FROM login_throttle WHERE identifier_key = 'other'").await, 1);
    // The longest lock is the policy's most.
    let long = LockPolicy { free: 1, base_secs: 30, max_secs: 100, hard_limit: 50 };
    for _ in 0..4 {
        store.reserve_login_attempt("long", long, T0 + 10 * DAY).await.unwrap();
        db.execute("UPDATE login_throttle SET locked_until = 0 WHERE identifier_key = 'long'").await;
    }
    assert_eq!(store.reserve_login_attempt("long", long, T0 + 10 * DAY).await.unwrap(), Reservation::Granted { n: 5 });
    assert_eq!(
        db.number("SELECT locked_until FROM login_throttle WHERE identifier_key = 'long'").await,
        T0 + 10 * DAY + 100
    );
}

async fn mail_slots_are_limited_per_requester_and_address_and_released(store: &impl Store, db: &TestDatabase) {
    const LIMITS: MailLimits = MailLimits { per_minute: 1, per_hour: 5, address_per_hour: 8 };
    let reserve =
        move |who: &'static str, address: &'static str, at: i64| store.reserve_mail_slot(address, who, LIMITS, at);
    assert!(reserve("window", "a@x.io", 1000).await.unwrap().is_ok());
    assert_eq!(reserve("window", "a@x.io", 1030).await.unwrap(), Err(30));
    assert!(reserve("window", "b@x.io", 1030).await.unwrap().is_ok(), "per address");
    for t in [1060, 1120, 1180, 1240] {
        assert!(reserve("window", "a@x.io", t).await.unwrap().is_ok(), "{t}");
    }
    // Five in the hour: the next when the first of them is an hour old.
    assert_eq!(reserve("window", "a@x.io", 1300).await.unwrap(), Err(3300));
    // Another requester has its own allowance, up to the address's cap of eight an hour.
    for (who, t) in [("c", 1300), ("d", 1301), ("e", 1302)] {
        assert!(reserve(who, "a@x.io", t).await.unwrap().is_ok(), "{who}");
    }
    assert_eq!(reserve("f", "a@x.io", 1400).await.unwrap(), Err(3200));

    // A slot given back is free again.
    let id = reserve("g", "c@x.io", 1000).await.unwrap().unwrap();
    assert_eq!(reserve("g", "c@x.io", 1001).await.unwrap(), Err(59));
    store.release_mail_slot(id).await.unwrap();
    assert!(reserve("g", "c@x.io", 1001).await.unwrap().is_ok());
    assert_eq!(db.number("SELECT count(*) FROM mail_sends").await, 10);
}

async fn purge_removes_exactly_what_expired(store: &impl Store, db: &TestDatabase) {
    // Live: a pending sign-up, a session, a reset, a mail, a recent counter and a hard lock.
    pending(store, "live", "live@example.org", T0).await;
    let ann = account(store, "ann", "ann@example.org", 1, T0 - DAY + 1).await;
    store.replace_account_code(&reset(&[1; 32], "ann@example.org", "h", T0 - 10), 60).await.unwrap().unwrap();
    store
        .reserve_mail_slot("ann@example.org", "window", latchkey_core::auth::MAIL_LIMITS, T0 - 3599)
        .await
        .unwrap()
        .unwrap();
    store.reserve_login_attempt("recent", POLICY, T0 - DAY + 1).await.unwrap();
    db.execute(
        "INSERT INTO login_throttle (identifier_key, failures, locked_until, updated_at) VALUES ('hard', 100, 0, 0)",
    )
    .await;
    // Expired: one of each.
    pending(store, "gone", "gone@example.org", T0 - 600).await;
    store
        .complete_login("user:ann", ann.seen(), &session_until(&[2; 32], T0 - DAY, T0), T0 - 90 * DAY)
        .await
        .unwrap()
        .unwrap();
    store.replace_account_code(&reset(&[2; 32], "x@example.org", "h", T0 - 600), 60).await.unwrap().unwrap();
    store
        .reserve_mail_slot("x@example.org", "window", latchkey_core::auth::MAIL_LIMITS, T0 - 3600)
        .await
        .unwrap()
        .unwrap();
    store.reserve_login_attempt("stale", POLICY, T0 - DAY).await.unwrap();

    assert_eq!(store.purge_expired(T0).await.unwrap(), 5);
    assert_eq!(store.purge_expired(T0).await.unwrap(), 0);
    for (table, left) in
        [("pending_signups", 1), ("sessions", 1), ("account_codes", 1), ("mail_sends", 1), ("login_throttle", 2)]
    {
        assert_eq!(db.number(&format!("SELECT count(*) FROM {table}")).await, left, "{table}");
    }
    assert!(store.find_pending_by_owner(&owner("live")).await.unwrap().is_some());
    assert!(store.find_session_profile(&[1; 32], T0).await.unwrap().is_some());
    assert_eq!(db.number("SELECT count(*) FROM login_throttle WHERE identifier_key IN ('recent', 'hard')").await, 2);
}

async fn devices_are_listed_ended_one_or_all_others_and_remembered_as_ended(store: &impl Store, db: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    let eve = account(store, "eve", "eve@example.org", 9, T0).await;
    let phone = NewSessionRow { device: "Phone", ip: Some("192.0.2.7"), ..session(&[2; 32], T0 + 5) };
    store.complete_login("user:ann", ann.seen(), &phone, T0 - 90 * DAY).await.unwrap().unwrap();
    store.complete_login("user:ann", ann.seen(), &session(&[3; 32], T0 + 6), T0 - 90 * DAY).await.unwrap().unwrap();

    // Newest use first, the asking session marked, another account's never shown.
    store.touch_session(&[1; 32], T0 + 7).await.unwrap();
    let listed = store.list_sessions(ann.id, &[2; 32], T0 + 8).await.unwrap();
    let rows: Vec<_> = listed.iter().map(|d| (d.last_seen_at, d.current, d.device.as_str(), d.ip.as_deref())).collect();
    assert_eq!(
        rows,
        [
            (T0 + 7, false, "Test desktop", None),
            (T0 + 6, false, "Test desktop", None),
            (T0 + 5, true, "Phone", Some("192.0.2.7"))
        ]
    );
    assert_eq!(store.find_session_profile(&[1; 32], T0 + 8).await.unwrap().unwrap().last_seen_at, T0 + 7);

    // One by its id: not the asking session's, not another account's.
    let id_of = |hash: u8| format!("id-{:02x?}", [hash; 32]);
    assert_eq!(store.end_sessions(ann.id, &[2; 32], Some(&id_of(2)), T0 + 9).await.unwrap(), 0);
    assert_eq!(store.end_sessions(eve.id, &[9; 32], Some(&id_of(1)), T0 + 9).await.unwrap(), 0);
    assert_eq!(store.end_sessions(ann.id, &[2; 32], Some(&id_of(1)), T0 + 9).await.unwrap(), 1);
    assert!(store.find_session_profile(&[1; 32], T0 + 9).await.unwrap().is_none());
    assert!(store.session_was_ended(&[1; 32]).await.unwrap());
    assert!(!store.session_was_ended(&[2; 32]).await.unwrap());

    // All the others: the asking session stays, and so does every other account's.
    assert_eq!(store.end_sessions(ann.id, &[2; 32], None, T0 + 10).await.unwrap(), 1);
    assert!(store.session_was_ended(&[3; 32]).await.unwrap());
    assert_eq!(store.list_sessions(ann.id, &[2; 32], T0 + 11).await.unwrap().len(), 1);
    assert!(store.find_session_profile(&[9; 32], T0 + 11).await.unwrap().is_some());
    assert_eq!(db.number("SELECT count(*) FROM ended_sessions").await, 2);
    // The marks go when the sessions would have expired.
    store.purge_expired(T0 + 6 + DAY).await.unwrap();
    assert_eq!(db.number("SELECT count(*) FROM ended_sessions").await, 0);
}

/// The attacker's race: one stolen password, many sign-ins at once from one new device. Exactly
/// one of them finds the device new (one notice), on either engine.
async fn a_new_device_is_new_once_even_when_it_signs_in_many_times_at_once(store: &impl Store, db: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    let known_since = T0 - 90 * DAY;
    // Connections open and idle first, so the sign-ins below overlap instead of queueing for them.
    futures::future::join_all((0..16).map(|_| store.ping())).await;
    let at_once =
        (0..16).map(|i| store.note_device(ann.id, "Stolen laptop", "203.0.113.0/24", T0 + i % 2, known_since));
    let new = futures::future::join_all(at_once).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(new, 1);
    // Known now; on another network, or after 90 days unseen, it is new again.
    assert!(!store.note_device(ann.id, "Stolen laptop", "203.0.113.0/24", T0 + 5, known_since).await.unwrap());
    assert!(store.note_device(ann.id, "Stolen laptop", "198.51.100.0/24", T0 + 6, known_since).await.unwrap());
    let much_later = T0 + 5 + 90 * DAY + 1;
    assert!(store
        .note_device(ann.id, "Stolen laptop", "203.0.113.0/24", much_later, much_later - 90 * DAY)
        .await
        .unwrap());
    assert_eq!(db.number("SELECT count(*) FROM known_devices").await, 3);
    // An account with no device noted yet (one from before devices were noted): its first
    // device is where it starts, not news; the next new one is.
    db.execute("DELETE FROM known_devices").await;
    assert!(!store.note_device(ann.id, "Old laptop", "this computer", much_later, known_since).await.unwrap());
    assert!(store.note_device(ann.id, "Phone", "this computer", much_later, known_since).await.unwrap());
}

/// The same race through the sign-in itself, which notes the device in the session's own
/// statement (PostgreSQL) or transaction (SQLite): sixteen sessions at once from one new device,
/// exactly one told new; then known, touched once a day, and new again on another network or
/// after 90 days unseen.
async fn a_sign_in_finds_its_device_new_once_even_when_many_sign_in_at_once(store: &impl Store, db: &TestDatabase) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    let hashes: Vec<[u8; 32]> = (0..40u8).map(|i| [100 + i; 32]).collect();
    let sign_in = |row: NewSessionRow<'static>, known_since: i64| {
        let seen = ann.seen();
        async move {
            let done = store.complete_login("user:ann", seen, &row, known_since).await.unwrap().unwrap();
            assert_eq!(done.profile.username, "ann");
            done.new_device
        }
    };
    let hashes: &'static [[u8; 32]] = Box::leak(hashes.into_boxed_slice());
    let from = |i: usize, now: i64, network: &'static str| {
        let mut row = session(&hashes[i], now);
        (row.device, row.network) = ("Stolen laptop", network);
        row
    };
    let known_since = |now: i64| now - 90 * DAY;
    futures::future::join_all((0..16).map(|_| store.ping())).await;
    let at_once = (0..16).map(|i| sign_in(from(i, T0 + 1, "203.0.113.0/24"), known_since(T0 + 1)));
    let new = futures::future::join_all(at_once).await.into_iter().filter(|new| *new).count();
    assert_eq!(new, 1, "one notice for one new device, however many sign in at once");
    assert_eq!(db.number("SELECT count(*) FROM sessions").await, 17);
    // Known now: not new within the day (and not written), nor after it (written once).
    assert!(!sign_in(from(16, T0 + 2, "203.0.113.0/24"), known_since(T0 + 2)).await);
    let seen_at = "SELECT last_seen_at FROM known_devices WHERE network = '203.0.113.0/24'";
    assert_eq!(db.number(seen_at).await, T0 + 1);
    assert!(!sign_in(from(17, T0 + 1 + DAY, "203.0.113.0/24"), known_since(T0 + 1 + DAY)).await);
    assert_eq!(db.number(seen_at).await, T0 + 1 + DAY);
    // Another network is another device; 90 days unseen makes the pair new again, at once too.
    assert!(sign_in(from(18, T0 + 2 + DAY, "198.51.100.0/24"), known_since(T0 + 2 + DAY)).await);
    let much_later = T0 + 2 + 91 * DAY;
    let at_once = (19..35).map(|i| sign_in(from(i, much_later, "203.0.113.0/24"), known_since(much_later)));
    let new = futures::future::join_all(at_once).await.into_iter().filter(|new| *new).count();
    assert_eq!(new, 1, "a pair unseen for 90 days is new once");
    assert_eq!(db.number(seen_at).await, much_later);
    assert_eq!(db.number("SELECT count(*) FROM known_devices").await, 3);
    // An account with no device noted yet: its first is where it starts, the next one is news.
    db.execute("DELETE FROM known_devices").await;
    assert!(!sign_in(from(35, much_later + 1, "192.0.2.0/24"), known_since(much_later + 1)).await);
    assert!(sign_in(from(36, much_later + 2, "203.0.113.0/24"), known_since(much_later + 2)).await);
}

/// The attacker's race: a stolen password and one code (or one recovery code), tried at once
/// with many challenges. One sign-in, on either engine.
async fn a_second_factor_code_or_recovery_code_signs_in_once_however_many_try_at_once(
    store: &impl Store,
    db: &TestDatabase,
) {
    let ann = account(store, "ann", "ann@example.org", 1, T0).await;
    assert!(store.start_second_factor(ann.id, &[9; 20], T0).await.unwrap());
    let on =
        NewEvent { user_id: ann.id, at: T0, kind: EventKind::SecondFactorOn, device: None, ip: None, session_id: None };
    let recovery = [[5u8; 32], [6u8; 32]];
    assert!(store.change_second_factor(ann.id, Proof::Step(10), FactorChange::TurnOn(&recovery), &on).await.unwrap());
    // The enrolment's step is used up, and the factor is on now: enrolling again is refused.
    assert!(!store.start_second_factor(ann.id, &[8; 20], T0).await.unwrap());
    futures::future::join_all((0..16).map(|_| store.ping())).await;

    for (round, proof) in [Proof::Step(10), Proof::Step(11), Proof::Recovery(&recovery[0])].into_iter().enumerate() {
        let challenges: Vec<[u8; 32]> = (0..8).map(|i| [100 + (round * 8 + i) as u8; 32]).collect();
        for c in &challenges {
            store.add_login_challenge(c, ann.seen(), T0 + 300).await.unwrap();
        }
        let tokens: Vec<[u8; 32]> = (0..8).map(|i| [200 - (round * 8 + i) as u8; 32]).collect();
        let rows: Vec<_> = tokens.iter().map(|t| session(t, T0 + 1)).collect();
        let at_once = challenges
            .iter()
            .zip(&rows)
            .map(|(c, row)| store.complete_second_factor_login(c, "user:ann", ann.seen(), proof, row, T0 - 90 * DAY));
        let done = futures::future::join_all(at_once).await;
        let signed_in = done.iter().filter(|r| matches!(r, Ok(SecondFactorSignIn::Done(_)))).count();
        // Step 10 was the enrolment's: no sign-in. Step 11 and the recovery code: exactly one.
        assert_eq!(signed_in, usize::from(round > 0), "round {round}: {done:?}");
    }
    assert_eq!(db.number("SELECT count(*) FROM recovery_codes").await, 1);
    // A used challenge does not sign in again, even with a new code.
    store.add_login_challenge(&[99; 32], ann.seen(), T0 + 300).await.unwrap();
    let first = store
        .complete_second_factor_login(
            &[99; 32],
            "user:ann",
            ann.seen(),
            Proof::Step(12),
            &session(&[77; 32], T0),
            T0 - 90 * DAY,
        )
        .await;
    assert!(matches!(first, Ok(SecondFactorSignIn::Done(_))), "{first:?}");
    let again = store
        .complete_second_factor_login(
            &[99; 32],
            "user:ann",
            ann.seen(),
            Proof::Step(13),
            &session(&[78; 32], T0),
            T0 - 90 * DAY,
        )
        .await;
    assert!(matches!(again, Ok(SecondFactorSignIn::Stale)), "{again:?}");
}
