//! The Tauri commands: each one hands the request to its `wire` function (shared with the HTTP
//! service) and keeps a new session in the keychain.

use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::auth::account::EmailChangeStarted;
use crate::auth::second_factor::{Enrolment, RecoveryCodes};
use crate::auth::{self, login::Startup, policy::PasswordCheck, signup::CodeSent, Profile};
use crate::contract::Accounts;
use crate::error::Error;
use crate::error::Result;
use crate::saving;
use crate::state::{App, StartupFailure};
use crate::wire::{
    self, reply, Activity, Deleted, Empty, Notified, Remembered, Renewal, Renewed, Reply, Request, Revoked, Saved,
    Sessions, Signed, SignedIn, SignedInProfile,
};

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

#[tauri::command]
pub async fn check_password(request: Option<Value>) -> Result<Reply<PasswordCheck>> {
    wire::check_password(&Request::parse(request)?)
}

#[tauri::command]
pub async fn request_signup(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    wire::request_signup(state.accounts(), &Request::parse(request)?, auth::THIS_WINDOW).await
}

#[tauri::command]
pub async fn resend_code(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    wire::resend_signup(state.accounts(), &Request::parse(request)?, auth::THIS_WINDOW).await
}

#[tauri::command]
pub async fn verify_signup(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let signed = wire::verify_signup(state.accounts(), &Request::parse(request)?, state.device()).await?;
    signed_in(&state, signed).await
}

#[tauri::command]
pub async fn login(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let signed = wire::login(state.accounts(), &Request::parse(request)?, state.device()).await?;
    signed_in(&state, signed).await
}

/// The second step of a sign-in (or of a reset) that answered `second_factor_required`.
#[tauri::command]
pub async fn login_second_factor(state: State<'_, App>, request: Option<Value>) -> Result<Reply<SignedIn>> {
    let signed = wire::login_second_factor(state.accounts(), &Request::parse(request)?, state.device()).await?;
    signed_in(&state, signed).await
}

#[tauri::command]
pub async fn second_factor_setup(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Enrolment>> {
    let token = state.current_token().await;
    wire::second_factor_setup(state.accounts(), &Request::parse(request)?, token.as_ref()).await
}

#[tauri::command]
pub async fn second_factor_confirm(state: State<'_, App>, request: Option<Value>) -> Result<Reply<RecoveryCodes>> {
    let token = state.current_token().await;
    wire::second_factor_confirm(state.accounts(), &Request::parse(request)?, token.as_ref()).await
}

#[tauri::command]
pub async fn second_factor_disable(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Notified>> {
    let token = state.current_token().await;
    wire::second_factor_disable(state.accounts(), &Request::parse(request)?, token.as_ref()).await
}

#[tauri::command]
pub async fn second_factor_recovery_codes(
    state: State<'_, App>,
    request: Option<Value>,
) -> Result<Reply<RecoveryCodes>> {
    let token = state.current_token().await;
    wire::second_factor_recovery_codes(state.accounts(), &Request::parse(request)?, token.as_ref()).await
}

/// Answers with the new session (already in the database) while the keychain keeps it; the page
/// then asks `session_remembered`.
async fn signed_in(state: &App, signed: Signed) -> Result<Reply<SignedIn>> {
    state.sign_in(signed.session.token.clone()).await;
    reply(signed.detail(true), SignedIn { profile: signed.session.profile })
}

/// Whether the keychain keeps this window's session, once its write is done: when it could not,
/// the session lasts for this run only, and the page says so.
#[tauri::command]
pub async fn session_remembered(state: State<'_, App>) -> Result<Reply<Remembered>> {
    wire::remembered(state.remembered().await)
}

#[tauri::command]
pub async fn whoami(state: State<'_, App>) -> Result<Reply<Profile>> {
    wire::whoami(state.accounts(), state.current_token().await.as_ref()).await
}

#[tauri::command]
pub async fn logout(state: State<'_, App>) -> Result<Reply<Empty>> {
    wire::logout(state.accounts(), state.sign_out().await.as_ref()).await
}

#[tauri::command]
pub async fn request_password_reset(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    wire::request_reset(state.accounts(), &Request::parse(request)?, auth::THIS_WINDOW).await
}

#[tauri::command]
pub async fn resend_password_reset(state: State<'_, App>, request: Option<Value>) -> Result<Reply<CodeSent>> {
    wire::resend_reset(state.accounts(), &Request::parse(request)?, auth::THIS_WINDOW).await
}

#[tauri::command]
pub async fn reset_password(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Renewed>> {
    renewed(&state, wire::reset_password(state.accounts(), &Request::parse(request)?, state.device()).await?).await
}

#[tauri::command]
pub async fn change_password(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Renewed>> {
    let token = state.current_token().await;
    let request = Request::parse(request)?;
    renewed(&state, wire::change_password(state.accounts(), &request, token.as_ref(), state.device()).await?).await
}

/// Keeps the fresh session of a password reset or change or an email change, as `signed_in` does.
async fn renewed(state: &App, renewal: Renewal) -> Result<Reply<Renewed>> {
    state.sign_in(renewal.done.session.token.clone()).await;
    let detail = renewal.detail(true);
    let done = renewal.done;
    reply(detail, Renewed { profile: done.session.profile, notice_sent: done.notice_sent })
}

#[tauri::command]
pub async fn request_email_change(state: State<'_, App>, request: Option<Value>) -> Result<Reply<EmailChangeStarted>> {
    let token = state.current_token().await;
    wire::request_email_change(state.accounts(), &Request::parse(request)?, token.as_ref()).await
}

#[tauri::command]
pub async fn resend_email_change(state: State<'_, App>) -> Result<Reply<EmailChangeStarted>> {
    wire::resend_email_change(state.accounts(), state.current_token().await.as_ref()).await
}

#[tauri::command]
pub async fn verify_email_change(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Renewed>> {
    let token = state.current_token().await;
    let request = Request::parse(request)?;
    let renewal = wire::verify_email_change(state.accounts(), &request, token.as_ref(), state.device()).await?;
    renewed(&state, renewal).await
}

#[tauri::command]
pub async fn cancel_email_change(state: State<'_, App>) -> Result<Reply<SignedInProfile>> {
    wire::cancel_email_change(state.accounts(), state.current_token().await.as_ref()).await
}

#[tauri::command]
pub async fn delete_account(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Deleted>> {
    let token = state.current_token().await;
    let deleted = wire::delete_account(state.accounts(), &Request::parse(request)?, token.as_ref()).await?;
    state.sign_out().await;
    Ok(deleted)
}

#[tauri::command]
pub async fn list_sessions(state: State<'_, App>) -> Result<Reply<Sessions>> {
    wire::sessions(state.accounts(), state.current_token().await.as_ref()).await
}

#[tauri::command]
pub async fn revoke_session(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Empty>> {
    let token = state.current_token().await;
    wire::revoke_session(state.accounts(), &Request::parse(request)?, token.as_ref()).await
}

/// "Download my data": the password checked (a notice is mailed), then the file saved where the
/// person chooses.
#[tauri::command]
pub async fn export_data<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, App>,
    request: Option<Value>,
) -> Result<Reply<Saved>> {
    let token = state.current_token().await;
    let exported = wire::export_data(state.accounts(), &Request::parse(request)?, token.as_ref()).await?;
    let bytes = serde_json::to_vec_pretty(&exported.data.data).map_err(|e| Error::internal("the export", e))?;
    let name = saving::file_name_for(&exported.data.data.profile.username);
    let unsent =
        if exported.data.notice_sent { "" } else { " We could not send the email notice about this download." };
    match saving::save_where_chosen(&app, &name, bytes).await? {
        Some(path) => {
            let detail = format!("Your data was saved to {}. Keep it somewhere private.{unsent}", path.display());
            reply(detail, Saved { path: Some(path) })
        }
        None => reply(format!("Nothing was saved.{unsent}"), Saved { path: None }),
    }
}

/// `{before}`: the page after the event with that id (the first page without it).
#[tauri::command]
pub async fn list_activity(state: State<'_, App>, request: Option<Value>) -> Result<Reply<Activity>> {
    let page = wire::ActivityPage { before: Request::parse(request)?.optional_number("before")?, limit: None };
    wire::activity(state.accounts(), &page, state.current_token().await.as_ref()).await
}

#[tauri::command]
pub async fn revoke_other_sessions(state: State<'_, App>) -> Result<Reply<Revoked>> {
    wire::revoke_other_sessions(state.accounts(), state.current_token().await.as_ref()).await
}
