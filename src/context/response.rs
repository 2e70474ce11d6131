//! The context response. It borrows feature data from the catalog, so
//! building one copies no properties.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::layer::LayerKind;

/// The context of a point: the contract that routing and later features extend.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContextResponse<'a> {
    pub point: LatLon,
    /// The instant works were checked against.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<FixedOffset>,
    /// The instant the layer versions were chosen for, when the request set `as_of`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub as_of: Option<DateTime<FixedOffset>>,
    pub h3: H3Cell,
    /// One entry per requested layer, in manifest order.
    pub layers: Vec<LayerContext<'a>>,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// The H3 cell containing the point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct H3Cell {
    pub resolution: u8,
    /// The cell index in hexadecimal, e.g. `892b8c1e24bffff`.
    pub cell: String,
}

/// The features of one layer at the point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LayerContext<'a> {
    pub name: &'a str,
    pub kind: LayerKind,
    /// The publisher of the layer's data, shown wherever the data is shown.
    pub attribution: Option<&'a str>,
    pub licence: Option<&'a str>,
    /// The stored version of the layer the features come from. Absent when
    /// the layer was read straight from its source file, without a store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Present when `as_of` is before the layer's first activation: the
    /// features then come from the layer's first version, and the value
    /// is `first_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of_fallback: Option<AsOfFallback>,
    /// Districts covering the point (by id), or nearby assets and active
    /// works (nearest first).
    pub features: Vec<FeatureContext<'a>>,
}

/// Why a layer answered `as_of` from another version than the one active then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AsOfFallback {
    /// No version of the layer was active at `as_of`, so its first version
    /// was used.
    FirstVersion,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FeatureContext<'a> {
    District(DistrictFeature<'a>),
    Nearby(NearbyFeature<'a>),
}

/// A district covering the point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DistrictFeature<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    #[schema(value_type = Object)]
    pub properties: &'a Map<String, Value>,
    /// Geodesic distance from the point to this district's nearest edge, metres.
    pub boundary_distance_m: f64,
    /// Other districts of the layer within `near_m` of the point.
    pub neighbours: Vec<Neighbour<'a>>,
}

/// Another district near the point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Neighbour<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    /// Geodesic distance from the point to that district, metres (0 when it
    /// covers the point too).
    pub distance_m: f64,
}

/// An asset or an active work near the point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NearbyFeature<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    #[schema(value_type = Object)]
    pub properties: &'a Map<String, Value>,
    /// Geodesic distance from the point, metres.
    pub distance_m: f64,
    /// Works: start of activity, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub active_from: Option<DateTime<Utc>>,
    /// Works: end of activity (exclusive), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub active_until: Option<DateTime<Utc>>,
}
