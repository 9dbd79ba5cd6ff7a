//! The emailed-code columns that pending sign-ups and account codes share (`code_hash`,
//! `attempts`, `last_sent_at`, `expires_at`), with one set of statements for both tables.

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

/// Binds $1 id, $2 code hash, $3 the most attempts.
pub(crate) fn reserve_attempt_sql(table: CodeTable) -> String {
    format!(
        "UPDATE {} SET attempts = attempts + 1 WHERE id = $1 AND code_hash = $2 AND attempts < $3 RETURNING attempts",
        table.name()
    )
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

pub(crate) fn delete_sql(table: CodeTable) -> String {
    format!("DELETE FROM {} WHERE id = $1", table.name())
}

/// Binds $1 id, $2 code hash.
pub(crate) fn delete_if_code_sql(table: CodeTable) -> String {
    format!("DELETE FROM {} WHERE id = $1 AND code_hash = $2", table.name())
}
