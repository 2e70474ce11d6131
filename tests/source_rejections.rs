//! Files whose coordinates do not fit their CRS, or that lack one, are
//! rejected with a message naming the file, the feature, the coordinate and
//! the manifest setting to fix.

use std::fs;
use std::path::{Path, PathBuf};

use repere::manifest::{LayerSpec, Manifest};
use repere::source::{SourceError, load_layer};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses one layer spec from manifest text, as if the manifest were in `dir`.
fn spec(dir: &Path, body: &str) -> LayerSpec {
    let text = format!("[[layer]]\n{body}");
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), &text).unwrap();
    manifest.layers.remove(0)
}

fn load_error(spec: &LayerSpec) -> SourceError {
    match load_layer(spec) {
        Ok(layer) => panic!("{} loaded {} features", spec.name, layer.features.len()),
        Err(e) => e,
    }
}

const LAVAL_OUTLINE: &str = r#"
name = "laval_outline"
kind = "district"
path = "fixtures/laval-territory/laval.geojson"
id_field = "osm_id"
name_field = "display_name"
"#;

/// laval.geojson contains UTM zone 18N metres without a `crs` member, so GDAL
/// reads it as WGS84 (RFC 7946) and only the range check can catch it.
#[test]
fn utm_geojson_without_crs_rejected() {
    let error = load_error(&spec(&root().join("tests"), LAVAL_OUTLINE));
    let message = error.to_string();
    assert!(
        matches!(error, SourceError::OutOfRange { fid: 0, .. }),
        "{error:?}"
    );
    assert!(message.contains("laval.geojson"), "{message}");
    // The first vertex of the file.
    assert!(
        message.contains("(586261.2915649033, 5042043.954473653)"),
        "{message}"
    );
    assert!(message.contains("EPSG:4326"), "{message}");
    assert!(message.contains("set `crs` in the manifest"), "{message}");
}

/// With the right `crs`, the same file loads. SOURCE.txt records that its
/// westmost vertex, (586261.29, 5042043.95) in EPSG:32618, is longitude
/// -73.8953597, latitude 45.5265897, the `bbox_west` attribute Nominatim
/// gave for the Laval relation; the other bounds are attributes too.
#[test]
fn crs_override_reads_utm() {
    let body = format!("{LAVAL_OUTLINE}crs = \"EPSG:32618\"\n");
    let layer = load_layer(&spec(&root().join("tests"), &body)).unwrap();
    assert_eq!(layer.info.source_crs, "EPSG:32618");
    assert_eq!(layer.features.len(), 1);
    let properties = &layer.features[0].properties;
    let [west, south, east, north] = layer.info.bbox.unwrap();
    let expected = |key: &str| properties[key].as_f64().unwrap();
    assert!((west - expected("bbox_west")).abs() < 1e-6, "west {west}");
    assert!(
        (south - expected("bbox_south")).abs() < 1e-6,
        "south {south}"
    );
    assert!((east - expected("bbox_east")).abs() < 1e-6, "east {east}");
    assert!(
        (north - expected("bbox_north")).abs() < 1e-6,
        "north {north}"
    );
}

/// UTM zone 18N metres read as MTM zone 8 land near longitude -69.9, east
/// of the EPSG:32188 area of use (longitude -75 to -72).
#[test]
fn wrong_projected_crs_rejected() {
    let body = format!("{LAVAL_OUTLINE}crs = \"EPSG:32188\"\n");
    let error = load_error(&spec(&root().join("tests"), &body));
    let message = error.to_string();
    assert!(
        matches!(error, SourceError::OutsideAreaOfUse { fid: 0, .. }),
        "{error:?}"
    );
    assert!(message.contains("area of use of EPSG:32188"), "{message}");
    assert!(
        message.contains("(586261.2915649033, 5042043.954473653)"),
        "{message}"
    );
}

/// ny.json declares CRS84 but contains Web Mercator metres.
#[test]
fn lying_crs84_rejected() {
    let body = r#"
        name = "ny_addresses"
        kind = "asset"
        path = "fixtures/us-tiger/ny.json"
        id_field = "NYSAddressPointID"
        name_field = "NYSAddressPointID"
    "#;
    let error = load_error(&spec(&root().join("tests"), body));
    let message = error.to_string();
    assert!(
        matches!(error, SourceError::OutOfRange { fid: 0, .. }),
        "{error:?}"
    );
    assert!(message.contains("ny.json"), "{message}");
    assert!(
        message.contains("(-8756081.1935, 5164290.678099997)"),
        "{message}"
    );
}

#[test]
fn csv_without_crs_rejected() {
    let body = r#"
        name = "stl_stops"
        kind = "asset"
        path = "laval-stl-gtfs-2019/stops.txt"
        id_field = "stop_id"
        name_field = "stop_name"
        x_field = "stop_lon"
        y_field = "stop_lat"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    let message = error.to_string();
    assert!(matches!(error, SourceError::MissingCrs { .. }), "{error:?}");
    assert!(message.contains("stops.txt"), "{message}");
    assert!(message.contains("set `crs` in the manifest"), "{message}");
}

#[test]
fn csv_without_coordinate_columns_rejected() {
    let body = r#"
        name = "stl_stops"
        kind = "asset"
        path = "laval-stl-gtfs-2019/stops.txt"
        id_field = "stop_id"
        name_field = "stop_name"
        crs = "EPSG:4326"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    assert!(matches!(error, SourceError::CsvColumns { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("`x_field` and `y_field` in the manifest"),
        "{error}"
    );
}

#[test]
fn shapefile_without_prj_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let source = root().join("data/laval-districts-2013");
    for extension in ["shp", "shx", "dbf"] {
        let name = format!("Laval-2465005.{extension}");
        fs::copy(source.join(&name), dir.path().join(&name)).unwrap();
    }
    let body = r#"
        name = "laval_districts"
        kind = "district"
        path = "Laval-2465005.shp"
        id_field = "NO_DIS"
        name_field = "NM_DIS"
    "#;
    let error = load_error(&spec(dir.path(), body));
    let message = error.to_string();
    assert!(matches!(error, SourceError::MissingCrs { .. }), "{error:?}");
    assert!(message.contains("Laval-2465005.shp"), "{message}");
    assert!(message.contains("set `crs` in the manifest"), "{message}");

    // The manifest's crs makes the same files load.
    let with_crs = format!("{body}crs = \"EPSG:3798\"\n");
    let layer = load_layer(&spec(dir.path(), &with_crs)).unwrap();
    assert_eq!(layer.features.len(), 21);
    assert_eq!(layer.info.source_crs, "EPSG:3798");
}

#[test]
fn missing_id_field_lists_columns() {
    let body = r#"
        name = "laval_districts"
        kind = "district"
        path = "laval-districts-2013/Laval-2465005.shp"
        id_field = "NO_DISTRICT"
        name_field = "NM_DIS"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    let message = error.to_string();
    assert!(
        matches!(
            error,
            SourceError::MissingField {
                setting: "id_field",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains("\"NO_DISTRICT\""), "{message}");
    assert!(message.contains("NO_DIS, NM_DIS"), "{message}");
}

#[test]
fn invalid_filter_rejected() {
    let body = r#"
        name = "montreal_districts"
        kind = "district"
        path = "montreal-districts-2017/merge.shp"
        id_field = "NO_DIS"
        name_field = "NM_DIS"
        where = "NO_DIS IS NOT"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    assert!(matches!(error, SourceError::Filter { .. }), "{error:?}");
    assert!(error.to_string().contains("NO_DIS IS NOT"), "{error}");
}

#[test]
fn invalid_crs_names_value() {
    let body = r#"
        name = "laval_districts"
        kind = "district"
        path = "laval-districts-2013/Laval-2465005.shp"
        id_field = "NO_DIS"
        name_field = "NM_DIS"
        crs = "EPSG:99999999"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    assert!(matches!(error, SourceError::Crs { .. }), "{error:?}");
    assert!(error.to_string().contains("EPSG:99999999"), "{error}");
}

#[test]
fn encoding_on_geojson_rejected() {
    let body = r#"
        name = "fire_halls"
        kind = "asset"
        path = "montreal-emergency/fire_halls.json"
        id_field = "Name"
        name_field = "Name"
        encoding = "CP1252"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    assert!(
        matches!(error, SourceError::EncodingNotApplicable { .. }),
        "{error:?}"
    );
}

#[test]
fn missing_file_named() {
    let body = r#"
        name = "nothing"
        kind = "asset"
        path = "no-such-folder/nothing.geojson"
        id_field = "id"
        name_field = "name"
    "#;
    let error = load_error(&spec(&root().join("data"), body));
    assert!(matches!(error, SourceError::Open { .. }), "{error:?}");
    assert!(error.to_string().contains("nothing.geojson"), "{error}");
}
