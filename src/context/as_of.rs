//! Layer versions of the past, for requests with `as_of`: chosen from the
//! store's activation log, read back on demand and kept in a small LRU
//! cache of indexes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::response::AsOfFallback;
use crate::catalog::Catalog;
use crate::index::LayerIndex;
use crate::layer::Layer;
use crate::store::{Store, StoreError};

/// Default number of indexed past versions kept in memory. A version of a
/// 100,000-point layer takes tens of megabytes once indexed.
pub const DEFAULT_CACHED_VERSIONS: usize = 8;

/// One layer as a context answer uses it: the index and the version it was
/// read from.
#[derive(Clone)]
pub struct LayerChoice {
    pub index: Arc<LayerIndex>,
    /// `None` for a layer read straight from its source file.
    pub version: Option<u32>,
    pub as_of_fallback: Option<AsOfFallback>,
}

#[derive(Debug, thiserror::Error)]
pub enum VersionLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the task reading or indexing layer {layer:?} version {version} failed: {source}")]
    Task {
        layer: String,
        version: u32,
        source: tokio::task::JoinError,
    },
}

/// A cache entry: requests for the same version await one load.
type Slot = Arc<OnceCell<Arc<LayerIndex>>>;

/// Reads past layer versions from a store, with a bounded cache.
pub struct VersionSource {
    store: Store,
    capacity: usize,
    /// Entries by layer and version, the most recently used last.
    cache: Mutex<VecDeque<(String, u32, Slot)>>,
}

impl VersionSource {
    /// Reads from `store` and keeps at most `capacity` (at least 1) indexed versions.
    pub fn new(store: Store, capacity: usize) -> Self {
        VersionSource {
            store,
            capacity: capacity.max(1),
            cache: Mutex::new(VecDeque::new()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Chooses, for each layer of `catalog` at `positions`, the version that
    /// was active at `as_of`, or the first version when `as_of` is before
    /// the layer's first activation. A version the catalog serves now is
    /// taken from the catalog; another is read from the cache or the store.
    pub async fn choose(
        &self,
        catalog: &Catalog,
        positions: &[usize],
        as_of: DateTime<Utc>,
    ) -> Result<Vec<LayerChoice>, VersionLoadError> {
        let mut choices = Vec::with_capacity(positions.len());
        for &position in positions {
            choices.push(self.choose_one(catalog, position, as_of).await?);
        }
        Ok(choices)
    }

    async fn choose_one(
        &self,
        catalog: &Catalog,
        position: usize,
        as_of: DateTime<Utc>,
    ) -> Result<LayerChoice, VersionLoadError> {
        let name = &catalog.layers()[position].layer().info.name;
        let (version, as_of_fallback) = match self.store.version_active_at(name, as_of).await? {
            Some(info) => (info.version, None),
            None => (1, Some(AsOfFallback::FirstVersion)),
        };
        let index = match catalog.version(position) {
            Some(current) if current.version == version => Arc::clone(&catalog.layers()[position]),
            _ => self.index(name, version).await?,
        };
        Ok(LayerChoice {
            index,
            version: Some(version),
            as_of_fallback,
        })
    }

    /// Returns the index of a stored version, from the cache or read from
    /// the store. Only requests for that same version wait for the read.
    async fn index(&self, layer: &str, version: u32) -> Result<Arc<LayerIndex>, VersionLoadError> {
        let slot = self.slot(layer, version);
        let index = slot.get_or_try_init(|| self.load(layer, version)).await?;
        Ok(Arc::clone(index))
    }

    /// Returns the cache entry of a version, marked as the most recently
    /// used, after evicting the least recently used entry when full.
    fn slot(&self, layer: &str, version: u32) -> Slot {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let found = cache
            .iter()
            .position(|(l, v, _)| l == layer && *v == version);
        if let Some(entry) = found.and_then(|i| cache.remove(i)) {
            let slot = Arc::clone(&entry.2);
            cache.push_back(entry);
            return slot;
        }
        if cache.len() >= self.capacity {
            cache.pop_front();
        }
        let slot = Slot::default();
        cache.push_back((layer.to_owned(), version, Arc::clone(&slot)));
        slot
    }

    async fn load(&self, name: &str, version: u32) -> Result<Arc<LayerIndex>, VersionLoadError> {
        let started = Instant::now();
        let layer = read_version(&self.store, name, version).await?;
        let index = index_layer(layer, version).await?;
        tracing::info!(
            layer = name,
            version,
            load_ms = started.elapsed().as_millis(),
            "past layer version loaded"
        );
        Ok(Arc::new(index))
    }
}

/// Indexes `layer`, read from `version`, off the async threads.
pub async fn index_layer(layer: Layer, version: u32) -> Result<LayerIndex, VersionLoadError> {
    let name = layer.info.name.clone();
    tokio::task::spawn_blocking(move || LayerIndex::new(layer))
        .await
        .map_err(|source| VersionLoadError::Task {
            layer: name,
            version,
            source,
        })
}

/// Reads a version back from `store` on a thread of the blocking pool.
/// PostGIS rows are decoded on the thread that polls the read, and a large
/// layer would otherwise delay the requests on the async worker threads.
pub async fn read_version(
    store: &Store,
    name: &str,
    version: u32,
) -> Result<Layer, VersionLoadError> {
    let runtime = tokio::runtime::Handle::current();
    let (store, owned_name) = (store.clone(), name.to_owned());
    let read = move || runtime.block_on(store.load_version(&owned_name, version));
    let layer =
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|source| VersionLoadError::Task {
                layer: name.to_owned(),
                version,
                source,
            })??;
    Ok(layer)
}
