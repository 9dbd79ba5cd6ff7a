//! What the account-lifecycle transactions (`engine::lifecycle`) take besides the account read.

/// A session to create in the same transaction.
pub struct NewSessionRow<'a> {
    pub token_hash: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}
