//! Every step of the store, written once and compiled once per engine: as `store::sqlite` and as
//! `store::postgres`, each of which names its `Db` and `Pool` and supplies the little that
//! differs (`RESERVE_LOGIN`, `LIVE_TAGS`, `lock`, `complete_login`). The SQL is the table files'
//! (`$N` placeholders, which both engines read); the binds and the transactions are here, so a
//! step cannot bind one way on SQLite and another on PostgreSQL.
//!
//! The functions are grouped by table as the table files are, so a store test can call one step.

use super::{Db, Pool};
use crate::error::{Error, Result};
use crate::store::{
    AccountStore, AdminAction, AdminStore, AdminUserRow, ChallengeRow, CodeRow, CodeState, CodeStore, CodeTable,
    DeviceRow, EventKind, EventRow, EventStore, FactorChange, LimitStore, LockPolicy, MailLimits, NewCode, NewEvent,
    NewPending, NewSessionRow, PendingRow, ProfileRow, Proof, Reservation, SecondFactorRow, SecondFactorSignIn,
    SecondFactorStore, Seen, SessionStore, SignedInRow, Store, Subject, UserRow,
};

/// A connection, a pool or a transaction of this engine.
pub trait Ex<'e>: sqlx::Executor<'e, Database = Db> {}
impl<'e, T: sqlx::Executor<'e, Database = Db>> Ex<'e> for T {}

pub mod users {
    use super::*;
    use crate::store::users::{
        NewUser, ADDRESS_IS_A_USERNAME, COUNT, DELETE, FIND_ACTIVE_BY_EMAIL, FIND_BY_EMAIL, FIND_BY_ID, FIND_FOR_LOGIN,
        INSERT, REPLACE_PASSWORD_HASH, UPDATE_EMAIL, USERNAME_EXISTS,
    };

    pub async fn insert<'e>(ex: impl Ex<'e>, user: &NewUser<'_>) -> Result<i64> {
        let id = sqlx::query_scalar(INSERT)
            .bind(user.username)
            .bind(user.username_key)
            .bind(user.username_skeleton)
            .bind(user.email)
            .bind(user.email_key)
            .bind(user.password_hash)
            .bind(user.date_joined)
            .fetch_one(ex)
            .await
            .map_err(crate::store::map_user_conflict)?;
        Ok(id)
    }

    /// Whether an account has this name, or one that looks like it (the same skeleton), or the
    /// name is an account's or a pending sign-up's address.
    pub async fn username_exists<'e>(ex: impl Ex<'e>, username_key: &str, skeleton: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(USERNAME_EXISTS).bind(username_key).bind(skeleton).fetch_one(ex).await?)
    }

    /// Whether the address is an account's username (signing in with it would name two accounts).
    pub async fn address_is_a_username<'e>(ex: impl Ex<'e>, email_key: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(ADDRESS_IS_A_USERNAME).bind(email_key).fetch_one(ex).await?)
    }

    /// The account with this address, whatever its state.
    pub async fn find_by_email<'e>(ex: impl Ex<'e>, email_key: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(FIND_BY_EMAIL).bind(email_key).fetch_optional(ex).await?)
    }

    /// Users whose username or email matches; at most two, the username match first.
    pub async fn find_for_login<'e>(ex: impl Ex<'e>, username_key: &str, email_key: &str) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as(FIND_FOR_LOGIN).bind(username_key).bind(email_key).fetch_all(ex).await?)
    }

    pub async fn find_by_id<'e>(ex: impl Ex<'e>, id: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(FIND_BY_ID).bind(id).fetch_optional(ex).await?)
    }

    /// The active account with this email address, if any.
    pub async fn find_active_by_email<'e>(ex: impl Ex<'e>, email_key: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(FIND_ACTIVE_BY_EMAIL).bind(email_key).fetch_optional(ex).await?)
    }

    /// Changes the address of the account `seen` read; `email_taken` if another account has it
    /// meanwhile, `false` if the account is no longer the one read.
    pub async fn update_email<'e>(ex: impl Ex<'e>, seen: Seen<'_>, email: &str, email_key: &str) -> Result<bool> {
        let done = sqlx::query(UPDATE_EMAIL)
            .bind(email)
            .bind(email_key)
            .bind(seen.id)
            .bind(seen.password_hash)
            .execute(ex)
            .await
            .map_err(crate::store::map_user_conflict)?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the account `seen` read, if it still is; its sessions and codes go with it
    /// (foreign keys cascade).
    pub async fn delete<'e>(ex: impl Ex<'e>, seen: Seen<'_>) -> Result<bool> {
        let done = sqlx::query(DELETE).bind(seen.id).bind(seen.password_hash).execute(ex).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a new hash in place of the one `seen` read; `false` if the account changed or went
    /// meanwhile. With `email_key`, only while the account still has that address.
    pub async fn replace_password_hash<'e>(
        ex: impl Ex<'e>,
        seen: Seen<'_>,
        email_key: Option<&str>,
        password_hash: &str,
    ) -> Result<bool> {
        let done = sqlx::query(REPLACE_PASSWORD_HASH)
            .bind(password_hash)
            .bind(seen.id)
            .bind(seen.password_hash)
            .bind(email_key)
            .execute(ex)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count<'e>(ex: impl Ex<'e>) -> Result<i64> {
        Ok(sqlx::query_scalar(COUNT).fetch_one(ex).await?)
    }
}

pub mod sessions {
    use super::*;
    use crate::store::sessions::{
        DELETE, DELETE_EXPIRED, DELETE_EXPIRED_ENDED, DELETE_FOR_USER, END, FIND_PROFILE, FIND_USER, INSERT, LIST,
        REMEMBER_ENDED, TOUCH, WAS_ENDED,
    };

    pub async fn insert<'e>(ex: impl Ex<'e>, user_id: i64, session: &NewSessionRow<'_>) -> Result<()> {
        sqlx::query(INSERT)
            .bind(session.token_hash)
            .bind(user_id)
            .bind(session.now)
            .bind(session.expires_at)
            .bind(session.public_id)
            .bind(session.device)
            .bind(session.ip)
            .execute(ex)
            .await?;
        Ok(())
    }

    /// Starts the session only if the account is still the one `seen` read (same id, same hash,
    /// active); whether it started.
    pub async fn insert_if_seen<'e>(ex: impl Ex<'e>, seen: Seen<'_>, session: &NewSessionRow<'_>) -> Result<bool> {
        let started = sqlx::query(crate::store::sessions::INSERT_IF_SEEN)
            .bind(session.token_hash)
            .bind(session.now)
            .bind(session.expires_at)
            .bind(seen.id)
            .bind(seen.password_hash)
            .bind(session.public_id)
            .bind(session.device)
            .bind(session.ip)
            .execute(ex)
            .await?;
        Ok(started.rows_affected() == 1)
    }

    /// The profile behind a live session of an active account.
    pub async fn find_profile<'e>(ex: impl Ex<'e>, token_hash: &[u8], now: i64) -> Result<Option<ProfileRow>> {
        Ok(sqlx::query_as(FIND_PROFILE).bind(token_hash).bind(now).fetch_optional(ex).await?)
    }

    /// The account behind a live session of an active account.
    pub async fn find_user<'e>(ex: impl Ex<'e>, token_hash: &[u8], now: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(FIND_USER).bind(token_hash).bind(now).fetch_optional(ex).await?)
    }

    /// Records a use of the session at `now`.
    pub async fn touch<'e>(ex: impl Ex<'e>, token_hash: &[u8], now: i64) -> Result<()> {
        sqlx::query(TOUCH).bind(token_hash).bind(now).execute(ex).await?;
        Ok(())
    }

    /// The account's live sessions, newest use first, `current` marking the one with `token_hash`.
    pub async fn list<'e>(ex: impl Ex<'e>, user_id: i64, token_hash: &[u8], now: i64) -> Result<Vec<DeviceRow>> {
        Ok(sqlx::query_as(LIST).bind(user_id).bind(token_hash).bind(now).fetch_all(ex).await?)
    }

    /// Ends the account's session with `public_id` (or, with `None`, every one but the asking
    /// session), remembering each so its next request learns it was ended from elsewhere. Never
    /// the asking session, never another account's. The number ended.
    pub async fn end(pool: &Pool, user_id: i64, token_hash: &[u8], public_id: Option<&str>, now: i64) -> Result<u64> {
        let mut tx = pool.begin().await?;
        sqlx::query(REMEMBER_ENDED).bind(user_id).bind(token_hash).bind(now).bind(public_id).execute(&mut *tx).await?;
        sqlx::query(crate::store::events::INSERT_FOR_ENDED)
            .bind(user_id)
            .bind(token_hash)
            .bind(now)
            .bind(public_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(END).bind(user_id).bind(token_hash).bind(public_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Whether the session with this hash was ended from another device (and would still be live).
    pub async fn was_ended<'e>(ex: impl Ex<'e>, token_hash: &[u8]) -> Result<bool> {
        Ok(sqlx::query_scalar(WAS_ENDED).bind(token_hash).fetch_one(ex).await?)
    }

    /// Ends every session of an account.
    pub async fn delete_for_user<'e>(ex: impl Ex<'e>, user_id: i64) -> Result<u64> {
        Ok(sqlx::query(DELETE_FOR_USER).bind(user_id).execute(ex).await?.rows_affected())
    }

    pub async fn delete<'e>(ex: impl Ex<'e>, token_hash: &[u8]) -> Result<bool> {
        Ok(sqlx::query(DELETE).bind(token_hash).execute(ex).await?.rows_affected() == 1)
    }

    /// Expired sessions, and the marks of ended ones that would have expired by now.
    pub async fn delete_expired(pool: &Pool, now: i64) -> Result<u64> {
        let sessions = sqlx::query(DELETE_EXPIRED).bind(now).execute(pool).await?.rows_affected();
        let ended = sqlx::query(DELETE_EXPIRED_ENDED).bind(now).execute(pool).await?.rows_affected();
        Ok(sessions + ended)
    }
}

pub mod pending_signups {
    use super::*;
    use crate::store::pending_signups::{DELETE_BY_OWNER, DELETE_EXPIRED, FIND_BY_ADDRESS, FIND_BY_OWNER, INSERT};

    /// Adds a pending sign-up. With `replaces`, the caller's own earlier one (found by its owner
    /// hash) goes in the same transaction; nobody else's is touched.
    pub async fn insert(pool: &Pool, new: &NewPending<'_>, replaces: Option<&[u8]>) -> Result<i64> {
        let mut tx = pool.begin().await?;
        if let Some(owner_hash) = replaces {
            sqlx::query(DELETE_BY_OWNER).bind(owner_hash).execute(&mut *tx).await?;
        }
        let id = sqlx::query_scalar(INSERT)
            .bind(new.username)
            .bind(new.username_key)
            .bind(new.email)
            .bind(new.email_key)
            .bind(new.password_hash)
            .bind(new.code_hash)
            .bind(new.owner_hash)
            .bind(new.now)
            .bind(new.expires_at)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The short tags (first 8 bytes of the owner hash, hex) of every pending sign-up, which
    /// name their outbox files.
    pub async fn live_tags<'e>(ex: impl Ex<'e>) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(super::super::LIVE_TAGS).fetch_all(ex).await?)
    }

    /// The pending sign-up whose owner holds this sign-up id (by its hash).
    pub async fn find_by_owner<'e>(ex: impl Ex<'e>, owner_hash: &[u8]) -> Result<Option<PendingRow>> {
        Ok(sqlx::query_as(FIND_BY_OWNER).bind(owner_hash).fetch_optional(ex).await?)
    }

    /// The pending sign-ups for this address and name (the original API's clients name a sign-up
    /// by them). Newest first; usually one.
    pub async fn find_by_address<'e>(ex: impl Ex<'e>, email_key: &str, username_key: &str) -> Result<Vec<PendingRow>> {
        Ok(sqlx::query_as(FIND_BY_ADDRESS).bind(email_key).bind(username_key).fetch_all(ex).await?)
    }

    pub async fn delete_expired<'e>(ex: impl Ex<'e>, now: i64) -> Result<u64> {
        Ok(sqlx::query(DELETE_EXPIRED).bind(now).execute(ex).await?.rows_affected())
    }
}

/// The code columns pending sign-ups and account codes share.
pub mod codes {
    use super::*;
    use crate::store::codes::{delete_if_code_sql, delete_sql, reserve_attempt_sql, swap_sql};

    /// Counts one attempt before the code is checked, so parallel guesses cannot exceed the limit.
    /// The attempt number, or `None` when the limit was reached or the code was replaced.
    pub async fn reserve_attempt<'e>(
        ex: impl Ex<'e>,
        table: CodeTable,
        id: i64,
        code_hash: &str,
        max: i64,
    ) -> Result<Option<i64>> {
        let sql = reserve_attempt_sql(table);
        Ok(sqlx::query_scalar(&sql).bind(id).bind(code_hash).bind(max).fetch_optional(ex).await?)
    }

    /// Replaces the code if the row is still in the `old` state (a resend); false when another
    /// request won.
    pub async fn swap_code<'e>(
        ex: impl Ex<'e>,
        table: CodeTable,
        id: i64,
        old: &CodeState<'_>,
        new: &CodeState<'_>,
    ) -> Result<bool> {
        let done = sqlx::query(&swap_sql(table))
            .bind(new.code_hash)
            .bind(new.attempts)
            .bind(new.last_sent_at)
            .bind(new.expires_at)
            .bind(id)
            .bind(old.code_hash)
            .bind(old.last_sent_at)
            .execute(ex)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete<'e>(ex: impl Ex<'e>, table: CodeTable, id: i64) -> Result<()> {
        sqlx::query(&delete_sql(table)).bind(id).execute(ex).await?;
        Ok(())
    }

    /// Deletes the row only if it still carries this code; false when a resend or another
    /// request won.
    pub async fn delete_if_code<'e>(ex: impl Ex<'e>, table: CodeTable, id: i64, code_hash: &str) -> Result<bool> {
        let done = sqlx::query(&delete_if_code_sql(table)).bind(id).bind(code_hash).execute(ex).await?;
        Ok(done.rows_affected() == 1)
    }
}

pub mod account_codes {
    use super::*;
    use crate::store::account_codes::{
        clear_stale_sql, find_sql, last_sent_sql, DELETE_EXPIRED, DELETE_FOR_USER, INSERT, REFUND,
    };

    /// Puts a new code in place of the subject's current one, unless that one is still live and
    /// was sent less than `cooldown` seconds ago: then `Err(seconds to wait)`. One transaction
    /// (on PostgreSQL under the subject's lock; SQLite's first write takes its one write lock), so
    /// two requests at the same moment make one code, not two.
    pub async fn replace(pool: &Pool, new: &NewCode<'_>, cooldown: i64) -> Result<std::result::Result<i64, i64>> {
        let s = new.subject;
        let mut tx = pool.begin().await?;
        super::super::lock(&mut tx, || s.lock_name()).await?;
        sqlx::query(&clear_stale_sql())
            .bind(s.purpose())
            .bind(s.owner())
            .bind(s.account())
            .bind(new.now - cooldown)
            .bind(new.now)
            .execute(&mut *tx)
            .await?;
        let live: Option<i64> = sqlx::query_scalar(&last_sent_sql())
            .bind(s.purpose())
            .bind(s.owner())
            .bind(s.account())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(last_sent_at) = live {
            return Ok(Err(last_sent_at + cooldown - new.now));
        }
        let id = sqlx::query_scalar(INSERT)
            .bind(s.purpose())
            .bind(new.user_id)
            .bind(new.email_key)
            .bind(new.new_email)
            .bind(new.code_hash)
            .bind(new.now)
            .bind(new.expires_at)
            .bind(s.owner())
            .fetch_one(&mut *tx)
            .await?;
        if let Some(user_id) = new.user_id {
            let event =
                NewEvent { user_id, at: new.now, kind: EventKind::CodeSent, device: None, ip: None, session_id: None };
            events::insert(&mut *tx, &event).await?;
        }
        tx.commit().await?;
        Ok(Ok(id))
    }

    pub async fn find<'e>(ex: impl Ex<'e>, subject: Subject<'_>) -> Result<Option<CodeRow>> {
        Ok(sqlx::query_as(&find_sql())
            .bind(subject.purpose())
            .bind(subject.owner())
            .bind(subject.account())
            .fetch_optional(ex)
            .await?)
    }

    /// Gives back an attempt spent on the right code (the rest of the request was refused).
    pub async fn refund_attempt<'e>(ex: impl Ex<'e>, id: i64, code_hash: &str) -> Result<()> {
        sqlx::query(REFUND).bind(id).bind(code_hash).execute(ex).await?;
        Ok(())
    }

    /// Voids every code of an account (after its password or address changed).
    pub async fn delete_for_user<'e>(ex: impl Ex<'e>, user_id: i64) -> Result<u64> {
        Ok(sqlx::query(DELETE_FOR_USER).bind(user_id).execute(ex).await?.rows_affected())
    }

    pub async fn delete_expired<'e>(ex: impl Ex<'e>, now: i64) -> Result<u64> {
        Ok(sqlx::query(DELETE_EXPIRED).bind(now).execute(ex).await?.rows_affected())
    }
}

pub mod login_throttle {
    use super::*;
    use crate::limits::LOGIN_THROTTLE_KEEP_SECS;
    use crate::store::login_throttle::{refused, ThrottleRow, CLEAR, DELETE_STALE, GET};

    /// Counts one attempt before the password is checked, atomically, and sets the lock its
    /// failure would cause (the engine's own upsert, `RESERVE_LOGIN`). A success then calls `clear`.
    pub async fn reserve(pool: &Pool, key: &str, policy: LockPolicy, now: i64) -> Result<Reservation> {
        let granted: Option<i64> = sqlx::query_scalar(super::super::RESERVE_LOGIN)
            .bind(key)
            .bind(now)
            .bind(policy.free)
            .bind(policy.base_secs)
            .bind(policy.max_secs)
            .bind(policy.hard_limit)
            .fetch_optional(pool)
            .await?;
        if let Some(n) = granted {
            return Ok(Reservation::Granted { n });
        }
        Ok(refused(get(pool, key).await?, policy, now))
    }

    pub async fn get<'e>(ex: impl Ex<'e>, key: &str) -> Result<Option<ThrottleRow>> {
        Ok(sqlx::query_as(GET).bind(key).fetch_optional(ex).await?)
    }

    pub async fn clear<'e>(ex: impl Ex<'e>, key: &str) -> Result<()> {
        sqlx::query(CLEAR).bind(key).execute(ex).await?;
        Ok(())
    }

    /// Forgets counters untouched for a day whose lock has run out; a hard lock stays until a reset.
    pub async fn delete_stale<'e>(ex: impl Ex<'e>, now: i64, hard_limit: i64) -> Result<u64> {
        let done = sqlx::query(DELETE_STALE)
            .bind(now - LOGIN_THROTTLE_KEEP_SECS)
            .bind(now)
            .bind(hard_limit)
            .execute(ex)
            .await?;
        Ok(done.rows_affected())
    }
}

pub mod mail_sends {
    use super::*;
    use crate::limits::MAIL_SEND_KEEP_SECS;
    use crate::store::mail_sends::{windows, DELETE_EXPIRED, RELEASE, RESERVE, WAIT};

    /// Counts a mail to the address if the limits allow it, in one statement (so parallel
    /// requests cannot both take the last slot; on PostgreSQL under the address's lock, so the
    /// counts see every process's sends): `Ok(id)` to release if the mail is not sent after all,
    /// or `Err(seconds)` until one is allowed.
    pub async fn reserve(
        pool: &Pool,
        address_key: &str,
        requester: &str,
        limits: MailLimits,
        now: i64,
    ) -> Result<std::result::Result<i64, i64>> {
        let mut tx = pool.begin().await?;
        super::super::lock(&mut tx, || format!("mail:{address_key}")).await?;
        let id: Option<i64> = sqlx::query_scalar(RESERVE)
            .bind(address_key)
            .bind(requester)
            .bind(now)
            .bind(limits.per_minute)
            .bind(limits.per_hour)
            .bind(limits.address_per_hour)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(id) = id {
            return Ok(Ok(id));
        }
        let mut wait = 1;
        for (window, limit, mine) in windows(limits) {
            let until: Option<i64> = sqlx::query_scalar(WAIT)
                .bind(address_key)
                .bind(now)
                .bind(window)
                .bind(limit - 1)
                .bind(mine.then_some(requester))
                .fetch_optional(pool)
                .await?;
            wait = wait.max(until.unwrap_or(0));
        }
        Ok(Err(wait))
    }

    /// Gives the slot back: the mail could not be sent.
    pub async fn release<'e>(ex: impl Ex<'e>, id: i64) -> Result<()> {
        sqlx::query(RELEASE).bind(id).execute(ex).await?;
        Ok(())
    }

    pub async fn delete_expired<'e>(ex: impl Ex<'e>, now: i64) -> Result<u64> {
        Ok(sqlx::query(DELETE_EXPIRED).bind(now - MAIL_SEND_KEEP_SECS).execute(ex).await?.rows_affected())
    }
}

pub mod events {
    use super::*;
    use crate::store::events::{
        ADD_KNOWN_DEVICE, DELETE_OLD, DELETE_STALE_DEVICES, HAS_KNOWN_DEVICES, INSERT, INSERT_AT_MOST_EVERY,
        KNOWN_DEVICE_SEEN, LIST, TOUCH_KNOWN_DEVICE,
    };

    /// `sql` with the event's six binds, $1 to $6.
    fn bound<'q>(
        sql: &'q str,
        event: &NewEvent<'q>,
    ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>> {
        sqlx::query(sql)
            .bind(event.user_id)
            .bind(event.at)
            .bind(event.kind.as_str())
            .bind(event.device)
            .bind(event.ip)
            .bind(event.session_id)
    }

    pub async fn insert<'e>(ex: impl Ex<'e>, event: &NewEvent<'_>) -> Result<()> {
        bound(INSERT, event).execute(ex).await?;
        Ok(())
    }

    /// The event a new session's transaction records: its kind, with the session's device,
    /// address and public id.
    pub(crate) async fn insert_for_session<'e>(
        ex: impl Ex<'e>,
        user_id: i64,
        kind: EventKind,
        session: &NewSessionRow<'_>,
    ) -> Result<()> {
        let event = NewEvent {
            user_id,
            at: session.now,
            kind,
            device: Some(session.device),
            ip: session.ip,
            session_id: Some(session.public_id),
        };
        insert(ex, &event).await
    }

    pub async fn insert_at_most_every<'e>(ex: impl Ex<'e>, event: &NewEvent<'_>, every: i64) -> Result<()> {
        bound(INSERT_AT_MOST_EVERY, event).bind(every).execute(ex).await?;
        Ok(())
    }

    pub async fn list<'e>(ex: impl Ex<'e>, user_id: i64, since: i64, before: i64, limit: i64) -> Result<Vec<EventRow>> {
        Ok(sqlx::query_as(LIST).bind(user_id).bind(since).bind(before).bind(limit).fetch_all(ex).await?)
    }

    /// A pair seen within the last day: known, with one read and no write (most sign-ins).
    /// Otherwise under the account's lock (PostgreSQL; SQLite's first write takes its one write
    /// lock): a pair seen since `known_since` is touched, anything else added, and reported new
    /// if the account had a device noted before (the first one noted, at sign-up or the first
    /// sign-in after devices were first noted, is where the account starts, not news).
    pub async fn note_device(
        pool: &Pool,
        user_id: i64,
        device: &str,
        network: &str,
        now: i64,
        known_since: i64,
    ) -> Result<bool> {
        if known_and_fresh(seen_at(pool, user_id, device, network).await?, now, known_since) {
            return Ok(false);
        }
        let mut tx = pool.begin().await?;
        let new = note_device_locked(&mut tx, user_id, device, network, now, known_since).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// As `note_device`, inside a transaction that begins a session (its commit is theirs).
    pub(crate) async fn note_device_in(
        tx: &mut sqlx::Transaction<'_, Db>,
        session: &NewSessionRow<'_>,
        user_id: i64,
        known_since: i64,
    ) -> Result<bool> {
        let (device, network, now) = (session.device, session.network, session.now);
        if known_and_fresh(seen_at(&mut **tx, user_id, device, network).await?, now, known_since) {
            return Ok(false);
        }
        note_device_locked(tx, user_id, device, network, now, known_since).await
    }

    /// When the account last signed in from this device and network, if it has.
    async fn seen_at<'e>(ex: impl Ex<'e>, user_id: i64, device: &str, network: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(KNOWN_DEVICE_SEEN).bind(user_id).bind(device).bind(network).fetch_optional(ex).await?)
    }

    /// Seen since `known_since` and touched within the last day: nothing to write.
    pub(crate) fn known_and_fresh(seen: Option<i64>, now: i64, known_since: i64) -> bool {
        seen.is_some_and(|at| at >= known_since && now - at < crate::limits::KNOWN_DEVICE_TOUCH_SECS)
    }

    async fn note_device_locked(
        tx: &mut sqlx::Transaction<'_, Db>,
        user_id: i64,
        device: &str,
        network: &str,
        now: i64,
        known_since: i64,
    ) -> Result<bool> {
        super::super::lock(tx, || format!("devices:{user_id}")).await?;
        let known = sqlx::query(TOUCH_KNOWN_DEVICE)
            .bind(user_id)
            .bind(device)
            .bind(network)
            .bind(now)
            .bind(known_since)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1;
        let mut new = false;
        if !known {
            new = sqlx::query_scalar(HAS_KNOWN_DEVICES).bind(user_id).fetch_one(&mut **tx).await?;
            sqlx::query(ADD_KNOWN_DEVICE).bind(user_id).bind(device).bind(network).bind(now).execute(&mut **tx).await?;
        }
        Ok(new)
    }

    pub async fn purge(pool: &Pool, before: i64, devices_before: i64) -> Result<u64> {
        let events = sqlx::query(DELETE_OLD)
            .bind(before)
            .bind(crate::limits::EVENT_PURGE_BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        let devices = sqlx::query(DELETE_STALE_DEVICES).bind(devices_before).execute(pool).await?.rows_affected();
        Ok(events + devices)
    }
}

pub mod second_factor {
    use super::*;
    use crate::store::second_factor::{
        ADD_CHALLENGE, ADD_RECOVERY, CLAIM_STEP, CLEAR_RECOVERY, DELETE_EXPIRED_CHALLENGES, ENABLE, FIND,
        FIND_CHALLENGE, REMOVE, START, USE_CHALLENGE, USE_RECOVERY,
    };

    pub async fn start<'e>(ex: impl Ex<'e>, user_id: i64, secret: &[u8], now: i64) -> Result<bool> {
        Ok(sqlx::query(START).bind(user_id).bind(secret).bind(now).execute(ex).await?.rows_affected() == 1)
    }

    pub async fn find<'e>(ex: impl Ex<'e>, user_id: i64) -> Result<Option<SecondFactorRow>> {
        Ok(sqlx::query_as(FIND).bind(user_id).fetch_optional(ex).await?)
    }

    /// Spends the proof inside `tx`: claims the step (on a factor that is on, or, with
    /// `enrolling`, one waiting for its first code) or uses the recovery code. Whether it was good.
    async fn spend(
        tx: &mut sqlx::Transaction<'_, Db>,
        user_id: i64,
        proof: Proof<'_>,
        enrolling: bool,
    ) -> Result<bool> {
        let done = match proof {
            Proof::Step(step) => {
                sqlx::query(CLAIM_STEP).bind(user_id).bind(step).bind(!enrolling).execute(&mut **tx).await?
            }
            Proof::Recovery(_) if enrolling => return Ok(false),
            Proof::Recovery(hash) => sqlx::query(USE_RECOVERY).bind(user_id).bind(hash).execute(&mut **tx).await?,
        };
        Ok(done.rows_affected() == 1)
    }

    async fn add_recovery_codes(tx: &mut sqlx::Transaction<'_, Db>, user_id: i64, hashes: &[[u8; 32]]) -> Result<()> {
        sqlx::query(CLEAR_RECOVERY).bind(user_id).execute(&mut **tx).await?;
        for hash in hashes {
            sqlx::query(ADD_RECOVERY).bind(user_id).bind(&hash[..]).execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn change(
        pool: &Pool,
        user_id: i64,
        proof: Proof<'_>,
        change: FactorChange<'_>,
        event: &NewEvent<'_>,
    ) -> Result<bool> {
        let mut tx = pool.begin().await?;
        let enrolling = matches!(change, FactorChange::TurnOn(_));
        if !spend(&mut tx, user_id, proof, enrolling).await? {
            return Ok(false);
        }
        match change {
            FactorChange::TurnOn(hashes) => {
                sqlx::query(ENABLE).bind(user_id).bind(event.at).execute(&mut *tx).await?;
                add_recovery_codes(&mut tx, user_id, hashes).await?;
            }
            FactorChange::TurnOff => {
                sqlx::query(REMOVE).bind(user_id).execute(&mut *tx).await?;
                sqlx::query(CLEAR_RECOVERY).bind(user_id).execute(&mut *tx).await?;
            }
            FactorChange::NewRecoveryCodes(hashes) => add_recovery_codes(&mut tx, user_id, hashes).await?,
        }
        events::insert(&mut *tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn add_challenge<'e>(
        ex: impl Ex<'e>,
        challenge_hash: &[u8],
        seen: Seen<'_>,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(ADD_CHALLENGE)
            .bind(challenge_hash)
            .bind(seen.id)
            .bind(seen.password_hash)
            .bind(expires_at)
            .execute(ex)
            .await?;
        Ok(())
    }

    pub async fn find_challenge<'e>(ex: impl Ex<'e>, challenge_hash: &[u8], now: i64) -> Result<Option<ChallengeRow>> {
        Ok(sqlx::query_as(FIND_CHALLENGE).bind(challenge_hash).bind(now).fetch_optional(ex).await?)
    }

    /// The challenge goes first (a write: SQLite's one write lock from the first statement; on
    /// PostgreSQL a second use of it waits for this one and then finds nothing). A wrong proof
    /// rolls everything back, so the challenge stays for a right code.
    pub async fn complete_login(
        pool: &Pool,
        challenge_hash: &[u8],
        throttle_key: &str,
        seen: Seen<'_>,
        proof: Proof<'_>,
        session: &NewSessionRow<'_>,
        known_since: i64,
    ) -> Result<SecondFactorSignIn> {
        let mut tx = pool.begin().await?;
        if sqlx::query(USE_CHALLENGE).bind(challenge_hash).execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(SecondFactorSignIn::Stale);
        }
        if !spend(&mut tx, seen.id, proof, false).await? {
            return Ok(SecondFactorSignIn::WrongCode);
        }
        if !sessions::insert_if_seen(&mut *tx, seen, session).await? {
            return Ok(SecondFactorSignIn::Stale);
        }
        login_throttle::clear(&mut *tx, throttle_key).await?;
        events::insert_for_session(&mut *tx, seen.id, EventKind::SignIn, session).await?;
        if let Proof::Recovery(_) = proof {
            let used = NewEvent {
                user_id: seen.id,
                at: session.now,
                kind: EventKind::RecoveryCodeUsed,
                device: Some(session.device),
                ip: session.ip,
                session_id: Some(session.public_id),
            };
            events::insert(&mut *tx, &used).await?;
        }
        let new_device = events::note_device_in(&mut tx, session, seen.id, known_since).await?;
        let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
        tx.commit().await?;
        let profile = profile.ok_or_else(|| Error::internal("second factor", "no new session"))?;
        Ok(SecondFactorSignIn::Done(SignedInRow { profile, new_device }))
    }

    pub async fn delete_expired_challenges<'e>(ex: impl Ex<'e>, now: i64) -> Result<u64> {
        Ok(sqlx::query(DELETE_EXPIRED_CHALLENGES).bind(now).execute(ex).await?.rows_affected())
    }
}

pub mod admin {
    use super::*;
    use crate::store::admin::{SignInGates, SEARCH, SET_ACTIVE, SET_ADMIN, SET_RESET_REQUIRED, SHOW, SIGN_IN_GATES};
    use crate::store::second_factor::{CLEAR_RECOVERY, REMOVE};

    pub async fn search<'e>(
        ex: impl Ex<'e>,
        prefix: &str,
        after: i64,
        limit: i64,
        now: i64,
    ) -> Result<Vec<AdminUserRow>> {
        // LIKE's own characters in what the operator typed match only themselves.
        let escaped: String =
            prefix.chars().flat_map(|c| if "\\%_".contains(c) { vec!['\\', c] } else { vec![c] }).collect();
        let pattern = format!("{}%", escaped.to_lowercase());
        Ok(sqlx::query_as(SEARCH).bind(pattern).bind(after).bind(limit).bind(now).fetch_all(ex).await?)
    }

    pub async fn sign_in_gates<'e>(ex: impl Ex<'e>, user_id: i64) -> Result<SignInGates> {
        Ok(sqlx::query_as(SIGN_IN_GATES).bind(user_id).fetch_optional(ex).await?.unwrap_or_default())
    }

    pub async fn show<'e>(ex: impl Ex<'e>, user_id: i64, now: i64) -> Result<Option<AdminUserRow>> {
        Ok(sqlx::query_as(SHOW).bind(user_id).bind(now).fetch_optional(ex).await?)
    }

    pub async fn act(pool: &Pool, user_id: i64, action: AdminAction, event: &NewEvent<'_>) -> Result<u64> {
        let mut tx = pool.begin().await?;
        let changed = match action {
            AdminAction::Deactivate => {
                let done = sqlx::query(SET_ACTIVE).bind(user_id).bind(false).execute(&mut *tx).await?.rows_affected();
                done + sessions::delete_for_user(&mut *tx, user_id).await?
            }
            AdminAction::Reactivate => {
                sqlx::query(SET_ACTIVE).bind(user_id).bind(true).execute(&mut *tx).await?.rows_affected()
            }
            AdminAction::GrantAdmin | AdminAction::RevokeAdmin => {
                let admin = action == AdminAction::GrantAdmin;
                sqlx::query(SET_ADMIN).bind(user_id).bind(admin).execute(&mut *tx).await?.rows_affected()
            }
            AdminAction::Unlock => {
                let key = crate::auth::login::account_throttle_key(user_id);
                sqlx::query(crate::store::login_throttle::CLEAR).bind(key).execute(&mut *tx).await?.rows_affected()
            }
            AdminAction::RevokeSessions => sessions::delete_for_user(&mut *tx, user_id).await?,
            AdminAction::RequireReset => {
                let done =
                    sqlx::query(SET_RESET_REQUIRED).bind(user_id).bind(true).execute(&mut *tx).await?.rows_affected();
                done + sessions::delete_for_user(&mut *tx, user_id).await?
            }
            AdminAction::ResetSecondFactor => {
                sqlx::query(CLEAR_RECOVERY).bind(user_id).execute(&mut *tx).await?;
                sqlx::query(REMOVE).bind(user_id).execute(&mut *tx).await?.rows_affected()
            }
        };
        events::insert(&mut *tx, event).await?;
        tx.commit().await?;
        Ok(changed)
    }
}

/// The transactions that change an existing account or make a new one, all or nothing, and only
/// on the account the request read (`Seen`). Each locks the account's row before any code row
/// (PostgreSQL's order; two of them never wait on each other), and begins with a write (SQLite's
/// one write lock from the first statement).
pub mod lifecycle {
    use super::*;
    use crate::store::users::NewUser;

    /// Consumes the pending sign-up, creates the account and its first session. Uniqueness is
    /// re-checked by the indexes inside the transaction.
    pub async fn complete_signup(
        pool: &Pool,
        pending: &PendingRow,
        username_skeleton: &str,
        session: &NewSessionRow<'_>,
    ) -> Result<ProfileRow> {
        let mut tx = pool.begin().await?;
        // Concurrent right codes: the first DELETE wins, the others find nothing.
        if !codes::delete_if_code(&mut *tx, CodeTable::PendingSignups, pending.id, &pending.code_hash).await? {
            return Err(Error::NoPendingSignup);
        }
        let user = NewUser {
            username: &pending.username,
            username_key: &pending.username_key,
            username_skeleton,
            email: &pending.email,
            email_key: &pending.email_key,
            password_hash: &pending.password_hash,
            date_joined: session.now,
        };
        let user_id = users::insert(&mut *tx, &user).await?;
        sessions::insert(&mut *tx, user_id, session).await?;
        events::insert_for_session(&mut *tx, user_id, EventKind::SignedUp, session).await?;
        // The sign-up's device is known from the start: signing in there later is nothing new.
        sqlx::query(crate::store::events::ADD_KNOWN_DEVICE)
            .bind(user_id)
            .bind(session.device)
            .bind(session.network)
            .bind(session.now)
            .execute(&mut *tx)
            .await?;
        let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
        tx.commit().await?;
        profile.ok_or_else(|| Error::internal("verification", "the new session was not found"))
    }

    /// A new password: the hash changes, every session and every pending code of the account
    /// ends, its login throttle is cleared, and one new session (this window's) begins. With
    /// `code` (a reset), that code is consumed, and the password changes only while the account
    /// still has the address the code was sent to.
    pub async fn replace_password(
        pool: &Pool,
        seen: Seen<'_>,
        password_hash: &str,
        code: Option<&CodeRow>,
        throttle_key: &str,
        session: Option<&NewSessionRow<'_>>,
        now: i64,
    ) -> Result<Option<ProfileRow>> {
        let mut tx = pool.begin().await?;
        let address = code.map(|c| c.email_key.as_str());
        if !users::replace_password_hash(&mut *tx, seen, address, password_hash).await? {
            return Err(Error::NotAuthenticated);
        }
        if let Some(code) = code {
            if !codes::delete_if_code(&mut *tx, CodeTable::AccountCodes, code.id, &code.code_hash).await? {
                return Err(Error::NoPendingReset);
            }
        }
        login_throttle::clear(&mut *tx, throttle_key).await?;
        let kind = if code.is_some() { EventKind::PasswordReset } else { EventKind::PasswordChanged };
        let Some(session) = session else {
            sessions::delete_for_user(&mut *tx, seen.id).await?;
            account_codes::delete_for_user(&mut *tx, seen.id).await?;
            let event = NewEvent { user_id: seen.id, at: now, kind, device: None, ip: None, session_id: None };
            events::insert(&mut *tx, &event).await?;
            tx.commit().await?;
            return Ok(None);
        };
        renew(tx, seen.id, session, kind).await.map(Some)
    }

    /// Consumes the email-change code and moves the account to the new address; every other code
    /// of the account (a reset sent to the old address) and every session end with it, and this
    /// window gets `session`.
    pub async fn change_email(
        pool: &Pool,
        seen: Seen<'_>,
        code: &CodeRow,
        session: &NewSessionRow<'_>,
    ) -> Result<ProfileRow> {
        let new_email = code.new_email.as_deref().ok_or_else(|| Error::internal("email change", "no new address"))?;
        let mut tx = pool.begin().await?;
        if !users::update_email(&mut *tx, seen, new_email, &code.email_key).await? {
            return Err(Error::NotAuthenticated);
        }
        if !codes::delete_if_code(&mut *tx, CodeTable::AccountCodes, code.id, &code.code_hash).await? {
            return Err(Error::NoPendingEmailChange);
        }
        renew(tx, seen.id, session, EventKind::EmailChanged).await
    }

    /// Ends every session and every pending code of the account, begins `session` (this
    /// window's) in their place, records `kind` and commits.
    async fn renew(
        mut tx: sqlx::Transaction<'_, Db>,
        user_id: i64,
        session: &NewSessionRow<'_>,
        kind: EventKind,
    ) -> Result<ProfileRow> {
        sessions::delete_for_user(&mut *tx, user_id).await?;
        account_codes::delete_for_user(&mut *tx, user_id).await?;
        sessions::insert(&mut *tx, user_id, session).await?;
        events::insert_for_session(&mut *tx, user_id, kind, session).await?;
        let profile = sessions::find_profile(&mut *tx, session.token_hash, session.now).await?;
        tx.commit().await?;
        profile.ok_or_else(|| Error::internal(kind.as_str(), "the new session was not found"))
    }

    /// Removes the account with its sessions and codes (cascade) and its login throttle; the
    /// deletion itself is recorded (the id only).
    pub async fn delete_account(pool: &Pool, seen: Seen<'_>, throttle_key: &str, now: i64) -> Result<()> {
        let mut tx = pool.begin().await?;
        if !users::delete(&mut *tx, seen).await? {
            return Err(Error::NotAuthenticated);
        }
        login_throttle::clear(&mut *tx, throttle_key).await?;
        let event = NewEvent {
            user_id: seen.id,
            at: now,
            kind: EventKind::AccountDeleted,
            device: None,
            ip: None,
            session_id: None,
        };
        events::insert(&mut *tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Removes expired pending sign-ups, sessions and codes, old mail counts and stale login counters.
pub async fn purge_expired(pool: &Pool, now: i64) -> Result<u64> {
    let pending = pending_signups::delete_expired(pool, now).await?;
    let sessions = sessions::delete_expired(pool, now).await?;
    let throttles = login_throttle::delete_stale(pool, now, crate::limits::LOGIN_HARD_LIMIT).await?;
    let codes = account_codes::delete_expired(pool, now).await?;
    let mails = mail_sends::delete_expired(pool, now).await?;
    let challenges = second_factor::delete_expired_challenges(pool, now).await?;
    Ok(pending + sessions + throttles + codes + mails + challenges)
}

impl Store for Pool {
    async fn purge_expired(&self, now: i64) -> Result<u64> {
        purge_expired(self, now).await
    }
    async fn ping(&self) -> Result<()> {
        sqlx::query(crate::store::PING).execute(self).await?;
        Ok(())
    }
    async fn close(&self) {
        Pool::close(self).await
    }
    fn connections(&self) -> crate::store::PoolUse {
        let idle = u32::try_from(self.num_idle()).unwrap_or(u32::MAX);
        crate::store::PoolUse { open: self.size(), idle, max: self.options().get_max_connections() }
    }
}

impl AccountStore for Pool {
    async fn count_users(&self) -> Result<i64> {
        users::count(self).await
    }
    async fn username_exists(&self, username_key: &str, skeleton: &str) -> Result<bool> {
        users::username_exists(self, username_key, skeleton).await
    }
    async fn find_user_by_email(&self, email_key: &str) -> Result<Option<UserRow>> {
        users::find_by_email(self, email_key).await
    }
    async fn find_users_for_login(&self, username_key: &str, email_key: &str) -> Result<Vec<UserRow>> {
        users::find_for_login(self, username_key, email_key).await
    }
    async fn find_user(&self, id: i64) -> Result<Option<UserRow>> {
        users::find_by_id(self, id).await
    }
    async fn find_active_user_by_email(&self, email_key: &str) -> Result<Option<UserRow>> {
        users::find_active_by_email(self, email_key).await
    }
    async fn address_is_a_username(&self, email_key: &str) -> Result<bool> {
        users::address_is_a_username(self, email_key).await
    }
    async fn rehash_password(&self, seen: Seen<'_>, password_hash: &str) -> Result<bool> {
        users::replace_password_hash(self, seen, None, password_hash).await
    }
    async fn complete_signup(
        &self,
        pending: &PendingRow,
        username_skeleton: &str,
        session: &NewSessionRow<'_>,
    ) -> Result<ProfileRow> {
        lifecycle::complete_signup(self, pending, username_skeleton, session).await
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
        lifecycle::replace_password(self, seen, password_hash, code, throttle_key, session, now).await
    }
    async fn change_email(&self, seen: Seen<'_>, code: &CodeRow, session: &NewSessionRow<'_>) -> Result<ProfileRow> {
        lifecycle::change_email(self, seen, code, session).await
    }
    async fn delete_account(&self, seen: Seen<'_>, throttle_key: &str, now: i64) -> Result<()> {
        lifecycle::delete_account(self, seen, throttle_key, now).await
    }
}

impl SessionStore for Pool {
    async fn complete_login(
        &self,
        throttle_key: &str,
        seen: Seen<'_>,
        session: &NewSessionRow<'_>,
        known_since: i64,
    ) -> Result<Option<SignedInRow>> {
        super::complete_login(self, throttle_key, seen, session, known_since).await
    }
    async fn find_session_profile(&self, token_hash: &[u8], now: i64) -> Result<Option<ProfileRow>> {
        sessions::find_profile(self, token_hash, now).await
    }
    async fn find_session_user(&self, token_hash: &[u8], now: i64) -> Result<Option<UserRow>> {
        sessions::find_user(self, token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &[u8]) -> Result<bool> {
        sessions::delete(self, token_hash).await
    }
    async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<()> {
        sessions::touch(self, token_hash, now).await
    }
    async fn list_sessions(&self, user_id: i64, token_hash: &[u8], now: i64) -> Result<Vec<DeviceRow>> {
        sessions::list(self, user_id, token_hash, now).await
    }
    async fn end_sessions(&self, user_id: i64, token_hash: &[u8], public_id: Option<&str>, now: i64) -> Result<u64> {
        sessions::end(self, user_id, token_hash, public_id, now).await
    }
    async fn session_was_ended(&self, token_hash: &[u8]) -> Result<bool> {
        sessions::was_ended(self, token_hash).await
    }
}

impl CodeStore for Pool {
    async fn insert_pending_signup(&self, new: &NewPending<'_>, replaces: Option<&[u8]>) -> Result<i64> {
        pending_signups::insert(self, new, replaces).await
    }
    async fn pending_signup_tags(&self) -> Result<Vec<String>> {
        pending_signups::live_tags(self).await
    }
    async fn find_pending_by_owner(&self, owner_hash: &[u8]) -> Result<Option<PendingRow>> {
        pending_signups::find_by_owner(self, owner_hash).await
    }
    async fn find_pending_by_address(&self, email_key: &str, username_key: &str) -> Result<Vec<PendingRow>> {
        pending_signups::find_by_address(self, email_key, username_key).await
    }
    async fn reserve_code_attempt(&self, table: CodeTable, id: i64, code_hash: &str, max: i64) -> Result<Option<i64>> {
        codes::reserve_attempt(self, table, id, code_hash, max).await
    }
    async fn swap_code(&self, table: CodeTable, id: i64, old: &CodeState<'_>, new: &CodeState<'_>) -> Result<bool> {
        codes::swap_code(self, table, id, old, new).await
    }
    async fn delete_code(&self, table: CodeTable, id: i64) -> Result<()> {
        codes::delete(self, table, id).await
    }
    async fn delete_code_if(&self, table: CodeTable, id: i64, code_hash: &str) -> Result<bool> {
        codes::delete_if_code(self, table, id, code_hash).await
    }
    async fn find_account_code(&self, subject: Subject<'_>) -> Result<Option<CodeRow>> {
        account_codes::find(self, subject).await
    }
    async fn replace_account_code(&self, new: &NewCode<'_>, cooldown: i64) -> Result<std::result::Result<i64, i64>> {
        account_codes::replace(self, new, cooldown).await
    }
    async fn refund_code_attempt(&self, id: i64, code_hash: &str) -> Result<()> {
        account_codes::refund_attempt(self, id, code_hash).await
    }
}

impl AdminStore for Pool {
    async fn search_users(&self, prefix: &str, after: i64, limit: i64, now: i64) -> Result<Vec<AdminUserRow>> {
        admin::search(self, prefix, after, limit, now).await
    }
    async fn show_user(&self, user_id: i64, now: i64) -> Result<Option<AdminUserRow>> {
        admin::show(self, user_id, now).await
    }
    async fn admin_act(&self, user_id: i64, action: AdminAction, event: &NewEvent<'_>) -> Result<u64> {
        admin::act(self, user_id, action, event).await
    }
    async fn sign_in_gates(&self, user_id: i64) -> Result<crate::store::SignInGates> {
        admin::sign_in_gates(self, user_id).await
    }
}

impl SecondFactorStore for Pool {
    async fn start_second_factor(&self, user_id: i64, secret: &[u8], now: i64) -> Result<bool> {
        second_factor::start(self, user_id, secret, now).await
    }
    async fn find_second_factor(&self, user_id: i64) -> Result<Option<SecondFactorRow>> {
        second_factor::find(self, user_id).await
    }
    async fn change_second_factor(
        &self,
        user_id: i64,
        proof: Proof<'_>,
        change: FactorChange<'_>,
        event: &NewEvent<'_>,
    ) -> Result<bool> {
        second_factor::change(self, user_id, proof, change, event).await
    }
    async fn add_login_challenge(&self, challenge_hash: &[u8], seen: Seen<'_>, expires_at: i64) -> Result<()> {
        second_factor::add_challenge(self, challenge_hash, seen, expires_at).await
    }
    async fn find_login_challenge(&self, challenge_hash: &[u8], now: i64) -> Result<Option<ChallengeRow>> {
        second_factor::find_challenge(self, challenge_hash, now).await
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
        second_factor::complete_login(self, challenge_hash, throttle_key, seen, proof, session, known_since).await
    }
}

impl EventStore for Pool {
    async fn record_event(&self, event: &NewEvent<'_>) -> Result<()> {
        events::insert(self, event).await
    }
    async fn record_event_at_most_every(&self, event: &NewEvent<'_>, every: i64) -> Result<()> {
        events::insert_at_most_every(self, event, every).await
    }
    async fn list_events(&self, user_id: i64, since: i64, before: i64, limit: i64) -> Result<Vec<EventRow>> {
        events::list(self, user_id, since, before, limit).await
    }
    async fn note_device(&self, user_id: i64, device: &str, network: &str, now: i64, known_since: i64) -> Result<bool> {
        events::note_device(self, user_id, device, network, now, known_since).await
    }
    async fn purge_events(&self, before: i64, devices_before: i64) -> Result<u64> {
        events::purge(self, before, devices_before).await
    }
}

impl LimitStore for Pool {
    async fn reserve_login_attempt(&self, key: &str, policy: LockPolicy, now: i64) -> Result<Reservation> {
        login_throttle::reserve(self, key, policy, now).await
    }
    async fn clear_login_throttle(&self, key: &str) -> Result<()> {
        login_throttle::clear(self, key).await
    }
    async fn reserve_mail_slot(
        &self,
        address_key: &str,
        requester: &str,
        limits: MailLimits,
        now: i64,
    ) -> Result<std::result::Result<i64, i64>> {
        mail_sends::reserve(self, address_key, requester, limits, now).await
    }
    async fn release_mail_slot(&self, id: i64) -> Result<()> {
        mail_sends::release(self, id).await
    }
}
