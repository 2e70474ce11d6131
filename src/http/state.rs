//! The state shared by every handler: the catalog and the request limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::error::ApiError;
use crate::catalog::Catalog;
use crate::config::Config;

/// Request limits of the HTTP interface.
#[derive(Debug, Clone)]
pub struct Settings {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_batch: usize,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Settings {
            request_timeout: Duration::from_secs(config.request_timeout_s),
            max_body_bytes: config.max_body_bytes,
            max_batch: config.max_batch,
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
        }
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
