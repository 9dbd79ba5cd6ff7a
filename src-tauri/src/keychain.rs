//! The session token in the OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
//!
//! The entry holds the token together with whoever issued it, as a small JSON record:
//! `{"server": "https://accounts.example.org", "token": "…"}`, or `"server": null` for this data
//! folder's own database. A token is handed out only to the one that issued it: when
//! `LATCHKEY_SERVER_URL` changes, or the app moves between its own accounts and a server's, the
//! entry is deleted unread instead of being sent anywhere. The issuer travels inside the secret
//! rather than in the entry's name, so no token can be read without it, one entry per data
//! folder stays the only one (nothing is left behind under an old server's name), and an entry
//! from before this record (the token alone) is told apart: with a server it is deleted unsent;
//! without one it is only ever compared with this data folder's database, so it is still read.

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
    /// Who issues the sessions kept here: a server's address, or `None` for this data folder's
    /// own database.
    issuer: Option<String>,
}

impl Keychain {
    pub fn new(service: &str, account: &str) -> Self {
        Keychain { service: service.to_string(), account: account.to_string(), issuer: None }
    }

    /// This data folder's own entry: the account name carries the database's install id.
    pub fn scoped(&self, install_id: &str) -> Self {
        Keychain { account: format!("{}-{install_id}", self.account), ..self.clone() }
    }

    /// The same entry, for sessions `server` issues (`None`: this data folder's own accounts). A
    /// token some other issuer left in it is never loaded.
    pub fn issued_by(self, server: Option<String>) -> Self {
        Keychain { issuer: server, ..self }
    }

    /// The token in a stored entry if this keychain's issuer issued it.
    fn token_in(&self, stored: &str) -> Option<Token> {
        match serde_json::from_str::<serde_json::Value>(stored) {
            Ok(record) if record.is_object() => {
                let token = record["token"].as_str()?;
                (record["server"].as_str() == self.issuer.as_deref()).then(|| Token::from_stored(token.to_string()))
            }
            // The token alone, as entries were before they named their issuer: never sent to a
            // server; without one, only compared with this data folder's database.
            _ => self.issuer.is_none().then(|| Token::from_stored(stored.to_string())),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, &self.account).map_err(|e| KeychainError(e.to_string()))
    }

    /// The stored token, `None` when there is none. A token another issuer left (another server,
    /// this data folder's own accounts, or a token alone from before entries named their issuer
    /// while a server is set) is deleted, not returned. Keychain calls block on D-Bus, so they run
    /// off the async workers.
    pub async fn load(&self) -> Result<Option<Token>, KeychainError> {
        let this = self.clone();
        run_blocking(move || {
            let entry = this.entry()?;
            let stored = match entry.get_password() {
                Ok(stored) => stored,
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(KeychainError(e.to_string())),
            };
            if let Some(token) = this.token_in(&stored) {
                return Ok(Some(token));
            }
            log::info!("the keychain held a session another server (or this data folder) issued: forgotten, not sent");
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(KeychainError(e.to_string())),
            }
        })
        .await
    }

    /// Keeps `token` with the name of its issuer.
    pub async fn store(&self, token: &Token) -> Result<(), KeychainError> {
        let record = serde_json::json!({"server": self.issuer, "token": token.expose()}).to_string();
        let this = self.clone();
        run_blocking(move || this.entry()?.set_password(&record).map_err(|e| KeychainError(e.to_string()))).await
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
