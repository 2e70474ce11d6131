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

#[cfg(test)]
mod tests {
    use geo::{Geometry, Point};
    use serde_json::Map;

    use super::*;
    use crate::layer::{Feature, Layer, LayerInfo, LayerKind, LoadReport};
    use crate::store::Origin;

    /// A layer of one point feature with id `id`.
    fn layer(name: &str, id: &str) -> Layer {
        let info = LayerInfo {
            name: name.to_owned(),
            kind: LayerKind::Asset,
            source: format!("{name}.geojson"),
            source_crs: "EPSG:4326".to_owned(),
            feature_count: 0,
            bbox: None,
            invalid_count: 0,
            synthetic_id_count: 0,
            attribution: None,
            licence: None,
        };
        let feature = Feature {
            id: id.to_owned(),
            synthetic_id: false,
            name: None,
            properties: Map::new(),
            geometry: Geometry::Point(Point::new(-73.6, 45.5)),
            active: None,
        };
        Layer::new(info, vec![feature], LoadReport::default())
    }

    fn versioned(name: &str, id: &str, version: u32) -> (LayerIndex, Option<VersionInfo>) {
        let layer = layer(name, id);
        let info = VersionInfo::new(&layer, version, Origin::Manifest, "0");
        (LayerIndex::new(layer), Some(info))
    }

    fn first_id(catalog: &Catalog, name: &str) -> String {
        catalog.get(name).unwrap().layer().features[0].id.clone()
    }

    #[test]
    fn replaced_layer_keeps_others() {
        let catalog = Catalog::with_versions(vec![
            versioned("stops", "v1-s", 1),
            versioned("hydrants", "v1-h", 1),
        ]);
        let (index, version) = versioned("stops", "v2-s", 2);
        let replaced = catalog.with_layer_replaced(Arc::new(index), version.unwrap());

        assert_eq!(first_id(&replaced, "stops"), "v2-s");
        assert_eq!(replaced.version(0).unwrap().version, 2);
        assert_eq!(replaced.position("hydrants"), Some(1));
        assert!(Arc::ptr_eq(&replaced.layers()[1], &catalog.layers()[1]));
        assert_eq!(
            first_id(&catalog, "stops"),
            "v1-s",
            "the old catalog is unchanged"
        );
        assert_eq!(catalog.version(0).unwrap().version, 1);
    }

    #[test]
    fn new_layer_appended() {
        let catalog = Catalog::with_versions(vec![versioned("stops", "v1-s", 1)]);
        let (index, version) = versioned("wards", "v1-w", 1);
        let grown = catalog.with_layer_replaced(Arc::new(index), version.unwrap());

        assert_eq!(grown.layers().len(), 2);
        assert_eq!(grown.position("wards"), Some(1));
        assert_eq!(first_id(&grown, "wards"), "v1-w");
    }

    #[test]
    fn file_layers_have_no_version() {
        let catalog = Catalog::new(vec![LayerIndex::new(layer("stops", "s"))]);
        assert!(catalog.version(0).is_none());
    }
}
