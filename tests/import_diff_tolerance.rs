//! The diff between two imports of the same real layer counts a geometry
//! as changed only when it moved. Reading the file again through an
//! equivalent CRS, or through a GeoJSON export of the same coordinates,
//! changes the last bits of the WGS84 coordinates but moves nothing.
//!
//! The files come from the Laval districts Shapefile in data/, whose .prj
//! is the MTQ Lambert projection on NAD83 written as ESRI WKT (`_MI_0`),
//! and from `ogr2ogr` exports of it. The moved district is moved by the test itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use repere::import::{ImportOptions, Prepared, prepare};
use repere::layer::Layer;
use repere::store::diff;
use serde_json::{Value, json};

const LAVAL_SHP: &str = "data/laval-districts-2013/Laval-2465005.shp";

/// NAD83(CSRS) / MTQ Lambert. The .prj has the same Lambert projection
/// (parallels 46° and 50°, origin 44° N 70° W, false easting 800 km) on
/// NAD83. PROJ 9.1 takes both datums to WGS84 with no shift, so
/// `ogr2ogr -t_srs EPSG:4326` of the Shapefile with and without
/// `-s_srs EPSG:3798` gives coordinates 3e-14° apart at most.
const EXPORT_CRS: &str = "EPSG:3798";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn import(path: &Path, extra: Value) -> Prepared {
    let mut value = json!({"kind": "district", "id_field": "NO_DIS", "name_field": "NM_DIS"});
    value
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let options: ImportOptions = serde_json::from_value(value).unwrap();
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let work_dir = tempfile::tempdir().unwrap();
    match prepare("districts", path, &file_name, &options, work_dir.path()) {
        Ok(prepared) => prepared,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Writes the Laval districts as GeoJSON in their own CRS (no `-t_srs`),
/// with 15 significant digits, as a GIS tool would re-export them. GDAL
/// finds no EPSG code for the `_MI_0` WKT, so the export has no `crs`
/// member and is read with [`EXPORT_CRS`].
fn export_geojson(dir: &Path) -> PathBuf {
    let out = dir.join("laval.geojson");
    let status = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "-lco", "COORDINATE_PRECISION=15"])
        .arg(&out)
        .arg(repo_file(LAVAL_SHP))
        .status()
        .expect("ogr2ogr runs");
    assert!(status.success(), "ogr2ogr failed");
    out
}

/// Moves every vertex of the feature whose `NO_DIS` (a real number in the
/// DBF) is `district` by
/// `dx_m` metres east in the export's projected CRS.
fn move_district(geojson: &Path, district: f64, dx_m: f64, out: &Path) {
    let mut collection: Value = serde_json::from_slice(&std::fs::read(geojson).unwrap()).unwrap();
    let features = collection["features"].as_array_mut().unwrap();
    let feature = features
        .iter_mut()
        .find(|feature| feature["properties"]["NO_DIS"].as_f64() == Some(district))
        .unwrap_or_else(|| panic!("no district {district} in the export"));
    shift_x(&mut feature["geometry"]["coordinates"], dx_m);
    std::fs::write(out, serde_json::to_vec(&collection).unwrap()).unwrap();
}

/// Adds `dx` to the first member of every position in nested arrays.
fn shift_x(coordinates: &mut Value, dx: f64) {
    let Some(items) = coordinates.as_array_mut() else {
        return;
    };
    if let Some(x) = items.first().and_then(Value::as_f64)
        && items.get(1).is_some_and(Value::is_number)
    {
        items[0] = json!(x + dx);
        return;
    }
    for item in items {
        shift_x(item, dx);
    }
}

fn geometry_changed(old: &Layer, new: &Layer) -> (usize, Vec<String>) {
    let changes = diff(old, new, 1).geometry_changed;
    (changes.count, changes.ids)
}

#[test]
fn equivalent_crs_moves_nothing() {
    let own_prj = import(&repo_file(LAVAL_SHP), json!({}));
    let epsg = import(&repo_file(LAVAL_SHP), json!({"crs": EXPORT_CRS}));
    assert_eq!(own_prj.layer.features.len(), 21, "features read");
    assert_eq!(epsg.layer.features.len(), 21, "features read");

    let (count, ids) = geometry_changed(&own_prj.layer, &epsg.layer);
    assert_eq!(count, 0, "geometries changed by {EXPORT_CRS}: {ids:?}");
}

#[test]
fn geojson_reexport_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shapefile = import(&repo_file(LAVAL_SHP), json!({}));
    let exported = import(&export_geojson(dir.path()), json!({"crs": EXPORT_CRS}));
    assert_eq!(exported.layer.features.len(), 21, "features read");

    let (count, ids) = geometry_changed(&shapefile.layer, &exported.layer);
    assert_eq!(count, 0, "geometries changed by the re-export: {ids:?}");
}

/// A district moved by 5 m or by 5 mm counts as the one geometry change,
/// and one moved by 0.1 mm does not, because the tolerance is about 1 mm.
#[test]
fn moved_district_changed() {
    let dir = tempfile::tempdir().unwrap();
    let export = export_geojson(dir.path());
    let base = import(&export, json!({"crs": EXPORT_CRS}));

    let moved_path = dir.path().join("moved.geojson");
    move_district(&export, 3.0, 5.0, &moved_path);
    let moved = import(&moved_path, json!({"crs": EXPORT_CRS}));
    let (count, ids) = geometry_changed(&base.layer, &moved.layer);
    assert_eq!(count, 1, "geometries changed by a 5 m move: {ids:?}");
    assert_eq!(ids, vec!["3"], "district moved by 5 m");

    let nudged_path = dir.path().join("nudged.geojson");
    move_district(&export, 3.0, 0.005, &nudged_path);
    let nudged = import(&nudged_path, json!({"crs": EXPORT_CRS}));
    let (count, ids) = geometry_changed(&base.layer, &nudged.layer);
    assert_eq!(count, 1, "geometries changed by a 5 mm move: {ids:?}");

    let below_path = dir.path().join("below.geojson");
    move_district(&export, 3.0, 0.0001, &below_path);
    let below = import(&below_path, json!({"crs": EXPORT_CRS}));
    let (count, ids) = geometry_changed(&base.layer, &below.layer);
    assert_eq!(count, 0, "geometries changed by a 0.1 mm move: {ids:?}");
}
