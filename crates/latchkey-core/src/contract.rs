//! The one contract a front end asks of an account service. The desktop app's commands call it;
//! `DatabaseAccounts` keeps the accounts in a database on this computer and `remote::Remote` (feature
//! `client`) asks a `latchkey-server` for them. One test suite runs against both.

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::SqlitePool;

use crate::store::{DeviceRow, EventRow, Store};

use crate::auth::account::{self, EmailChangeStarted, ResetRequest, SessionRenewed};
use crate::auth::export::{self, Exported};
use crate::auth::login::{self, Startup};
use crate::auth::second_factor::{self, Enrolment, RecoveryCodes};
use crate::auth::secret::Token;
use crate::auth::signup::{self, CodeSent, SignupCredentials, SignupRequest};
use crate::auth::{activity, devices, Device, NewSession, Profile, Timestamp};
use crate::error::Result;
use crate::mail::Mailer;

/// The clock, passed in so the rules can be tested at any moment.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The computer's clock, in whole seconds since the Unix epoch.
pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0))
}

/// Every action on an account. `token` is the caller's session, if it has one; `device` is the
/// device a new session is recorded for.
pub trait Accounts: Send + Sync {
    /// The first screen: whether anyone can sign in yet, and whether the remembered session still
    /// opens (`stale_token` when it does not, so the caller forgets it). `remembered` is called
    /// only when the answer depends on it, so a first start never waits on the keychain.
    fn startup<F: Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> impl Future<Output = Result<Startup>> + Send;
    /// `requester` is who asks, for the per-requester limits (`auth::THIS_WINDOW` on the desktop,
    /// the client's address on the service; a remote service decides for itself).
    fn request_signup(&self, req: SignupRequest<'_>, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn resend_signup(&self, signup_id: &str, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn verify_signup(
        &self,
        signup_id: &str,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send;
    /// The original service's verification: the address, name and password again, no sign-up id.
    fn verify_with_credentials(
        &self,
        credentials: SignupCredentials<'_>,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send;
    fn login(
        &self,
        identifier: &str,
        password: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send;
    fn whoami(&self, token: Option<&Token>) -> impl Future<Output = Result<Profile>> + Send;
    fn logout(&self, token: &Token) -> impl Future<Output = Result<()>> + Send;
    /// Answers with the reset id that only this requester holds.
    fn request_reset(&self, email: &str, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn resend_reset(&self, reset_id: &str, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send;
    fn reset_password(
        &self,
        req: ResetRequest<'_>,
        device: Device<'_>,
    ) -> impl Future<Output = Result<SessionRenewed>> + Send;
    fn change_password(
        &self,
        token: Option<&Token>,
        current: &str,
        new: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<SessionRenewed>> + Send;
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
        device: Device<'_>,
    ) -> impl Future<Output = Result<SessionRenewed>> + Send;
    fn cancel_email_change(&self, token: Option<&Token>) -> impl Future<Output = Result<Profile>> + Send;
    /// Returns whether the notice mail was sent.
    fn delete_account(
        &self,
        token: Option<&Token>,
        password: &str,
        confirm: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Where the account is signed in, newest use first, this session marked `current`.
    fn sessions(&self, token: Option<&Token>) -> impl Future<Output = Result<Vec<DeviceRow>>> + Send;
    /// Ends one of the account's sessions by its public id (`no_such_session` for any other id).
    fn revoke_session(&self, token: Option<&Token>, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Ends every session of the account but this one; how many.
    fn revoke_other_sessions(&self, token: Option<&Token>) -> impl Future<Output = Result<u64>> + Send;
    /// The second step of a sign-in that answered `second_factor_required`.
    fn login_second_factor(
        &self,
        challenge: &str,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send;
    fn second_factor_setup(
        &self,
        token: Option<&Token>,
        password: &str,
    ) -> impl Future<Output = Result<Enrolment>> + Send;
    fn second_factor_confirm(
        &self,
        token: Option<&Token>,
        code: &str,
    ) -> impl Future<Output = Result<RecoveryCodes>> + Send;
    /// Whether the notice was sent.
    fn second_factor_disable(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    fn second_factor_recovery_codes(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> impl Future<Output = Result<RecoveryCodes>> + Send;
    /// Everything kept about the account, for its owner (the password again; a notice is mailed).
    fn export_data(&self, token: Option<&Token>, password: &str) -> impl Future<Output = Result<Exported>> + Send;
    /// The account's security events of the last 90 days, newest first, a page at a time.
    fn activity(
        &self,
        token: Option<&Token>,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> impl Future<Output = Result<Vec<EventRow>>> + Send;
}

/// The accounts in a database this process opens itself (SQLite on this computer, or the
/// service's PostgreSQL): the domain functions over the store and mailer. Each method hands back
/// the domain function's own future (no wrapper to compile).
pub struct DatabaseAccounts<S = SqlitePool> {
    pub pool: S,
    pub mailer: Mailer,
    pub clock: Clock,
}

impl<S> DatabaseAccounts<S> {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

impl<S: Store> Accounts for DatabaseAccounts<S> {
    fn startup<F: Future<Output = Option<Token>> + Send>(
        &self,
        remembered: impl FnOnce() -> F + Send,
    ) -> impl Future<Output = Result<Startup>> + Send {
        login::startup(&self.pool, &self.mailer, self.now(), remembered)
    }

    fn request_signup(&self, req: SignupRequest<'_>, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send {
        signup::request_code(&self.pool, &self.mailer, req, requester, self.now())
    }

    fn resend_signup(&self, signup_id: &str, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send {
        signup::resend_code(&self.pool, &self.mailer, signup_id, requester, self.now())
    }

    fn verify_signup(
        &self,
        signup_id: &str,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send {
        signup::verify(&self.pool, &self.mailer, signup_id, code, device, self.now())
    }

    fn verify_with_credentials(
        &self,
        credentials: SignupCredentials<'_>,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send {
        signup::verify_with_credentials(&self.pool, &self.mailer, credentials, code, device, self.now())
    }

    fn login(
        &self,
        identifier: &str,
        password: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send {
        login::sign_in(&self.pool, &self.mailer, identifier, password, device, self.now())
    }

    fn whoami(&self, token: Option<&Token>) -> impl Future<Output = Result<Profile>> + Send {
        login::whoami(&self.pool, token, self.now())
    }

    fn logout(&self, token: &Token) -> impl Future<Output = Result<()>> + Send {
        login::logout(&self.pool, token)
    }

    fn request_reset(&self, email: &str, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send {
        account::request_reset(&self.pool, &self.mailer, email, requester, self.now())
    }

    fn resend_reset(&self, reset_id: &str, requester: &str) -> impl Future<Output = Result<CodeSent>> + Send {
        account::resend_reset(&self.pool, &self.mailer, reset_id, requester, self.now())
    }

    fn reset_password(
        &self,
        req: ResetRequest<'_>,
        device: Device<'_>,
    ) -> impl Future<Output = Result<SessionRenewed>> + Send {
        account::reset_password(&self.pool, &self.mailer, req, device, self.now())
    }

    fn change_password(
        &self,
        token: Option<&Token>,
        current: &str,
        new: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<SessionRenewed>> + Send {
        account::change_password(&self.pool, &self.mailer, token, current, new, device, self.now())
    }

    fn request_email_change(
        &self,
        token: Option<&Token>,
        password: &str,
        new_email: &str,
    ) -> impl Future<Output = Result<EmailChangeStarted>> + Send {
        account::request_email_change(&self.pool, &self.mailer, token, password, new_email, self.now())
    }

    fn resend_email_change(&self, token: Option<&Token>) -> impl Future<Output = Result<EmailChangeStarted>> + Send {
        account::resend_email_change(&self.pool, &self.mailer, token, self.now())
    }

    fn verify_email_change(
        &self,
        token: Option<&Token>,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<SessionRenewed>> + Send {
        account::verify_email_change(&self.pool, &self.mailer, token, code, device, self.now())
    }

    fn cancel_email_change(&self, token: Option<&Token>) -> impl Future<Output = Result<Profile>> + Send {
        account::cancel_email_change(&self.pool, token, self.now())
    }

    fn delete_account(
        &self,
        token: Option<&Token>,
        password: &str,
        confirm: &str,
    ) -> impl Future<Output = Result<bool>> + Send {
        account::delete_account(&self.pool, &self.mailer, token, password, confirm, self.now())
    }

    fn sessions(&self, token: Option<&Token>) -> impl Future<Output = Result<Vec<DeviceRow>>> + Send {
        devices::list(&self.pool, token, self.now())
    }

    fn revoke_session(&self, token: Option<&Token>, id: &str) -> impl Future<Output = Result<()>> + Send {
        devices::revoke(&self.pool, token, id, self.now())
    }

    fn revoke_other_sessions(&self, token: Option<&Token>) -> impl Future<Output = Result<u64>> + Send {
        devices::revoke_others(&self.pool, token, self.now())
    }

    fn activity(
        &self,
        token: Option<&Token>,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> impl Future<Output = Result<Vec<EventRow>>> + Send {
        activity::list(&self.pool, token, before, limit, self.now())
    }

    fn export_data(&self, token: Option<&Token>, password: &str) -> impl Future<Output = Result<Exported>> + Send {
        export::export(&self.pool, &self.mailer, token, password, self.now())
    }

    fn login_second_factor(
        &self,
        challenge: &str,
        code: &str,
        device: Device<'_>,
    ) -> impl Future<Output = Result<NewSession>> + Send {
        second_factor::sign_in(&self.pool, &self.mailer, challenge, code, device, self.now())
    }

    fn second_factor_setup(
        &self,
        token: Option<&Token>,
        password: &str,
    ) -> impl Future<Output = Result<Enrolment>> + Send {
        second_factor::setup(&self.pool, token, password, self.now())
    }

    fn second_factor_confirm(
        &self,
        token: Option<&Token>,
        code: &str,
    ) -> impl Future<Output = Result<RecoveryCodes>> + Send {
        second_factor::confirm(&self.pool, &self.mailer, token, code, self.now())
    }

    fn second_factor_disable(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> impl Future<Output = Result<bool>> + Send {
        second_factor::disable(&self.pool, &self.mailer, token, password, code, self.now())
    }

    fn second_factor_recovery_codes(
        &self,
        token: Option<&Token>,
        password: &str,
        code: &str,
    ) -> impl Future<Output = Result<RecoveryCodes>> + Send {
        second_factor::regenerate(&self.pool, &self.mailer, token, password, code, self.now())
    }
}
