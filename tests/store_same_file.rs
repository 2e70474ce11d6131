//! Re-imports of an unchanged file, through both stores: the import report
//! and the stored report name the latest version read from a file with the
//! same SHA-256, and the import still stores a new version.
//!
//! The two source files are the Laval districts of 2013 as GeoJSON and as
//! the Shapefile they were converted from: the same districts in files
//! whose bytes differ.

mod store_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use repere::import::{Commit, ImportOptions, ImportReport, commit, prepare};
use repere::store::Store;
use serde_json::json;
use store_support::backends;

const GEOJSON: &str = "tests/fixtures/laval-districts-2013/qc_districts_laval_districts.geojson";
const SHAPEFILE: &str = "data/laval-districts-2013/Laval-2465005.shp";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Returns the SHA-256 of `path` as `sha256sum` computes it.
fn sha256sum(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_whitespace().next().unwrap().to_owned()
}

/// Imports `path` as layer `layer` and activates it, or only reports when
/// `dry_run`.
async fn import(store: &Store, layer: &str, path: &Path, dry_run: bool) -> ImportReport {
    let options: ImportOptions = serde_json::from_value(
        json!({"kind": "district", "id_field": "NM_DIS", "name_field": "NM_DIS"}),
    )
    .unwrap();
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let work_dir = tempfile::tempdir().unwrap();
    let prepared = prepare(layer, path, &file_name, &options, work_dir.path()).unwrap();
    let actions = Commit {
        dry_run,
        activate: !dry_run,
        by: "gis-team".to_owned(),
    };
    commit(store, &prepared, &actions).await.unwrap()
}

#[tokio::test]
async fn reimport_names_same_file_version() {
    let geojson = repo_file(GEOJSON);
    // The same bytes under another name: the hash, not the name, counts.
    let copies = tempfile::tempdir().unwrap();
    let renamed = copies.path().join("laval_2013.geojson");
    std::fs::copy(&geojson, &renamed).unwrap();
    let shapefile = repo_file(SHAPEFILE);

    for backend in backends("same_file").await {
        let label = backend.label();
        let store = backend.open().await;

        let first = import(&store, "districts", &geojson, false).await;
        assert_eq!(first.source_sha256, sha256sum(&geojson), "{label}: hash");
        assert_eq!(first.version, Some(1), "{label}: first version");
        assert_eq!(first.same_file_as, None, "{label}: first import");

        let other = import(&store, "districts", &shapefile, false).await;
        assert_eq!(other.version, Some(2), "{label}: shapefile version");
        assert_eq!(other.same_file_as, None, "{label}: another file");

        let again = import(&store, "districts", &geojson, false).await;
        assert_eq!(again.version, Some(3), "{label}: re-import version");
        assert_eq!(again.same_file_as, Some(1), "{label}: re-import");
        assert!(again.activated, "{label}: re-import activates");

        let dry = import(&store, "districts", &renamed, true).await;
        assert_eq!(dry.version, None, "{label}: dry run stores nothing");
        assert_eq!(dry.same_file_as, Some(3), "{label}: dry run");

        let copy = import(&store, "districts", &renamed, false).await;
        assert_eq!(copy.version, Some(4), "{label}: copy version");
        assert_eq!(copy.same_file_as, Some(3), "{label}: latest same file");

        let elsewhere = import(&store, "districts_copy", &geojson, false).await;
        assert_eq!(elsewhere.same_file_as, None, "{label}: other layer");

        let reopened = backend.open().await;
        let expected = [(1, None), (2, None), (3, Some(1)), (4, Some(3))];
        for (version, same_file_as) in expected {
            let stored = reopened.version("districts", version).await.unwrap();
            assert_eq!(
                stored.report.same_file_as, same_file_as,
                "{label}: stored report of version {version}"
            );
        }
        let active = reopened.active_version("districts").await.unwrap();
        assert_eq!(active.map(|v| v.version), Some(4), "{label}: active");
    }
}
