//! The import report's invalid geometries, checked in each file's own CRS,
//! against PostGIS `ST_IsValidReason` on the same file loaded by ogr2ogr
//! without reprojection. Both use GEOS, through GDAL on one side and
//! PostGIS on the other, so the reason and its location must agree. For
//! the hand-made rings that PostGIS cannot load unclosed, PostGIS judges
//! the ring closed by hand.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Schema, connect};
use geo::{Area, Geometry};
use repere::import::{ImportOptions, Prepared, prepare};
use repere::layer::GeometryProblem;
use serde_json::json;

/// A GEOS reason split into its kind and location, from either
/// "Self-intersection[x y]" (PostGIS) or "Self-intersection at or near
/// point x y" (GDAL).
#[derive(Debug)]
struct Reason {
    kind: String,
    x: f64,
    y: f64,
}

fn parse_reason(text: &str) -> Reason {
    let (kind, location) = match text.split_once('[') {
        Some((kind, rest)) => (kind, rest.trim_end_matches(']')),
        None => text
            .split_once(" at or near point ")
            .unwrap_or_else(|| panic!("no location in {text:?}")),
    };
    let mut numbers = location
        .split_whitespace()
        .map(|n| n.parse::<f64>().unwrap());
    Reason {
        kind: kind.trim().to_owned(),
        x: numbers.next().unwrap(),
        y: numbers.next().unwrap(),
    }
}

/// Invalid features by id according to the import report.
fn imported_reasons(relative: &str, id_field: &str) -> BTreeMap<String, Reason> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let options: ImportOptions = serde_json::from_value(
        json!({"kind": "district", "id_field": id_field, "name_field": id_field}),
    )
    .unwrap();
    let work_dir = tempfile::tempdir().unwrap();
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let prepared = prepare("checked", &path, &file_name, &options, work_dir.path()).unwrap();
    prepared
        .layer
        .report
        .invalid
        .iter()
        .map(|invalid| (invalid.id.clone(), parse_reason(&invalid.reason)))
        .collect()
}

/// Invalid features by id according to PostGIS.
async fn postgis_reasons(relative: &str, id_column: &str) -> BTreeMap<String, Reason> {
    let pool = connect().await;
    let schema = Schema::create(&pool, "validity").await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    schema.load(&path, "source", &[]).await;
    let sql = format!(
        "SELECT {id_column}::text, ST_IsValidReason(geom) FROM {} WHERE NOT ST_IsValid(geom)",
        schema.table("source")
    );
    let rows: Vec<(String, String)> = sqlx::query_as(&sql).fetch_all(&pool).await.unwrap();
    schema.drop().await;
    rows.into_iter()
        .map(|(id, reason)| (id, parse_reason(&reason)))
        .collect()
}

async fn compare(relative: &str, id_field: &str, id_column: &str, expected_count: usize) {
    let imported = imported_reasons(relative, id_field);
    let reference = postgis_reasons(relative, id_column).await;
    assert_eq!(reference.len(), expected_count, "PostGIS: {reference:#?}");
    let imported_ids: Vec<&String> = imported.keys().collect();
    let reference_ids: Vec<&String> = reference.keys().collect();
    assert_eq!(imported_ids, reference_ids, "{relative}");
    for (id, expected) in &reference {
        let found = &imported[id];
        assert_eq!(found.kind, expected.kind, "{relative} feature {id}");
        assert!(
            (found.x - expected.x).abs() < 1e-6,
            "{relative} feature {id}: {found:?} vs {expected:?}"
        );
        assert!(
            (found.y - expected.y).abs() < 1e-6,
            "{relative} feature {id}: {found:?} vs {expected:?}"
        );
    }
}

/// One self-intersection, in the file's Quebec Lambert metres.
#[tokio::test]
async fn laval_districts_match_postgis() {
    compare(
        "data/laval-districts-2013/Laval-2465005.shp",
        "NM_DIS",
        "nm_dis",
        1,
    )
    .await;
}

/// Thirteen ring and polygon self-intersections, in MTM zone 8 metres.
#[tokio::test]
async fn police_districts_match_postgis() {
    compare(
        "data/montreal-police-districts/limitespdq_raw.geojson",
        "OBJECTID",
        "objectid",
        13,
    )
    .await;
}

/// One ring with too few points.
#[tokio::test]
async fn neighbourhoods_match_postgis() {
    compare(
        "data/montreal-neighbourhoods-2014/quartiers_sociologiques_2014.geojson",
        "Q_sociologique",
        "q_sociologique",
        1,
    )
    .await;
}

fn hand_made_polygons() -> Prepared {
    let path = common::fixture("geometry-problems/polygons.geojson");
    let options: ImportOptions = serde_json::from_value(
        json!({"kind": "district", "id_field": "code", "name_field": "code"}),
    )
    .unwrap();
    let work_dir = tempfile::tempdir().unwrap();
    prepare(
        "problems",
        &path,
        "polygons.geojson",
        &options,
        work_dir.path(),
    )
    .unwrap()
}

/// Returns the reason of the `problem` of feature `id`.
fn reported(prepared: &Prepared, id: &str, problem: GeometryProblem) -> Reason {
    let invalid = &prepared.layer.report.invalid;
    let found = invalid.iter().find(|i| i.id == id && i.problem == problem);
    let found = found.unwrap_or_else(|| panic!("no {problem:?} for {id}: {invalid:#?}"));
    parse_reason(&found.reason)
}

fn assert_same_reason(found: &Reason, expected: &Reason) {
    assert_eq!(found.kind, expected.kind);
    assert!(
        (found.x - expected.x).abs() < 1e-9,
        "{found:?} {expected:?}"
    );
    assert!(
        (found.y - expected.y).abs() < 1e-9,
        "{found:?} {expected:?}"
    );
}

/// Feature unclosed_bow_tie of polygons.geojson, its ring closed by hand.
const BOW_TIE_CLOSED: &str =
    "POLYGON((-73.6 45.5,-73.59 45.51,-73.59 45.5,-73.6 45.51,-73.6 45.5))";

/// Feature repeated_points of polygons.geojson: a closed ring of 4 points,
/// 2 of them distinct.
const REPEATED_POINTS: &str = "POLYGON((-73.6 45.5,-73.59 45.5,-73.59 45.5,-73.6 45.5))";

/// GEOS through GDAL, run on the ring the import closed, gives the reason
/// PostGIS gives for the ring closed by hand, and MakeValid the same area.
#[tokio::test]
async fn closed_ring_matches_postgis() {
    let prepared = hand_made_polygons();
    let pool = connect().await;
    let (reason, postgis_area): (String, f64) = sqlx::query_as(
        "SELECT ST_IsValidReason(g), ST_Area(ST_MakeValid(g)) FROM ST_GeomFromText($1) AS g",
    )
    .bind(BOW_TIE_CLOSED)
    .fetch_one(&pool)
    .await
    .unwrap();
    let found = reported(
        &prepared,
        "unclosed_bow_tie",
        GeometryProblem::SelfIntersection,
    );
    assert_same_reason(&found, &parse_reason(&reason));
    let feature = prepared
        .layer
        .features
        .iter()
        .find(|f| f.id == "unclosed_bow_tie")
        .expect("unclosed_bow_tie is kept");
    let Geometry::MultiPolygon(repaired) = &feature.geometry else {
        panic!("not a MultiPolygon: {:?}", feature.geometry)
    };
    let area = repaired.unsigned_area();
    assert!(
        (area - postgis_area).abs() < 1e-15,
        "{area} vs PostGIS {postgis_area}"
    );
}

/// A line of one distinct point, row `line` of shapes.csv.
const ONE_POINT_LINE: &str = "LINESTRING(-73.6 45.5,-73.6 45.5)";

/// GEOS finds too few points in a line as in a ring, and the report keeps
/// its text under `other`.
#[tokio::test]
async fn one_point_line_matches_postgis() {
    let path = common::fixture("geometry-problems/shapes.csv");
    let options: ImportOptions = serde_json::from_value(json!({
        "kind": "asset", "id_field": "code", "name_field": "name",
        "wkt_field": "wkt", "crs": "EPSG:4326"}))
    .unwrap();
    let work_dir = tempfile::tempdir().unwrap();
    let prepared = prepare("shapes", &path, "shapes.csv", &options, work_dir.path()).unwrap();
    let pool = connect().await;
    let (reason,): (String,) = sqlx::query_as("SELECT ST_IsValidReason(ST_GeomFromText($1))")
        .bind(ONE_POINT_LINE)
        .fetch_one(&pool)
        .await
        .unwrap();
    let found = reported(&prepared, "line", GeometryProblem::Other);
    assert_same_reason(&found, &parse_reason(&reason));
}

/// GEOS's "Too few points" reason agrees with PostGIS, and PostGIS's
/// MakeValid leaves no polygon either, which is why the district is
/// rejected.
#[tokio::test]
async fn too_few_points_matches_postgis() {
    let prepared = hand_made_polygons();
    let pool = connect().await;
    let (reason, repaired_type): (String, String) = sqlx::query_as(
        "SELECT ST_IsValidReason(g), ST_GeometryType(ST_MakeValid(g)) \
         FROM ST_GeomFromText($1) AS g",
    )
    .bind(REPEATED_POINTS)
    .fetch_one(&pool)
    .await
    .unwrap();
    let found = reported(
        &prepared,
        "repeated_points",
        GeometryProblem::RingUnder4Points,
    );
    assert_same_reason(&found, &parse_reason(&reason));
    assert!(!repaired_type.contains("Polygon"), "{repaired_type}");
    let rejected = prepared.layer.report.rejected.iter();
    let rejected = rejected.filter(|r| r.id == "repeated_points");
    let reasons: Vec<&str> = rejected.map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("no polygonal part"), "{reasons:?}");
}
