//! Latchkey: local accounts with email-verified sign-up, as a Tauri desktop app.

pub mod commands;
pub mod keychain;
mod saving;
pub mod state;

// The rules, the store and the mail live in latchkey-core, shared with the HTTP service; under
// their old paths here so the commands, the state and the tests read as before.
pub use latchkey_core::{auth, config, contract, error, mail, private_files, remote, store, wire};

use tauri::{Manager, Runtime};

pub use error::{Error, Result};
pub use state::App;

/// The app's commands on any runtime, so tests can pass `tauri::test::mock_builder()`.
pub fn builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    // The system's save dialog, for "Download my data" (used from Rust only: no page API).
    builder.plugin(tauri_plugin_dialog::init()).invoke_handler(tauri::generate_handler![
        commands::startup,
        commands::check_password,
        commands::request_signup,
        commands::resend_code,
        commands::verify_signup,
        commands::login,
        commands::whoami,
        commands::logout,
        commands::request_password_reset,
        commands::resend_password_reset,
        commands::reset_password,
        commands::change_password,
        commands::request_email_change,
        commands::resend_email_change,
        commands::verify_email_change,
        commands::cancel_email_change,
        commands::delete_account,
        commands::list_sessions,
        commands::revoke_session,
        commands::revoke_other_sessions,
        commands::list_activity,
        commands::export_data,
        commands::login_second_factor,
        commands::second_factor_setup,
        commands::second_factor_confirm,
        commands::second_factor_disable,
        commands::second_factor_recovery_codes,
        commands::session_remembered,
    ])
}

/// Builds the managed state. Never fails: when something is wrong (settings, data folder, database),
/// the window opens on an error screen that says what to do, instead of the app crashing.
fn setup<R: Runtime>(app: &mut tauri::App<R>) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    match tauri::async_runtime::block_on(open_state(app.path())) {
        Ok(state) => {
            log::info!("ready in {} ms", started.elapsed().as_millis());
            app.manage(state);
        }
        Err(e) => {
            log::error!("start-up failed: {e}");
            app.manage(state::StartupFailure(e.to_string()));
        }
    }
    Ok(())
}

async fn open_state<R: Runtime>(paths: &tauri::path::PathResolver<R>) -> std::result::Result<App, state::StartupError> {
    let config = config::Config::load(paths.app_config_dir().ok().as_deref()).map_err(state::StartupError::Settings)?;
    let data_dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None => paths
            .app_data_dir()
            .map_err(|e| state::StartupError::Other { dir: Default::default(), cause: e.to_string() })?,
    };
    log::info!(
        "data in {}; mail via {}",
        data_dir.display(),
        if config.smtp.is_some() { "SMTP" } else { "the outbox" }
    );
    let keychain = keychain::Keychain::new(keychain::SERVICE, keychain::ACCOUNT);
    App::open(&config, &data_dir, keychain, state::system_clock()).await
}

/// The window shows a few local forms and never browses. On Linux, WebKitGTK's accelerated
/// compositing (a GL context and its buffers in the web process) is the largest cost of the first
/// screen, and a form has nothing to composite: drawing without it takes about 55 MB less (PSS of
/// the process tree, `make bench`) and starts as fast. Set before the first web process starts;
/// a value the person set themselves wins.
///
/// Not under WebDriver automation (tauri-driver sets `TAURI_WEBVIEW_AUTOMATION=true`, without
/// which the webview refuses to be driven): without compositing WebKitGTK draws a frame only when
/// the page changes, and a WebDriver screenshot waits for the next frame, so a plain screenshot
/// of a still screen would never return. A test pays the memory; a person never runs this way.
fn without_accelerated_compositing() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() && !under_automation() {
        // Still single-threaded here: nothing else reads the environment yet.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}

#[cfg(target_os = "linux")]
fn under_automation() -> bool {
    std::env::var("TAURI_WEBVIEW_AUTOMATION").is_ok_and(|v| v == "true")
}

pub fn run() {
    without_accelerated_compositing();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    #[allow(clippy::expect_used)] // nothing to fall back to if the window system itself fails
    let app = builder(tauri::Builder::default())
        .setup(setup)
        .build(tauri::generate_context!())
        .expect("error while running Latchkey");
    app.run(|app, event| {
        // A sign-in's keychain write finishes after its answer: closing right after waits for it.
        if let tauri::RunEvent::Exit = event {
            if let Some(state) = app.try_state::<App>() {
                tauri::async_runtime::block_on(state.settled());
            }
        }
    });
}
