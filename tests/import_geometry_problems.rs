//! Geometry problems in the import report: each listed under its feature's
//! id with its kind and what was done, read from the hand-made files in
//! tests/fixtures/geometry-problems (README.md there describes each
//! feature). Expected values are worked out by hand from those files;
//! tests/import_validity.rs checks GEOS's verdicts on them against PostGIS.

mod common;

use std::process::Command;
use std::sync::Arc;

use geo::Geometry;
use repere::import::{ImportOptions, Prepared, prepare};
use repere::layer::{GeometryProblem, LoadReport};
use repere::source::ReadProgress;
use serde_json::{Value, json};

use GeometryProblem::{
    Empty, NonFiniteCoordinate, RingUnder4Points, SelfIntersection, UnclosedRing,
};

const CLOSED: &str = "closed the ring by repeating its first point";
const REPAIRED: &str = "repaired with GEOS MakeValid in the source CRS";
const REJECTED: &str = "rejected";

fn options(value: Value) -> ImportOptions {
    serde_json::from_value(value).expect("the test's options are valid")
}

fn import_with(relative: &str, options: &ImportOptions) -> Prepared {
    let path = common::fixture(relative);
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let work_dir = tempfile::tempdir().unwrap();
    prepare("problems", &path, &file_name, options, work_dir.path())
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn import(relative: &str, value: Value) -> Prepared {
    import_with(relative, &options(value))
}

fn polygons() -> Prepared {
    import(
        "geometry-problems/polygons.geojson",
        json!({"kind": "district", "id_field": "code", "name_field": "code"}),
    )
}

fn kept_ids(prepared: &Prepared) -> Vec<&str> {
    prepared
        .layer
        .features
        .iter()
        .map(|f| f.id.as_str())
        .collect()
}

fn problems(report: &LoadReport) -> Vec<(&str, GeometryProblem, &str)> {
    report
        .invalid
        .iter()
        .map(|i| (i.id.as_str(), i.problem, i.action.as_str()))
        .collect()
}

fn reason<'a>(report: &'a LoadReport, id: &str, problem: GeometryProblem) -> &'a str {
    let found = report
        .invalid
        .iter()
        .find(|i| i.id == id && i.problem == problem);
    &found
        .unwrap_or_else(|| panic!("no {problem:?} for {id}: {:#?}", report.invalid))
        .reason
}

fn accounted(prepared: &Prepared) -> usize {
    let report = &prepared.layer.report;
    prepared.layer.features.len() + report.rejected.len() + report.filtered_count
}

#[test]
fn polygons_problems_by_id() {
    let prepared = polygons();
    let report = &prepared.layer.report;
    let expected = vec![
        ("unclosed", UnclosedRing, CLOSED),
        ("unclosed_bow_tie", UnclosedRing, CLOSED),
        ("unclosed_bow_tie", SelfIntersection, REPAIRED),
        ("short_hole", UnclosedRing, CLOSED),
        (
            "short_hole",
            RingUnder4Points,
            "removed the ring of 3 points",
        ),
        (
            "multi_short_shell",
            RingUnder4Points,
            "removed the polygon of 3 points",
        ),
        ("three_points", RingUnder4Points, REJECTED),
        ("null", Empty, REJECTED),
        ("empty_multi", Empty, REJECTED),
        ("nan_vertex", NonFiniteCoordinate, REJECTED),
        ("infinite_vertex", NonFiniteCoordinate, REJECTED),
        ("problems:10", Empty, REJECTED),
        ("reused", Empty, REJECTED),
        ("repeated_points", RingUnder4Points, REJECTED),
    ];
    assert_eq!(problems(report), expected);
}

#[test]
fn polygons_kept_and_rejected() {
    let prepared = polygons();
    let report = &prepared.layer.report;
    let kept = vec![
        "square_ok",
        "unclosed",
        "unclosed_bow_tie",
        "short_hole",
        "multi_short_shell",
        "problems:12",
    ];
    assert_eq!(kept_ids(&prepared), kept);
    let rejected: Vec<(&str, i64)> = report
        .rejected
        .iter()
        .map(|r| (r.id.as_str(), r.fid))
        .collect();
    let expected = vec![
        ("three_points", 5),
        ("null", 6),
        ("empty_multi", 7),
        ("nan_vertex", 8),
        ("infinite_vertex", 9),
        ("problems:10", 10),
        ("reused", 11),
        ("repeated_points", 13),
    ];
    assert_eq!(rejected, expected);
    assert_eq!(report.read_count, 14);
    assert_eq!(accounted(&prepared), report.read_count);
    assert_eq!(prepared.layer.info.invalid_count, 12);
}

/// The rejected feature 11 takes the id "reused" first, so feature 12,
/// which is kept, gets a synthetic id: ids in the report stay unique.
#[test]
fn rejected_feature_keeps_id_unique() {
    let prepared = polygons();
    let synthetic = &prepared.layer.report.synthetic_ids;
    assert_eq!(synthetic.len(), 1, "{synthetic:?}");
    assert_eq!(synthetic[0].id, "problems:12");
    assert_eq!(synthetic[0].source_value.as_deref(), Some("reused"));
    assert_eq!(synthetic[0].reason, "repeated");
}

#[test]
fn polygons_reasons_name_location() {
    let prepared = polygons();
    let report = &prepared.layer.report;
    assert_eq!(
        reason(report, "unclosed", UnclosedRing),
        "exterior ring is not closed: it starts at (-73.6 45.5) and ends at (-73.6 45.51)"
    );
    assert_eq!(
        reason(report, "short_hole", RingUnder4Points),
        "interior ring 1 has 3 points once closed, under the 4 of a ring, starting at \
         (-73.59 45.51)"
    );
    assert_eq!(
        reason(report, "multi_short_shell", RingUnder4Points),
        "exterior ring of polygon 2 has 3 points once closed, under the 4 of a ring, \
         starting at (-73.57 45.5)"
    );
    assert_eq!(
        reason(report, "nan_vertex", NonFiniteCoordinate),
        "coordinate (NaN 45.5) is not a finite number"
    );
    assert_eq!(
        reason(report, "infinite_vertex", NonFiniteCoordinate),
        "coordinate (inf 45.5) is not a finite number"
    );
}

fn kept_geometry<'a>(prepared: &'a Prepared, id: &str) -> &'a Geometry<f64> {
    let feature = prepared.layer.features.iter().find(|f| f.id == id);
    &feature.unwrap_or_else(|| panic!("{id} not kept")).geometry
}

/// A district is stored as a MultiPolygon; the fixes show in its rings.
#[test]
fn polygons_rings_fixed() {
    let prepared = polygons();
    let Geometry::MultiPolygon(unclosed) = kept_geometry(&prepared, "unclosed") else {
        panic!("not a MultiPolygon")
    };
    let exterior = &unclosed.0[0].exterior().0;
    assert_eq!(exterior.len(), 5);
    assert_eq!(exterior[0], exterior[4]);
    let Geometry::MultiPolygon(holed) = kept_geometry(&prepared, "short_hole") else {
        panic!("not a MultiPolygon")
    };
    assert_eq!(holed.0.len(), 1);
    assert!(holed.0[0].interiors().is_empty());
    let Geometry::MultiPolygon(multi) = kept_geometry(&prepared, "multi_short_shell") else {
        panic!("not a MultiPolygon")
    };
    assert_eq!(multi.0.len(), 1);
}

/// Non-finite coordinates in a projected file reject their features, not
/// the file: nothing reaches PROJ or the area-of-use check.
#[test]
fn projected_non_finite_rejects_feature() {
    let prepared = import(
        "geometry-problems/projected.geojson",
        json!({"kind": "asset", "id_field": "code", "name_field": "code"}),
    );
    let report = &prepared.layer.report;
    assert_eq!(prepared.layer.info.source_crs, "EPSG:32188");
    assert_eq!(kept_ids(&prepared), vec!["station"]);
    let expected = vec![
        ("nan_x", NonFiniteCoordinate, REJECTED),
        ("infinite_y", NonFiniteCoordinate, REJECTED),
    ];
    assert_eq!(problems(report), expected);
    assert_eq!(
        reason(report, "infinite_y", NonFiniteCoordinate),
        "coordinate (285100 inf) is not a finite number"
    );
    assert_eq!(accounted(&prepared), 3);
}

/// GDAL 3.6 reads `nan`, `inf` and a blank cell in a coordinate column as
/// no value, so those rows have no geometry.
#[test]
fn csv_bad_coordinates_empty() {
    let prepared = import(
        "geometry-problems/points.csv",
        json!({"kind": "asset", "id_field": "code", "name_field": "name",
               "x_field": "lon", "y_field": "lat", "crs": "EPSG:4326"}),
    );
    let report = &prepared.layer.report;
    assert_eq!(kept_ids(&prepared), vec!["k1"]);
    let expected = vec![
        ("n1", Empty, REJECTED),
        ("n2", Empty, REJECTED),
        ("n3", Empty, REJECTED),
    ];
    assert_eq!(problems(report), expected);
    assert_eq!(
        reason(report, "n1", Empty),
        "no geometry (null): x_field \"lon\" or y_field \"lat\" is empty or not a finite number"
    );
    assert_eq!(accounted(&prepared), 4);
}

/// GDAL cannot parse `POINT (nan 45.5)` nor `POINT (-73.6`, so those rows
/// have no geometry, and the report tells them from a blank cell. The
/// unclosed WKT ring is closed, and GEOS's "Too few points" on a line is no
/// ring problem.
#[test]
fn csv_wkt_problems() {
    let prepared = import(
        "geometry-problems/shapes.csv",
        json!({"kind": "asset", "id_field": "code", "name_field": "name",
               "wkt_field": "wkt", "crs": "EPSG:4326"}),
    );
    let report = &prepared.layer.report;
    assert_eq!(kept_ids(&prepared), vec!["ok", "open", "line"]);
    let expected = vec![
        ("nan", GeometryProblem::Other, REJECTED),
        ("open", UnclosedRing, CLOSED),
        ("line", GeometryProblem::Other, REPAIRED),
        ("garbage", GeometryProblem::Other, REJECTED),
        ("blank", Empty, REJECTED),
    ];
    assert_eq!(problems(report), expected);
    let unparsed = "no geometry: column \"wkt\" is not WKT that GDAL can parse \
                    (GDAL 3.6 also reads WKT with NaN or infinite coordinates this way)";
    assert_eq!(reason(report, "nan", GeometryProblem::Other), unparsed);
    assert_eq!(reason(report, "garbage", GeometryProblem::Other), unparsed);
    assert_eq!(
        reason(report, "blank", Empty),
        "no geometry (null): column \"wkt\" is empty"
    );
    assert_eq!(accounted(&prepared), 6);
}

/// The WKT column is the geometry, so it is not copied to the properties.
#[test]
fn csv_wkt_not_a_property() {
    let prepared = import(
        "geometry-problems/shapes.csv",
        json!({"kind": "asset", "id_field": "code", "name_field": "name",
               "wkt_field": "wkt", "crs": "EPSG:4326"}),
    );
    let first = &prepared.layer.features[0];
    let keys: Vec<&String> = first.properties.keys().collect();
    assert_eq!(keys, vec!["code", "name"]);
}

/// The JSON report names each kind of problem in snake case.
#[test]
fn cli_report_names_problems() {
    let state = tempfile::tempdir().unwrap();
    let path = common::fixture("geometry-problems/polygons.geojson");
    let output = common::run_repere(&[
        "import",
        path.to_str().unwrap(),
        "--layer",
        "problems",
        "--kind",
        "district",
        "--id-field",
        "code",
        "--name-field",
        "code",
        "--dry-run",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["problem"].as_str().unwrap())
        .collect();
    for name in [
        "unclosed_ring",
        "self_intersection",
        "ring_under_4_points",
        "empty",
        "non_finite_coordinate",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert_eq!(report["rejected"][0]["id"], "three_points");
    assert_eq!(report["rejected"][0]["fid"], 5);
}

/// laval.geojson contains UTM metres without a `crs` member: the hint names
/// the setting of the way the file came in.
#[test]
fn crs_hint_names_form_field() {
    let path = common::fixture("laval-territory/laval.geojson");
    let value = json!({"kind": "district", "id_field": "display_name",
                       "name_field": "display_name"});
    let work_dir = tempfile::tempdir().unwrap();
    let error = prepare(
        "laval",
        &path,
        "laval.geojson",
        &options(value),
        work_dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("set the form field `crs` to it"), "{error}");
    assert!(error.contains("crs=EPSG:32618"), "{error}");
    assert!(!error.contains("manifest"), "{error}");
}

#[test]
fn crs_hint_names_cli_flag() {
    let state = tempfile::tempdir().unwrap();
    let path = common::fixture("laval-territory/laval.geojson");
    let output = Command::new(common::repere_bin())
        .args(["import", path.to_str().unwrap(), "--layer", "laval"])
        .args(["--kind", "district", "--id-field", "display_name"])
        .args(["--name-field", "display_name", "--dry-run", "--state-dir"])
        .arg(state.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("set `repere import --crs` to it"),
        "{stderr}"
    );
    assert!(stderr.contains("--crs EPSG:32618"), "{stderr}");
    assert!(!stderr.contains("manifest"), "{stderr}");
}

fn with_progress(value: Value) -> (ImportOptions, Arc<ReadProgress>) {
    let progress = Arc::new(ReadProgress::default());
    let mut options = options(value);
    options.progress = Some(Arc::clone(&progress));
    (options, progress)
}

#[test]
fn progress_counts_features_read() {
    let (options, progress) = with_progress(json!({
        "kind": "district", "id_field": "code", "name_field": "code"}));
    let prepared = import_with("geometry-problems/polygons.geojson", &options);
    let read_count = prepared.layer.report.read_count as u64;
    assert_eq!(read_count, 14);
    assert_eq!(progress.read(), read_count);
    assert_eq!(progress.total(), Some(read_count));
}

/// Two codes start with "unclosed"; the other 12 features are never read.
#[test]
fn progress_skips_filtered_features() {
    let (options, progress) = with_progress(json!({
        "kind": "district", "id_field": "code", "name_field": "code",
        "where": "code LIKE 'unclosed%'"}));
    let prepared = import_with("geometry-problems/polygons.geojson", &options);
    let report = &prepared.layer.report;
    assert_eq!(report.filtered_count, 12);
    assert_eq!(progress.read(), 2);
    assert_eq!(progress.total(), Some(2));
    assert_eq!(
        progress.read(),
        (report.read_count - report.filtered_count) as u64
    );
}

/// GDAL's OSM driver cannot count features before reading them: the
/// counter still ends at the number read.
#[test]
fn progress_without_feature_count() {
    let (options, progress) = with_progress(json!({
        "kind": "asset", "id_field": "osm_id", "name_field": "osm_id", "table": "points"}));
    let prepared = import_with("helsinki-osm/Helsinki.osm.pbf", &options);
    assert_eq!(progress.total(), None);
    assert_eq!(progress.read(), prepared.layer.report.read_count as u64);
}

/// With a filter, the OSM features are counted before it, but the driver
/// still cannot count those the filter lets through, so the total stays
/// unknown. `ogrinfo -sql "SELECT COUNT(*) FROM points WHERE highway =
/// 'bus_stop'"` gives 92.
#[test]
fn progress_osm_filter_total_unknown() {
    let (options, progress) = with_progress(json!({
        "kind": "asset", "id_field": "osm_id", "name_field": "osm_id", "table": "points",
        "where": "highway = 'bus_stop'"}));
    import_with("helsinki-osm/Helsinki.osm.pbf", &options);
    assert_eq!(progress.total(), None);
    assert_eq!(progress.read(), 92);
}

/// A report stored before problems had a kind and rejected features an id
/// still loads.
#[test]
fn report_without_new_fields_loads() {
    let stored = json!({
        "read_count": 3,
        "filtered_count": 0,
        "invalid": [{"id": "a", "reason": "Self-intersection at or near point 1 2",
                     "action": REPAIRED}],
        "synthetic_ids": [],
        "rejected": [{"fid": 2, "reason": "no geometry (null)"}]
    });
    let report: LoadReport = serde_json::from_value(stored).unwrap();
    assert_eq!(report.invalid[0].problem, GeometryProblem::Other);
    assert_eq!(report.rejected[0].id, "");
    assert_eq!(report.rejected[0].fid, 2);
}

/// The manifest path names the manifest's own key.
#[test]
fn crs_hint_names_manifest_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::fixture("laval-territory/laval.geojson");
    let manifest = common::write_manifest(
        dir.path(),
        &format!(
            "[[layer]]\nname = \"laval\"\nkind = \"district\"\npath = {}\n\
             id_field = \"display_name\"\nname_field = \"display_name\"\n",
            common::toml_path(&path)
        ),
    );
    let manifest = repere::manifest::Manifest::load(&manifest).unwrap();
    let error = repere::source::load_layer(&manifest.layers[0])
        .unwrap_err()
        .to_string();
    assert!(error.contains("set `crs` in the manifest to it"), "{error}");
    assert!(error.contains("crs = \"EPSG:32618\""), "{error}");
}

/// A layer left without features is rejected, naming the first feature by
/// FID and id.
#[test]
fn all_rejected_names_first_id() {
    let path = common::fixture("geometry-problems/polygons.geojson");
    let value = json!({"kind": "district", "id_field": "code", "name_field": "code",
                       "where": "code IN ('null', 'nan_vertex')"});
    let work_dir = tempfile::tempdir().unwrap();
    let error = prepare(
        "problems",
        &path,
        "polygons.geojson",
        &options(value),
        work_dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("all 2 features were rejected"), "{error}");
    assert!(
        error.contains("the first (feature 6, id \"null\") because: no geometry (null)"),
        "{error}"
    );
}

/// A stored version counts features, not problems: 12 features have at
/// least one problem (14 entries), and 4 of them were repaired and kept
/// (unclosed, unclosed_bow_tie, short_hole, multi_short_shell).
#[tokio::test]
async fn version_counts_features_once() {
    let prepared = polygons();
    let dir = tempfile::tempdir().unwrap();
    let store = repere::store::Store::open(None, dir.path()).await.unwrap();
    let sha256 = "0".repeat(64);
    let version = store
        .put_version(
            &prepared.layer,
            repere::store::Origin::Import,
            &sha256,
            "gis-team",
        )
        .await
        .unwrap();
    assert_eq!(version.invalid_count, 12);
    assert_eq!(version.repaired_count, 4);
}
