//! The Tauri commands: parse the request, call one domain function, shape the reply.
//!
//! Requests arrive as loose JSON so that a missing field or a wrong type becomes our own
//! `invalid_input` naming the field, not a string error from the IPC layer.

use serde::Serialize;
use serde_json::{Map, Value};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::auth::{self, login::Startup, policy::PasswordCheck, signup::CodeSent, Profile};
use crate::error::{Error, Result};
use crate::mail::Delivery;
use crate::state::{App, StartupFailure};

/// Every success: `{success: true, detail, ...data}`.
#[derive(Debug, Serialize)]
pub struct Reply<T: Serialize> {
    success: bool,
    detail: String,
    #[serde(flatten)]
    data: T,
}

fn reply<T: Serialize>(detail: impl Into<String>, data: T) -> Result<Reply<T>> {
    Ok(Reply { success: true, detail: detail.into(), data })
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    profile: Profile,
    /// False when the keychain is unavailable: the session lasts for this run only.
    remembered: bool,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

struct Request(Map<String, Value>);

impl Request {
    fn parse(value: Option<Value>) -> Result<Self> {
        match value {
            Some(Value::Object(map)) => Ok(Request(map)),
            _ => Err(Error::invalid("request", "The request must be an object with the form's fields.")),
        }
    }

    fn text(&self, field: &'static str) -> Result<&str> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s),
            _ => {
                Err(Error::invalid(field, format!("The {} field is missing or is not text.", field.replace('_', " "))))
            }
        }
    }
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

fn signed_in_detail(greeting: String, remembered: bool) -> String {
    if remembered {
        greeting
    } else {
        format!("{greeting} The system keychain is not available, so you will need to sign in again next time.")
    }
}

/// The first call of the window. Takes the handle rather than `State<App>` because, when start-up
/// failed, there is no `App`, only the reason.
#[tauri::command]
pub async fn startup<R: Runtime>(app: AppHandle<R>) -> Result<Reply<Startup>> {
    let Some(state) = app.try_state::<App>() else {
        let reason = app.try_state::<StartupFailure>().map(|f| f.0.clone()).unwrap_or_default();
        return Err(Error::StartupFailed(reason));
    };
    let startup = auth::login::startup(&state.pool, state.now(), || state.current_token()).await?;
    if startup.stale_token {
        state.sign_out().await; // an expired or revoked session: forget it everywhere
    }
    reply("", startup)
}

/// The live password hint on the sign-up screen: the very rules sign-up enforces.
#[tauri::command]
pub async fn check_password(request: Option<Value>) -> Result<Reply<PasswordCheck>> {
    let r = Request::parse(request)?;
    let verdict = auth::policy::check(r.text("password")?, r.text("username")?, r.text("email")?);
    reply(verdict.hint.clone(), verdict)
}

#[tauri::command]
pub async fn request_signup(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    let r = Request::parse(request)?;
    let req = auth::signup::SignupRequest {
        username: r.text("username")?,
        email: r.text("email")?,
        password: r.text("password")?,
    };
    let sent = auth::signup::request_code(&state.pool, &state.mailer, req, state.now()).await?;
    reply(code_sent_detail(&sent, false), sent)
}

#[tauri::command]
pub async fn resend_code(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    let r = Request::parse(request)?;
    let sent = auth::signup::resend_code(&state.pool, &state.mailer, r.text("email")?, state.now()).await?;
    reply(code_sent_detail(&sent, true), sent)
}

#[tauri::command]
pub async fn verify_signup(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let r = Request::parse(request)?;
    let session = auth::signup::verify(&state.pool, r.text("email")?, r.text("code")?, state.now()).await?;
    let remembered = state.sign_in(session.token).await;
    let greeting = format!("Welcome, {}! Your account is ready.", session.profile.username);
    reply(signed_in_detail(greeting, remembered), SignedIn { profile: session.profile, remembered })
}

#[tauri::command]
pub async fn login(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let r = Request::parse(request)?;
    let session = auth::login::login(&state.pool, r.text("identifier")?, r.text("password")?, state.now()).await?;
    let remembered = state.sign_in(session.token).await;
    let greeting = format!("Signed in as {}.", session.profile.username);
    reply(signed_in_detail(greeting, remembered), SignedIn { profile: session.profile, remembered })
}

#[tauri::command]
pub async fn whoami(state: State<'_, App>) -> Result<Reply<Profile>> {
    let token = state.current_token().await;
    let profile = auth::login::whoami(&state.pool, token.as_ref(), state.now()).await?;
    reply(format!("Signed in as {}.", profile.username), profile)
}

#[tauri::command]
pub async fn logout(state: State<'_, App>) -> Result<Reply<Empty>> {
    if let Some(token) = state.sign_out().await {
        auth::login::logout(&state.pool, &token).await?;
    }
    reply("You have signed out.", Empty {})
}
