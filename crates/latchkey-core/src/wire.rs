//! The wire, once for every front end: the paths, the fields each request carries, every reply's
//! shape and every sentence. The desktop app's commands and the HTTP service's handlers are each a
//! few lines over one function here (parse the fields, ask the `Accounts` contract, word the
//! reply); `remote`, the service's client, sends these same field types and reads these same
//! reply types.
//!
//! Requests arrive as loose JSON so that a missing field or a wrong type becomes our own
//! `invalid_input` naming the field, not a string error from the IPC or HTTP layer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::account::{EmailChangeStarted, ResetRequest, SessionRenewed};
use crate::auth::export::Exported;
use crate::auth::policy::PasswordCheck;
use crate::auth::second_factor::{Enrolment, RecoveryCodes};
use crate::auth::secret::Token;
use crate::auth::signup::{CodeSent, SignupCredentials, SignupRequest};
use crate::auth::{Device, NewSession, Profile};
use crate::contract::Accounts;
use crate::error::{Error, Result};
use crate::mail::Delivery;
use crate::store::{DeviceRow, EventRow};

/// The header a client of the service names its device in, for the devices list (else the
/// service shortens its `User-Agent`).
pub const CLIENT_HEADER: &str = "x-latchkey-client";

/// The service's paths (the original's, and Latchkey's additions), for its router and its client.
pub mod path {
    pub const SIGNUP: &str = "/users/signup/";
    pub const SIGNUP_RESEND: &str = "/users/signup/resend/";
    pub const VERIFICATION: &str = "/users/verification/";
    pub const LOGIN: &str = "/users/login/";
    pub const WHO_AM_I: &str = "/users/who_am_i/";
    pub const LOGOUT: &str = "/users/logout/";
    pub const PASSWORD_CHECK: &str = "/users/password/check/";
    pub const RESET: &str = "/users/password/reset/";
    pub const RESET_RESEND: &str = "/users/password/reset/resend/";
    pub const RESET_CONFIRM: &str = "/users/password/reset/confirm/";
    pub const PASSWORD_CHANGE: &str = "/users/password/change/";
    pub const EMAIL_CHANGE: &str = "/users/email/change/";
    pub const EMAIL_CHANGE_RESEND: &str = "/users/email/change/resend/";
    pub const EMAIL_CHANGE_VERIFY: &str = "/users/email/change/verify/";
    pub const EMAIL_CHANGE_CANCEL: &str = "/users/email/change/cancel/";
    pub const DELETE: &str = "/users/delete/";
    pub const SESSIONS: &str = "/users/sessions/";
    pub const SESSIONS_REVOKE: &str = "/users/sessions/revoke/";
    pub const SESSIONS_REVOKE_OTHERS: &str = "/users/sessions/revoke_others/";
    pub const ACTIVITY: &str = "/users/activity/";
    pub const EXPORT: &str = "/users/export/";
    pub const LOGIN_SECOND_FACTOR: &str = "/users/login/second_factor/";
    pub const SECOND_FACTOR_SETUP: &str = "/users/second_factor/setup/";
    pub const SECOND_FACTOR_CONFIRM: &str = "/users/second_factor/confirm/";
    pub const SECOND_FACTOR_DISABLE: &str = "/users/second_factor/disable/";
    pub const SECOND_FACTOR_RECOVERY_CODES: &str = "/users/second_factor/recovery_codes/";
    pub const HEALTH: &str = "/healthz";
}

/// A request's fields, not yet read.
pub struct Request(Map<String, Value>);

impl Request {
    pub fn parse(value: Option<Value>) -> Result<Self> {
        match value {
            Some(Value::Object(map)) => Ok(Request(map)),
            _ => Err(Error::invalid("request", "The request must be an object with the form's fields.")),
        }
    }

    /// A field that may be missing or null.
    pub fn optional_text(&self, field: &'static str) -> Result<Option<&str>> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.text(field).map(Some),
        }
    }

    /// A whole number that may be missing or null.
    pub fn optional_number(&self, field: &'static str) -> Result<Option<i64>> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or_else(|| {
                Error::invalid(field, format!("The {} field is not a whole number.", field.replace('_', " ")))
            }),
        }
    }

    pub fn text(&self, field: &'static str) -> Result<&str> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s),
            _ => {
                Err(Error::invalid(field, format!("The {} field is missing or is not text.", field.replace('_', " "))))
            }
        }
    }
}

/// A request's fields as one type: read from a `Request` (in the order listed, so the first
/// missing field is the one named) and written by the client. No `Debug`: they hold passwords.
macro_rules! fields {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? } $(optional { $($opt:ident),* $(,)? })?) => {
        $(#[$doc])*
        #[derive(Serialize)]
        pub struct $name<'a> {
            $(pub $field: &'a str,)*
            $($(pub $opt: Option<&'a str>,)*)?
        }

        impl<'a> $name<'a> {
            pub fn parse(r: &'a Request) -> Result<Self> {
                Ok($name { $($field: r.text(stringify!($field))?,)* $($($opt: r.optional_text(stringify!($opt))?,)*)? })
            }
        }
    };
}

fields!(
    /// `signup_id`: the sign-up this window started before ("Wrong address? Go back"), replaced.
    SignupFields { username, email, password } optional { signup_id }
);
fields!(SignupIdFields { signup_id });
fields!(VerifyFields { signup_id, code });
fields!(
    /// The original's clients verify with the address, name and password again, the code as `otp`.
    OriginalVerifyFields { email, username, password, otp }
);
fields!(LoginFields { identifier, password });
fields!(PasswordCheckFields { password, username, email });
fields!(EmailFields { email });
fields!(ResetIdFields { reset_id });
fields!(ResetFields { reset_id, code, password });
fields!(PasswordChangeFields { current_password, new_password });
fields!(EmailChangeFields { password, new_email });
fields!(CodeFields { code });
fields!(DeleteFields { password, confirm });
fields!(PasswordFields { password });
fields!(ChallengeFields { challenge, code });
fields!(PasswordCodeFields { password, code });
fields!(
    /// A session's public id, as the devices list gives it.
    SessionIdFields { id }
);
/// A request with no fields.
#[derive(Serialize)]
pub struct NoFields {}

/// Every success: `{success: true, detail, ...data}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply<T> {
    pub success: bool,
    pub detail: String,
    #[serde(flatten)]
    pub data: T,
}

pub fn reply<T: Serialize>(detail: impl Into<String>, data: T) -> Result<Reply<T>> {
    Ok(Reply { success: true, detail: detail.into(), data })
}

/// The desktop's reply to a sign-in: the token stays in the keychain, never in the page.
#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub profile: Profile,
}

/// The desktop's reply after a password reset or change or an email change: signed in with a
/// fresh session.
#[derive(Debug, Serialize)]
pub struct Renewed {
    pub profile: Profile,
    pub notice_sent: bool,
}

/// The desktop's answer, after a sign-in, to whether the keychain keeps the session.
#[derive(Debug, Serialize)]
pub struct Remembered {
    /// False when the keychain is unavailable: the session lasts for this run only.
    pub remembered: bool,
}

/// Whether the session outlives this run; when not, the detail is the sentence that says so.
pub fn remembered(remembered: bool) -> Result<Reply<Remembered>> {
    reply(if remembered { "" } else { NOT_REMEMBERED }, Remembered { remembered })
}

/// The service's reply to a sign-in: the token in the body (for bearer clients) as well as in
/// the cookie (for browsers).
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionReply {
    pub profile: Profile,
    pub token: String,
    /// The profile's `session_expires_at` again, for clients that read only the top level; a
    /// client of ours reads the profile, so a reply without it is still a session.
    #[serde(default)]
    pub expires_at: i64,
}

/// The service's reply after a password reset or change or an email change.
#[derive(Debug, Serialize, Deserialize)]
pub struct RenewedReply {
    #[serde(flatten)]
    pub session: SessionReply,
    pub notice_sent: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SignedInProfile {
    pub profile: Profile,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Deleted {
    pub notice_sent: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Empty {}

/// A change whose only news is whether its security notice went out.
#[derive(Debug, Serialize, Deserialize)]
pub struct Notified {
    pub notice_sent: bool,
}

/// The desktop's "Download my data": where the file was saved; `None` when the person cancelled.
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub path: Option<std::path::PathBuf>,
}

/// Where the account is signed in.
#[derive(Debug, Serialize, Deserialize)]
pub struct Sessions {
    pub sessions: Vec<DeviceRow>,
}

/// A page of security activity; `next` (the last event's id) asks for the page after it, when
/// there may be one.
#[derive(Debug, Serialize, Deserialize)]
pub struct Activity {
    pub events: Vec<EventRow>,
    pub next: Option<i64>,
}

/// Which page of activity: the first without `before`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ActivityPage {
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// How many sessions "Sign out all other devices" ended.
#[derive(Debug, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: u64,
}

impl SessionReply {
    pub fn new(session: NewSession) -> Self {
        SessionReply {
            token: session.token.expose().to_string(),
            expires_at: session.profile.session_expires_at,
            profile: session.profile,
        }
    }

    pub fn into_session(self) -> NewSession {
        NewSession { token: Token::from_stored(self.token), profile: self.profile }
    }
}

/// A new session and the words for it; each front end keeps the token its own way (the
/// keychain, or a cookie and the body) and then words the reply with `detail`.
pub struct Signed {
    pub session: NewSession,
    greeting: String,
}

impl Signed {
    /// `remembered`: whether the session will outlive this run (the desktop's keychain answered).
    pub fn detail(&self, remembered: bool) -> String {
        signed_in_detail(self.greeting.clone(), remembered)
    }
}

/// A change that ended every other session, with this window's fresh one, and its words.
pub struct Renewal {
    pub done: SessionRenewed,
    what: String,
}

impl Renewal {
    pub fn detail(&self, remembered: bool) -> String {
        signed_in_detail(with_notice(self.what.clone(), self.done.notice_sent), remembered)
    }
}

pub async fn request_signup(accounts: &impl Accounts, r: &Request, requester: &str) -> Result<Reply<CodeSent>> {
    let f = SignupFields::parse(r)?;
    let req = SignupRequest { username: f.username, email: f.email, password: f.password, replaces: f.signup_id };
    let sent = accounts.request_signup(req, requester).await?;
    reply(code_sent_detail(&sent, false), sent)
}

pub async fn resend_signup(accounts: &impl Accounts, r: &Request, requester: &str) -> Result<Reply<CodeSent>> {
    let sent = accounts.resend_signup(SignupIdFields::parse(r)?.signup_id, requester).await?;
    reply(code_sent_detail(&sent, true), sent)
}

/// Latchkey's own clients send the sign-up id and the code; the original's send the address, the
/// name, the password and the code as `otp` (and no sign-up id).
pub async fn verify_signup(accounts: &impl Accounts, r: &Request, device: Device<'_>) -> Result<Signed> {
    let code = |r: &Request| -> Result<String> {
        Ok(match r.optional_text("otp")? {
            Some(otp) => otp.to_string(),
            None => r.text("code")?.to_string(),
        })
    };
    // The original's clients always send `otp`; without a sign-up id, that is their form.
    let session = match (r.optional_text("signup_id")?, r.optional_text("otp")?) {
        (None, Some(_)) => {
            let code = code(r)?;
            let credentials = SignupCredentials {
                email: r.text("email")?,
                username: r.text("username")?,
                password: r.text("password")?,
            };
            accounts.verify_with_credentials(credentials, &code, device).await?
        }
        _ => {
            let signup_id = SignupIdFields::parse(r)?.signup_id;
            accounts.verify_signup(signup_id, &code(r)?, device).await?
        }
    };
    let greeting = format!("Welcome, {}! Your account is ready.", session.profile.username);
    Ok(Signed { session, greeting })
}

/// `identifier` (Latchkey's clients), or `username` or `email` (the original's).
pub async fn login(accounts: &impl Accounts, r: &Request, device: Device<'_>) -> Result<Signed> {
    let identifier = match (r.optional_text("identifier")?, r.optional_text("username")?) {
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => match r.optional_text("email")? {
            Some(email) => email,
            None => r.text("identifier")?,
        },
    };
    let session = accounts.login(identifier, r.text("password")?, device).await?;
    let greeting = format!("Signed in as {}.", session.profile.username);
    Ok(Signed { session, greeting })
}

pub async fn whoami(accounts: &impl Accounts, token: Option<&Token>) -> Result<Reply<Profile>> {
    let profile = accounts.whoami(token).await?;
    reply(format!("Signed in as {}.", profile.username), profile)
}

/// Ends the session, if there is one: signing out twice is not an error.
pub async fn logout(accounts: &impl Accounts, token: Option<&Token>) -> Result<Reply<Empty>> {
    if let Some(token) = token {
        accounts.logout(token).await?;
    }
    reply("You have signed out.", Empty {})
}

/// The live password hint on the sign-up screen: the very rules sign-up enforces.
pub fn check_password(r: &Request) -> Result<Reply<PasswordCheck>> {
    let f = PasswordCheckFields::parse(r)?;
    let verdict = crate::auth::policy::check(f.password, f.username, f.email);
    reply(verdict.hint.clone(), verdict)
}

pub async fn request_reset(accounts: &impl Accounts, r: &Request, requester: &str) -> Result<Reply<CodeSent>> {
    let sent = accounts.request_reset(EmailFields::parse(r)?.email, requester).await?;
    reply(reset_sent_detail(&sent, false), sent)
}

pub async fn resend_reset(accounts: &impl Accounts, r: &Request, requester: &str) -> Result<Reply<CodeSent>> {
    let sent = accounts.resend_reset(ResetIdFields::parse(r)?.reset_id, requester).await?;
    reply(reset_sent_detail(&sent, true), sent)
}

pub async fn reset_password(accounts: &impl Accounts, r: &Request, device: Device<'_>) -> Result<Renewal> {
    let f = ResetFields::parse(r)?;
    let req = ResetRequest { reset_id: f.reset_id, code: f.code, password: f.password };
    let done = accounts.reset_password(req, device).await?;
    let what = "Your password was reset and every other session was signed out. You are signed in.";
    Ok(Renewal { done, what: what.to_string() })
}

pub async fn change_password(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
    device: Device<'_>,
) -> Result<Renewal> {
    let f = PasswordChangeFields::parse(r)?;
    let done = accounts.change_password(token, f.current_password, f.new_password, device).await?;
    let what = "Your password was changed and every other session was signed out.";
    Ok(Renewal { done, what: what.to_string() })
}

pub async fn request_email_change(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
) -> Result<Reply<EmailChangeStarted>> {
    let f = EmailChangeFields::parse(r)?;
    let started = accounts.request_email_change(token, f.password, f.new_email).await?;
    reply(code_sent_detail(&started.sent, false), started)
}

pub async fn resend_email_change(accounts: &impl Accounts, token: Option<&Token>) -> Result<Reply<EmailChangeStarted>> {
    let started = accounts.resend_email_change(token).await?;
    reply(code_sent_detail(&started.sent, true), started)
}

pub async fn verify_email_change(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
    device: Device<'_>,
) -> Result<Renewal> {
    let done = accounts.verify_email_change(token, CodeFields::parse(r)?.code, device).await?;
    let what =
        format!("Your email address is now {}, and every other session was signed out.", done.session.profile.email);
    Ok(Renewal { done, what })
}

pub async fn cancel_email_change(accounts: &impl Accounts, token: Option<&Token>) -> Result<Reply<SignedInProfile>> {
    let profile = accounts.cancel_email_change(token).await?;
    reply("The email change was cancelled. Your address stays as it was.", SignedInProfile { profile })
}

pub async fn delete_account(accounts: &impl Accounts, r: &Request, token: Option<&Token>) -> Result<Reply<Deleted>> {
    let f = DeleteFields::parse(r)?;
    let notice_sent = accounts.delete_account(token, f.password, f.confirm).await?;
    reply(with_notice("Your account was deleted.".to_string(), notice_sent), Deleted { notice_sent })
}

pub async fn sessions(accounts: &impl Accounts, token: Option<&Token>) -> Result<Reply<Sessions>> {
    let sessions = accounts.sessions(token).await?;
    let detail = match sessions.len() {
        1 => "Your account is signed in on this device only.".to_string(),
        n => format!("Your account is signed in on {n} devices."),
    };
    reply(detail, Sessions { sessions })
}

pub async fn revoke_session(accounts: &impl Accounts, r: &Request, token: Option<&Token>) -> Result<Reply<Empty>> {
    accounts.revoke_session(token, SessionIdFields::parse(r)?.id).await?;
    reply("That device was signed out. It will ask for the password at its next step.", Empty {})
}

pub async fn revoke_other_sessions(accounts: &impl Accounts, token: Option<&Token>) -> Result<Reply<Revoked>> {
    let revoked = accounts.revoke_other_sessions(token).await?;
    let detail = match revoked {
        0 => "No other device was signed in.".to_string(),
        1 => "1 other device was signed out.".to_string(),
        n => format!("{n} other devices were signed out."),
    };
    reply(detail, Revoked { revoked })
}

pub async fn activity(accounts: &impl Accounts, page: &ActivityPage, token: Option<&Token>) -> Result<Reply<Activity>> {
    let events = accounts.activity(token, page.before, page.limit).await?;
    let full = events.len() as i64 == page.limit.unwrap_or(crate::auth::activity::PAGE_MAX);
    let next = if full { events.last().map(|e| e.id) } else { None };
    let detail = match events.len() {
        0 => "Nothing has happened to your account in the last 90 days.".to_string(),
        n => format!("{n} events in the last 90 days, newest first."),
    };
    reply(detail, Activity { events, next })
}

pub async fn export_data(accounts: &impl Accounts, r: &Request, token: Option<&Token>) -> Result<Reply<Exported>> {
    let exported = accounts.export_data(token, PasswordFields::parse(r)?.password).await?;
    let detail = with_notice(
        "Here is a copy of everything Latchkey keeps about your account.".to_string(),
        exported.notice_sent,
    );
    reply(detail, exported)
}

/// The second step of a sign-in: the challenge `login` answered with, and a code.
pub async fn login_second_factor(accounts: &impl Accounts, r: &Request, device: Device<'_>) -> Result<Signed> {
    let f = ChallengeFields::parse(r)?;
    let session = accounts.login_second_factor(f.challenge, f.code, device).await?;
    let greeting = format!("Signed in as {}.", session.profile.username);
    Ok(Signed { session, greeting })
}

pub async fn second_factor_setup(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
) -> Result<Reply<Enrolment>> {
    let enrolment = accounts.second_factor_setup(token, PasswordFields::parse(r)?.password).await?;
    reply(
        "Add this key to your authenticator app, then enter the code it shows to turn two-step sign-in on.",
        enrolment,
    )
}

pub async fn second_factor_confirm(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
) -> Result<Reply<RecoveryCodes>> {
    let codes = accounts.second_factor_confirm(token, CodeFields::parse(r)?.code).await?;
    let done = "Two-step sign-in is on. Save your recovery codes now: they are shown only once.".to_string();
    reply(with_notice(done, codes.notice_sent), codes)
}

pub async fn second_factor_disable(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
) -> Result<Reply<Notified>> {
    let f = PasswordCodeFields::parse(r)?;
    let notice_sent = accounts.second_factor_disable(token, f.password, f.code).await?;
    reply(with_notice("Two-step sign-in is off.".to_string(), notice_sent), Notified { notice_sent })
}

pub async fn second_factor_recovery_codes(
    accounts: &impl Accounts,
    r: &Request,
    token: Option<&Token>,
) -> Result<Reply<RecoveryCodes>> {
    let f = PasswordCodeFields::parse(r)?;
    let codes = accounts.second_factor_recovery_codes(token, f.password, f.code).await?;
    let done = "Here are your new recovery codes; the old ones no longer work. Save them now.".to_string();
    reply(with_notice(done, codes.notice_sent), codes)
}

fn code_sent_detail(sent: &CodeSent, again: bool) -> String {
    let new = if again { "new " } else { "" };
    match &sent.delivery {
        Delivery::Smtp => format!("We sent a {new}6-digit code to {}. It is valid for 10 minutes.", sent.email),
        Delivery::Outbox { path } => format!(
            "Mail delivery is not set up on this computer, so the email with your {new}code was saved as a file instead: {}",
            path.display()
        ),
    }
}

fn reset_sent_detail(sent: &CodeSent, again: bool) -> String {
    let new = if again { "new " } else { "" };
    match &sent.delivery {
        Delivery::Smtp => format!(
            "If an account uses {}, we have emailed it a {new}6-digit code. It is valid for 10 minutes.",
            sent.email
        ),
        Delivery::Outbox { path } => format!(
            "Mail delivery is not set up on this computer, so emails are saved as files in {}. If an account uses {}, the email with its {new}code is there.",
            path.display(),
            sent.email
        ),
    }
}

/// A security notice that could not be sent does not undo the change, but the person should know.
fn with_notice(done: String, notice_sent: bool) -> String {
    if notice_sent {
        done
    } else {
        format!("{done} We could not send the email notice about this change.")
    }
}

const NOT_REMEMBERED: &str = "The system keychain is not available, so you will need to sign in again next time.";

fn signed_in_detail(greeting: String, remembered: bool) -> String {
    if remembered {
        greeting
    } else {
        format!("{greeting} {NOT_REMEMBERED}")
    }
}
