//! Serving the router on a socket, loading layers in the background and
//! shutting down gracefully.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::app;
use super::state::{AppState, Settings};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::manifest::Manifest;
use crate::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {address}: {source}; choose another address with --listen or REPERE_LISTEN"
    )]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the layers: {0}")]
    Source(#[from] SourceError),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the layer loading task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Listens on `config.listen` and loads the layers of `manifest` meanwhile
/// (`/health` returns 200 and `/ready` 503 until they are loaded), then
/// serves until SIGTERM or Ctrl-C. On a signal it stops accepting connections and returns once the
/// requests in flight have completed, even while layers are still loading.
/// A layer that fails to load stops the server with an error.
pub async fn serve(config: &Config, manifest: Manifest) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr()?;
    tracing::info!(listen = %address, manifest = %manifest.path.display(), "listening");

    let state = AppState::loading(Settings::from(config));
    let (stop, stopped) = watch::channel(false);
    let server =
        axum::serve(listener, app(state.clone())).with_graceful_shutdown(shutdown(stopped));
    let mut server = tokio::spawn(async move { server.await });

    let loaded = tokio::select! {
        loaded = load(manifest, &state) => loaded,
        stopped = &mut server => {
            stopped??;
            tracing::info!("server stopped before the layers were loaded");
            return Ok(());
        }
    };
    if loaded.is_err() {
        let _ = stop.send(true);
    }
    server.await??;
    tracing::info!("server stopped");
    loaded
}

/// Loads the catalog off the async threads and installs it in `state`.
async fn load(manifest: Manifest, state: &AppState) -> Result<(), ServeError> {
    let started = Instant::now();
    let catalog = tokio::task::spawn_blocking(move || Catalog::load(&manifest)).await?;
    let catalog = catalog.inspect_err(|e| tracing::error!(error = %e, "layers failed to load"))?;
    let layers = catalog.layers().len();
    state.install(catalog);
    tracing::info!(layers, load_ms = started.elapsed().as_millis(), "ready");
    Ok(())
}

/// Completes on SIGTERM, Ctrl-C, or when `stopped` turns true.
async fn shutdown(mut stopped: watch::Receiver<bool>) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let reason = tokio::select! {
        _ = ctrl_c => "SIGINT",
        _ = terminate => "SIGTERM",
        _ = stopped.wait_for(|stop| *stop) => "a layer failed to load",
    };
    tracing::info!(reason, "shutting down: draining requests in flight");
}
