//! The import report's invalid geometries, checked in each file's own CRS,
//! against PostGIS `ST_IsValidReason` on the same file loaded by ogr2ogr
//! without reprojection. Both use GEOS, through GDAL on one side and
//! PostGIS on the other, so the reason and its location must agree.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Schema, connect};
use repere::import::{ImportOptions, prepare};
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
