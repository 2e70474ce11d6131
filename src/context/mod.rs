//! The geographic context of a point: districts covering it, nearest assets,
//! active works and its H3 cell, from every layer of a [`Catalog`].

mod as_of;
mod request;
mod response;

use std::sync::Arc;

use chrono::Utc;
use geo::Coord;
use h3o::{LatLng, Resolution};

use crate::catalog::Catalog;
use crate::index::LayerIndex;
use crate::layer::LayerKind;

pub use as_of::{
    DEFAULT_CACHED_VERSIONS, LayerChoice, VersionLoadError, VersionSource, index_layer,
    read_version,
};
pub use request::{ContextQuery, ContextRequest, InvalidField, limits};
pub use response::{
    AsOfFallback, ContextResponse, DistrictFeature, FeatureContext, H3Cell, LatLon, LayerContext,
    NearbyFeature, Neighbour,
};

/// A point within this distance of a district edge is covered by the
/// districts on both sides: it absorbs the rounding of coordinates that
/// were meant to lie on the edge.
pub const EDGE_TOLERANCE_M: f64 = 0.01;

/// H3 resolution of the cell in every answer (about 0.1 km² a cell).
pub const H3_RESOLUTION: Resolution = Resolution::Nine;

/// Computes the context of a validated query from the catalog's layers,
/// ignoring `query.as_of` (see [`context_of_choices`]).
pub fn context<'a>(catalog: &'a Catalog, query: &ContextQuery) -> ContextResponse<'a> {
    let layers = query
        .layers
        .iter()
        .map(|&i| {
            let version = catalog.version(i).map(|v| v.version);
            layer_context(&catalog.layers()[i], version, None, query)
        })
        .collect();
    response(query, layers)
}

/// Computes the context of a validated query from the layer versions chosen
/// for it, one per entry of `query.layers` and in the same order
/// ([`VersionSource::choose`]).
pub fn context_of_choices<'a>(
    choices: &'a [LayerChoice],
    query: &ContextQuery,
) -> ContextResponse<'a> {
    let layers = choices
        .iter()
        .map(|choice| layer_context(&choice.index, choice.version, choice.as_of_fallback, query))
        .collect();
    response(query, layers)
}

fn response<'a>(query: &ContextQuery, layers: Vec<LayerContext<'a>>) -> ContextResponse<'a> {
    ContextResponse {
        point: LatLon {
            lat: query.point.y,
            lon: query.point.x,
        },
        at: query.at,
        as_of: query.as_of,
        h3: h3_cell(query.point),
        layers,
    }
}

/// The current layers of `catalog` at `positions`, as [`context_of_choices`] takes them.
pub fn current_choices(catalog: &Catalog, positions: &[usize]) -> Vec<LayerChoice> {
    positions
        .iter()
        .map(|&i| LayerChoice {
            index: Arc::clone(&catalog.layers()[i]),
            version: catalog.version(i).map(|v| v.version),
            as_of_fallback: None,
        })
        .collect()
}

fn h3_cell(point: Coord<f64>) -> H3Cell {
    let cell = LatLng::new(point.y, point.x)
        .expect("validated coordinates are finite")
        .to_cell(H3_RESOLUTION);
    H3Cell {
        resolution: u8::from(H3_RESOLUTION),
        cell: cell.to_string(),
    }
}

fn layer_context<'a>(
    index: &'a LayerIndex,
    version: Option<u32>,
    as_of_fallback: Option<AsOfFallback>,
    query: &ContextQuery,
) -> LayerContext<'a> {
    let info = &index.layer().info;
    let features = match info.kind {
        LayerKind::District => districts(index, query),
        LayerKind::Asset => nearby(index, query, query.limit, |_| true),
        LayerKind::Work => {
            let at = query.at.with_timezone(&Utc);
            let features = &index.layer().features;
            let active = |i: usize| features[i].active.is_some_and(|a| a.contains(at));
            nearby(index, query, usize::MAX, active)
        }
    };
    LayerContext {
        name: &info.name,
        kind: info.kind,
        attribution: info.attribution.as_deref(),
        licence: info.licence.as_deref(),
        version,
        as_of_fallback,
        features,
    }
}

fn districts<'a>(index: &'a LayerIndex, query: &ContextQuery) -> Vec<FeatureContext<'a>> {
    let features = &index.layer().features;
    let covering = index.covering(query.point, EDGE_TOLERANCE_M);
    if covering.is_empty() {
        return Vec::new();
    }
    let near = index.nearest(query.point, query.near_m, usize::MAX, |_| true);
    covering
        .into_iter()
        .map(|i| {
            let feature = &features[i];
            let neighbours = near
                .iter()
                .filter(|hit| hit.feature != i)
                .map(|hit| Neighbour {
                    id: &features[hit.feature].id,
                    name: features[hit.feature].name.as_deref(),
                    distance_m: round_mm(hit.distance_m),
                })
                .collect();
            FeatureContext::District(DistrictFeature {
                id: &feature.id,
                name: feature.name.as_deref(),
                properties: &feature.properties,
                boundary_distance_m: round_mm(index.boundary_distance_m(i, query.point)),
                neighbours,
            })
        })
        .collect()
}

fn nearby<'a>(
    index: &'a LayerIndex,
    query: &ContextQuery,
    limit: usize,
    keep: impl FnMut(usize) -> bool,
) -> Vec<FeatureContext<'a>> {
    let features = &index.layer().features;
    index
        .nearest(query.point, query.radius_m, limit, keep)
        .into_iter()
        .map(|hit| {
            let feature = &features[hit.feature];
            FeatureContext::Nearby(NearbyFeature {
                id: &feature.id,
                name: feature.name.as_deref(),
                properties: &feature.properties,
                distance_m: round_mm(hit.distance_m),
                active_from: feature.active.and_then(|a| a.start),
                active_until: feature.active.and_then(|a| a.end),
            })
        })
        .collect()
}

/// Rounds metres to the millimetre: finer digits are noise in the sources.
fn round_mm(metres: f64) -> f64 {
    (metres * 1000.0).round() / 1000.0
}
