//! What the account-lifecycle transactions (`engine::lifecycle`) take besides the account read.

/// A session to create in the same transaction.
pub struct NewSessionRow<'a> {
    pub token_hash: &'a [u8],
    /// Random, never derived from the token: what the devices list and its "Sign out" name.
    pub public_id: &'a str,
    pub device: &'a str,
    /// The client's address (the service's); none on the desktop.
    pub ip: Option<&'a str>,
    /// Its network (`auth::network_of`), remembered as a known device of the account.
    pub network: &'a str,
    pub now: i64,
    pub expires_at: i64,
}
