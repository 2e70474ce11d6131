//! Layers as the service keeps them in memory: validated features in WGS84 lon/lat.
//!
//! A [`Layer`] is what a source file becomes once it has been read through
//! GDAL, reprojected with PROJ and checked. It knows nothing of indexes or
//! HTTP; [`crate::index::LayerIndex`] is built from it.

mod time;

use std::fmt;

use geo::{Geometry, Rect};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use time::{ActiveInterval, TimeParseError, WorkTimeFormat};

/// What a layer represents, which decides how a context query reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Polygons that partition territory: the features covering a point.
    District,
    /// Points or lines: the nearest features within a radius.
    Asset,
    /// Features with an activity interval: those active at an instant.
    Work,
}

impl LayerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::District => "district",
            LayerKind::Asset => "asset",
            LayerKind::Work => "work",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One feature of a layer, with its geometry in WGS84 (x = longitude,
/// y = latitude, degrees).
#[derive(Debug, Clone)]
pub struct Feature {
    /// Unique within the layer. Either the source's `id_field` value or, when
    /// that value is missing or repeated, `<layer>:<fid>`.
    pub id: String,
    /// True when `id` was made up at load because the source value was
    /// missing or repeated.
    pub synthetic_id: bool,
    pub name: Option<String>,
    /// Source attributes, as JSON values.
    pub properties: Map<String, Value>,
    /// Valid geometry (repaired at load when the source was invalid).
    pub geometry: Geometry<f64>,
    /// When the feature is active; set for work layers only.
    pub active: Option<ActiveInterval>,
}

/// Display and provenance data of a layer, as `GET /v1/layers` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LayerInfo {
    pub name: String,
    pub kind: LayerKind,
    /// Source file name, relative to the manifest.
    pub source: String,
    /// The CRS the source was read in, as an authority code when PROJ can
    /// identify one (`EPSG:32188`), else its name.
    pub source_crs: String,
    pub feature_count: usize,
    /// `[min_lon, min_lat, max_lon, max_lat]` in WGS84, absent for an empty layer.
    pub bbox: Option<[f64; 4]>,
    /// Source features with a geometry problem, kept (repaired) or rejected.
    pub invalid_count: usize,
    pub synthetic_id_count: usize,
    pub attribution: Option<String>,
    pub licence: Option<String>,
}

/// A problem found in a feature's geometry, checked in its source CRS. A
/// feature may have several, one entry per problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvalidGeometry {
    /// The feature's id: its `id_field` value, or the synthetic id it got or,
    /// when rejected, would have got.
    pub id: String,
    /// The kind of problem. Reports stored before it existed read as `other`.
    #[serde(default)]
    pub problem: GeometryProblem,
    /// The description and location of the problem, in the source CRS,
    /// e.g. "Self-intersection at or near point 512345.2 180034.1" (GEOS's
    /// own text for the problems GEOS finds).
    pub reason: String,
    /// The action taken: "repaired with GEOS MakeValid in the source CRS",
    /// "closed the ring by repeating its first point", "removed the ring of
    /// 3 points", or "rejected" when the feature is not kept.
    pub action: String,
}

/// The kinds of geometry problem an import reports.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GeometryProblem {
    /// GEOS "Self-intersection" or "Ring Self-intersection".
    SelfIntersection,
    /// A polygon ring with fewer than 4 points once closed, or GEOS "Too few
    /// points in geometry component" in a polygon.
    #[serde(rename = "ring_under_4_points")]
    RingUnder4Points,
    /// A polygon ring whose last point differs from its first.
    UnclosedRing,
    /// A NaN or infinite coordinate.
    NonFiniteCoordinate,
    /// A null or empty geometry.
    Empty,
    /// Any other GEOS reason, kept in `reason`.
    #[default]
    Other,
}

/// A feature whose id was made up because the source value was unusable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyntheticId {
    pub id: String,
    /// The source value, absent when it was missing.
    pub source_value: Option<String>,
    /// "missing" or "repeated".
    pub reason: String,
}

/// A source feature that could not be kept, with the reason. A feature
/// rejected for its geometry is also listed under the invalid geometries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectedFeature {
    /// The feature's id, as [`InvalidGeometry::id`] gives it; empty in
    /// reports stored before it existed.
    #[serde(default)]
    pub id: String,
    /// The GDAL feature id (FID) in the source.
    pub fid: i64,
    pub reason: String,
}

/// A kept feature whose text attributes contain U+FFFD, the replacement
/// character, once decoded: their bytes were not valid in the encoding the
/// file was read with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UndecodableText {
    pub id: String,
    /// The attributes with U+FFFD, sorted by name.
    pub fields: Vec<String>,
}

/// The findings of loading a layer, besides the features kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoadReport {
    /// Features read from the source, before the attribute filter.
    pub read_count: usize,
    /// Features left out by the manifest's `where` filter.
    pub filtered_count: usize,
    /// Geometry problems, of kept and rejected features alike.
    pub invalid: Vec<InvalidGeometry>,
    pub synthetic_ids: Vec<SyntheticId>,
    /// Features not kept; `read_count` = kept + rejected + filtered.
    pub rejected: Vec<RejectedFeature>,
    /// Kept features with text that did not decode. Setting `encoding`
    /// (Shapefile) or converting the file to UTF-8 fixes them. Reports
    /// stored before it existed read as an empty list.
    #[serde(default)]
    pub undecodable: Vec<UndecodableText>,
    /// Kept features whose Z or M values were dropped: layers are 2D.
    /// Reports stored before it existed read as 0.
    #[serde(default)]
    pub flattened_count: usize,
}

impl LoadReport {
    /// Counts the features with at least one geometry problem.
    pub fn invalid_feature_count(&self) -> usize {
        let ids: std::collections::HashSet<&str> =
            self.invalid.iter().map(|i| i.id.as_str()).collect();
        ids.len()
    }
}

/// A loaded layer: its description, its features and the load report.
#[derive(Debug, Clone)]
pub struct Layer {
    pub info: LayerInfo,
    pub features: Vec<Feature>,
    pub report: LoadReport,
}

impl Layer {
    /// Builds a layer from features, filling the counts and the bbox of `info`.
    pub fn new(mut info: LayerInfo, features: Vec<Feature>, report: LoadReport) -> Self {
        info.feature_count = features.len();
        info.invalid_count = report.invalid_feature_count();
        info.synthetic_id_count = report.synthetic_ids.len();
        info.bbox = bbox_of(&features).map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        Layer {
            info,
            features,
            report,
        }
    }
}

fn bbox_of(features: &[Feature]) -> Option<Rect<f64>> {
    use geo::BoundingRect;

    features
        .iter()
        .filter_map(|f| f.geometry.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
}

#[cfg(test)]
mod tests {
    use super::LoadReport;

    /// A report stored before `undecodable` existed still loads.
    #[test]
    fn report_without_undecodable_loads() {
        let stored = r#"{"read_count": 3, "filtered_count": 1, "invalid": [],
                         "synthetic_ids": [], "rejected": []}"#;
        let report: LoadReport = serde_json::from_str(stored).unwrap();
        assert_eq!(report.read_count, 3);
        assert!(report.undecodable.is_empty());
    }
}
