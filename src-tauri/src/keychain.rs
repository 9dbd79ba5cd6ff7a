//! The session token in the OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).

use crate::auth::secret::Token;

pub const SERVICE: &str = "latchkey";
pub const ACCOUNT: &str = "session";

#[derive(Debug, thiserror::Error)]
#[error("keychain: {0}")]
pub struct KeychainError(String);

#[derive(Clone, Debug)]
pub struct Keychain {
    service: String,
    account: String,
}

impl Keychain {
    pub fn new(service: &str, account: &str) -> Self {
        Keychain { service: service.to_string(), account: account.to_string() }
    }

    /// This data folder's own entry: the account name carries the database's install id.
    pub fn scoped(&self, install_id: &str) -> Self {
        Keychain { service: self.service.clone(), account: format!("{}-{install_id}", self.account) }
    }

    fn entry(&self) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, &self.account).map_err(|e| KeychainError(e.to_string()))
    }

    /// The stored token, `None` when there is none. Keychain calls block on D-Bus, so they run off
    /// the async workers.
    pub async fn load(&self) -> Result<Option<Token>, KeychainError> {
        let this = self.clone();
        run_blocking(move || match this.entry()?.get_password() {
            Ok(token) => Ok(Some(Token::from_stored(token))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(KeychainError(e.to_string())),
        })
        .await
    }

    pub async fn store(&self, token: &Token) -> Result<(), KeychainError> {
        let (this, token) = (self.clone(), token.clone());
        run_blocking(move || this.entry()?.set_password(token.expose()).map_err(|e| KeychainError(e.to_string()))).await
    }

    pub async fn clear(&self) -> Result<(), KeychainError> {
        let this = self.clone();
        run_blocking(move || match this.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeychainError(e.to_string())),
        })
        .await
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeychainError> + Send + 'static,
) -> Result<T, KeychainError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| KeychainError(e.to_string()))?
}
