//! Los Angeles 311 requests of December 2017 enriched by `repere enrich` with
//! the certified neighborhood council boundaries, checked against PostGIS on
//! the same files loaded with ogr2ogr, and against the council the city
//! assigned to each request (`NC`).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::PgPool;

use common::{Schema, fixture, toml_path};

const REQUESTS_FILE: &str = "los-angeles-311/MyLA311_Service_Request_Data_2017_Subset.csv";
const COUNCILS_FILE: &str = "los-angeles-311/Neighborhood_Councils_Certified.geojson";
const REQUEST_COUNT: usize = 9_999;
const LOCATED_COUNT: usize = 8_246;

/// A located request with the councils PostGIS finds covering it.
#[derive(sqlx::FromRow)]
struct Located {
    srnumber: String,
    /// The council the city assigned.
    nc: Option<String>,
    /// Councils by the service's rule, sorted. The certified file has no
    /// invalid polygon (checked below), so the oracle needs no ST_MakeValid.
    covering: Vec<String>,
    /// Councils by plain ST_Covers, sorted.
    covers: Vec<String>,
}

async fn located_requests(pool: &PgPool, schema: &Schema) -> Vec<Located> {
    let sql = format!(
        "SELECT r.srnumber::text AS srnumber, r.nc::text AS nc, \
                ARRAY(SELECT c.nc_id::text FROM {councils} c WHERE {covers} ORDER BY 1) AS covering, \
                ARRAY(SELECT c.nc_id::text FROM {councils} c WHERE ST_Covers(c.geom, r.geom) ORDER BY 1) AS covers \
         FROM {requests} r WHERE r.geom IS NOT NULL",
        councils = schema.table("councils"),
        requests = schema.table("requests"),
        covers = common::covers_sql("c", "r"),
    );
    sqlx::query_as(&sql)
        .fetch_all(pool)
        .await
        .expect("located requests query")
}

/// Writes a copy of the councils in EPSG:3857 (Web Mercator) with ogr2ogr.
fn web_mercator_copy(dir: &Path) -> PathBuf {
    let path = dir.join("councils-3857.geojson");
    let output = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "-t_srs", "EPSG:3857"])
        .arg(&path)
        .arg(fixture(COUNCILS_FILE))
        .output()
        .expect("cannot run ogr2ogr: install gdal-bin (scripts/test does)");
    assert!(
        output.status.success(),
        "ogr2ogr failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    path
}

/// Writes a manifest with the councils twice: as published in WGS84
/// (`la_councils`) and reprojected to EPSG:3857 (`la_councils_3857`).
fn write_manifest(dir: &Path) -> PathBuf {
    let layer = |name: &str, path: &Path| {
        format!(
            "[[layer]]\nname = \"{name}\"\nkind = \"district\"\npath = {}\n\
             id_field = \"nc_id\"\nname_field = \"name\"\n\n",
            toml_path(path)
        )
    };
    let text = layer("la_councils", &fixture(COUNCILS_FILE))
        + &layer("la_councils_3857", &web_mercator_copy(dir));
    common::write_manifest(dir, &text)
}

/// Runs `repere enrich` on the requests file and returns, by SRNumber, the
/// council ids of the WGS84 and of the EPSG:3857 layer.
fn enrich_requests(dir: &Path) -> HashMap<String, (Vec<String>, Vec<String>)> {
    let manifest = write_manifest(dir);
    let output = dir.join("enriched.csv");
    let requests = fixture(REQUESTS_FILE);
    common::run_repere(&[
        "--manifest",
        manifest.to_str().unwrap(),
        "enrich",
        "--lat-column",
        "Latitude",
        "--lon-column",
        "Longitude",
        requests.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    read_enriched(&output)
}

fn read_enriched(path: &Path) -> HashMap<String, (Vec<String>, Vec<String>)> {
    let mut reader = csv::Reader::from_path(path).expect("enriched CSV");
    let headers = reader.headers().expect("enriched CSV header").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name} missing from the enriched CSV: {headers:?}"))
    };
    let (srnumber, wgs84, mercator) = (
        column("SRNumber"),
        column("la_councils_id"),
        column("la_councils_3857_id"),
    );
    reader
        .records()
        .map(|record| {
            let record = record.expect("enriched CSV record");
            let ids = |i: usize| -> Vec<String> {
                let mut ids: Vec<String> = record[i]
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                ids.sort();
                ids
            };
            (record[srnumber].to_owned(), (ids(wgs84), ids(mercator)))
        })
        .collect()
}

#[tokio::test]
async fn councils_match_postgis() {
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "la_councils").await;
    schema.load(&fixture(COUNCILS_FILE), "councils", &[]).await;
    assert_eq!(
        schema.invalid_count("councils").await,
        0,
        "invalid councils"
    );
    schema
        .load_csv_points(&fixture(REQUESTS_FILE), "requests")
        .await;
    let located = located_requests(&pool, &schema).await;
    assert_eq!(located.len(), LOCATED_COUNT, "requests with a point");

    let dir = tempfile::tempdir().unwrap();
    let enriched = enrich_requests(dir.path());
    assert_eq!(enriched.len(), REQUEST_COUNT, "rows of the enriched CSV");

    let mut differing = Vec::new();
    let mut differing_3857 = Vec::new();
    let mut agreeing = 0;
    for request in &located {
        let (ids, ids_3857) = &enriched[&request.srnumber];
        if *ids != request.covering {
            differing.push(format!(
                "{}: repère {ids:?}, PostGIS {:?}",
                request.srnumber, request.covering
            ));
        }
        if ids_3857 != ids {
            differing_3857.push(format!(
                "{}: EPSG:3857 {ids_3857:?}, WGS84 {ids:?}",
                request.srnumber
            ));
        }
        if request.nc.as_ref().is_some_and(|nc| ids.contains(nc)) {
            agreeing += 1;
        }
    }

    let located_numbers: std::collections::HashSet<&str> =
        located.iter().map(|r| r.srnumber.as_str()).collect();
    let unlocated_with_ids = enriched
        .iter()
        .filter(|(number, (ids, _))| !located_numbers.contains(number.as_str()) && !ids.is_empty())
        .count();
    assert_eq!(
        unlocated_with_ids, 0,
        "requests without a point but with councils"
    );

    let beyond_covers = located.iter().filter(|r| r.covering != r.covers).count();
    let multiple = located.iter().filter(|r| r.covering.len() > 1).count();
    let agreement = agreeing as f64 / located.len() as f64;
    println!(
        "LA councils: {} located requests, {multiple} covered by two councils or more \
         (certified councils overlap in places), {beyond_covers} differ from plain \
         ST_Covers, {agreeing} agree with the city's NC ({:.2} %)",
        located.len(),
        agreement * 100.0
    );
    assert!(
        differing.is_empty(),
        "{} requests differ from PostGIS:\n{}",
        differing.len(),
        differing.join("\n")
    );
    assert!(
        differing_3857.is_empty(),
        "{} requests differ in EPSG:3857:\n{}",
        differing_3857.len(),
        differing_3857.join("\n")
    );
    assert!(
        agreement >= 0.975,
        "agreement with NC {agreement:.4} is under 0.975"
    );
    schema.drop().await;
}
