//! Serving the router on a socket, loading layers in the background and
//! shutting down gracefully.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::app;
use super::listen::{ConnectionLimits, serve_connections};
use super::state::{AppState, Settings};
use super::versions::install_version;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::context::{DEFAULT_CACHED_VERSIONS, VersionLoadError, VersionSource, index_layer};
use crate::manifest::Manifest;
use crate::source::SourceError;
use crate::store::{ActiveVersionWatcher, Store, StoreError, SyncError, sync_manifest};

/// The `activated_by` of the activations made at start-up for the manifest.
pub const MANIFEST_ACTIVATOR: &str = "manifest";

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
    #[error("cannot open the layer store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot sync the manifest layers with the store: {0}")]
    Sync(#[from] SyncError),
    #[error("cannot index a stored layer: {0}")]
    Index(#[from] VersionLoadError),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the layer loading task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Listens on `config.listen`, opens the layer store (PostGIS at
/// `config.database_url`, else the GeoPackage in `config.state_dir`) and
/// syncs the layers of `manifest` with the store in the background. `/health` returns 200
/// and `/ready` 503 until the layers are loaded. It then serves until
/// SIGTERM or Ctrl-C and swaps in the layer versions activated elsewhere. On a signal
/// it stops accepting connections and returns once the requests in flight
/// have completed, even while layers are still loading. A layer that fails
/// to load stops the server with an error.
pub async fn serve(config: &Config, manifest: Manifest) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr()?;
    tracing::info!(listen = %address, manifest = %manifest.path.display(), "listening");

    let store = Store::open(config.database_url.as_deref(), &config.state_dir).await?;
    log_store(&store, config);
    tokio::task::spawn_blocking(
        || crate::import::remove_abandoned_work_dirs(&std::env::temp_dir()),
    )
    .await?;
    let versions = VersionSource::new(store.clone(), DEFAULT_CACHED_VERSIONS);
    let state = AppState::loading(Settings::from(config)).with_versions(versions);
    let (stop, stopped) = watch::channel(false);
    let router = app_with_access(state.clone(), config);
    let server = serve_connections(
        listener,
        router,
        connection_limits(config),
        shutdown(stopped),
    );
    let mut server = tokio::spawn(server);

    let loaded = tokio::select! {
        loaded = load(&store, manifest, &state) => loaded,
        stopped = &mut server => {
            stopped??;
            tracing::info!("server stopped before the layers were loaded");
            return Ok(());
        }
    };
    let (stop_watching, watching_stopped) = watch::channel(false);
    let watcher = match &loaded {
        Ok(known) => {
            let period = Duration::from_secs(config.version_check_s);
            let watching = follow_activations(state.clone(), store, known.clone(), period);
            Some(off_workers(until_stopped(watching, watching_stopped)))
        }
        Err(_) => {
            let _ = stop.send(true);
            None
        }
    };
    server.await??;
    let _ = stop_watching.send(true);
    if let Some(watcher) = watcher {
        wait_for_watcher(watcher).await;
    }
    tracing::info!("server stopped");
    loaded.map(|_| ())
}

/// Time given, past the request time-out, to send the last responses at shutdown.
const DRAIN_MARGIN: Duration = Duration::from_secs(5);

/// A request must send its headers within the request time-out, and the
/// drain at shutdown lasts at most the request time-out plus [`DRAIN_MARGIN`].
///
/// NOTE: an import, whose own time-out is 10 minutes, is cut by a shutdown
/// that lasts longer than the drain.
fn connection_limits(config: &Config) -> ConnectionLimits {
    let request_timeout = Duration::from_secs(config.request_timeout_s);
    ConnectionLimits {
        header_read_timeout: request_timeout,
        drain_timeout: request_timeout + DRAIN_MARGIN,
    }
}

/// The longest wait for the activation watcher at shutdown: enough to
/// finish indexing a layer of 100,000 points on one core (an estimate).
const WATCHER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for the activation watcher to end, so that no timer of it runs
/// while the runtime shuts down.
async fn wait_for_watcher(watcher: tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(WATCHER_STOP_TIMEOUT, watcher)
        .await
        .is_err()
    {
        let timeout_s = WATCHER_STOP_TIMEOUT.as_secs();
        tracing::warn!(timeout_s, "activation watcher still busy at shutdown");
    }
}

/// Runs `future` until it ends or `stopped` turns true.
async fn until_stopped(future: impl Future<Output = ()>, mut stopped: watch::Receiver<bool>) {
    tokio::select! {
        _ = future => {}
        _ = stopped.wait_for(|stop| *stop) => {}
    }
}

/// Logs which store serves the layers. The database URL is not logged
/// because it may contain a password.
fn log_store(store: &Store, config: &Config) {
    match store {
        Store::GeoPackage(_) => {
            let state_dir = config.state_dir.display();
            tracing::info!(store = "geopackage", state_dir = %state_dir, "layer store opened");
        }
        Store::Postgis(_) => tracing::info!(store = "postgis", "layer store opened"),
    }
}

/// Syncs the manifest's layers with `store`, indexes them off the async
/// threads and installs the catalog in `state`. Returns the version of
/// each layer by name.
async fn load(
    store: &Store,
    manifest: Manifest,
    state: &AppState,
) -> Result<HashMap<String, u32>, ServeError> {
    let started = Instant::now();
    let catalog = load_catalog(store, &manifest)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "layers failed to load"))?;
    let known = (0..catalog.layers().len())
        .filter_map(|i| catalog.version(i))
        .map(|version| (version.layer.clone(), version.version))
        .collect();
    let layers = catalog.layers().len();
    state.install(catalog);
    tracing::info!(layers, load_ms = started.elapsed().as_millis(), "ready");
    Ok(known)
}

/// Builds the catalog served at start-up: the manifest's layers in manifest
/// order, then the other layers of the store that have an active version
/// (imported through the API or the CLI), by name. Loading those here, not
/// at the watcher's first check, means `/ready` never returns 200 while an
/// active layer is missing.
async fn load_catalog(store: &Store, manifest: &Manifest) -> Result<Catalog, ServeError> {
    let synced = sync_manifest(store, manifest, MANIFEST_ACTIVATOR).await?;
    let mut layers = Vec::with_capacity(synced.len());
    for layer in synced {
        let index = index_layer(layer.layer, layer.version.version).await?;
        layers.push((index, Some(layer.version)));
    }
    for summary in store.layers().await? {
        let Some(active) = summary.active_version else {
            continue;
        };
        if manifest.layers.iter().any(|spec| spec.name == summary.name) {
            continue;
        }
        let layer = store.load_version(&summary.name, active).await?;
        let version = store.version(&summary.name, active).await?;
        let index = index_layer(layer, active).await?;
        layers.push((index, Some(version)));
    }
    Ok(Catalog::with_versions(layers))
}

/// Runs `future` on a thread of the blocking pool. Reading a large layer
/// version back from PostGIS decodes every row on the thread that polls
/// it, and on the async worker threads that would delay every request.
fn off_workers<F: Future<Output = ()> + Send + 'static>(future: F) -> tokio::task::JoinHandle<()> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(future))
}

/// Swaps in the layer versions activated by other processes, until the
/// runtime stops. `known` is the version of each layer served now.
///
/// NOTE: the watcher also reads back, once, each version that this process
/// activated through the API, before [`install_version`] finds it served
/// already. With a large layer that read competes with requests for the CPU.
async fn follow_activations(
    state: AppState,
    store: Store,
    known: HashMap<String, u32>,
    period: Duration,
) {
    let mut watcher = loop {
        match ActiveVersionWatcher::new(store.clone(), known.clone(), period).await {
            Ok(watcher) => break watcher,
            Err(e) => {
                tracing::error!(error = %e, retry_s = period.as_secs(), "cannot watch layer activations");
                tokio::time::sleep(period).await;
            }
        }
    };
    loop {
        match watcher.next_change().await {
            Ok(changed) => {
                for active in changed {
                    install_version(&state, active.layer, active.version).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, retry_s = period.as_secs(), "checking layer activations failed");
                tokio::time::sleep(period).await;
            }
        }
    }
}

/// The router with the configured tokens and upload limit.
fn app_with_access(state: AppState, config: &Config) -> axum::Router {
    app(state)
        .layer(axum::Extension(std::sync::Arc::new(config.access.clone())))
        .layer(axum::Extension(super::UploadLimit(config.max_upload_bytes)))
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
