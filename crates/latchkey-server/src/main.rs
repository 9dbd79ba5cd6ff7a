//! `latchkey-server`: settings from the environment, then serve until SIGTERM or Ctrl-C, letting
//! requests in flight finish within the shutdown grace.

use latchkey_server::Settings;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("admin") {
        // The operator reads the command's own output; the log says only what went wrong.
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
        std::process::exit(latchkey_server::admin::run(&args[1..]).await);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            use std::io::Write;
            let line = serde_json::json!({
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        })
        .init();
    if let Err(e) = serve().await {
        log::error!("{e}");
        std::process::exit(1);
    }
}

async fn serve() -> Result<(), String> {
    let settings = Settings::load().map_err(|e| format!("settings: {e}"))?;
    latchkey_server::listener::raise_descriptor_limit();
    let listen = settings.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("listening on {listen}: {e}"))?;
    log::info!("listening on {listen}");
    let admin = match settings.admin_listen {
        None => None,
        Some(at) => {
            let admin = tokio::net::TcpListener::bind(at).await.map_err(|e| format!("the admin port {at}: {e}"))?;
            log::info!("admin port (/metrics, /admin/) on {at}");
            Some(admin)
        }
    };
    latchkey_server::open_and_serve(settings, listener, admin, shutdown()).await?;
    log::info!("stopped");
    Ok(())
}

/// SIGTERM (systemd, containers) or Ctrl-C: stop accepting, close idle connections, finish what is
/// in flight (for at most LATCHKEY_SHUTDOWN_GRACE_SECS).
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                log::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    log::info!("shutting down: finishing requests in flight");
}
