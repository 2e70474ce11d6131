//! A Shapefile whose .prj file GDAL cannot parse. GDAL 3.6 then reports no
//! CRS at all (`ogrinfo -so` prints an empty "Layer SRS WKT"), so the
//! rejection names the .prj instead of saying the file declares no CRS.

use std::fs;
use std::path::{Path, PathBuf};

use repere::manifest::{LayerSpec, Manifest};
use repere::source::{SourceError, load_layer};

/// Copies the Laval districts Shapefile to `dir`, with `prj` as its .prj
/// text, or without a .prj when `prj` is `None`.
fn laval_copy(dir: &Path, prj: Option<&str>) {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/laval-districts-2013");
    for extension in ["shp", "shx", "dbf"] {
        let name = format!("Laval-2465005.{extension}");
        fs::copy(source.join(&name), dir.join(&name)).unwrap();
    }
    if let Some(text) = prj {
        fs::write(dir.join("Laval-2465005.prj"), text).unwrap();
    }
}

fn spec(dir: &Path) -> LayerSpec {
    let text = "[[layer]]\nname = \"laval\"\nkind = \"district\"\n\
                path = \"Laval-2465005.shp\"\nid_field = \"NO_DIS\"\nname_field = \"NM_DIS\"\n";
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), text).unwrap();
    manifest.layers.remove(0)
}

fn load_error(dir: &Path) -> SourceError {
    match load_layer(&spec(dir)) {
        Ok(layer) => panic!("loaded {} features", layer.features.len()),
        Err(error) => error,
    }
}

#[test]
fn garbage_prj_named() {
    let dir = tempfile::tempdir().unwrap();
    laval_copy(dir.path(), Some("GARBAGE not a WKT"));
    let error = load_error(dir.path());
    let message = error.to_string();
    assert!(
        matches!(error, SourceError::UnparsablePrj { .. }),
        "{error:?}"
    );
    assert!(message.contains("Laval-2465005.prj"), "{message}");
    assert!(message.contains("could not be parsed"), "{message}");
    assert!(message.contains("`crs` in the manifest"), "{message}");
}

#[test]
fn missing_prj_declares_no_crs() {
    let dir = tempfile::tempdir().unwrap();
    laval_copy(dir.path(), None);
    let error = load_error(dir.path());
    assert!(matches!(error, SourceError::MissingCrs { .. }), "{error:?}");
}
