//! The difference between two versions of a layer, by feature id: what an
//! import reports and what is stored with each version.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::layer::{Feature, Layer};

/// The maximum number of ids listed per kind of change; the counts are
/// always complete.
pub const MAX_DIFF_IDS: usize = 100;

/// The changes from the active version, by feature id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Diff {
    pub active_version: u32,
    pub added: IdChanges,
    pub removed: IdChanges,
    pub geometry_changed: IdChanges,
    /// Features whose name or properties changed.
    pub properties_changed: IdChanges,
}

/// How many features changed in one way, with their ids, sorted, at most
/// [`MAX_DIFF_IDS`] of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdChanges {
    pub count: usize,
    pub ids: Vec<String>,
    /// True when `ids` lists fewer than `count`.
    pub truncated: bool,
}

impl IdChanges {
    fn from_ids(mut ids: Vec<&str>) -> Self {
        ids.sort_unstable();
        let count = ids.len();
        let listed: Vec<String> = ids
            .iter()
            .take(MAX_DIFF_IDS)
            .map(|id| id.to_string())
            .collect();
        IdChanges {
            count,
            truncated: listed.len() < count,
            ids: listed,
        }
    }
}

/// Compares `new` with the active version `old` (number `active_version`)
/// feature by feature, matching on id.
pub fn diff(old: &Layer, new: &Layer, active_version: u32) -> Diff {
    let old_by_id: HashMap<&str, &Feature> =
        old.features.iter().map(|f| (f.id.as_str(), f)).collect();
    let new_by_id: HashMap<&str, &Feature> =
        new.features.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut added = Vec::new();
    let mut geometry_changed = Vec::new();
    let mut properties_changed = Vec::new();
    for (id, feature) in &new_by_id {
        let Some(before) = old_by_id.get(id) else {
            added.push(*id);
            continue;
        };
        if before.geometry != feature.geometry {
            geometry_changed.push(*id);
        }
        if before.name != feature.name || before.properties != feature.properties {
            properties_changed.push(*id);
        }
    }
    let removed = old_by_id
        .keys()
        .filter(|id| !new_by_id.contains_key(*id))
        .copied()
        .collect();
    Diff {
        active_version,
        added: IdChanges::from_ids(added),
        removed: IdChanges::from_ids(removed),
        geometry_changed: IdChanges::from_ids(geometry_changed),
        properties_changed: IdChanges::from_ids(properties_changed),
    }
}

#[cfg(test)]
mod tests {
    use geo::{Geometry, Point};
    use serde_json::{Map, json};

    use super::*;
    use crate::layer::{LayerInfo, LayerKind, LoadReport};

    fn feature(id: &str, x: f64, size: &str) -> Feature {
        let mut properties = Map::new();
        properties.insert("size".to_owned(), json!(size));
        Feature {
            id: id.to_owned(),
            synthetic_id: false,
            name: None,
            properties,
            geometry: Geometry::Point(Point::new(x, 45.0)),
            active: None,
        }
    }

    fn layer(features: Vec<Feature>) -> Layer {
        let info = LayerInfo {
            name: "hydrants".to_owned(),
            kind: LayerKind::Asset,
            source: "hydrants.geojson".to_owned(),
            source_crs: "EPSG:4326".to_owned(),
            feature_count: 0,
            bbox: None,
            invalid_count: 0,
            synthetic_id_count: 0,
            attribution: None,
            licence: None,
        };
        Layer::new(info, features, LoadReport::default())
    }

    #[test]
    fn diff_by_id() {
        let old = layer(vec![
            feature("a", -73.0, "s"),
            feature("b", -73.0, "s"),
            feature("c", -73.0, "s"),
        ]);
        let new = layer(vec![
            feature("a", -73.0, "s"),
            feature("b", -73.1, "s"),
            feature("c", -73.0, "m"),
            feature("d", -73.0, "s"),
        ]);
        let diff = diff(&old, &new, 3);
        assert_eq!(diff.added.ids, vec!["d"]);
        assert_eq!(diff.removed.count, 0);
        assert_eq!(diff.geometry_changed.ids, vec!["b"]);
        assert_eq!(diff.properties_changed.ids, vec!["c"]);
    }

    #[test]
    fn ids_capped() {
        let ids: Vec<String> = (0..150).map(|i| format!("{i:03}")).collect();
        let changes = IdChanges::from_ids(ids.iter().map(String::as_str).collect());
        assert_eq!(changes.count, 150);
        assert_eq!(changes.ids.len(), MAX_DIFF_IDS);
        assert!(changes.truncated);
        assert_eq!(changes.ids[0], "000");
    }
}
