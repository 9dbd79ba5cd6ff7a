//! The Tauri commands: parse the request, call one domain function, shape the reply (`api`, shared
//! with the HTTP service).

use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::accounts::Accounts;
use crate::api::{
    code_sent_detail, reply, reset_sent_detail, signed_in_detail, with_notice, Deleted, Empty, Renewed, Reply, Request,
    SignedIn, SignedInProfile,
};
use crate::auth::account::{EmailChangeStarted, ResetRequest, SessionRenewed};
use crate::auth::{self, login::Startup, policy::PasswordCheck, signup::CodeSent, Profile};
use crate::error::Error;
use crate::error::Result;
use crate::state::{App, StartupFailure};

/// The first call of the window. Takes the handle rather than `State<App>` because, when start-up
/// failed, there is no `App`, only the reason.
#[tauri::command]
pub async fn startup<R: Runtime>(app: AppHandle<R>) -> Result<Reply<Startup>> {
    let Some(state) = app.try_state::<App>() else {
        let reason = app.try_state::<StartupFailure>().map(|f| f.0.clone()).unwrap_or_default();
        return Err(Error::StartupFailed(reason));
    };
    let startup = state.accounts().startup(|| state.current_token()).await?;
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
        replaces: r.optional_text("signup_id")?,
    };
    let sent = state.accounts().request_signup(req, auth::THIS_WINDOW).await?;
    reply(code_sent_detail(&sent, false), sent)
}

#[tauri::command]
pub async fn resend_code(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    let r = Request::parse(request)?;
    let sent = state.accounts().resend_signup(r.text("signup_id")?, auth::THIS_WINDOW).await?;
    reply(code_sent_detail(&sent, true), sent)
}

#[tauri::command]
pub async fn verify_signup(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let r = Request::parse(request)?;
    let session = state.accounts().verify_signup(r.text("signup_id")?, r.text("code")?).await?;
    let remembered = state.sign_in(session.token).await;
    let greeting = format!("Welcome, {}! Your account is ready.", session.profile.username);
    reply(signed_in_detail(greeting, remembered), SignedIn { profile: session.profile, remembered })
}

#[tauri::command]
pub async fn login(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let r = Request::parse(request)?;
    let session = state.accounts().login(r.text("identifier")?, r.text("password")?).await?;
    let remembered = state.sign_in(session.token).await;
    let greeting = format!("Signed in as {}.", session.profile.username);
    reply(signed_in_detail(greeting, remembered), SignedIn { profile: session.profile, remembered })
}

#[tauri::command]
pub async fn whoami(state: State<'_, App>) -> Result<Reply<Profile>> {
    let token = state.current_token().await;
    let profile = state.accounts().whoami(token.as_ref()).await?;
    reply(format!("Signed in as {}.", profile.username), profile)
}

#[tauri::command]
pub async fn logout(state: State<'_, App>) -> Result<Reply<Empty>> {
    if let Some(token) = state.sign_out().await {
        state.accounts().logout(&token).await?;
    }
    reply("You have signed out.", Empty {})
}

#[tauri::command]
pub async fn request_password_reset(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    let r = Request::parse(request)?;
    let sent = state.accounts().request_reset(r.text("email")?, auth::THIS_WINDOW).await?;
    reply(reset_sent_detail(&sent, false), sent)
}

#[tauri::command]
pub async fn resend_password_reset(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    let r = Request::parse(request)?;
    let sent = state.accounts().resend_reset(r.text("reset_id")?, auth::THIS_WINDOW).await?;
    reply(reset_sent_detail(&sent, true), sent)
}

#[tauri::command]
pub async fn reset_password(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Renewed>> {
    let r = Request::parse(request)?;
    let req = ResetRequest { reset_id: r.text("reset_id")?, code: r.text("code")?, password: r.text("password")? };
    let done = state.accounts().reset_password(req).await?;
    renewed(&state, done, "Your password was reset and every other session was signed out. You are signed in.").await
}

#[tauri::command]
pub async fn change_password(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Renewed>> {
    let r = Request::parse(request)?;
    let (current, new) = (r.text("current_password")?, r.text("new_password")?);
    let token = state.current_token().await;
    let done = state.accounts().change_password(token.as_ref(), current, new).await?;
    renewed(&state, done, "Your password was changed and every other session was signed out.").await
}

/// Keeps the fresh session of a password reset or change and shapes the reply.
async fn renewed(state: &App, done: SessionRenewed, what: &str) -> Result<Reply<Renewed>> {
    let remembered = state.sign_in(done.session.token).await;
    let detail = signed_in_detail(with_notice(what.to_string(), done.notice_sent), remembered);
    reply(detail, Renewed { profile: done.session.profile, remembered, notice_sent: done.notice_sent })
}

#[tauri::command]
pub async fn request_email_change(state: State<'_, App>, request: Option<Value>) -> Result<Reply<EmailChangeStarted>> {
    let r = Request::parse(request)?;
    let (password, new_email) = (r.text("password")?, r.text("new_email")?);
    let token = state.current_token().await;
    let started = state.accounts().request_email_change(token.as_ref(), password, new_email).await?;
    reply(code_sent_detail(&started.sent, false), started)
}

#[tauri::command]
pub async fn resend_email_change(state: State<'_, App>) -> Result<Reply<EmailChangeStarted>> {
    let token = state.current_token().await;
    let started = state.accounts().resend_email_change(token.as_ref()).await?;
    reply(code_sent_detail(&started.sent, true), started)
}

#[tauri::command]
pub async fn verify_email_change(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Renewed>> {
    let r = Request::parse(request)?;
    let token = state.current_token().await;
    let changed = state.accounts().verify_email_change(token.as_ref(), r.text("code")?).await?;
    let done =
        format!("Your email address is now {}, and every other session was signed out.", changed.session.profile.email);
    renewed(&state, changed, &done).await
}

#[tauri::command]
pub async fn cancel_email_change(state: State<'_, App>) -> Result<Reply<SignedInProfile>> {
    let token = state.current_token().await;
    let profile = state.accounts().cancel_email_change(token.as_ref()).await?;
    reply("The email change was cancelled. Your address stays as it was.", SignedInProfile { profile })
}

#[tauri::command]
pub async fn delete_account(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Deleted>> {
    let r = Request::parse(request)?;
    let (password, confirm) = (r.text("password")?, r.text("confirm")?);
    let token = state.current_token().await;
    let notice_sent = state.accounts().delete_account(token.as_ref(), password, confirm).await?;
    state.sign_out().await;
    reply(with_notice("Your account was deleted.".to_string(), notice_sent), Deleted { notice_sent })
}
