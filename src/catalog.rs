//! The set of indexed layers a service answers from, in manifest order.

use std::collections::HashMap;
use std::time::Instant;

use crate::index::LayerIndex;
use crate::manifest::Manifest;
use crate::source::{self, SourceError};

/// Indexed layers in manifest order, with a lookup by name.
pub struct Catalog {
    layers: Vec<LayerIndex>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    pub fn new(layers: Vec<LayerIndex>) -> Self {
        let by_name = layers
            .iter()
            .enumerate()
            .map(|(i, index)| (index.layer().info.name.clone(), i))
            .collect();
        Catalog { layers, by_name }
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

    pub fn layers(&self) -> &[LayerIndex] {
        &self.layers
    }

    /// Position of a layer in manifest order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, name: &str) -> Option<&LayerIndex> {
        self.position(name).map(|i| &self.layers[i])
    }
}
