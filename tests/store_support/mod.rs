//! Both layer stores for the store tests, and layers built in memory.
//!
//! Every store test runs against the GeoPackage store (a file in a
//! temporary directory) and the PostGIS store at `REPERE_TEST_DATABASE_URL`,
//! each test in a schema of its own.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use geo::{CoordsIter, Geometry, line_string, point, polygon};
use repere::layer::{
    ActiveInterval, Feature, GeometryProblem, InvalidGeometry, Layer, LayerInfo, LayerKind,
    LoadReport, RejectedFeature, SyntheticId,
};
use repere::store::{GpkgStore, PgStore, Store};
use serde_json::{Map, Value, json};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;

pub const DATABASE_URL_VAR: &str = "REPERE_TEST_DATABASE_URL";

/// Where one test's store lives, so that it can be opened again.
pub enum TestBackend {
    GeoPackage { _dir: TempDir, path: PathBuf },
    Postgis { url: String, schema: String },
}

impl TestBackend {
    pub fn label(&self) -> &'static str {
        match self {
            TestBackend::GeoPackage { .. } => "geopackage",
            TestBackend::Postgis { .. } => "postgis",
        }
    }

    /// Opens the store, as a new process would.
    pub async fn open(&self) -> Store {
        match self {
            TestBackend::GeoPackage { path, .. } => Store::GeoPackage(
                GpkgStore::open(path)
                    .await
                    .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display())),
            ),
            TestBackend::Postgis { url, schema } => Store::Postgis(
                PgStore::connect_with(schema_options(url, schema))
                    .await
                    .unwrap_or_else(|e| panic!("cannot open PostGIS schema {schema}: {e}")),
            ),
        }
    }

    /// Connects to the test's schema directly, for checks in SQL.
    pub async fn connect_sql(&self) -> Option<PgConnection> {
        match self {
            TestBackend::GeoPackage { .. } => None,
            TestBackend::Postgis { url, schema } => Some(
                PgConnection::connect_with(&schema_options(url, schema))
                    .await
                    .expect("connect to the test schema"),
            ),
        }
    }
}

fn database_url() -> String {
    std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{DATABASE_URL_VAR} is not set: the store tests need PostGIS. Start one with \
             `scripts/postgis start` and run `eval \"$(scripts/postgis env)\"`, or run \
             `scripts/test`"
        )
    })
}

fn schema_options(url: &str, schema: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} is not a PostgreSQL URL: {e}"))
        .options([("search_path", format!("{schema},public"))])
}

/// Creates the two backends, each empty and private to the test `test`.
pub async fn backends(test: &str) -> Vec<TestBackend> {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("state").join("repere.gpkg");
    let gpkg = TestBackend::GeoPackage { _dir: dir, path };
    let url = database_url();
    let schema = format!("store_{test}_{}", uuid::Uuid::new_v4().simple());
    create_schema(&url, &schema).await;
    vec![gpkg, TestBackend::Postgis { url, schema }]
}

/// Creates `schema`, after making sure PostGIS is in `public`: the
/// migrations only create the extension when it is missing, and they would
/// put it in the first schema of the search path.
async fn create_schema(url: &str, schema: &str) {
    let options = PgConnectOptions::from_str(url).expect("a PostgreSQL URL");
    let mut conn = PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {DATABASE_URL_VAR}: {e}"));
    // Tests run in parallel, and two CREATE EXTENSION can race.
    sqlx::query("SELECT pg_advisory_lock(7212)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
        .execute(&mut conn)
        .await
        .expect("create the postgis extension");
    sqlx::query("SELECT pg_advisory_unlock(7212)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create the test schema");
}

pub fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

fn properties(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn feature(id: &str, geometry: Geometry<f64>, props: Value) -> Feature {
    Feature {
        id: id.to_owned(),
        synthetic_id: false,
        name: Some(format!("name of {id}")),
        properties: properties(props),
        geometry,
        active: None,
    }
}

fn info(name: &str, kind: LayerKind) -> LayerInfo {
    LayerInfo {
        name: name.to_owned(),
        kind,
        source: format!("{name}.geojson"),
        source_crs: "EPSG:4326".to_owned(),
        feature_count: 0,
        bbox: None,
        invalid_count: 0,
        synthetic_id_count: 0,
        attribution: Some("Ville de Montréal".to_owned()),
        licence: Some("CC-BY 4.0".to_owned()),
    }
}

/// Builds an asset layer mixing every geometry type, awkward coordinates (negative
/// zero, the smallest subnormal, 17 significant digits) and awkward
/// properties (unicode, quotes, nulls, nesting, large numbers).
pub fn mixed_layer(name: &str) -> Layer {
    let features = vec![
        feature(
            "p1",
            point!(x: -73.567_890_123_456_78, y: 45.501_234_567_890_12).into(),
            json!({"nom": "Côte-des-Neiges–Notre-Dame-de-Grâce", "emoji": "🚧🌳",
                   "quote": "l'érable \"sucre\"", "empty": "", "none": null}),
        ),
        feature(
            "p2",
            point!(x: -0.0, y: 5e-324).into(),
            json!({"n": 42, "neg": -7, "x": 0.1, "big": 1e300, "u": u64::MAX,
                   "lat": 45.500_164_222_241_516, "tiny": 5e-324}),
        ),
        feature(
            "l1",
            line_string![(x: -73.6, y: 45.5), (x: -73.59, y: 45.51), (x: -73.58, y: 45.515)].into(),
            json!({"nested": {"a": [1, "b", null, true]}, "list": []}),
        ),
        feature(
            "mp1",
            geo::MultiPolygon::new(vec![
                polygon!(
                    exterior: [(x: -73.7, y: 45.4), (x: -73.5, y: 45.4), (x: -73.5, y: 45.6),
                               (x: -73.7, y: 45.6), (x: -73.7, y: 45.4)],
                    interiors: [[(x: -73.65, y: 45.45), (x: -73.6, y: 45.45),
                                 (x: -73.6, y: 45.5), (x: -73.65, y: 45.45)]],
                ),
                polygon![(x: -73.4, y: 45.4), (x: -73.3, y: 45.4), (x: -73.3, y: 45.5),
                         (x: -73.4, y: 45.4)],
            ])
            .into(),
            json!({"district": "Ahuntsic‑Cartierville", "code": "AHU"}),
        ),
        feature(
            "mp2",
            geo::MultiPoint::new(vec![point!(x: 1.0, y: 2.0), point!(x: 3.0, y: 4.0)]).into(),
            json!({}),
        ),
        feature(
            "ml1",
            geo::MultiLineString::new(vec![
                line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)],
                line_string![(x: 2.0, y: 2.0), (x: 3.0, y: 3.5)],
            ])
            .into(),
            json!({"k": "v"}),
        ),
        feature(
            "gc1",
            Geometry::GeometryCollection(geo::GeometryCollection::new_from(vec![
                point!(x: -73.5, y: 45.5).into(),
                line_string![(x: -73.5, y: 45.5), (x: -73.49, y: 45.51)].into(),
            ])),
            json!({"kind": "collection"}),
        ),
        Feature {
            id: "mixed:7".to_owned(),
            synthetic_id: true,
            name: None,
            ..feature(
                "mixed:7",
                point!(x: 10.0, y: 20.0).into(),
                json!({"id": null}),
            )
        },
        Feature {
            id: "mixed:8".to_owned(),
            synthetic_id: true,
            name: Some("Rue Saint-Zotique Est".to_owned()),
            ..feature(
                "mixed:8",
                point!(x: 10.5, y: 20.5).into(),
                json!({"id": "dup"}),
            )
        },
    ];
    let report = LoadReport {
        undecodable: Vec::new(),
        flattened_count: 2,
        read_count: 11,
        filtered_count: 1,
        invalid: vec![
            InvalidGeometry {
                id: "mp1".to_owned(),
                problem: GeometryProblem::SelfIntersection,
                reason: "Self-intersection[-73.6 45.5]".to_owned(),
                action: "repaired with GEOS MakeValid".to_owned(),
            },
            InvalidGeometry {
                id: "gone".to_owned(),
                problem: GeometryProblem::RingUnder4Points,
                reason: "Too few points".to_owned(),
                action: "rejected".to_owned(),
            },
        ],
        synthetic_ids: vec![
            SyntheticId {
                id: "mixed:7".to_owned(),
                source_value: None,
                reason: "missing".to_owned(),
            },
            SyntheticId {
                id: "mixed:8".to_owned(),
                source_value: Some("dup".to_owned()),
                reason: "repeated".to_owned(),
            },
        ],
        rejected: vec![RejectedFeature {
            id: "gone".to_owned(),
            fid: 9,
            reason: "no geometry".to_owned(),
        }],
    };
    Layer::new(info(name, LayerKind::Asset), features, report)
}

/// Builds a work layer whose features have closed, half-open, fully open and no
/// activity intervals, one of them with a sub-second bound.
pub fn works_layer(name: &str) -> Layer {
    let interval = |start, end| Some(ActiveInterval { start, end });
    let at = |id: &str, x: f64, active| Feature {
        active,
        ..feature(id, point!(x: x, y: 45.5).into(), json!({"permit": id}))
    };
    let precise = utc(2026, 3, 1, 8, 0, 0) + chrono::Duration::microseconds(123_456);
    let features = vec![
        at(
            "w1",
            -73.6,
            interval(
                Some(utc(2026, 3, 1, 5, 0, 0)),
                Some(utc(2026, 3, 15, 4, 0, 0)),
            ),
        ),
        at("w2", -73.61, interval(Some(precise), None)),
        at("w3", -73.62, interval(None, Some(utc(2026, 4, 1, 4, 0, 0)))),
        at("w4", -73.63, interval(None, None)),
        at("w5", -73.64, None),
    ];
    Layer::new(info(name, LayerKind::Work), features, LoadReport::default())
}

/// Builds a small district layer, different from [`mixed_layer`], for a second
/// version.
pub fn districts_layer(name: &str, suffix: &str) -> Layer {
    let square = |x: f64| -> Geometry<f64> {
        polygon![(x: x, y: 45.0), (x: x + 0.1, y: 45.0), (x: x + 0.1, y: 45.1),
                 (x: x, y: 45.1), (x: x, y: 45.0)]
        .into()
    };
    let features = (0..3)
        .map(|i| {
            let id = format!("d{i}{suffix}");
            feature(&id, square(-73.0 - f64::from(i) * 0.1), json!({"rank": i}))
        })
        .collect();
    Layer::new(
        info(name, LayerKind::District),
        features,
        LoadReport::default(),
    )
}

/// Returns the coordinates of a geometry as bit patterns, so that -0.0 and 0.0
/// differ and equality is exact.
pub fn coordinate_bits(geometry: &Geometry<f64>) -> Vec<(u64, u64)> {
    geometry
        .coords_iter()
        .map(|c| (c.x.to_bits(), c.y.to_bits()))
        .collect()
}

/// Checks that two layers hold the same features, one assert per field.
pub fn assert_same_features(label: &str, stored: &Layer, loaded: &Layer) {
    assert_eq!(
        loaded.features.len(),
        stored.features.len(),
        "{label}: feature count"
    );
    for (want, got) in stored.features.iter().zip(&loaded.features) {
        let id = &want.id;
        assert_eq!(got.id, want.id, "{label}: id");
        assert_eq!(
            got.synthetic_id, want.synthetic_id,
            "{label} {id}: synthetic_id"
        );
        assert_eq!(got.name, want.name, "{label} {id}: name");
        assert_eq!(got.properties, want.properties, "{label} {id}: properties");
        assert_eq!(got.geometry, want.geometry, "{label} {id}: geometry");
        assert_eq!(
            coordinate_bits(&got.geometry),
            coordinate_bits(&want.geometry),
            "{label} {id}: coordinate bits"
        );
        assert_eq!(got.active, want.active, "{label} {id}: active interval");
    }
}
