//! The difference between two versions of a layer, by feature id: what an
//! import reports and what is stored with each version.

use std::cmp::Ordering;
use std::collections::HashMap;

use approx::AbsDiffEq;
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

/// How many features changed in one way, with at most [`MAX_DIFF_IDS`] of
/// their ids: ids of digits only first, by numeric value, then the others
/// as text. A diff stored by an earlier build keeps its ids sorted as text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdChanges {
    pub count: usize,
    pub ids: Vec<String>,
    /// True when `ids` lists fewer than `count`.
    pub truncated: bool,
}

impl IdChanges {
    fn from_ids(mut ids: Vec<&str>) -> Self {
        ids.sort_unstable_by(|a, b| compare_ids(a, b));
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

/// Orders feature ids naturally: ids made of ASCII digits only by numeric
/// value (`9` before `10`) and before any other id, the others as text.
/// Equal values with different leading zeros fall back to text order, so
/// `007` comes before `7`.
fn compare_ids(a: &str, b: &str) -> Ordering {
    match (decimal_digits(a), decimal_digits(b)) {
        (Some(x), Some(y)) => x
            .len()
            .cmp(&y.len())
            .then_with(|| x.cmp(y))
            .then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Returns the digits of `id` without leading zeros, when `id` is a
/// non-empty string of ASCII digits. Comparing their length, then their
/// text, compares the numbers without parsing, whatever their size.
fn decimal_digits(id: &str) -> Option<&str> {
    let digits = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| id.trim_start_matches('0'))
}

/// The largest difference of longitude or latitude, in degrees, between
/// two coordinates of a geometry that did not move: 1e-8° is 1.1 mm of
/// latitude and less of longitude. Reading one file through two equivalent
/// CRS definitions, or through a re-export of the same coordinates, changes
/// the WGS84 values by about 1e-13°. A vertex moved by a millimetre or more
/// counts as a change.
const GEOMETRY_TOLERANCE_DEG: f64 = 1e-8;

/// Compares `new` with the active version `old` (number `active_version`)
/// feature by feature, matching on id. A geometry counts as changed when
/// its type or its number of vertices changed, or when a vertex moved by
/// more than [`GEOMETRY_TOLERANCE_DEG`] in longitude or latitude.
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
        if !before
            .geometry
            .abs_diff_eq(&feature.geometry, GEOMETRY_TOLERANCE_DEG)
        {
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

    #[test]
    fn ids_sorted_naturally() {
        let changes = IdChanges::from_ids(vec!["a", "100", "10", "9"]);
        assert_eq!(changes.ids, vec!["9", "10", "100", "a"]);
    }

    #[test]
    fn digit_ids_before_text_ids() {
        let mut ids = vec![
            "b",
            "-1",
            "12345678901234567890123",
            "0",
            "9a",
            "007",
            "7",
            "00",
        ];
        ids.sort_by(|a, b| compare_ids(a, b));
        let expected = vec![
            "0",
            "00",
            "007",
            "7",
            "12345678901234567890123",
            "-1",
            "9a",
            "b",
        ];
        assert_eq!(ids, expected);
    }

    /// The cap keeps the smallest ids by value: `2` to `101`, not the
    /// text-sorted `10`, `100`, `101`, `11`…
    #[test]
    fn cap_keeps_smallest_numbers() {
        let ids: Vec<String> = (2..=150).map(|i| i.to_string()).collect();
        let changes = IdChanges::from_ids(ids.iter().map(String::as_str).collect());
        assert_eq!(changes.count, 149);
        assert_eq!(changes.ids.len(), MAX_DIFF_IDS);
        assert_eq!(changes.ids.first().map(String::as_str), Some("2"));
        assert_eq!(changes.ids.last().map(String::as_str), Some("101"));
    }
}
