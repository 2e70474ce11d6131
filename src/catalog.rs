//! The set of indexed layers a service answers from, in manifest order.
//!
//! Each layer sits behind an [`Arc`], so a new catalog that replaces one
//! layer ([`Catalog::with_layer_replaced`]) shares the indexes of the others
//! and costs no re-indexing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::index::LayerIndex;
use crate::manifest::Manifest;
use crate::source::{self, SourceError};
use crate::store::VersionInfo;

/// Indexed layers in manifest order, with a lookup by name.
#[derive(Clone)]
pub struct Catalog {
    layers: Vec<Arc<LayerIndex>>,
    /// The stored version of each layer, `None` for a layer read straight
    /// from its source file.
    versions: Vec<Option<VersionInfo>>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// Builds a catalog of layers read from their source files, without versions.
    pub fn new(layers: Vec<LayerIndex>) -> Self {
        let layers = layers.into_iter().map(|index| (index, None)).collect();
        Catalog::with_versions(layers)
    }

    /// Builds a catalog of stored layers, each with the version it was read from.
    pub fn with_versions(layers: Vec<(LayerIndex, Option<VersionInfo>)>) -> Self {
        let (layers, versions): (Vec<_>, Vec<_>) = layers
            .into_iter()
            .map(|(index, version)| (Arc::new(index), version))
            .unzip();
        let by_name = layers
            .iter()
            .enumerate()
            .map(|(i, index)| (index.layer().info.name.clone(), i))
            .collect();
        Catalog {
            layers,
            versions,
            by_name,
        }
    }

    /// Returns a copy of this catalog where the layer named like `index`
    /// is replaced by `index` read from `version`. A layer new to the
    /// catalog is appended. The other layers' indexes are shared.
    pub fn with_layer_replaced(&self, index: Arc<LayerIndex>, version: VersionInfo) -> Catalog {
        let mut catalog = self.clone();
        let name = index.layer().info.name.clone();
        match catalog.by_name.get(&name) {
            Some(&i) => {
                catalog.layers[i] = index;
                catalog.versions[i] = Some(version);
            }
            None => {
                catalog.by_name.insert(name, catalog.layers.len());
                catalog.layers.push(index);
                catalog.versions.push(Some(version));
            }
        }
        catalog
    }

    /// Reads, checks and indexes every layer of a manifest. The first layer
    /// that fails to load fails the whole catalog.
    pub fn load(manifest: &Manifest) -> Result<Catalog, SourceError> {
        let mut layers = Vec::with_capacity(manifest.layers.len());
        for spec in &manifest.layers {
            let started = Instant::now();
            let layer = source::load_layer(spec)?;
            let loaded_ms = started.elapsed().as_millis();
            let index = LayerIndex::new(layer);
            let info = &index.layer().info;
            tracing::info!(
                layer = %info.name,
                kind = %info.kind,
                features = info.feature_count,
                invalid = info.invalid_count,
                synthetic_ids = info.synthetic_id_count,
                source_crs = %info.source_crs,
                load_ms = loaded_ms,
                index_ms = started.elapsed().as_millis() - loaded_ms,
                "layer loaded"
            );
            layers.push(index);
        }
        Ok(Catalog::new(layers))
    }

    pub fn layers(&self) -> &[Arc<LayerIndex>] {
        &self.layers
    }

    /// The stored version of the layer at `position`, `None` when it was
    /// read from its source file.
    pub fn version(&self, position: usize) -> Option<&VersionInfo> {
        self.versions.get(position).and_then(Option::as_ref)
    }

    /// Position of a layer in manifest order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, name: &str) -> Option<&LayerIndex> {
        self.position(name).map(|i| self.layers[i].as_ref())
    }
}
