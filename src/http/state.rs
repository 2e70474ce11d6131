//! The state shared by every handler: the catalog and the request limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::error::ApiError;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::context::VersionSource;
use crate::index::LayerIndex;
use crate::store::VersionInfo;

/// Request limits of the HTTP interface.
#[derive(Debug, Clone)]
pub struct Settings {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_batch: usize,
    /// Largest response of one batch, bytes.
    pub max_batch_response_bytes: usize,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Settings {
            request_timeout: Duration::from_secs(config.request_timeout_s),
            max_body_bytes: config.max_body_bytes,
            max_batch: config.max_batch,
            max_batch_response_bytes: config.max_batch_response_bytes,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from(&Config::default())
    }
}

/// The shared state. The catalog sits behind an [`ArcSwap`] so that a new
/// set of layers can replace it atomically while requests are in flight: each
/// request keeps the catalog it started with.
#[derive(Clone)]
pub struct AppState {
    catalog: Arc<ArcSwap<Catalog>>,
    ready: Arc<AtomicBool>,
    pub settings: Arc<Settings>,
    /// The layer store and its past versions; `None` when the layers were
    /// read straight from their source files.
    versions: Option<Arc<VersionSource>>,
    /// Held while a layer's active version changes, so that the catalog
    /// ends with the version activated last.
    activation: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// Creates a state that serves `catalog` at once.
    pub fn ready(catalog: Catalog, settings: Settings) -> Self {
        let state = AppState::loading(settings);
        state.install(catalog);
        state
    }

    /// Creates a state whose layers are still loading: `/ready` and the
    /// context routes return 503 until [`AppState::install`] is called.
    pub fn loading(settings: Settings) -> Self {
        AppState {
            catalog: Arc::new(ArcSwap::from_pointee(Catalog::new(Vec::new()))),
            ready: Arc::new(AtomicBool::new(false)),
            settings: Arc::new(settings),
            versions: None,
            activation: Arc::default(),
        }
    }

    /// Serves layer versions from `versions`.
    pub fn with_versions(mut self, versions: VersionSource) -> Self {
        self.versions = Some(Arc::new(versions));
        self
    }

    pub fn versions(&self) -> Option<&Arc<VersionSource>> {
        self.versions.as_ref()
    }

    /// Locks out other activations until the guard is dropped.
    pub async fn lock_activation(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.activation.lock().await
    }

    /// Swaps in a catalog where one layer is replaced by `index`, read from
    /// `version`. Requests in flight keep the catalog they started with.
    pub fn replace_layer(&self, index: Arc<LayerIndex>, version: VersionInfo) {
        self.catalog
            .rcu(|catalog| catalog.with_layer_replaced(Arc::clone(&index), version.clone()));
    }

    /// Replaces the catalog and marks the service ready.
    pub fn install(&self, catalog: Catalog) {
        self.catalog.store(Arc::new(catalog));
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Returns the current catalog, or [`ApiError::NotReady`] while layers load.
    pub fn catalog(&self) -> Result<Arc<Catalog>, ApiError> {
        if !self.is_ready() {
            return Err(ApiError::NotReady);
        }
        Ok(self.catalog.load_full())
    }
}
