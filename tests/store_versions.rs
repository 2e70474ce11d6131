//! Versions, activations and rollbacks, through both stores.

mod store_support;

use std::collections::HashMap;
use std::time::Duration;

use chrono::TimeDelta;
use repere::layer::LayerKind;
use repere::store::{ActiveVersionWatcher, LayerEvent, LayerSummary, Origin, Page, Store};
use store_support::{assert_same_features, backends, districts_layer, mixed_layer, works_layer};

const HASH_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const HASH_2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// Returns the version numbers of a listing, in its order.
fn numbers(versions: &[repere::store::VersionInfo]) -> Vec<u32> {
    versions.iter().map(|v| v.version).collect()
}

async fn active_number(store: &Store, layer: &str) -> Option<u32> {
    store
        .active_version(layer)
        .await
        .unwrap()
        .map(|v| v.version)
}

#[tokio::test]
async fn activation_and_rollback() {
    for backend in backends("rollback").await {
        let label = backend.label();
        let store = backend.open().await;
        let v1_layer = districts_layer("districts", "a");
        let v2_layer = districts_layer("districts", "b");

        let v1 = store
            .put_version(&v1_layer, Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        let first = store
            .activate("districts", v1.version, "start-up")
            .await
            .unwrap();
        assert_eq!(first.previous, None, "{label}: nothing active before v1");

        let v2 = store
            .put_version(&v2_layer, Origin::Import, HASH_2, "gis-team")
            .await
            .unwrap();
        assert_eq!(v2.version, 2, "{label}: second version number");
        assert_eq!(
            active_number(&store, "districts").await,
            Some(1),
            "{label}: v2 inactive"
        );

        let second = store.activate("districts", 2, "alice").await.unwrap();
        assert_eq!(second.previous, Some(1), "{label}: v1 was active before v2");
        assert_eq!(
            active_number(&store, "districts").await,
            Some(2),
            "{label}: v2 active"
        );

        let rollback = store.activate("districts", 1, "bob").await.unwrap();
        assert_eq!(
            rollback.previous,
            Some(2),
            "{label}: v2 was active before rollback"
        );
        let active = store.active_version("districts").await.unwrap().unwrap();
        assert_eq!(active.version, 1, "{label}: v1 active after rollback");
        assert_eq!(
            active.activated_by.as_deref(),
            Some("bob"),
            "{label}: rollback by"
        );
        assert_eq!(
            active.activated_at,
            Some(rollback.activated_at),
            "{label}: rollback at"
        );
        assert!(
            rollback.activated_at >= second.activated_at,
            "{label}: log order"
        );

        let loaded = store.load_version("districts", 1).await.unwrap();
        assert_same_features(label, &v1_layer, &loaded);
        let loaded = store.load_version("districts", 2).await.unwrap();
        assert_same_features(label, &v2_layer, &loaded);

        let log = store.activations("districts").await.unwrap();
        let entries: Vec<(u32, &str, Option<u32>)> = log
            .iter()
            .map(|a| (a.version, a.activated_by.as_str(), a.previous))
            .collect();
        let want = vec![
            (1, "bob", Some(2)),
            (2, "alice", Some(1)),
            (1, "start-up", None),
        ];
        assert_eq!(entries, want, "{label}: activation log, newest first");
        assert_eq!(
            log[0].activated_at, rollback.activated_at,
            "{label}: logged instant"
        );
    }
}

#[tokio::test]
async fn versions_listed_by_page() {
    for backend in backends("pages").await {
        let label = backend.label();
        let store = backend.open().await;
        for suffix in ["a", "b", "c", "d", "e"] {
            let layer = districts_layer("districts", suffix);
            store
                .put_version(&layer, Origin::Import, HASH_1, "gis-team")
                .await
                .unwrap();
        }

        let page = Page::first(2);
        let first = store.versions("districts", page).await.unwrap();
        assert_eq!(numbers(&first), vec![5, 4], "{label}: first page");
        let second = store.versions("districts", page.after(4)).await.unwrap();
        assert_eq!(numbers(&second), vec![3, 2], "{label}: second page");
        let third = store.versions("districts", page.after(2)).await.unwrap();
        assert_eq!(numbers(&third), vec![1], "{label}: last page");
        let past_end = store.versions("districts", page.after(1)).await.unwrap();
        assert!(past_end.is_empty(), "{label}: past the end");
    }
}

#[tokio::test]
async fn version_active_at_instants() {
    for backend in backends("as_of").await {
        let label = backend.label();
        let store = backend.open().await;
        let layer = works_layer("works");
        store
            .put_version(&layer, Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        store
            .put_version(&layer, Origin::Import, HASH_2, "gis-team")
            .await
            .unwrap();
        let first = store.activate("works", 1, "start-up").await.unwrap();
        // Two activations in the same microsecond would leave no instant
        // between them to query.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let second = store.activate("works", 2, "alice").await.unwrap();
        assert!(
            second.activated_at > first.activated_at,
            "{label}: distinct instants"
        );

        let tick = TimeDelta::microseconds(1);
        let cases = [
            (
                "long before",
                first.activated_at - TimeDelta::days(400),
                None,
            ),
            ("just before the first", first.activated_at - tick, None),
            ("at the first", first.activated_at, Some(1)),
            ("between", second.activated_at - tick, Some(1)),
            ("at the second", second.activated_at, Some(2)),
            ("after", second.activated_at + TimeDelta::days(30), Some(2)),
        ];
        for (case, at, want) in cases {
            let found = store.version_active_at("works", at).await.unwrap();
            let got = found.map(|v| v.version);
            assert_eq!(got, want, "{label}: version active {case} ({at})");
        }
    }
}

#[tokio::test]
async fn last_manifest_version_tracks_changes() {
    for backend in backends("manifest").await {
        let label = backend.label();
        let store = backend.open().await;
        let layer = mixed_layer("mixed");
        let unknown = store.last_manifest_version("mixed").await.unwrap();
        assert_eq!(unknown, None, "{label}: nothing imported yet");

        store
            .put_version(&layer, Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        store.activate("mixed", 1, "manifest").await.unwrap();
        let fresh = store.last_manifest_version("mixed").await.unwrap().unwrap();
        assert_eq!(fresh.info.version, 1, "{label}: manifest version");
        assert_eq!(fresh.info.source_sha256, HASH_1, "{label}: manifest hash");
        assert!(
            !fresh.changed_since,
            "{label}: unchanged after its own activation"
        );

        store
            .put_version(&layer, Origin::Import, HASH_2, "gis-team")
            .await
            .unwrap();
        let imported = store.last_manifest_version("mixed").await.unwrap().unwrap();
        assert_eq!(
            imported.info.version, 1,
            "{label}: still the manifest version"
        );
        assert!(imported.changed_since, "{label}: an operator imported v2");

        store
            .put_version(&layer, Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        store.activate("mixed", 3, "manifest").await.unwrap();
        let again = store.last_manifest_version("mixed").await.unwrap().unwrap();
        assert_eq!(again.info.version, 3, "{label}: newer manifest version");
        assert!(!again.changed_since, "{label}: v2 came before v3");

        store.activate("mixed", 2, "alice").await.unwrap();
        let rolled = store.last_manifest_version("mixed").await.unwrap().unwrap();
        assert!(
            rolled.changed_since,
            "{label}: an operator activated v2 after v3"
        );
    }
}

#[tokio::test]
async fn layers_list_latest_and_active() {
    for backend in backends("layers").await {
        let label = backend.label();
        let store = backend.open().await;
        assert!(
            store.layers().await.unwrap().is_empty(),
            "{label}: empty store"
        );
        store
            .put_version(&works_layer("works"), Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        let districts = districts_layer("districts", "a");
        store
            .put_version(&districts, Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        store
            .put_version(&districts, Origin::Import, HASH_2, "gis-team")
            .await
            .unwrap();
        store.activate("districts", 1, "start-up").await.unwrap();

        let want = vec![
            LayerSummary {
                name: "districts".to_owned(),
                kind: LayerKind::District,
                latest_version: 2,
                active_version: Some(1),
            },
            LayerSummary {
                name: "works".to_owned(),
                kind: LayerKind::Work,
                latest_version: 1,
                active_version: None,
            },
        ];
        assert_eq!(store.layers().await.unwrap(), want, "{label}: layers");
    }
}

/// Imports of one layer started together get distinct numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_numbered_apart() {
    for backend in backends("concurrent").await {
        let label = backend.label();
        let store = backend.open().await;
        let mut imports = tokio::task::JoinSet::new();
        for suffix in ["a", "b", "c", "d"] {
            let store = store.clone();
            let layer = districts_layer("districts", suffix);
            imports.spawn(async move {
                store
                    .put_version(&layer, Origin::Import, HASH_1, "gis-team")
                    .await
            });
        }

        let mut got = Vec::new();
        while let Some(joined) = imports.join_next().await {
            got.push(joined.unwrap().unwrap().version);
        }
        got.sort();
        assert_eq!(got, vec![1, 2, 3, 4], "{label}: version numbers");
        let listed = store.versions("districts", Page::first(10)).await.unwrap();
        assert_eq!(
            numbers(&listed),
            vec![4, 3, 2, 1],
            "{label}: listed versions"
        );
    }
}

/// An activation in one instance reaches a listener in another.
#[tokio::test]
async fn postgis_activation_notifies_listeners() {
    // NOTIFY reaches every listener of the database, so other tests'
    // activations arrive too: this layer's name is used by no other test.
    let layer = "notify_probe_works";
    for backend in backends("notify").await {
        let store = backend.open().await;
        let Store::Postgis(listening) = backend.open().await else {
            continue;
        };
        let mut listener = listening.listen().await.unwrap();
        store
            .put_version(&works_layer(layer), Origin::Manifest, HASH_1, "gis-team")
            .await
            .unwrap();
        store.activate(layer, 1, "start-up").await.unwrap();

        // A bound on the wait, so that a lost notice fails the test instead
        // of hanging it.
        let expected = LayerEvent::Activated(layer.to_owned());
        let wait = async {
            loop {
                if listener.recv().await.unwrap() == expected {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("a notice for this test's layer within 60 s");
    }
}

/// A watcher returns a layer activated through another store handle, as
/// another instance would activate it.
#[tokio::test]
async fn watcher_returns_activated_layer() {
    for backend in backends("watch").await {
        let label = backend.label();
        let store = backend.open().await;
        let v2_layer = districts_layer("districts", "b");
        store
            .put_version(
                &districts_layer("districts", "a"),
                Origin::Manifest,
                HASH_1,
                "gis-team",
            )
            .await
            .unwrap();
        store
            .put_version(&v2_layer, Origin::Import, HASH_2, "gis-team")
            .await
            .unwrap();
        store.activate("districts", 1, "start-up").await.unwrap();

        // With PostGIS, the periodic check is an hour away, so only the
        // NOTIFY can wake the watcher.
        let poll = match store {
            Store::GeoPackage(_) => Duration::from_millis(10),
            Store::Postgis(_) => Duration::from_secs(3600),
        };
        let known = HashMap::from([("districts".to_owned(), 1)]);
        let mut watcher = ActiveVersionWatcher::new(backend.open().await, known, poll)
            .await
            .unwrap();
        backend
            .open()
            .await
            .activate("districts", 2, "alice")
            .await
            .unwrap();

        let changed = tokio::time::timeout(Duration::from_secs(60), watcher.next_change())
            .await
            .expect("a change within 60 s")
            .unwrap();
        assert_eq!(changed.len(), 1, "{label}: changed layers");
        assert_eq!(changed[0].version.version, 2, "{label}: new active version");
        assert_eq!(
            changed[0].version.activated_by.as_deref(),
            Some("alice"),
            "{label}: activated by"
        );
        assert_same_features(label, &v2_layer, &changed[0].layer);
    }
}
