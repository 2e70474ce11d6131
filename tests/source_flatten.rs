//! Geometries with Z or M values are read as 2D: the values are dropped,
//! the x and y stay as the file has them, and the load report counts the
//! features concerned.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use geo::CoordsIter;
use repere::layer::Layer;
use repere::manifest::{LayerSpec, Manifest};
use repere::source::load_layer;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses one layer spec from manifest text, as if the manifest were in `dir`.
fn spec(dir: &Path, body: &str) -> LayerSpec {
    let text = format!("[[layer]]\n{body}");
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), &text).unwrap();
    manifest.layers.remove(0)
}

/// Appends every [x, y, …] position under `coordinates` to `out` as (x, y).
fn collect_positions(coordinates: &Value, out: &mut Vec<(f64, f64)>) {
    let items = coordinates.as_array().unwrap();
    if let Some(x) = items.first().and_then(Value::as_f64) {
        out.push((x, items[1].as_f64().unwrap()));
        return;
    }
    for item in items {
        collect_positions(item, out);
    }
}

fn sorted(mut positions: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    positions.sort_by(|a, b| a.partial_cmp(b).unwrap());
    positions
}

/// Returns the positions of each district of the GeoJSON file, by `NO_DIS`,
/// sorted, because a Shapefile stores outer rings clockwise and a GeoJSON
/// file may store them the other way.
fn geojson_positions(path: &Path) -> Vec<(i64, Vec<(f64, f64)>)> {
    let collection: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let mut districts = Vec::new();
    for feature in collection["features"].as_array().unwrap() {
        let number = feature["properties"]["NO_DIS"].as_f64().unwrap() as i64;
        let mut positions = Vec::new();
        collect_positions(&feature["geometry"]["coordinates"], &mut positions);
        districts.push((number, sorted(positions)));
    }
    districts
}

fn layer_positions(layer: &Layer, number: i64) -> Vec<(f64, f64)> {
    let feature = layer
        .features
        .iter()
        .find(|f| f.properties["NO_DIS"].as_f64() == Some(number as f64))
        .unwrap_or_else(|| panic!("district {number} not loaded"));
    let positions = feature.geometry.coords_iter().map(|c| (c.x, c.y));
    sorted(positions.collect())
}

fn assert_same_positions(expected: &[(f64, f64)], actual: &[(f64, f64)], context: &str) {
    assert_eq!(expected.len(), actual.len(), "{context}: vertex count");
    for (e, a) in expected.iter().zip(actual) {
        let close = (e.0 - a.0).abs() < 1e-9 && (e.1 - a.1).abs() < 1e-9;
        assert!(close, "{context}: expected {e:?}, loaded {a:?}");
    }
}

/// The Laval districts GeoJSON (WGS84) written by ogr2ogr as Shapefiles
/// with Z, M and both: each loads its 21 districts, with the x and y of the
/// GeoJSON file. Laval-les-Îles (NO_DIS 17) is invalid and repaired, which
/// moves its vertices, so its coordinates are not compared.
#[test]
fn shapefile_with_z_or_m_loads_2d() {
    let geojson =
        root().join("tests/fixtures/laval-districts-2013/qc_districts_laval_districts.geojson");
    let expected = geojson_positions(&geojson);
    assert_eq!(expected.len(), 21);

    for dimension in ["XYZ", "XYM", "XYZM"] {
        let dir = tempfile::tempdir().unwrap();
        let shapefile = dir.path().join("laval.shp");
        let output = Command::new("ogr2ogr")
            .args(["-dim", dimension])
            .arg(&shapefile)
            .arg(&geojson)
            .output()
            .expect("cannot run ogr2ogr: install gdal-bin");
        assert!(
            output.status.success(),
            "ogr2ogr -dim {dimension} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body = r#"
            name = "laval_districts"
            kind = "district"
            path = "laval.shp"
            id_field = "NO_DIS"
            name_field = "NM_DIS"
        "#;

        let layer =
            load_layer(&spec(dir.path(), body)).unwrap_or_else(|e| panic!("-dim {dimension}: {e}"));

        assert_eq!(layer.features.len(), 21, "-dim {dimension}");
        assert_eq!(layer.report.rejected.len(), 0, "-dim {dimension}");
        assert_eq!(layer.report.flattened_count, 21, "-dim {dimension}");
        for (number, positions) in &expected {
            if *number == 17 {
                continue;
            }
            let context = format!("-dim {dimension}, district {number}");
            assert_same_positions(positions, &layer_positions(&layer, *number), &context);
        }
    }
}

/// A GeoJSON file mixing 2D and 3D geometries loads every feature, and the
/// report counts the two with a third coordinate.
#[test]
fn geojson_mixing_2d_and_3d_loads_all() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a", "name": "point with z"},
         "geometry": {"type": "Point", "coordinates": [-73.6, 45.5, 31.5]}},
        {"type": "Feature", "properties": {"id": "b", "name": "line with z"},
         "geometry": {"type": "LineString", "coordinates": [[-73.6, 45.5, 10], [-73.5, 45.6, 12]]}},
        {"type": "Feature", "properties": {"id": "c", "name": "point"},
         "geometry": {"type": "Point", "coordinates": [-73.61, 45.51]}}
    ]}"#;
    fs::write(dir.path().join("mixed.geojson"), text).unwrap();
    let body = r#"
        name = "mixed"
        kind = "asset"
        path = "mixed.geojson"
        id_field = "id"
        name_field = "name"
    "#;

    let layer = load_layer(&spec(dir.path(), body)).unwrap();

    let collection: Value = serde_json::from_str(text).unwrap();
    let features = collection["features"].as_array().unwrap();
    assert_eq!(layer.features.len(), features.len());
    assert_eq!(layer.report.rejected.len(), 0);
    assert_eq!(layer.report.flattened_count, 2);
    for feature in features {
        let id = feature["properties"]["id"].as_str().unwrap();
        let mut expected = Vec::new();
        collect_positions(&feature["geometry"]["coordinates"], &mut expected);
        let loaded = layer.features.iter().find(|f| f.id == id).unwrap();
        let actual: Vec<(f64, f64)> = loaded.geometry.coords_iter().map(|c| (c.x, c.y)).collect();
        assert_eq!(actual, expected, "feature {id}");
    }
}
