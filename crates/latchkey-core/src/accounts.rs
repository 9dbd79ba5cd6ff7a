//! The one contract a front end asks of an account service. The desktop app's commands call it;
//! `Local` keeps the accounts in a database on this computer and `remote::Remote` (feature
//! `client`) asks a `latchkey-server` for them. One test suite runs against both.

use std::future::Future;
use std::sync::Arc;

use sqlx::SqlitePool;

use crate::auth::account::{self, EmailChangeStarted, EmailChanged, PasswordReplaced, ResetRequest};
use crate::auth::login::{self, Startup};
use crate::auth::secret::Token;
use crate::auth::signup::{self, CodeSent, SignupRequest};
use crate::auth::{NewSession, Profile, Timestamp};
use crate::error::Result;
use crate::mail::Mailer;

/// The clock, passed in so the rules can be tested at any moment.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Every action on an account. `token` is the caller's session, if it has one.
pub trait Accounts: Send + Sync {
    /// The first screen: whether anyone can sign in yet, and whether the remembered session still
    /// opens (`stale_token` when it does not, so the caller forgets it). `remembered` is called
    /// only when the answer depends on it, so a first start never waits on the keychain.
    fn startup<F: Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> impl Future<Output = Result<Startup>> + Send;
    fn request_signup(&self, req: SignupRequest<'_>) -> impl Future<Output = Result<CodeSent>> + Send;
    fn resend_signup(&self, signup_id: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn verify_signup(&self, signup_id: &str, code: &str) -> impl Future<Output = Result<NewSession>> + Send;
    fn login(&self, identifier: &str, password: &str) -> impl Future<Output = Result<NewSession>> + Send;
    fn whoami(&self, token: Option<&Token>) -> impl Future<Output = Result<Profile>> + Send;
    fn logout(&self, token: &Token) -> impl Future<Output = Result<()>> + Send;
    fn request_reset(&self, email: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn resend_reset(&self, email: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn reset_password(&self, req: ResetRequest<'_>) -> impl Future<Output = Result<PasswordReplaced>> + Send;
    fn change_password(
        &self,
        token: Option<&Token>,
        current: &str,
        new: &str,
    ) -> impl Future<Output = Result<PasswordReplaced>> + Send;
    fn request_email_change(
        &self,
        token: Option<&Token>,
        password: &str,
        new_email: &str,
    ) -> impl Future<Output = Result<EmailChangeStarted>> + Send;
    fn resend_email_change(&self, token: Option<&Token>) -> impl Future<Output = Result<EmailChangeStarted>> + Send;
    fn verify_email_change(
        &self,
        token: Option<&Token>,
        code: &str,
    ) -> impl Future<Output = Result<EmailChanged>> + Send;
    fn cancel_email_change(&self, token: Option<&Token>) -> impl Future<Output = Result<Profile>> + Send;
    /// Returns whether the notice mail was sent.
    fn delete_account(
        &self,
        token: Option<&Token>,
        password: &str,
        confirm: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The accounts in a database on this computer: the domain functions over the pool and mailer.
pub struct Local {
    pub pool: SqlitePool,
    pub mailer: Mailer,
    pub clock: Clock,
}

impl Local {
    fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

impl Accounts for Local {
    async fn startup<F: Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> Result<Startup> {
        login::startup(&self.pool, &self.mailer, self.now(), remembered).await
    }

    async fn request_signup(&self, req: SignupRequest<'_>) -> Result<CodeSent> {
        signup::request_code(&self.pool, &self.mailer, req, self.now()).await
    }

    async fn resend_signup(&self, signup_id: &str) -> Result<CodeSent> {
        signup::resend_code(&self.pool, &self.mailer, signup_id, self.now()).await
    }

    async fn verify_signup(&self, signup_id: &str, code: &str) -> Result<NewSession> {
        signup::verify(&self.pool, &self.mailer, signup_id, code, self.now()).await
    }

    async fn login(&self, identifier: &str, password: &str) -> Result<NewSession> {
        login::login(&self.pool, identifier, password, self.now()).await
    }

    async fn whoami(&self, token: Option<&Token>) -> Result<Profile> {
        login::whoami(&self.pool, token, self.now()).await
    }

    async fn logout(&self, token: &Token) -> Result<()> {
        login::logout(&self.pool, token).await
    }

    async fn request_reset(&self, email: &str) -> Result<CodeSent> {
        account::request_reset(&self.pool, &self.mailer, email, self.now()).await
    }

    async fn resend_reset(&self, email: &str) -> Result<CodeSent> {
        account::resend_reset(&self.pool, &self.mailer, email, self.now()).await
    }

    async fn reset_password(&self, req: ResetRequest<'_>) -> Result<PasswordReplaced> {
        account::reset_password(&self.pool, &self.mailer, req, self.now()).await
    }

    async fn change_password(&self, token: Option<&Token>, current: &str, new: &str) -> Result<PasswordReplaced> {
        account::change_password(&self.pool, &self.mailer, token, current, new, self.now()).await
    }

    async fn request_email_change(
        &self,
        token: Option<&Token>,
        password: &str,
        new_email: &str,
    ) -> Result<EmailChangeStarted> {
        account::request_email_change(&self.pool, &self.mailer, token, password, new_email, self.now()).await
    }

    async fn resend_email_change(&self, token: Option<&Token>) -> Result<EmailChangeStarted> {
        account::resend_email_change(&self.pool, &self.mailer, token, self.now()).await
    }

    async fn verify_email_change(&self, token: Option<&Token>, code: &str) -> Result<EmailChanged> {
        account::verify_email_change(&self.pool, &self.mailer, token, code, self.now()).await
    }

    async fn cancel_email_change(&self, token: Option<&Token>) -> Result<Profile> {
        account::cancel_email_change(&self.pool, token, self.now()).await
    }

    async fn delete_account(&self, token: Option<&Token>, password: &str, confirm: &str) -> Result<bool> {
        account::delete_account(&self.pool, &self.mailer, token, password, confirm, self.now()).await
    }
}
