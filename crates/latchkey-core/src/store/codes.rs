//! The emailed-code columns that pending sign-ups and account codes share (`code_hash`,
//! `attempts`, `last_sent_at`, `expires_at`), with one set of statements for both tables.

use sqlx::SqliteExecutor;

use crate::error::Result;

/// A table with the code columns.
#[derive(Debug, Clone, Copy)]
pub enum CodeTable {
    PendingSignups,
    AccountCodes,
}

impl CodeTable {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CodeTable::PendingSignups => "pending_signups",
            CodeTable::AccountCodes => "account_codes",
        }
    }
}

/// The code-related columns, saved before a resend so a failed send can put them back.
#[derive(Debug, Clone, Copy)]
pub struct CodeState<'a> {
    pub code_hash: &'a str,
    pub attempts: i64,
    pub last_sent_at: i64,
    pub expires_at: i64,
}

/// Counts one attempt before the code is checked, so parallel guesses cannot exceed the limit.
/// Returns the attempt number, or `None` when the limit was reached or the code was replaced.
pub async fn reserve_attempt<'e>(
    ex: impl SqliteExecutor<'e>,
    table: CodeTable,
    id: i64,
    code_hash: &str,
    max: i64,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(&reserve_attempt_sql(table)).bind(id).bind(code_hash).bind(max).fetch_optional(ex).await?)
}

/// Binds $1 id, $2 code hash, $3 the most attempts.
pub(crate) fn reserve_attempt_sql(table: CodeTable) -> String {
    format!(
        "UPDATE {} SET attempts = attempts + 1 WHERE id = $1 AND code_hash = $2 AND attempts < $3 RETURNING attempts",
        table.name()
    )
}

/// Replaces the code if the row is still in the `old` state (a resend); false when another request won.
pub async fn swap_code<'e>(
    ex: impl SqliteExecutor<'e>,
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

/// Binds the new state ($1 code hash, $2 attempts, $3 sent, $4 expiry), $5 id, and the old state
/// ($6 code hash, $7 sent).
pub(crate) fn swap_sql(table: CodeTable) -> String {
    format!(
        "UPDATE {} SET code_hash = $1, attempts = $2, last_sent_at = $3, expires_at = $4
         WHERE id = $5 AND code_hash = $6 AND last_sent_at = $7",
        table.name()
    )
}

pub async fn delete<'e>(ex: impl SqliteExecutor<'e>, table: CodeTable, id: i64) -> Result<()> {
    sqlx::query(&delete_sql(table)).bind(id).execute(ex).await?;
    Ok(())
}

pub(crate) fn delete_sql(table: CodeTable) -> String {
    format!("DELETE FROM {} WHERE id = $1", table.name())
}

/// Deletes the row only if it still carries this code; false when a resend or another request won.
pub async fn delete_if_code<'e>(
    ex: impl SqliteExecutor<'e>,
    table: CodeTable,
    id: i64,
    code_hash: &str,
) -> Result<bool> {
    let done = sqlx::query(&delete_if_code_sql(table)).bind(id).bind(code_hash).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Binds $1 id, $2 code hash.
pub(crate) fn delete_if_code_sql(table: CodeTable) -> String {
    format!("DELETE FROM {} WHERE id = $1 AND code_hash = $2", table.name())
}
