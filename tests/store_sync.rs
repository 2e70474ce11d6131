//! Start-up against a store: a manifest's layers imported once, then read
//! back, re-imported when the file changes, and an operator's version kept.

mod store_support;

use std::path::{Path, PathBuf};

use repere::manifest::Manifest;
use repere::store::{Origin, Page, Store, SyncAction, sync_manifest};
use serde_json::json;
use store_support::{TestBackend, assert_same_features, backends};
use tempfile::TempDir;

/// Writes a GeoJSON file of stops with the given ids, one point each.
fn write_stops(path: &Path, ids: &[&str]) {
    let features: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "type": "Feature",
                "properties": {"stop_id": id, "stop_name": format!("Arrêt {id}")},
                "geometry": {"type": "Point", "coordinates": [-73.6 + i as f64 * 0.01, 45.5]}
            })
        })
        .collect();
    let collection = json!({"type": "FeatureCollection", "features": features});
    std::fs::write(path, collection.to_string()).expect("write the stops file");
}

fn write_manifest(dir: &Path) -> Manifest {
    let path = dir.join("layers.toml");
    let text = r#"
[[layer]]
name = "stops"
kind = "asset"
path = "stops.geojson"
id_field = "stop_id"
name_field = "stop_name"
attribution = "Société de transport de test"
licence = "CC BY 4.0"
"#;
    std::fs::write(&path, text).expect("write the manifest");
    Manifest::load(&path).expect("a valid manifest")
}

/// A manifest of one layer, `stops`, in a temporary directory, and a store.
struct Fixture {
    _dir: TempDir,
    manifest: Manifest,
    stops_path: PathBuf,
    store: Store,
}

async fn fixture(backend: &TestBackend) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        manifest: write_manifest(dir.path()),
        stops_path: dir.path().join("stops.geojson"),
        store: backend.open().await,
        _dir: dir,
    }
}

async fn sync_once(store: &Store, manifest: &Manifest) -> (u32, SyncAction, Vec<String>) {
    let mut synced = sync_manifest(store, manifest, "start-up").await.unwrap();
    assert_eq!(synced.len(), 1, "one layer in the manifest");
    let stops = synced.remove(0);
    let ids = stops.layer.features.iter().map(|f| f.id.clone()).collect();
    (stops.version.version, stops.action, ids)
}

#[tokio::test]
async fn sync_imports_only_changes() {
    for backend in backends("sync").await {
        let label = backend.label();
        let Fixture {
            _dir,
            manifest,
            stops_path,
            store,
        } = fixture(&backend).await;

        write_stops(&stops_path, &["a1", "a2"]);
        let first = sync_once(&store, &manifest).await;
        assert_eq!(
            first,
            (1, SyncAction::Imported, vec!["a1".into(), "a2".into()]),
            "{label}"
        );

        let again = sync_once(&backend.open().await, &manifest).await;
        assert_eq!(
            again,
            (1, SyncAction::Unchanged, vec!["a1".into(), "a2".into()]),
            "{label}"
        );

        write_stops(&stops_path, &["b1", "b2", "b3"]);
        let changed = sync_once(&store, &manifest).await;
        let want = vec!["b1".into(), "b2".into(), "b3".into()];
        assert_eq!(
            changed,
            (2, SyncAction::Imported, want),
            "{label}: changed file"
        );

        let active = store.active_version("stops").await.unwrap().unwrap();
        assert_eq!(active.version, 2, "{label}: the new version is active");
        assert_eq!(active.origin, Origin::Manifest, "{label}: origin");
        assert_eq!(
            active.activated_by.as_deref(),
            Some("start-up"),
            "{label}: by"
        );
    }
}

#[tokio::test]
async fn sync_keeps_operator_version() {
    for backend in backends("sync_operator").await {
        let label = backend.label();
        let Fixture {
            _dir,
            manifest,
            stops_path,
            store,
        } = fixture(&backend).await;
        write_stops(&stops_path, &["a1"]);
        sync_once(&store, &manifest).await;

        // An operator imports and activates a version of their own.
        write_stops(&stops_path, &["op1", "op2"]);
        let spec = &manifest.layers[0];
        let operator_layer = repere::source::load_layer(spec).unwrap();
        let hash = repere::store::sha256_file(&stops_path).unwrap();
        store
            .put_version(&operator_layer, Origin::Import, &hash, "gis-team")
            .await
            .unwrap();
        store.activate("stops", 2, "operator").await.unwrap();

        write_stops(&stops_path, &["c1"]);
        let outcome = sync_once(&store, &manifest).await;
        let want = vec!["op1".into(), "op2".into()];
        assert_eq!(
            outcome,
            (2, SyncAction::KeptOperatorVersion, want),
            "{label}"
        );
        let versions = store.versions("stops", Page::first(10)).await.unwrap();
        assert_eq!(
            versions.len(),
            2,
            "{label}: no manifest import over the operator's"
        );
        let loaded = store.load_version("stops", 2).await.unwrap();
        assert_same_features(label, &operator_layer, &loaded);
    }
}

#[tokio::test]
async fn sync_activates_interrupted_import() {
    for backend in backends("sync_interrupted").await {
        let label = backend.label();
        let Fixture {
            _dir,
            manifest,
            stops_path,
            store,
        } = fixture(&backend).await;
        write_stops(&stops_path, &["a1"]);

        // A start-up that stored the version and stopped before activating.
        let layer = repere::source::load_layer(&manifest.layers[0]).unwrap();
        let hash = repere::store::sha256_file(&stops_path).unwrap();
        store
            .put_version(&layer, Origin::Manifest, &hash, "gis-team")
            .await
            .unwrap();

        let resumed = sync_once(&store, &manifest).await;
        assert_eq!(
            resumed,
            (1, SyncAction::Activated, vec!["a1".into()]),
            "{label}"
        );
        let active = store
            .active_version("stops")
            .await
            .unwrap()
            .map(|v| v.version);
        assert_eq!(active, Some(1), "{label}: active after resuming");
    }
}
