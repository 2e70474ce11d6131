//! Source formats besides those of the default data.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr;

use gdal::vector::LayerAccess;
use gdal::{Dataset, DriverManager};
use repere::manifest::{LayerSpec, Manifest};
use repere::source::load_layer;

fn spec(dir: &Path, body: &str) -> LayerSpec {
    let text = format!("[[layer]]\n{body}");
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), &text).unwrap();
    manifest.layers.remove(0)
}

/// Copies the Laval districts Shapefile into a GeoPackage table with
/// GDAL's own `GDALDatasetCopyLayer`, as `ogr2ogr -f GPKG` does.
fn laval_geopackage(path: &Path) {
    let shapefile: PathBuf = [env!("CARGO_MANIFEST_DIR"), "data/laval-districts-2013"]
        .iter()
        .collect::<PathBuf>()
        .join("Laval-2465005.shp");
    let source = Dataset::open(&shapefile).unwrap();
    let layer = source.layer(0).unwrap();
    let driver = DriverManager::get_driver_by_name("GPKG").unwrap();
    let target = driver.create_vector_only(path).unwrap();
    let name = CString::new("districts").unwrap();
    // SAFETY: both handles are alive for the call; GDAL copies the layer.
    let copied = unsafe {
        gdal_sys::GDALDatasetCopyLayer(
            target.c_dataset(),
            layer.c_layer(),
            name.as_ptr(),
            ptr::null_mut(),
        )
    };
    assert!(!copied.is_null(), "GDALDatasetCopyLayer failed");
}

#[test]
fn geopackage_first_table_read() {
    let dir = tempfile::tempdir().unwrap();
    laval_geopackage(&dir.path().join("laval.gpkg"));
    let body = r#"
        name = "laval_districts"
        kind = "district"
        path = "laval.gpkg"
        id_field = "NO_DIS"
        name_field = "NM_DIS"
    "#;
    let layer = load_layer(&spec(dir.path(), body)).unwrap();

    // The same counts as from the Shapefile (ogrinfo: 21 features, and
    // SpatiaLite's st_isvalid: Laval-les-Îles, NO_DIS 17, is invalid).
    assert_eq!(layer.features.len(), 21);
    assert_eq!(layer.info.source_crs, "EPSG:3798");
    assert_eq!(layer.report.invalid.len(), 1);
    assert_eq!(layer.report.invalid[0].id, "17");
    let names: Vec<&str> = layer
        .features
        .iter()
        .filter_map(|f| f.name.as_deref())
        .collect();
    assert!(names.contains(&"Laval-les-Îles"), "{names:?}");
}

/// The manifest's `encoding` overrides the DBF's language byte, which says
/// Windows-1252: read as code page 437, byte 0xCE of "Î" becomes "╬".
#[test]
fn encoding_overrides_dbf_language_byte() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let body = r#"
        name = "laval_districts"
        kind = "district"
        path = "laval-districts-2013/Laval-2465005.shp"
        id_field = "NO_DIS"
        name_field = "NM_DIS"
        encoding = "CP437"
    "#;
    let layer = load_layer(&spec(&data, body)).unwrap();
    let district = layer.features.iter().find(|f| f.id == "17").unwrap();
    assert_eq!(district.name.as_deref(), Some("Laval-les-╬les"));
}
