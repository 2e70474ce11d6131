//! The import report and error messages for filters, empty files,
//! feature ids, CSV columns and text encodings, on real files through GDAL.
//!
//! Expected counts and ids come from GDAL 3.6.2's `ogrinfo`, run on the
//! same files, or from files written by hand in the test.

use std::path::{Path, PathBuf};

use repere::import::{ImportError, ImportOptions, Prepared, prepare};
use repere::manifest::Manifest;
use repere::source::{SourceError, load_layer};
use serde_json::{Value, json};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn prepare_file(path: &Path, value: Value) -> Result<Prepared, ImportError> {
    let options: ImportOptions = serde_json::from_value(value).unwrap();
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let work_dir = tempfile::tempdir().unwrap();
    prepare("imported", path, &file_name, &options, work_dir.path())
}

fn prepare_error(path: &Path, value: Value) -> String {
    match prepare_file(path, value) {
        Ok(prepared) => panic!("imported {} features", prepared.layer.features.len()),
        Err(e) => e.to_string(),
    }
}

/// Runs an ogrinfo SQL count, the independent reference.
fn ogr_count(path: &Path, sql: &str) -> usize {
    let output = std::process::Command::new("ogrinfo")
        .args(["-q", "-sql", sql])
        .arg(path)
        .output()
        .expect("ogrinfo runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("COUNT_*"))
        .expect("ogrinfo prints the count");
    line.rsplit('=').next().unwrap().trim().parse().unwrap()
}

const LAVAL_SHP: &str = "data/laval-districts-2013/Laval-2465005.shp";

/// `ogrinfo -sql "SELECT MAX(NO_DIS) FROM Laval-2465005"` gives 21, so no
/// district passes `NO_DIS > 1000`.
#[test]
fn import_filter_leaving_none_rejected() {
    let value = json!({"kind": "district", "id_field": "NO_DIS", "name_field": "NM_DIS",
                       "where": "NO_DIS > 1000"});
    let message = prepare_error(&repo_file(LAVAL_SHP), value);
    assert!(
        message.contains("the `where` filter \"NO_DIS > 1000\""),
        "{message}"
    );
    assert!(message.contains("leaves 0 of 21 features"), "{message}");
    assert!(message.contains("the form field `where`"), "{message}");
}

#[test]
fn manifest_filter_leaving_none_rejected() {
    let text = r#"[[layer]]
name = "districts"
kind = "district"
path = "laval-districts-2013/Laval-2465005.shp"
id_field = "NO_DIS"
name_field = "NM_DIS"
where = "NO_DIS > 1000"
"#;
    let manifest = Manifest::parse(&repo_file("data/layers.toml"), text).unwrap();
    let error = load_layer(&manifest.layers[0]).unwrap_err();
    assert!(
        matches!(error, SourceError::FilterLeavesNone { count: 21, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("`where` in the manifest"), "{message}");
}

/// A filter that keeps some features still loads, and the report counts
/// the others as filtered: ogrinfo counts 21 districts, 5 with NO_DIS > 16.
#[test]
fn filter_counts_left_out() {
    let path = repo_file(LAVAL_SHP);
    let kept = ogr_count(
        &path,
        "SELECT COUNT(*) FROM \"Laval-2465005\" WHERE NO_DIS > 16",
    );
    assert_eq!(kept, 5);
    let value = json!({"kind": "district", "id_field": "NO_DIS", "name_field": "NM_DIS",
                       "where": "NO_DIS > 16"});
    let prepared = prepare_file(&path, value).unwrap();
    let report = &prepared.layer.report;
    assert_eq!(prepared.layer.features.len(), kept);
    assert_eq!(report.read_count, 21);
    assert_eq!(report.filtered_count, 21 - kept);
}

/// An empty FeatureCollection has no columns but GDAL's `id`, and the
/// message names the file as empty rather than `name` as missing.
#[test]
fn empty_collection_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.geojson");
    std::fs::write(&path, r#"{"type": "FeatureCollection", "features": []}"#).unwrap();
    let value = json!({"kind": "asset", "id_field": "id", "name_field": "name"});
    let message = prepare_error(&path, value);
    assert!(
        message.ends_with("empty.geojson contains no features"),
        "{message}"
    );
}

fn feature_id(prepared: &Prepared, field: &str, value: &str) -> String {
    let feature = prepared
        .layer
        .features
        .iter()
        .find(|f| f.properties[field].as_str() == Some(value))
        .unwrap_or_else(|| panic!("no feature with {field} {value:?}"));
    feature.id.clone()
}

/// Shapefile FIDs start at 0: `ogrinfo -al Laval-2465005.shp` lists
/// "Sainte-Dorothée" as feature 0, "Vimont" as 1 and "Auteuil" as 2.
#[test]
fn shapefile_fid_ids() {
    let value = json!({"kind": "district", "id_field": "fid", "name_field": "NM_DIS"});
    let prepared = prepare_file(&repo_file(LAVAL_SHP), value).unwrap();
    assert_eq!(feature_id(&prepared, "NM_DIS", "Sainte-Dorothée"), "0");
    assert_eq!(feature_id(&prepared, "NM_DIS", "Vimont"), "1");
    assert_eq!(feature_id(&prepared, "NM_DIS", "Auteuil"), "2");
    assert!(prepared.layer.report.synthetic_ids.is_empty());
}

/// CSV FIDs start at 1, the first data row: `ogrinfo -al CSV:stops.txt`
/// lists stop AOUT19CP40002 as feature 1 and AOUT19CP40031 as feature 2.
#[test]
fn csv_fid_ids() {
    let value = json!({"kind": "asset", "id_field": "fid", "name_field": "stop_name",
                       "x_field": "stop_lon", "y_field": "stop_lat", "crs": "EPSG:4326"});
    let path = repo_file("data/laval-stl-gtfs-2019/stops.txt");
    let prepared = prepare_file(&path, value).unwrap();
    assert_eq!(feature_id(&prepared, "stop_id", "AOUT19CP40002"), "1");
    assert_eq!(feature_id(&prepared, "stop_id", "AOUT19CP40031"), "2");
    assert_eq!(prepared.layer.features.len(), 2886);
}

/// A column named `fid` is read as the ids, not the GDAL FID.
#[test]
fn fid_column_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hydrants.csv");
    let rows = "fid,name,lon,lat\nH-7,north,-73.60,45.50\nH-9,south,-73.61,45.49\n";
    std::fs::write(&path, rows).unwrap();
    let value = json!({"kind": "asset", "id_field": "fid", "name_field": "name",
                       "x_field": "lon", "y_field": "lat", "crs": "EPSG:4326"});
    let prepared = prepare_file(&path, value).unwrap();
    let ids: Vec<&str> = prepared
        .layer
        .features
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(ids, ["H-7", "H-9"]);
}

/// stops.txt has `stop_lon` but no `lon`: the message lists its columns
/// before any row is read.
#[test]
fn csv_missing_x_column() {
    let value = json!({"kind": "asset", "id_field": "stop_id", "name_field": "stop_name",
                       "x_field": "lon", "y_field": "stop_lat", "crs": "EPSG:4326"});
    let path = repo_file("data/laval-stl-gtfs-2019/stops.txt");
    let message = prepare_error(&path, value);
    assert!(
        message.contains("the form field `x_field` \"lon\" is not a column"),
        "{message}"
    );
    assert!(message.contains("stop_lon, stop_lat"), "{message}");
}

#[test]
fn csv_missing_wkt_column() {
    let value = json!({"kind": "asset", "id_field": "code", "name_field": "name",
                       "wkt_field": "geom", "crs": "EPSG:4326"});
    let path = repo_file("tests/fixtures/geometry-problems/shapes.csv");
    let message = prepare_error(&path, value);
    assert!(
        message.contains("the form field `wkt_field` \"geom\" is not a column"),
        "{message}"
    );
    assert!(message.contains("code, name, wkt"), "{message}");
}

/// The OSM driver cannot count features without reading the file, yet the
/// report counts them before the filter: `ogrinfo -sql "SELECT COUNT(*)
/// FROM points"` gives 8045, and 92 of them are bus stops.
#[test]
fn osm_filter_counts() {
    let path = repo_file("tests/fixtures/helsinki-osm/Helsinki.osm.pbf");
    let all = ogr_count(&path, "SELECT COUNT(*) FROM points");
    let stops = ogr_count(
        &path,
        "SELECT COUNT(*) FROM points WHERE highway = 'bus_stop'",
    );
    assert_eq!((all, stops), (8045, 92));
    let value = json!({"kind": "asset", "id_field": "osm_id", "name_field": "osm_id",
                       "table": "points", "where": "highway = 'bus_stop'"});
    let prepared = prepare_file(&path, value).unwrap();
    let report = &prepared.layer.report;
    assert_eq!(report.read_count, all);
    assert_eq!(report.filtered_count, all - stops);
    assert_eq!(prepared.layer.features.len() + report.rejected.len(), stops);
}

/// Without a filter, the read itself counts the OSM features.
#[test]
fn osm_unfiltered_counts() {
    let path = repo_file("tests/fixtures/helsinki-osm/Helsinki.osm.pbf");
    let all = ogr_count(&path, "SELECT COUNT(*) FROM points");
    let value = json!({"kind": "asset", "id_field": "osm_id", "name_field": "osm_id",
                       "table": "points"});
    let prepared = prepare_file(&path, value).unwrap();
    let report = &prepared.layer.report;
    assert_eq!(report.read_count, all);
    assert_eq!(report.filtered_count, 0);
}

fn undecodable_fields(prepared: &Prepared, id: &str) -> Vec<String> {
    let report = &prepared.layer.report;
    let found = report.undecodable.iter().find(|u| u.id == id);
    found.map(|u| u.fields.clone()).unwrap_or_default()
}

#[test]
fn unknown_encoding_rejected() {
    let value = json!({"kind": "district", "id_field": "NO_DIS", "name_field": "NM_DIS",
                       "encoding": "KLINGON"});
    let message = prepare_error(&repo_file(LAVAL_SHP), value);
    assert!(
        message.contains("the form field `encoding` \"KLINGON\" is not an encoding"),
        "{message}"
    );
    assert!(message.contains("CP1252, ISO-8859-1 or UTF-8"), "{message}");
}

/// The Laval DBF is cp1252. Read as UTF-8, its accented letters do not
/// decode: `ogrinfo -al` shows DESC_EVENM "Élection générale" in all 21
/// districts, and NM_DIS "Sainte-Dorothée" in district 16 while district 8
/// is "Vimont".
#[test]
fn wrong_encoding_lists_undecodable() {
    let value = json!({"kind": "district", "id_field": "NO_DIS", "name_field": "NM_DIS",
                       "encoding": "UTF-8"});
    let prepared = prepare_file(&repo_file(LAVAL_SHP), value).unwrap();
    assert_eq!(prepared.layer.report.undecodable.len(), 21);
    assert_eq!(
        undecodable_fields(&prepared, "16"),
        ["DESC_EVENM", "NM_DIS"]
    );
    assert_eq!(undecodable_fields(&prepared, "8"), ["DESC_EVENM"]);
}

#[test]
fn right_encoding_lists_none() {
    let value = json!({"kind": "district", "id_field": "NO_DIS", "name_field": "NM_DIS",
                       "encoding": "CP1252"});
    let prepared = prepare_file(&repo_file(LAVAL_SHP), value).unwrap();
    assert!(prepared.layer.report.undecodable.is_empty());
}

/// A GeoJSON written in Latin-1: the byte 0xE9 ("é") alone is not UTF-8.
#[test]
fn latin1_geojson_lists_undecodable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schools.geojson");
    let mut bytes = br#"{"type":"FeatureCollection","features":["#.to_vec();
    bytes.extend_from_slice(br#"{"type":"Feature","properties":{"code":"s1","name":"#);
    bytes.extend_from_slice(b"\"\xE9cole\"},");
    bytes.extend_from_slice(br#""geometry":{"type":"Point","coordinates":[-73.6,45.5]}},"#);
    bytes.extend_from_slice(br#"{"type":"Feature","properties":{"code":"s2","name":"parc"},"#);
    bytes.extend_from_slice(br#""geometry":{"type":"Point","coordinates":[-73.7,45.6]}}]}"#);
    std::fs::write(&path, bytes).unwrap();
    let value = json!({"kind": "asset", "id_field": "code", "name_field": "name"});
    let prepared = prepare_file(&path, value).unwrap();
    assert_eq!(prepared.layer.report.undecodable.len(), 1);
    assert_eq!(undecodable_fields(&prepared, "s1"), ["name"]);
}
