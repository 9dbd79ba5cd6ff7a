//! Latchkey: local accounts with email-verified sign-up, as a Tauri desktop app.

pub mod auth;
pub mod commands;
pub mod config;
pub mod error;
pub mod files;
pub mod keychain;
pub mod mail;
pub mod state;
pub mod store;

use tauri::{Manager, Runtime};

pub use error::{Error, Result};
pub use state::App;

/// The app's commands on any runtime, so tests can pass `tauri::test::mock_builder()`.
pub fn builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::startup,
        commands::request_signup,
        commands::resend_code,
        commands::verify_signup,
        commands::login,
        commands::whoami,
        commands::logout,
    ])
}

fn setup<R: Runtime>(app: &mut tauri::App<R>) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let paths = app.path();
    let config = config::Config::load(paths.app_config_dir().ok().as_deref())?;
    let data_dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None => paths.app_data_dir()?,
    };
    let keychain = keychain::Keychain::new(keychain::SERVICE, keychain::ACCOUNT);
    let state = tauri::async_runtime::block_on(App::open(&config, &data_dir, keychain, state::system_clock()))
        .map_err(|e| format!("{e:?}"))?;
    log::info!(
        "data in {}; mail via {}",
        data_dir.display(),
        if config.smtp.is_some() { "SMTP" } else { "the outbox" }
    );
    app.manage(state);
    Ok(())
}

pub fn run() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    #[allow(clippy::expect_used)] // nothing to fall back to if the window system itself fails
    builder(tauri::Builder::default())
        .setup(setup)
        .run(tauri::generate_context!())
        .expect("error while running Latchkey");
}
