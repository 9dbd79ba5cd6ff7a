//! The store on PostgreSQL, for the HTTP service: the same steps as on SQLite, each one statement
//! or one transaction, so that any number of server processes on one database behave as one. The
//! statements are the table files' own; what is written here is only what PostgreSQL needs of its
//! own. Where SQLite's single writer made a read-then-write step atomic, a transaction here takes
//! an advisory lock on what it counts (an address's mail, a reset's subject) first; sign-in is one
//! statement with a row lock; the login counter's upsert and the outbox tags use PostgreSQL's
//! functions.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};

use super::account_codes::{self, CodeRow, NewCode, Subject};
use super::codes::{self, CodeState, CodeTable};
use super::lifecycle::NewSessionRow;
use super::login_throttle::{self, LockPolicy, Reservation, ThrottleRow};
use super::mail_sends::{self, MailLimits};
use super::pending_signups::{self, NewPending, PendingRow};
use super::sessions::{self, ProfileRow};
use super::users::{self, Seen, UserRow};
use super::{map_user_conflict, AccountStore, CodeStore, LimitStore, OpenError, SessionStore, Store};
use crate::error::{Error, Result};
use crate::limits::{LOGIN_HARD_LIMIT, LOGIN_THROTTLE_KEEP_SECS, MAIL_SEND_KEEP_SECS};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections per process: argon2 bounds the work in flight far below this.
const MAX_CONNECTIONS: u32 = 16;

/// Connects to `url` (`postgres://…`) and migrates the database. Several processes may start at
/// once: sqlx serialises migrations with an advisory lock.
pub async fn open(url: &str) -> std::result::Result<PgPool, OpenError> {
    let options: PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Holds, until the transaction ends, the lock named by `name`: read-count-write steps on one
/// name run one at a time across every process.
async fn lock(tx: &mut Transaction<'_, Postgres>, name: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(name).execute(&mut **tx).await?;
    Ok(())
}

/// Sign-in in one statement, one round trip and one commit for what every sign-in writes (SQLite:
/// `sessions::complete_login`, a transaction). The share lock makes a concurrent delete or
/// password change wait, and then this finds no row. Binds $1 throttle key, $2 token hash, $3
/// account id, $4 now, $5 expiry, $6 password hash.
const COMPLETE_LOGIN: &str =
    "WITH u AS (SELECT id FROM users WHERE id = $3 AND password_hash = $6 AND is_active FOR SHARE),
          s AS (INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                SELECT $2, id, $4, $5 FROM u RETURNING user_id, expires_at),
          cleared AS (DELETE FROM login_throttle WHERE identifier_key = $1 AND EXISTS (SELECT 1 FROM s))
     SELECT u.username, u.email, u.is_active, u.is_admin, u.date_joined, s.expires_at AS session_expires_at,
       (SELECT c.new_email FROM account_codes c
        WHERE c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > $4) AS pending_email
     FROM s JOIN users u ON u.id = s.user_id
     WHERE u.is_active";

/// As SQLite's upsert in `login_throttle::reserve`, with PostgreSQL's LEAST, a cast for the shift
/// and the table named by its alias; the upsert's row lock makes concurrent attempts count one
/// after another. Binds $1 key, $2 now, $3 free, $4 base, $5 max, $6 hard limit.
const RESERVE_LOGIN: &str = "INSERT INTO login_throttle AS t (identifier_key, failures, locked_until, updated_at)
     VALUES ($1, 1, CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END, $2)
     ON CONFLICT (identifier_key) DO UPDATE SET
       failures = t.failures + 1,
       locked_until = CASE WHEN t.failures + 1 >= $3
                      THEN $2 + LEAST($4 << LEAST(t.failures + 1 - $3, 10)::integer, $5) ELSE 0 END,
       updated_at = $2
     WHERE t.locked_until <= $2 AND t.failures < $6
     RETURNING failures";

/// As SQLite's `pending_signups::live_tags`, with PostgreSQL's functions.
const LIVE_TAGS: &str = "SELECT encode(substring(owner_hash FROM 1 FOR 8), 'hex') FROM pending_signups";

async fn delete_code_if_in<'e>(ex: impl PgExecutor<'e>, t: CodeTable, id: i64, code_hash: &str) -> Result<bool> {
    let done = sqlx::query(&codes::delete_if_code_sql(t)).bind(id).bind(code_hash).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

async fn insert_session_in<'e>(ex: impl PgExecutor<'e>, user_id: i64, s: &NewSessionRow<'_>) -> Result<()> {
    sqlx::query(sessions::INSERT).bind(s.token_hash).bind(user_id).bind(s.now).bind(s.expires_at).execute(ex).await?;
    Ok(())
}

async fn replace_password_hash_in<'e>(
    ex: impl PgExecutor<'e>,
    seen: Seen<'_>,
    email_key: Option<&str>,
    password_hash: &str,
) -> Result<bool> {
    let done = sqlx::query(users::REPLACE_PASSWORD_HASH)
        .bind(password_hash)
        .bind(seen.id)
        .bind(seen.password_hash)
        .bind(email_key)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every session and every pending code of the account end (a password or address change).
async fn end_sessions_and_codes_in(tx: &mut Transaction<'_, Postgres>, user_id: i64) -> Result<()> {
    sqlx::query(sessions::DELETE_FOR_USER).bind(user_id).execute(&mut **tx).await?;
    sqlx::query(account_codes::DELETE_FOR_USER).bind(user_id).execute(&mut **tx).await?;
    Ok(())
}

async fn clear_throttle_in<'e>(ex: impl PgExecutor<'e>, key: &str) -> Result<()> {
    sqlx::query(login_throttle::CLEAR).bind(key).execute(ex).await?;
    Ok(())
}

async fn profile_in<'e>(ex: impl PgExecutor<'e>, token_hash: &[u8], now: i64) -> Result<Option<ProfileRow>> {
    Ok(sqlx::query_as(sessions::FIND_PROFILE).bind(token_hash).bind(now).fetch_optional(ex).await?)
}

impl Store for PgPool {
    async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut removed = 0;
        for (sql, at) in [
            (pending_signups::DELETE_EXPIRED, now),
            (sessions::DELETE_EXPIRED, now),
            (account_codes::DELETE_EXPIRED, now),
            (mail_sends::DELETE_EXPIRED, now - MAIL_SEND_KEEP_SECS),
        ] {
            removed += sqlx::query(sql).bind(at).execute(self).await?.rows_affected();
        }
        removed += sqlx::query(login_throttle::DELETE_STALE)
            .bind(now - LOGIN_THROTTLE_KEEP_SECS)
            .bind(now)
            .bind(LOGIN_HARD_LIMIT)
            .execute(self)
            .await?
            .rows_affected();
        Ok(removed)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query(super::PING).execute(self).await?;
        Ok(())
    }

    async fn close(&self) {
        PgPool::close(self).await
    }
}

impl AccountStore for PgPool {
    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(users::COUNT).fetch_one(self).await?)
    }

    async fn username_exists(&self, username_key: &str, skeleton: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(users::USERNAME_EXISTS).bind(username_key).bind(skeleton).fetch_one(self).await?)
    }

    async fn find_user_by_email(&self, email_key: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(users::FIND_BY_EMAIL).bind(email_key).fetch_optional(self).await?)
    }

    async fn find_users_for_login(&self, username_key: &str, email_key: &str) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as(users::FIND_FOR_LOGIN).bind(username_key).bind(email_key).fetch_all(self).await?)
    }

    async fn find_user(&self, id: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(users::FIND_BY_ID).bind(id).fetch_optional(self).await?)
    }

    async fn find_active_user_by_email(&self, email_key: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(users::FIND_ACTIVE_BY_EMAIL).bind(email_key).fetch_optional(self).await?)
    }

    async fn address_is_a_username(&self, email_key: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(users::ADDRESS_IS_A_USERNAME).bind(email_key).fetch_one(self).await?)
    }

    async fn rehash_password(&self, seen: Seen<'_>, password_hash: &str) -> Result<bool> {
        replace_password_hash_in(self, seen, None, password_hash).await
    }

    async fn complete_signup(
        &self,
        pending: &PendingRow,
        username_skeleton: &str,
        token_hash: &[u8],
        now: i64,
        session_expires_at: i64,
    ) -> Result<ProfileRow> {
        let mut tx = self.begin().await?;
        // Concurrent right codes: the row lock makes every other DELETE wait, then find nothing.
        if !delete_code_if_in(&mut *tx, CodeTable::PendingSignups, pending.id, &pending.code_hash).await? {
            return Err(Error::NoPendingSignup);
        }
        let user_id: i64 = sqlx::query_scalar(users::INSERT)
            .bind(&pending.username)
            .bind(&pending.username_key)
            .bind(username_skeleton)
            .bind(&pending.email)
            .bind(&pending.email_key)
            .bind(&pending.password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_user_conflict)?;
        let session = NewSessionRow { token_hash, now, expires_at: session_expires_at };
        insert_session_in(&mut *tx, user_id, &session).await?;
        let profile = profile_in(&mut *tx, token_hash, now).await?;
        tx.commit().await?;
        profile.ok_or_else(|| Error::internal("verification", "the new session was not found"))
    }

    async fn replace_password(
        &self,
        seen: Seen<'_>,
        password_hash: &str,
        code: Option<&CodeRow>,
        throttle_key: &str,
        session: &NewSessionRow<'_>,
    ) -> Result<ProfileRow> {
        let mut tx = self.begin().await?;
        // The account's row first, always: every lifecycle step locks it before any code row, so
        // two of them never wait on each other.
        let address = code.map(|c| c.email_key.as_str());
        if !replace_password_hash_in(&mut *tx, seen, address, password_hash).await? {
            return Err(Error::NotAuthenticated);
        }
        if let Some(code) = code {
            if !delete_code_if_in(&mut *tx, CodeTable::AccountCodes, code.id, &code.code_hash).await? {
                return Err(Error::NoPendingReset);
            }
        }
        end_sessions_and_codes_in(&mut tx, seen.id).await?;
        clear_throttle_in(&mut *tx, throttle_key).await?;
        insert_session_in(&mut *tx, seen.id, session).await?;
        let profile = profile_in(&mut *tx, session.token_hash, session.now).await?;
        tx.commit().await?;
        profile.ok_or_else(|| Error::internal("password change", "the new session was not found"))
    }

    async fn change_email(&self, seen: Seen<'_>, code: &CodeRow, session: &NewSessionRow<'_>) -> Result<ProfileRow> {
        let new_email = code.new_email.as_deref().ok_or_else(|| Error::internal("email change", "no new address"))?;
        let mut tx = self.begin().await?;
        let moved = sqlx::query(users::UPDATE_EMAIL)
            .bind(new_email)
            .bind(&code.email_key)
            .bind(seen.id)
            .bind(seen.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_user_conflict)?;
        if moved.rows_affected() != 1 {
            return Err(Error::NotAuthenticated);
        }
        if !delete_code_if_in(&mut *tx, CodeTable::AccountCodes, code.id, &code.code_hash).await? {
            return Err(Error::NoPendingEmailChange);
        }
        end_sessions_and_codes_in(&mut tx, seen.id).await?;
        insert_session_in(&mut *tx, seen.id, session).await?;
        let profile = profile_in(&mut *tx, session.token_hash, session.now).await?;
        tx.commit().await?;
        profile.ok_or_else(|| Error::internal("email change", "the new session was not found"))
    }

    async fn delete_account(&self, seen: Seen<'_>, throttle_key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(users::DELETE).bind(seen.id).bind(seen.password_hash).execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            return Err(Error::NotAuthenticated);
        }
        clear_throttle_in(&mut *tx, throttle_key).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl SessionStore for PgPool {
    async fn complete_login(
        &self,
        throttle_key: &str,
        token_hash: &[u8],
        seen: Seen<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<Option<ProfileRow>> {
        Ok(sqlx::query_as(COMPLETE_LOGIN)
            .bind(throttle_key)
            .bind(token_hash)
            .bind(seen.id)
            .bind(now)
            .bind(expires_at)
            .bind(seen.password_hash)
            .fetch_optional(self)
            .await?)
    }

    async fn find_session_profile(&self, token_hash: &[u8], now: i64) -> Result<Option<ProfileRow>> {
        profile_in(self, token_hash, now).await
    }

    async fn find_session_user(&self, token_hash: &[u8], now: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(sessions::FIND_USER).bind(token_hash).bind(now).fetch_optional(self).await?)
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<bool> {
        let done = sqlx::query(sessions::DELETE).bind(token_hash).execute(self).await?;
        Ok(done.rows_affected() == 1)
    }
}

impl CodeStore for PgPool {
    async fn insert_pending_signup(&self, new: &NewPending<'_>, replaces: Option<&[u8]>) -> Result<i64> {
        let mut tx = self.begin().await?;
        if let Some(owner_hash) = replaces {
            sqlx::query(pending_signups::DELETE_BY_OWNER).bind(owner_hash).execute(&mut *tx).await?;
        }
        let id = sqlx::query_scalar(pending_signups::INSERT)
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

    async fn pending_signup_tags(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(LIVE_TAGS).fetch_all(self).await?)
    }

    async fn find_pending_by_owner(&self, owner_hash: &[u8]) -> Result<Option<PendingRow>> {
        Ok(sqlx::query_as(pending_signups::FIND_BY_OWNER).bind(owner_hash).fetch_optional(self).await?)
    }

    async fn find_pending_by_address(&self, email_key: &str, username_key: &str) -> Result<Vec<PendingRow>> {
        Ok(sqlx::query_as(pending_signups::FIND_BY_ADDRESS).bind(email_key).bind(username_key).fetch_all(self).await?)
    }

    async fn reserve_code_attempt(&self, t: CodeTable, id: i64, code_hash: &str, max: i64) -> Result<Option<i64>> {
        let sql = codes::reserve_attempt_sql(t);
        Ok(sqlx::query_scalar(&sql).bind(id).bind(code_hash).bind(max).fetch_optional(self).await?)
    }

    async fn swap_code(&self, t: CodeTable, id: i64, old: &CodeState<'_>, new: &CodeState<'_>) -> Result<bool> {
        let done = sqlx::query(&codes::swap_sql(t))
            .bind(new.code_hash)
            .bind(new.attempts)
            .bind(new.last_sent_at)
            .bind(new.expires_at)
            .bind(id)
            .bind(old.code_hash)
            .bind(old.last_sent_at)
            .execute(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_code(&self, t: CodeTable, id: i64) -> Result<()> {
        sqlx::query(&codes::delete_sql(t)).bind(id).execute(self).await?;
        Ok(())
    }

    async fn delete_code_if(&self, t: CodeTable, id: i64, code_hash: &str) -> Result<bool> {
        delete_code_if_in(self, t, id, code_hash).await
    }

    async fn find_account_code(&self, s: Subject<'_>) -> Result<Option<CodeRow>> {
        Ok(sqlx::query_as(&account_codes::find_sql())
            .bind(s.purpose())
            .bind(s.owner())
            .bind(s.account())
            .fetch_optional(self)
            .await?)
    }

    async fn replace_account_code(&self, new: &NewCode<'_>, cooldown: i64) -> Result<std::result::Result<i64, i64>> {
        let s = new.subject;
        let mut tx = self.begin().await?;
        lock(&mut tx, &s.lock_name()).await?;
        sqlx::query(&account_codes::clear_stale_sql())
            .bind(s.purpose())
            .bind(s.owner())
            .bind(s.account())
            .bind(new.now - cooldown)
            .bind(new.now)
            .execute(&mut *tx)
            .await?;
        let live: Option<i64> = sqlx::query_scalar(&account_codes::last_sent_sql())
            .bind(s.purpose())
            .bind(s.owner())
            .bind(s.account())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(last_sent_at) = live {
            return Ok(Err(last_sent_at + cooldown - new.now));
        }
        let id = account_codes::insert_code!(new).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    async fn refund_code_attempt(&self, id: i64, code_hash: &str) -> Result<()> {
        sqlx::query(account_codes::REFUND).bind(id).bind(code_hash).execute(self).await?;
        Ok(())
    }
}

impl LimitStore for PgPool {
    async fn reserve_login_attempt(&self, key: &str, policy: LockPolicy, now: i64) -> Result<Reservation> {
        let granted: Option<i64> = sqlx::query_scalar(RESERVE_LOGIN)
            .bind(key)
            .bind(now)
            .bind(policy.free)
            .bind(policy.base_secs)
            .bind(policy.max_secs)
            .bind(policy.hard_limit)
            .fetch_optional(self)
            .await?;
        if let Some(n) = granted {
            return Ok(Reservation::Granted { n });
        }
        let row: Option<ThrottleRow> = sqlx::query_as(login_throttle::GET).bind(key).fetch_optional(self).await?;
        Ok(login_throttle::refused(row, policy, now))
    }

    async fn clear_login_throttle(&self, key: &str) -> Result<()> {
        clear_throttle_in(self, key).await
    }

    async fn reserve_mail_slot(
        &self,
        address_key: &str,
        requester: &str,
        limits: MailLimits,
        now: i64,
    ) -> Result<std::result::Result<i64, i64>> {
        let mut tx = self.begin().await?;
        // The counts below and the insert must see each other's effects across processes.
        lock(&mut tx, &format!("mail:{address_key}")).await?;
        let id: Option<i64> = sqlx::query_scalar(mail_sends::RESERVE)
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
        for (window, limit, mine) in mail_sends::windows(limits) {
            let until: Option<i64> = sqlx::query_scalar(mail_sends::WAIT)
                .bind(address_key)
                .bind(now)
                .bind(window)
                .bind(limit - 1)
                .bind(mine.then_some(requester))
                .fetch_optional(self)
                .await?;
            wait = wait.max(until.unwrap_or(0));
        }
        Ok(Err(wait))
    }

    async fn release_mail_slot(&self, id: i64) -> Result<()> {
        sqlx::query(mail_sends::RELEASE).bind(id).execute(self).await?;
        Ok(())
    }
}
