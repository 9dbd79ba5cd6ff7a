//! The one error type of Latchkey. Every command rejects with it, serialised as
//! `{success: false, code, detail}` (plus `field` or `retry_after` where they help the UI).

use serde::ser::{Serialize, SerializeStruct, Serializer};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{detail}")]
    InvalidInput { field: &'static str, detail: String },
    #[error("That username is already taken. Please choose another one.")]
    UsernameTaken,
    #[error("An account with that email address already exists. Sign in instead.")]
    EmailTaken,
    #[error("We could not send the email with your code. Check the mail settings or your connection and try again.")]
    MailFailed(String),
    #[error("There is no sign-up waiting for a code for that email address. Please sign up again.")]
    NoPendingSignup,
    #[error("That code is not right. {attempts_left} {} left.", if *attempts_left == 1 { "attempt" } else { "attempts" })]
    InvalidCode { attempts_left: u32 },
    #[error("That code has expired. {}", .0.start_again())]
    CodeExpired(Flow),
    #[error("Too many wrong codes, so this {} was cancelled. {}", .0.noun(), .0.start_again())]
    TooManyAttempts(Flow),
    #[error("A code was sent moments ago. You can ask for a new one in {seconds} {}.", if *seconds == 1 { "second" } else { "seconds" })]
    ResendTooSoon { seconds: i64 },
    #[error("The username, email or password is not right.")]
    InvalidCredentials,
    #[error("You are not signed in, or your session has ended. Please sign in.")]
    NotAuthenticated,
    /// The session was ended from another device (Devices, "Sign out").
    #[error("You were signed out from another device. Sign in again to continue.")]
    SignedOutElsewhere,
    /// A right password for an account with a second factor: the sign-in waits for its code.
    #[error("Enter the 6-digit code from your authenticator app, or one of your recovery codes.")]
    SecondFactorRequired { challenge: String },
    #[error("That code is not right, or it was used already. Enter the code your app shows now.")]
    InvalidSecondFactor,
    #[error("This sign-in waited too long for its code, or was finished already. Sign in again.")]
    NoPendingSignIn,
    #[error("Two-step sign-in is already on. Turn it off first to set it up again.")]
    SecondFactorAlreadyOn,
    #[error("Two-step sign-in is not on.")]
    SecondFactorNotOn,
    #[error("There is no set-up waiting for its first code. Start again.")]
    NoSecondFactorSetup,
    /// The operator required a new password: sign-in waits for an emailed reset.
    #[error("This account needs a new password before it can sign in. Use \"Forgot password?\" to get a code by email and choose one.")]
    PasswordResetRequired,
    /// The operator's commands: no account has that username or address.
    #[error("No account has that username or email address.")]
    NoSuchAccount,
    /// The service's admin port: the session's account is not an administrator (or no longer).
    #[error("This account is not an administrator.")]
    NotAdmin,
    /// The service's admin port: the administrator's password was not entered in the last minutes.
    #[error("Enter your password again (POST /admin/reauth/) to use the administrator's tools.")]
    ReauthRequired,
    /// A session id that is not one of this account's sessions (whoever's it is).
    #[error("That device is not signed in to your account (it may have signed out already).")]
    NoSuchSession,
    #[error("{}", throttled_words(*seconds))]
    LoginThrottled { seconds: Option<i64> },
    #[error("That is not your current password.")]
    WrongPassword,
    #[error("There is no password reset in progress for that address. Ask for a new code.")]
    NoPendingReset,
    #[error("There is no email change waiting for a code. Start the change again.")]
    NoPendingEmailChange,
    /// The HTTP service's per-address limit, on top of the per-account rules.
    #[error("Too many requests. Please wait {} and try again.", wait_words(*seconds))]
    RateLimited { seconds: i64 },
    /// The service's argon2 queue is full: refused at once, before any other work, rather than
    /// queued behind more than the threads can finish soon. Nothing was done; the same request
    /// can be sent again after `seconds`.
    #[error("The server is busy; try again in a few seconds.")]
    Busy { seconds: i64 },
    /// The desktop app's service (`LATCHKEY_SERVER_URL`) could not be reached or gave no answer
    /// it could read. The cause is logged; what the person typed stays on the form.
    #[error("Latchkey cannot reach its server right now. Check your connection and try again; what you typed is still here.")]
    ServerUnreachable(String),
    /// Latchkey could not start (data folder, database, settings); `detail` says what to do.
    #[error("{0}")]
    StartupFailed(String),
    /// The cause is logged, never shown: it may name paths or carry driver messages.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::UsernameTaken => "username_taken",
            Error::EmailTaken => "email_taken",
            Error::MailFailed(_) => "mail_failed",
            Error::NoPendingSignup => "no_pending_signup",
            Error::InvalidCode { .. } => "invalid_code",
            Error::CodeExpired(_) => "code_expired",
            Error::TooManyAttempts(_) => "too_many_attempts",
            Error::ResendTooSoon { .. } => "resend_too_soon",
            Error::InvalidCredentials => "invalid_credentials",
            Error::NotAuthenticated => "not_authenticated",
            Error::SignedOutElsewhere => "signed_out_elsewhere",
            Error::NoSuchSession => "no_such_session",
            Error::SecondFactorRequired { .. } => "second_factor_required",
            Error::InvalidSecondFactor => "invalid_second_factor",
            Error::NoPendingSignIn => "no_pending_sign_in",
            Error::SecondFactorAlreadyOn => "second_factor_already_on",
            Error::SecondFactorNotOn => "second_factor_not_on",
            Error::NoSecondFactorSetup => "no_second_factor_setup",
            Error::NoSuchAccount => "no_such_account",
            Error::NotAdmin => "not_admin",
            Error::ReauthRequired => "reauth_required",
            Error::PasswordResetRequired => "password_reset_required",
            Error::LoginThrottled { .. } => "login_throttled",
            Error::WrongPassword => "wrong_password",
            Error::NoPendingReset => "no_pending_reset",
            Error::NoPendingEmailChange => "no_pending_email_change",
            Error::RateLimited { .. } => "rate_limited",
            Error::Busy { .. } => "server_busy",
            Error::ServerUnreachable(_) => "server_unreachable",
            Error::StartupFailed(_) => "startup_failed",
            Error::Internal(_) => "internal",
        }
    }

    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Error::InvalidInput { field, detail: detail.into() }
    }

    /// The same error about another field: a rule shared by several forms, shown on this form's input.
    pub fn on_field(self, field: &'static str) -> Self {
        match self {
            Error::InvalidInput { detail, .. } => Error::InvalidInput { field, detail },
            other => other,
        }
    }

    /// Not logged here: an error is logged once, where it is handled (see `Serialize`).
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        Error::Internal(format!("{context}: {cause}"))
    }
}

/// Fields a service's `invalid_input` can name (the error keeps them as `&'static str`).
const FIELDS: [&str; 16] = [
    "username",
    "email",
    "password",
    "code",
    "identifier",
    "signup_id",
    "current_password",
    "new_password",
    "new_email",
    "confirm",
    "otp",
    "request",
    "token",
    "limit",
    "id",
    "before",
];

impl Error {
    /// The error a service answered with (`{success: false, code, detail, …}`), as the one this
    /// crate would have made; `flow` is the flow of the endpoint that answered.
    pub fn from_reply(reply: &serde_json::Value, flow: Flow) -> Error {
        let detail = reply["detail"].as_str().unwrap_or_default().to_string();
        let seconds = reply["retry_after"].as_i64();
        match reply["code"].as_str().unwrap_or_default() {
            "invalid_input" => {
                let named = reply["field"].as_str().unwrap_or_default();
                let field = FIELDS.iter().find(|f| **f == named).copied().unwrap_or("request");
                Error::InvalidInput { field, detail }
            }
            "username_taken" => Error::UsernameTaken,
            "email_taken" => Error::EmailTaken,
            "mail_failed" => Error::MailFailed(detail),
            "no_pending_signup" => Error::NoPendingSignup,
            "invalid_code" => Error::InvalidCode {
                attempts_left: reply["attempts_left"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            },
            "code_expired" => Error::CodeExpired(flow),
            "too_many_attempts" => Error::TooManyAttempts(flow),
            "resend_too_soon" => Error::ResendTooSoon { seconds: seconds.unwrap_or(60) },
            "invalid_credentials" => Error::InvalidCredentials,
            "not_authenticated" => Error::NotAuthenticated,
            "signed_out_elsewhere" => Error::SignedOutElsewhere,
            "no_such_session" => Error::NoSuchSession,
            "second_factor_required" => {
                Error::SecondFactorRequired { challenge: reply["challenge"].as_str().unwrap_or_default().to_string() }
            }
            "invalid_second_factor" => Error::InvalidSecondFactor,
            "no_pending_sign_in" => Error::NoPendingSignIn,
            "second_factor_already_on" => Error::SecondFactorAlreadyOn,
            "second_factor_not_on" => Error::SecondFactorNotOn,
            "no_second_factor_setup" => Error::NoSecondFactorSetup,
            "password_reset_required" => Error::PasswordResetRequired,
            "login_throttled" => Error::LoginThrottled { seconds },
            "wrong_password" => Error::WrongPassword,
            "no_pending_reset" => Error::NoPendingReset,
            "no_pending_email_change" => Error::NoPendingEmailChange,
            "rate_limited" => Error::RateLimited { seconds: seconds.unwrap_or(60) },
            "server_busy" => Error::Busy { seconds: seconds.unwrap_or(1) },
            other => Error::internal("the server's answer", format!("{other}: {detail}")),
        }
    }
}

/// Which emailed code an error is about, so its sentence says what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Signup,
    PasswordReset,
    EmailChange,
}

impl Flow {
    fn noun(self) -> &'static str {
        match self {
            Flow::Signup => "sign-up",
            Flow::PasswordReset => "password reset",
            Flow::EmailChange => "email change",
        }
    }

    fn start_again(self) -> &'static str {
        match self {
            Flow::Signup => "Please sign up again to get a new code.",
            Flow::PasswordReset => "Please ask for a new code.",
            Flow::EmailChange => "Please start the email change again.",
        }
    }
}

/// `None`: locked until the password is reset.
fn throttled_words(seconds: Option<i64>) -> String {
    match seconds {
        Some(s) => format!(
            "Too many failed sign-in attempts. Please wait {} before trying again, or reset your password with \"Forgot password?\" instead of waiting.",
            wait_words(s)
        ),
        None => "This account is locked after too many failed sign-in attempts. Reset the password with \"Forgot password?\" to unlock it.".to_string(),
    }
}

/// "45 seconds", "1 minute", "3 minutes and 20 seconds".
fn wait_words(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (seconds / 60, seconds % 60) {
        (0, s) => plural(s, "second"),
        (m, 0) => plural(m, "minute"),
        (m, s) => format!("{} and {}", plural(m, "minute"), plural(s, "second")),
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        // Every foreign key names an account: a row written for one that was deleted while the
        // request was being checked. Ids are never reused, so this is the only way it happens.
        if let sqlx::Error::Database(db) = &e {
            if db.is_foreign_key_violation() {
                return Error::NotAuthenticated;
            }
        }
        Error::internal("database", e)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::internal("migrations", e)
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::internal("background task", e)
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // An error that reaches a person is handled here, as it becomes the reply (a command's or a
        // handler's): the cause they are not shown is logged now, once. Errors handled on the way
        // (a notice that could not be sent, a keychain that did not answer) are logged there.
        match self {
            Error::Internal(cause) => log::error!("{cause}"),
            Error::MailFailed(cause) => log::warn!("sending an email failed: {cause}"),
            Error::ServerUnreachable(cause) => log::warn!("the server could not be used: {cause}"),
            _ => {}
        }
        let extra = match self {
            Error::InvalidInput { .. } | Error::ResendTooSoon { .. } | Error::LoginThrottled { .. } => 1,
            Error::RateLimited { .. } | Error::Busy { .. } => 1,
            Error::InvalidCode { .. } | Error::SecondFactorRequired { .. } => 1,
            _ => 0,
        };
        let mut s = serializer.serialize_struct("Error", 3 + extra)?;
        s.serialize_field("success", &false)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("detail", &self.to_string())?;
        match self {
            Error::InvalidInput { field, .. } => s.serialize_field("field", field)?,
            Error::ResendTooSoon { seconds } => s.serialize_field("retry_after", seconds)?,
            Error::LoginThrottled { seconds } => s.serialize_field("retry_after", seconds)?,
            Error::RateLimited { seconds } => s.serialize_field("retry_after", seconds)?,
            Error::Busy { seconds } => s.serialize_field("retry_after", seconds)?,
            Error::InvalidCode { attempts_left } => s.serialize_field("attempts_left", attempts_left)?,
            Error::SecondFactorRequired { challenge } => s.serialize_field("challenge", challenge)?,
            _ => {}
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_documented_shape() {
        let json = serde_json::to_value(Error::ResendTooSoon { seconds: 42 }).unwrap();
        assert_eq!(json["success"], false);
        assert_eq!(json["code"], "resend_too_soon");
        assert_eq!(json["retry_after"], 42);
        assert!(json["detail"].as_str().unwrap().contains("42 seconds"));
    }

    #[test]
    fn throttling_says_how_long_to_wait() {
        let json = serde_json::to_value(Error::LoginThrottled { seconds: Some(90) }).unwrap();
        assert_eq!((json["code"].as_str(), json["retry_after"].as_i64()), (Some("login_throttled"), Some(90)));
        assert!(json["detail"].as_str().unwrap().contains("1 minute and 30 seconds"));
        let hard = serde_json::to_value(Error::LoginThrottled { seconds: None }).unwrap();
        assert!(hard["retry_after"].is_null() && hard["detail"].as_str().unwrap().contains("Forgot password?"));
        assert_eq!(wait_words(30), "30 seconds");
        assert_eq!(wait_words(900), "15 minutes");
    }

    #[test]
    fn a_busy_server_says_when_to_come_back_and_round_trips() {
        let json = serde_json::to_value(Error::Busy { seconds: 2 }).unwrap();
        assert_eq!((json["code"].as_str(), json["retry_after"].as_i64()), (Some("server_busy"), Some(2)));
        assert_eq!(json["detail"], "The server is busy; try again in a few seconds.");
        assert!(matches!(Error::from_reply(&json, Flow::Signup), Error::Busy { seconds: 2 }));
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let json = serde_json::to_value(Error::Internal("disk /secret/path".into())).unwrap();
        assert_eq!(json["code"], "internal");
        assert!(!json["detail"].as_str().unwrap().contains("/secret/path"));
    }

    #[test]
    fn invalid_input_names_the_field() {
        let json = serde_json::to_value(Error::invalid("email", "bad")).unwrap();
        assert_eq!(json["field"], "email");
        assert_eq!(json["detail"], "bad");
    }
}
