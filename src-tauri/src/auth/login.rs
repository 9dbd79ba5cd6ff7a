//! Login, sessions and logout.

use serde::Serialize;
use sqlx::SqlitePool;
use unicode_normalization::UnicodeNormalization;

use super::secret::{self, Token};
use super::{validate, NewSession, Profile, Timestamp, SESSION_TTL_SECS};
use crate::error::{Error, Result};
use crate::store::{self, sessions, users};

pub async fn login(pool: &SqlitePool, identifier: &str, password: &str, now: Timestamp) -> Result<NewSession> {
    let identifier = identifier.trim();
    if identifier.is_empty() {
        return Err(Error::invalid("identifier", "Enter your username or email address."));
    }
    if password.is_empty() {
        return Err(Error::invalid("password", "Enter your password."));
    }
    let password: String = password.nfkc().collect();
    let username_key = identifier.nfkc().collect::<String>().to_lowercase();
    let candidates = users::find_for_login(pool, &username_key, &identifier.to_lowercase()).await?;
    if candidates.is_empty() || password.chars().count() > validate::PASSWORD_MAX {
        // The same argon2 work as a real check, so timing does not tell whether the account exists.
        secret::hash_blocking(password).await?;
        return Err(Error::InvalidCredentials);
    }
    for user in candidates {
        if secret::verify_blocking(password.clone(), user.password_hash.clone()).await? && user.is_active {
            let token = Token::generate()?;
            let expires_at = now + SESSION_TTL_SECS;
            sessions::insert(pool, &token.digest(), user.id, now, expires_at).await?;
            let profile = Profile {
                username: user.username,
                email: user.email,
                is_active: user.is_active,
                is_admin: user.is_admin,
                date_joined: user.date_joined,
                session_expires_at: expires_at,
            };
            return Ok(NewSession { token, profile });
        }
    }
    Err(Error::InvalidCredentials)
}

pub async fn whoami(pool: &SqlitePool, token: Option<&Token>, now: Timestamp) -> Result<Profile> {
    let token = token.ok_or(Error::NotAuthenticated)?;
    let profile = sessions::find_profile(pool, &token.digest(), now).await?;
    profile.map(Profile::from).ok_or(Error::NotAuthenticated)
}

pub async fn logout(pool: &SqlitePool, token: &Token) -> Result<()> {
    sessions::delete(pool, &token.digest()).await?;
    Ok(())
}

/// Which screen the app opens on.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Screen {
    Signup,
    Login,
    Profile,
}

#[derive(Debug, Clone, Serialize)]
pub struct Startup {
    pub screen: Screen,
    pub profile: Option<Profile>,
}

/// Purges what has expired, then decides the first screen from the remembered token, if any.
pub async fn startup(pool: &SqlitePool, token: Option<&Token>, now: Timestamp) -> Result<Startup> {
    store::purge_expired(pool, now).await?;
    if let Ok(profile) = whoami(pool, token, now).await {
        return Ok(Startup { screen: Screen::Profile, profile: Some(profile) });
    }
    let screen = if users::count(pool).await? == 0 { Screen::Signup } else { Screen::Login };
    Ok(Startup { screen, profile: None })
}
