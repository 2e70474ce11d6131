//! The context columns that `repere enrich` appends to each CSV row.

use crate::catalog::Catalog;
use crate::context::{ContextResponse, FeatureContext, LayerContext};

/// Separator of the values of several features in one cell.
pub const SEPARATOR: &str = "|";

/// Names of the appended columns: `<layer>_id`, `<layer>_name` and
/// `<layer>_distance_m` for each layer in `positions` (manifest order), then
/// `h3_cell`.
pub fn headers(catalog: &Catalog, positions: &[usize]) -> Vec<String> {
    let mut headers = Vec::with_capacity(positions.len() * 3 + 1);
    for &position in positions {
        let name = &catalog.layers()[position].layer().info.name;
        headers.push(format!("{name}_id"));
        headers.push(format!("{name}_name"));
        headers.push(format!("{name}_distance_m"));
    }
    headers.push("h3_cell".to_owned());
    headers
}

/// Fills `cells` with the appended values of one response, in [`headers`] order.
pub fn values(response: &ContextResponse<'_>, cells: &mut Vec<String>) {
    cells.clear();
    for layer in &response.layers {
        let (ids, names, distances) = layer_values(layer);
        cells.push(ids);
        cells.push(names);
        cells.push(distances);
    }
    cells.push(response.h3.cell.clone());
}

/// Empty cells, for a row without a usable point.
pub fn empty(count: usize, cells: &mut Vec<String>) {
    cells.clear();
    cells.resize(count, String::new());
}

/// Ids, names and distances of a layer's features, each `|`-joined.
/// Districts are sorted by id and give their boundary distance; assets and
/// works keep the response's nearest-first order.
fn layer_values(layer: &LayerContext<'_>) -> (String, String, String) {
    let mut rows: Vec<(&str, &str, f64)> = layer.features.iter().map(feature_values).collect();
    if layer.kind == crate::layer::LayerKind::District {
        rows.sort_by(|a, b| a.0.cmp(b.0));
    }
    let ids: Vec<&str> = rows.iter().map(|row| row.0).collect();
    let names: Vec<&str> = rows.iter().map(|row| row.1).collect();
    let distances: Vec<String> = rows.iter().map(|row| row.2.to_string()).collect();
    (
        ids.join(SEPARATOR),
        names.join(SEPARATOR),
        distances.join(SEPARATOR),
    )
}

fn feature_values<'a>(feature: &FeatureContext<'a>) -> (&'a str, &'a str, f64) {
    match feature {
        FeatureContext::District(district) => (
            district.id,
            district.name.unwrap_or(""),
            district.boundary_distance_m,
        ),
        FeatureContext::Nearby(nearby) => (nearby.id, nearby.name.unwrap_or(""), nearby.distance_m),
    }
}
