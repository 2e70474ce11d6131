//! A work layer built from the Los Angeles 311 requests of December 2017: each
//! request is active from its CreatedDate to its ClosedDate, written as
//! "12/31/2017 11:59:58 PM" in Los Angeles local time. The works active at an
//! instant near a point must be those the equivalent SQL selects.

mod common;

use std::path::{Path, PathBuf};

use repere::catalog::Catalog;
use repere::context::ContextRequest;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use common::{Schema, context_json, feature_values, fixture, toml_path};

const REQUESTS_FILE: &str = "los-angeles-311/MyLA311_Service_Request_Data_2017_Subset.csv";
const WORK_COLUMNS: [&str; 6] = [
    "SRNumber",
    "RequestType",
    "Latitude",
    "Longitude",
    "CreatedDate",
    "ClosedDate",
];
const RADIUS_M: f64 = 1_500.0;

/// The first request of the file: created 12/31/2017 11:59:58 PM.
const FIRST_REQUEST: &str = "1-870704831";
/// The second request: created 12/31/2017 11:56:39 PM, closed 01/03/2018 10:11:23 AM.
const SECOND_REQUEST: &str = "1-870694601";

/// Instants checked, Los Angeles winter time (UTC-8): the start of the first
/// request, one second before and at the end of the second, and two others.
const INSTANTS: [&str; 5] = [
    "2017-12-31T23:59:58-08:00",
    "2018-01-03T10:11:22-08:00",
    "2018-01-03T10:11:23-08:00",
    "2017-12-29T08:00:00-08:00",
    "2018-01-15T17:30:00-08:00",
];

/// (longitude, latitude): the first two requests, downtown, Van Nuys and San Pedro.
const POINTS: [(f64, f64); 5] = [
    (-118.266861909, 34.073216645),
    (-118.190273984, 34.1159756752),
    (-118.2437, 34.0522),
    (-118.4487, 34.1867),
    (-118.2922, 33.7361),
];

/// Writes the located requests, with the columns a work layer needs, as a CSV
/// file in `dir`. Addresses and other columns are left out.
fn write_work_csv(dir: &Path) -> PathBuf {
    let mut reader = csv::Reader::from_path(fixture(REQUESTS_FILE)).expect("requests CSV");
    let headers = reader.headers().expect("CSV header").clone();
    let positions: Vec<usize> = WORK_COLUMNS
        .iter()
        .map(|name| {
            headers
                .iter()
                .position(|h| h == *name)
                .unwrap_or_else(|| panic!("column {name} missing"))
        })
        .collect();
    let latitude = positions[2];

    let path = dir.join("requests.csv");
    let mut writer = csv::Writer::from_path(&path).expect("work CSV");
    writer.write_record(WORK_COLUMNS).unwrap();
    for record in reader.records() {
        let record = record.expect("CSV record");
        if record[latitude].trim().is_empty() {
            continue;
        }
        writer
            .write_record(positions.iter().map(|&i| &record[i]))
            .unwrap();
    }
    writer.flush().unwrap();
    path
}

fn works_catalog(dir: &Path, csv: &Path) -> Catalog {
    let manifest = format!(
        r#"
[[layer]]
name = "la_requests"
kind = "work"
path = {path}
id_field = "SRNumber"
name_field = "RequestType"
crs = "EPSG:4326"
x_field = "Longitude"
y_field = "Latitude"
start_field = "CreatedDate"
end_field = "ClosedDate"
datetime_format = "%m/%d/%Y %I:%M:%S %p"
timezone = "America/Los_Angeles"
"#,
        path = toml_path(csv),
    );
    common::load_catalog(&common::write_manifest(dir, &manifest))
}

/// Opens a connection whose session time zone is Los Angeles, so that
/// `to_timestamp` reads the dates as local times there.
async fn los_angeles_session(pool: &PgPool) -> PoolConnection<Postgres> {
    let mut connection = pool.acquire().await.expect("connection");
    sqlx::query("SET TIME ZONE 'America/Los_Angeles'")
        .execute(&mut *connection)
        .await
        .expect("SET TIME ZONE");
    connection
}

/// Selects the requests active at `at` within RADIUS_M of a point, sorted,
/// and counts the requests within RADIUS_M whatever their dates.
async fn active_requests(
    connection: &mut PoolConnection<Postgres>,
    table: &str,
    at: &str,
    (lon, lat): (f64, f64),
) -> (Vec<String>, i64) {
    let sql = format!(
        "WITH near AS ( \
             SELECT srnumber, \
                    to_timestamp(createddate, 'MM/DD/YYYY HH12:MI:SS AM') AS start_at, \
                    to_timestamp(NULLIF(closeddate, ''), 'MM/DD/YYYY HH12:MI:SS AM') AS end_at \
             FROM {table} \
             WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, $4)) \
         SELECT ARRAY(SELECT srnumber::text FROM near \
                      WHERE start_at <= $1::timestamptz \
                        AND (end_at IS NULL OR $1::timestamptz < end_at) \
                      ORDER BY 1), \
                (SELECT count(*) FROM near)"
    );
    sqlx::query_as(&sql)
        .bind(at)
        .bind(lon)
        .bind(lat)
        .bind(RADIUS_M)
        .fetch_one(&mut **connection)
        .await
        .expect("active requests query")
}

#[tokio::test]
async fn active_works_match_sql() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_work_csv(dir.path());
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "works").await;
    schema.load_csv_points(&csv, "requests").await;
    let table = schema.table("requests");
    let mut connection = los_angeles_session(&pool).await;

    let catalog = works_catalog(dir.path(), &csv);
    let mut differing = Vec::new();
    let mut active_total = 0;
    let mut inactive_total = 0;
    for at in INSTANTS {
        for point in POINTS {
            let (expected, near_count) = active_requests(&mut connection, &table, at, point).await;
            active_total += expected.len();
            inactive_total += near_count as usize - expected.len();
            let request = ContextRequest {
                lat: point.1,
                lon: point.0,
                at: Some(at.to_owned()),
                radius_m: Some(RADIUS_M),
                ..ContextRequest::default()
            };
            let ids = feature_values(&context_json(&catalog, &request), "la_requests", "id");
            if ids != expected {
                differing.push(format!(
                    "at {at} near {point:?}: repère {ids:?}, SQL {expected:?}"
                ));
            }
        }
    }

    println!(
        "LA works: {active_total} active and {inactive_total} inactive requests near the points"
    );
    assert!(
        active_total > 0,
        "no request active at any instant: the check is empty"
    );
    assert!(
        inactive_total > 0,
        "every request near the points is active: dates are not checked"
    );
    assert!(
        differing.is_empty(),
        "{} cases differ from SQL:\n{}",
        differing.len(),
        differing.join("\n")
    );
    schema.drop().await;
}

/// Checks the oracle itself on the instants chosen at interval bounds: a
/// start is included and an end excluded.
#[tokio::test]
async fn interval_bounds_in_sql() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_work_csv(dir.path());
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "works_bounds").await;
    schema.load_csv_points(&csv, "requests").await;
    let table = schema.table("requests");
    let mut connection = los_angeles_session(&pool).await;

    let (at_start, _) = active_requests(&mut connection, &table, INSTANTS[0], POINTS[0]).await;
    assert!(
        at_start.contains(&FIRST_REQUEST.to_owned()),
        "{FIRST_REQUEST} at its start"
    );
    let (before_end, _) = active_requests(&mut connection, &table, INSTANTS[1], POINTS[1]).await;
    assert!(
        before_end.contains(&SECOND_REQUEST.to_owned()),
        "{SECOND_REQUEST} before its end"
    );
    let (at_end, _) = active_requests(&mut connection, &table, INSTANTS[2], POINTS[1]).await;
    assert!(
        !at_end.contains(&SECOND_REQUEST.to_owned()),
        "{SECOND_REQUEST} at its end"
    );
    schema.drop().await;
}
