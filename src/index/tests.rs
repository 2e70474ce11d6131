use geo::{Geometry, MultiPolygon, Point, coord, line_string, polygon};
use serde_json::Map;

use super::*;
use crate::layer::{Feature, LayerInfo, LayerKind, LoadReport};

fn layer(kind: LayerKind, geometries: Vec<Geometry<f64>>) -> Layer {
    let features = geometries
        .into_iter()
        .enumerate()
        .map(|(i, geometry)| Feature {
            id: i.to_string(),
            synthetic_id: false,
            name: None,
            properties: Map::new(),
            geometry,
            active: None,
        })
        .collect();
    let info = LayerInfo {
        name: "test".into(),
        kind,
        source: "test".into(),
        source_crs: "EPSG:4326".into(),
        feature_count: 0,
        bbox: None,
        invalid_count: 0,
        synthetic_id_count: 0,
        attribution: None,
        licence: None,
    };
    Layer::new(info, features, LoadReport::default())
}

/// Two squares of 0.01° sharing the meridian -73.70, and a square with a hole.
fn squares() -> LayerIndex {
    let west = polygon![(x: -73.71, y: 45.50), (x: -73.70, y: 45.50), (x: -73.70, y: 45.51), (x: -73.71, y: 45.51)];
    let east = polygon![(x: -73.70, y: 45.50), (x: -73.69, y: 45.50), (x: -73.69, y: 45.51), (x: -73.70, y: 45.51)];
    let ring = polygon!(
        exterior: [(x: -73.60, y: 45.50), (x: -73.58, y: 45.50), (x: -73.58, y: 45.52), (x: -73.60, y: 45.52)],
        interiors: [[(x: -73.595, y: 45.505), (x: -73.585, y: 45.505), (x: -73.585, y: 45.515), (x: -73.595, y: 45.515)]],
    );
    LayerIndex::new(layer(
        LayerKind::District,
        vec![
            west.into(),
            east.into(),
            MultiPolygon(vec![ring]).into(),
        ],
    ))
}

#[test]
fn covering_inside_one() {
    let index = squares();
    assert_eq!(index.covering(coord! { x: -73.705, y: 45.505 }, 0.01), vec![0]);
    assert_eq!(index.covering(coord! { x: -73.695, y: 45.505 }, 0.01), vec![1]);
}

#[test]
fn covering_shared_edge_both() {
    let index = squares();
    assert_eq!(index.covering(coord! { x: -73.70, y: 45.505 }, 0.01), vec![0, 1]);
    // 5 mm east of the edge: within the tolerance of the western square.
    let five_mm = 0.005 / LocalPlane::at(coord! { x: -73.70, y: 45.505 }).m_per_deg_lon;
    assert_eq!(index.covering(coord! { x: -73.70 + five_mm, y: 45.505 }, 0.01), vec![0, 1]);
    // 5 cm east: only the eastern one.
    assert_eq!(index.covering(coord! { x: -73.70 + 10.0 * five_mm, y: 45.505 }, 0.01), vec![1]);
}

#[test]
fn covering_respects_hole() {
    let index = squares();
    assert!(index.covering(coord! { x: -73.59, y: 45.51 }, 0.01).is_empty());
    assert_eq!(index.covering(coord! { x: -73.598, y: 45.51 }, 0.01), vec![2]);
}

#[test]
fn covering_outside_all() {
    let index = squares();
    assert!(index.covering(coord! { x: -70.0, y: 45.0 }, 0.01).is_empty());
}

#[test]
fn boundary_distance_geodesic() {
    let index = squares();
    let p = coord! { x: -73.705, y: 45.505 };
    // Nearest edge: the western or eastern side, 0.005° of longitude away,
    // or the north or south side, 0.005° of latitude away (shorter at 45°N).
    let east_side = geodesy::distance_m(p, coord! { x: -73.70, y: 45.505 });
    let south_side = geodesy::distance_m(p, coord! { x: -73.705, y: 45.50 });
    let expected = east_side.min(south_side);
    let got = index.boundary_distance_m(0, p);
    assert!((got - expected).abs() < 1e-3, "{got} vs {expected}");
}

#[test]
fn boundary_distance_inside_hole() {
    let index = squares();
    let p = coord! { x: -73.59, y: 45.51 };
    let expected = geodesy::distance_m(p, coord! { x: -73.595, y: 45.51 });
    let got = index.boundary_distance_m(2, p);
    assert!((got - expected).abs() < 1e-3, "{got} vs {expected}");
}

#[test]
fn nearest_points_in_order() {
    let points: Vec<Geometry<f64>> = (0..50)
        .map(|i| Point::new(-73.7 + f64::from(i) * 0.0002, 45.5).into())
        .collect();
    let index = LayerIndex::new(layer(LayerKind::Asset, points));
    let p = coord! { x: -73.7, y: 45.5 };
    let hits = index.nearest(p, 100.0, 3, |_| true);
    let features: Vec<usize> = hits.iter().map(|h| h.feature).collect();
    assert_eq!(features, vec![0, 1, 2]);
    assert_eq!(hits[0].distance_m, 0.0);
    let expected = geodesy::distance_m(p, coord! { x: -73.6996, y: 45.5 });
    assert!((hits[2].distance_m - expected).abs() < 1e-6);
}

#[test]
fn nearest_respects_radius() {
    let points: Vec<Geometry<f64>> = (0..50)
        .map(|i| Point::new(-73.7 + f64::from(i) * 0.0002, 45.5).into())
        .collect();
    let index = LayerIndex::new(layer(LayerKind::Asset, points));
    // 0.0002° of longitude at 45.5°N is about 15.6 m.
    let hits = index.nearest(coord! { x: -73.7, y: 45.5 }, 40.0, 100, |_| true);
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h.distance_m <= 40.0));
}

#[test]
fn nearest_applies_filter() {
    let points: Vec<Geometry<f64>> = (0..10)
        .map(|i| Point::new(-73.7 + f64::from(i) * 0.0002, 45.5).into())
        .collect();
    let index = LayerIndex::new(layer(LayerKind::Work, points));
    let hits = index.nearest(coord! { x: -73.7, y: 45.5 }, 1000.0, 2, |i| i % 2 == 1);
    let features: Vec<usize> = hits.iter().map(|h| h.feature).collect();
    assert_eq!(features, vec![1, 3]);
}

#[test]
fn nearest_line_measures_to_segment() {
    let line = line_string![(x: -73.71, y: 45.50), (x: -73.69, y: 45.50)];
    let index = LayerIndex::new(layer(LayerKind::Asset, vec![line.into()]));
    let p = coord! { x: -73.70, y: 45.5003 };
    let hits = index.nearest(p, 100.0, 3, |_| true);
    let expected = geodesy::distance_m(p, coord! { x: -73.70, y: 45.50 });
    assert_eq!(hits.len(), 1);
    assert!((hits[0].distance_m - expected).abs() < 1e-3);
}

#[test]
fn nearest_polygon_covering_is_zero() {
    let index = squares();
    let hits = index.nearest(coord! { x: -73.705, y: 45.505 }, 25.0, 10, |_| true);
    assert_eq!(hits, vec![Hit { feature: 0, distance_m: 0.0 }]);
}
