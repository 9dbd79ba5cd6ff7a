//! The store on SQLite: each step is the function of its table's file (several in one
//! transaction where a step changes more than one table).

use sqlx::SqlitePool;

use super::{
    account_codes, codes, lifecycle, login_throttle, mail_sends, pending_signups, sessions, users, AccountStore,
    CodeRow, CodeState, CodeStore, CodeTable, LimitStore, LockPolicy, MailLimits, NewCode, NewPending, NewSessionRow,
    PendingRow, ProfileRow, Reservation, Seen, SessionStore, Store, Subject, UserRow,
};
use crate::error::Result;

impl Store for SqlitePool {
    async fn purge_expired(&self, now: i64) -> Result<u64> {
        super::purge_expired(self, now).await
    }
    async fn ping(&self) -> Result<()> {
        sqlx::query(super::PING).execute(self).await?;
        Ok(())
    }
    async fn close(&self) {
        SqlitePool::close(self).await
    }
}

impl AccountStore for SqlitePool {
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
        token_hash: &[u8],
        now: i64,
        session_expires_at: i64,
    ) -> Result<ProfileRow> {
        sessions::complete_signup(self, pending, username_skeleton, token_hash, now, session_expires_at).await
    }
    async fn replace_password(
        &self,
        seen: Seen<'_>,
        password_hash: &str,
        code: Option<&CodeRow>,
        throttle_key: &str,
        session: &NewSessionRow<'_>,
    ) -> Result<ProfileRow> {
        lifecycle::replace_password(self, seen, password_hash, code, throttle_key, session).await
    }
    async fn change_email(&self, seen: Seen<'_>, code: &CodeRow, session: &NewSessionRow<'_>) -> Result<ProfileRow> {
        lifecycle::change_email(self, seen, code, session).await
    }
    async fn delete_account(&self, seen: Seen<'_>, throttle_key: &str) -> Result<()> {
        lifecycle::delete_account(self, seen, throttle_key).await
    }
}

impl SessionStore for SqlitePool {
    async fn complete_login(
        &self,
        throttle_key: &str,
        token_hash: &[u8],
        seen: Seen<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<Option<ProfileRow>> {
        sessions::complete_login(self, throttle_key, token_hash, seen, now, expires_at).await
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
}

impl CodeStore for SqlitePool {
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

impl LimitStore for SqlitePool {
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
