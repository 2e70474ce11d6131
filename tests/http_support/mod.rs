//! Helpers shared by the HTTP tests: a small catalog built in memory and the router
//! served on a real socket on 127.0.0.1.
//!
//! Expected distances in the tests come from PROJ's `geod +ellps=WGS84 -I`,
//! not from the code under test.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use geo::{Geometry, Point, polygon};
use repere::catalog::Catalog;
use repere::http::{AppState, Settings, app};
use repere::index::LayerIndex;
use repere::layer::{ActiveInterval, Feature, Layer, LayerInfo, LayerKind, LoadReport};
use serde_json::{Map, Value, json};

/// The centre of the `west` ward, where hydrant `H1` and work `R1` stand.
pub const CENTRE_LAT: f64 = 45.505;
pub const CENTRE_LON: f64 = -73.705;

/// Geodesic distance from the centre to the nearest edge of `west`, the
/// meridian -73.70, in metres.
pub const CENTRE_TO_EDGE_M: f64 = 390.756;

/// Geodesic distance from the centre to hydrant `H2`, 0.0005° north, metres.
pub const CENTRE_TO_H2_M: f64 = 55.571;

/// An instant when work `R1` is active and `R2` is not.
pub const DURING_R1: &str = "2026-12-04T10:30:00-05:00";

pub fn settings() -> Settings {
    Settings {
        request_timeout: Duration::from_secs(10),
        max_body_bytes: 1024 * 1024,
        max_batch: 1000,
        max_batch_response_bytes: 32 * 1024 * 1024,
    }
}

/// Three layers in manifest order: `wards` (two squares of 0.01° sharing
/// the meridian -73.70), `hydrants` (three points) and `roadworks` (one
/// work active in December 2026, one finished in 2025).
pub fn catalog() -> Catalog {
    let west = polygon![(x: -73.71, y: 45.50), (x: -73.70, y: 45.50), (x: -73.70, y: 45.51), (x: -73.71, y: 45.51)];
    let east = polygon![(x: -73.70, y: 45.50), (x: -73.69, y: 45.50), (x: -73.69, y: 45.51), (x: -73.70, y: 45.51)];
    let wards = layer(
        "wards",
        LayerKind::District,
        vec![
            feature("W1", "west", west.into(), None),
            feature("E1", "east", east.into(), None),
        ],
    );
    let hydrants = layer(
        "hydrants",
        LayerKind::Asset,
        vec![
            feature("H1", "hydrant 1", point(CENTRE_LON, CENTRE_LAT), None),
            feature(
                "H2",
                "hydrant 2",
                point(CENTRE_LON, CENTRE_LAT + 0.0005),
                None,
            ),
            feature("H3", "hydrant 3", point(-73.60, 45.60), None),
        ],
    );
    let roadworks = layer(
        "roadworks",
        LayerKind::Work,
        vec![
            feature(
                "R1",
                "resurfacing",
                point(CENTRE_LON, CENTRE_LAT),
                active("2026-12-01T00:00:00Z", "2026-12-10T00:00:00Z"),
            ),
            feature(
                "R2",
                "sewer",
                point(CENTRE_LON, CENTRE_LAT),
                active("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
            ),
        ],
    );
    Catalog::new(vec![
        LayerIndex::new(wards),
        LayerIndex::new(hydrants),
        LayerIndex::new(roadworks),
    ])
}

fn point(lon: f64, lat: f64) -> Geometry<f64> {
    Point::new(lon, lat).into()
}

fn active(start: &str, end: &str) -> Option<ActiveInterval> {
    let parse = |text: &str| Some(text.parse::<DateTime<Utc>>().unwrap());
    Some(ActiveInterval {
        start: parse(start),
        end: parse(end),
    })
}

fn feature(
    id: &str,
    name: &str,
    geometry: Geometry<f64>,
    active: Option<ActiveInterval>,
) -> Feature {
    let mut properties = Map::new();
    properties.insert("label".to_owned(), json!(name.to_uppercase()));
    Feature {
        id: id.to_owned(),
        synthetic_id: false,
        name: Some(name.to_owned()),
        properties,
        geometry,
        active,
    }
}

fn layer(name: &str, kind: LayerKind, features: Vec<Feature>) -> Layer {
    let info = LayerInfo {
        name: name.to_owned(),
        kind,
        source: format!("{name}.geojson"),
        source_crs: "EPSG:4326".to_owned(),
        feature_count: 0,
        bbox: None,
        invalid_count: 0,
        synthetic_id_count: 0,
        attribution: Some("Test publisher".to_owned()),
        licence: Some("CC0-1.0".to_owned()),
    };
    Layer::new(info, features, LoadReport::default())
}

/// Serves `state` on 127.0.0.1 on a free port and returns its base URL.
pub async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    format!("http://{address}")
}

/// Serves the test catalog with the default settings.
pub async fn serve_catalog() -> String {
    serve(AppState::ready(catalog(), settings())).await
}

/// Checks the status and content type of an error response and returns its
/// `error` object.
pub async fn error_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "HTTP status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["status"], status,
        "status in the body: {body}"
    );
    body["error"].clone()
}

/// Asserts that an error names `field` and that its message contains `part`.
pub fn assert_names(error: &Value, field: &str, part: &str) {
    assert_eq!(error["field"], field, "field of {error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(part),
        "{message:?} should contain {part:?}"
    );
}
