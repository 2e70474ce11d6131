//! Layers stored and read back, through both stores.

mod store_support;

use std::process::Command;

use repere::layer::Layer;
use repere::manifest::Manifest;
use repere::source;
use repere::store::{Origin, Page, StoreError, sha256_file};
use sqlx::Row;
use store_support::{assert_same_features, backends, mixed_layer, works_layer};

const HASH_A: &str = "0000000000000000000000000000000000000000000000000000000000000a0a";

#[tokio::test]
async fn round_trip_keeps_every_feature() {
    for backend in backends("round_trip").await {
        let label = backend.label();
        let store = backend.open().await;
        for layer in [mixed_layer("mixed"), works_layer("works")] {
            let name = layer.info.name.clone();
            let put = store
                .put_version(&layer, Origin::Manifest, HASH_A, "gis-team")
                .await
                .unwrap();
            let loaded = store.load_version(&name, put.version).await.unwrap();

            assert_same_features(label, &layer, &loaded);
            assert_eq!(loaded.info.name, name, "{label}: name");
            assert_eq!(loaded.info.kind, layer.info.kind, "{label}: kind");
            assert_eq!(loaded.info.source, layer.info.source, "{label}: source");
            assert_eq!(
                loaded.info.source_crs, layer.info.source_crs,
                "{label}: source_crs"
            );
            assert_eq!(
                loaded.info.attribution, layer.info.attribution,
                "{label}: attribution"
            );
            assert_eq!(loaded.info.licence, layer.info.licence, "{label}: licence");
            assert_eq!(loaded.info.bbox, layer.info.bbox, "{label}: bbox");
            assert_eq!(loaded.report, layer.report, "{label}: load report");
        }
    }
}

#[tokio::test]
async fn empty_layer_round_trip() {
    for backend in backends("empty_layer").await {
        let label = backend.label();
        let store = backend.open().await;
        let mut layer = works_layer("works");
        layer.features.clear();
        let layer = Layer::new(layer.info, layer.features, layer.report);

        let put = store
            .put_version(&layer, Origin::Manifest, HASH_A, "gis-team")
            .await
            .unwrap();
        let loaded = store.load_version("works", put.version).await.unwrap();
        assert_eq!(put.feature_count, 0, "{label}: feature_count");
        assert!(loaded.features.is_empty(), "{label}: no features");
        assert_eq!(loaded.info.bbox, None, "{label}: no bbox");
    }
}

#[tokio::test]
async fn version_row_records_counts() {
    for backend in backends("version_counts").await {
        let label = backend.label();
        let store = backend.open().await;
        let layer = mixed_layer("mixed");
        let put = store
            .put_version(&layer, Origin::Import, HASH_A, "gis-team")
            .await
            .unwrap();
        let listed = store.versions("mixed", Page::first(10)).await.unwrap();

        assert_eq!(listed, vec![put.clone()], "{label}: listed version");
        assert_eq!(put.version, 1, "{label}: first version number");
        assert_eq!(put.feature_count, 9, "{label}: feature_count");
        // Two invalid geometries, of which "mp1" was repaired and kept.
        assert_eq!(put.invalid_count, 2, "{label}: invalid_count");
        assert_eq!(put.repaired_count, 1, "{label}: repaired_count");
        assert_eq!(put.synthetic_id_count, 2, "{label}: synthetic_id_count");
        assert_eq!(put.source_sha256, HASH_A, "{label}: source_sha256");
        assert_eq!(put.source_file, "mixed.geojson", "{label}: source_file");
        assert_eq!(put.origin, Origin::Import, "{label}: origin");
        assert_eq!(put.activated_at, None, "{label}: activated_at");
        assert_eq!(put.activated_by, None, "{label}: activated_by");
    }
}

#[tokio::test]
async fn unknown_layer_or_version_is_not_found() {
    for backend in backends("not_found").await {
        let label = backend.label();
        let store = backend.open().await;
        store
            .put_version(&mixed_layer("mixed"), Origin::Manifest, HASH_A, "gis-team")
            .await
            .unwrap();

        let cases = [
            (
                "load unknown layer",
                store.load_version("nowhere", 1).await.err(),
                None,
            ),
            (
                "load unknown version",
                store.load_version("mixed", 2).await.err(),
                Some(2),
            ),
            (
                "activate unknown layer",
                store.activate("nowhere", 1, "t").await.err(),
                None,
            ),
            (
                "activate unknown version",
                store.activate("mixed", 3, "t").await.err(),
                Some(3),
            ),
            (
                "list unknown layer",
                store.versions("nowhere", Page::first(5)).await.err(),
                None,
            ),
            (
                "active of unknown layer",
                store.active_version("nowhere").await.err(),
                None,
            ),
        ];
        for (case, error, version) in cases {
            match error {
                Some(StoreError::NotFound { version: got, .. }) => {
                    assert_eq!(got, version, "{label}: {case}: version in NotFound")
                }
                other => panic!("{label}: {case}: expected NotFound, got {other:?}"),
            }
        }
        let as_of = store.version_active_at("nowhere", store_support::utc(2026, 1, 1, 0, 0, 0));
        assert!(
            as_of.await.unwrap_err().is_not_found(),
            "{label}: as_of unknown layer"
        );
        let never_activated = store.active_version("mixed").await.unwrap();
        assert_eq!(
            never_activated, None,
            "{label}: known layer, never activated"
        );
    }
}

#[tokio::test]
async fn invalid_layer_name_is_rejected() {
    for backend in backends("invalid_name").await {
        let label = backend.label();
        let store = backend.open().await;
        let layer = mixed_layer("Bad-Name");
        let error = store
            .put_version(&layer, Origin::Import, HASH_A, "gis-team")
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidLayerName { ref name, .. } if name == "Bad-Name"),
            "{label}: {error:?}"
        );
        assert!(
            store.layers().await.unwrap().is_empty(),
            "{label}: nothing written"
        );
    }
}

#[tokio::test]
async fn reopened_store_keeps_everything() {
    for backend in backends("reopen").await {
        let label = backend.label();
        let layer = works_layer("works");
        {
            let store = backend.open().await;
            store
                .put_version(&layer, Origin::Manifest, HASH_A, "gis-team")
                .await
                .unwrap();
            store
                .put_version(&layer, Origin::Import, HASH_A, "gis-team")
                .await
                .unwrap();
            store.activate("works", 1, "night import").await.unwrap();
        }
        let store = backend.open().await;
        let versions = store.versions("works", Page::first(10)).await.unwrap();
        let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
        assert_eq!(numbers, vec![2, 1], "{label}: versions after reopening");
        let active = store
            .active_version("works")
            .await
            .unwrap()
            .expect("an active version");
        assert_eq!(active.version, 1, "{label}: active version after reopening");
        assert_eq!(
            active.activated_by.as_deref(),
            Some("night import"),
            "{label}: by"
        );
        let loaded = store.load_version("works", 1).await.unwrap();
        assert_same_features(label, &layer, &loaded);
    }
}

/// PostGIS reads the stored geometries itself: coordinates and types must be
/// those of the layer, independently of the store's WKB codec.
#[tokio::test]
async fn postgis_reads_stored_geometries() {
    for backend in backends("postgis_geometries").await {
        let Some(mut conn) = backend.connect_sql().await else {
            continue;
        };
        let store = backend.open().await;
        store
            .put_version(&mixed_layer("mixed"), Origin::Manifest, HASH_A, "gis-team")
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT feature_id, GeometryType(geom) AS kind, ST_SRID(geom) AS srid, \
             ST_NPoints(geom) AS points, ST_IsValid(geom) AS valid, properties->>'nom' AS nom \
             FROM layer_features WHERE layer = 'mixed' ORDER BY position",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let got: Vec<(String, String, i32, i32)> = rows
            .iter()
            .map(|r| {
                (
                    r.get("feature_id"),
                    r.get("kind"),
                    r.get("srid"),
                    r.get("points"),
                )
            })
            .collect();
        let want = [
            ("p1", "POINT", 1),
            ("p2", "POINT", 1),
            ("l1", "LINESTRING", 3),
            ("mp1", "MULTIPOLYGON", 13),
            ("mp2", "MULTIPOINT", 2),
            ("ml1", "MULTILINESTRING", 4),
            ("gc1", "GEOMETRYCOLLECTION", 3),
            ("mixed:7", "POINT", 1),
            ("mixed:8", "POINT", 1),
        ];
        let want: Vec<(String, String, i32, i32)> = want
            .iter()
            .map(|(id, kind, n)| (id.to_string(), kind.to_string(), 4326, *n))
            .collect();
        assert_eq!(got, want, "feature id, type, SRID and point count");
        let nom: Option<String> = rows[0].get("nom");
        assert_eq!(nom.as_deref(), Some("Côte-des-Neiges–Notre-Dame-de-Grâce"));

        let (x, y): (f64, f64) = sqlx::query_as(
            "SELECT ST_X(geom), ST_Y(geom) FROM layer_features \
             WHERE layer = 'mixed' AND feature_id = 'p1'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            x.to_bits(),
            (-73.567_890_123_456_78_f64).to_bits(),
            "p1 longitude bits"
        );
        assert_eq!(
            y.to_bits(),
            45.501_234_567_890_12_f64.to_bits(),
            "p1 latitude bits"
        );
    }
}

/// `ogrinfo` (GDAL's own tool) opens the GeoPackage and counts each table.
#[tokio::test]
async fn geopackage_opens_in_ogrinfo() {
    let backend = backends("ogrinfo").await.remove(0);
    let store_support::TestBackend::GeoPackage { ref path, .. } = backend else {
        panic!("the first test backend is the GeoPackage");
    };
    let store = backend.open().await;
    let mixed = mixed_layer("mixed");
    let works = works_layer("works");
    store
        .put_version(&mixed, Origin::Manifest, HASH_A, "gis-team")
        .await
        .unwrap();
    store
        .put_version(&mixed, Origin::Import, HASH_A, "gis-team")
        .await
        .unwrap();
    store
        .put_version(&works, Origin::Manifest, HASH_A, "gis-team")
        .await
        .unwrap();
    store.activate("mixed", 2, "operator").await.unwrap();

    let text = ogrinfo_summary(path);
    let counts = ogrinfo_counts(&text);
    let want = [
        ("mixed__v0001", 9),
        ("mixed__v0002", 9),
        ("repere_activations", 1),
        ("repere_versions", 3),
        ("works__v0001", 5),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(
        counts, want,
        "tables and feature counts listed by ogrinfo:\n{text}"
    );
    assert!(
        text.contains("Geometry: Unknown (any)"),
        "spatial tables:\n{text}"
    );
    assert!(text.contains("WGS 84"), "tables in EPSG:4326:\n{text}");

    let sql = "SELECT table_name || ' ' || data_type || ' ' || srs_id AS entry \
               FROM gpkg_contents ORDER BY table_name";
    let entries = ogrinfo_sql(path, sql);
    let want = [
        "mixed__v0001 features 4326",
        "mixed__v0002 features 4326",
        "repere_activations attributes 0",
        "repere_versions attributes 0",
        "works__v0001 features 4326",
    ];
    assert_eq!(entries, want, "gpkg_contents");
    let sql = "SELECT table_name AS entry FROM gpkg_extensions \
               WHERE extension_name = 'gpkg_rtree_index' ORDER BY table_name";
    let indexed = ogrinfo_sql(path, sql);
    let want = ["mixed__v0001", "mixed__v0002", "works__v0001"];
    assert_eq!(indexed, want, "tables with an R-tree spatial index");
}

/// Runs one SQLite query through `ogrinfo` and returns the `entry` column.
fn ogrinfo_sql(path: &std::path::Path, sql: &str) -> Vec<String> {
    let output = Command::new("ogrinfo")
        .args(["-ro", "-q"])
        .arg(path)
        .args(["-sql", sql])
        .output()
        .expect("run ogrinfo");
    assert!(
        output.status.success(),
        "ogrinfo -sql {sql:?} failed: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().split_once(" = "))
        .filter(|(column, _)| column.starts_with("entry "))
        .map(|(_, value)| value.to_owned())
        .collect()
}

/// Returns the output of `ogrinfo -ro -so -al`: every table, summarized.
fn ogrinfo_summary(path: &std::path::Path) -> String {
    let output = Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(path)
        .output()
        .expect("run ogrinfo (Debian package gdal-bin)");
    assert!(output.status.success(), "ogrinfo failed: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Parses `Layer name:` and `Feature Count:` pairs of `ogrinfo -so -al`,
/// sorted by name.
fn ogrinfo_counts(text: &str) -> Vec<(String, u64)> {
    let mut counts = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("Layer name: ") {
            name = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("Feature Count: ") {
            let count = value.trim().parse().expect("a feature count");
            counts.push((name.take().expect("a layer name first"), count));
        }
    }
    counts.sort();
    counts
}

/// An import that fails halfway (a NUL byte is valid in a Rust string but
/// not in PostgreSQL text nor in GDAL's C strings) leaves no version behind.
#[tokio::test]
async fn failed_import_leaves_no_version() {
    for backend in backends("failed_import").await {
        let label = backend.label();
        let store = backend.open().await;
        let good = mixed_layer("mixed");
        store
            .put_version(&good, Origin::Manifest, HASH_A, "gis-team")
            .await
            .unwrap();
        store.activate("mixed", 1, "start-up").await.unwrap();

        let mut bad = mixed_layer("mixed");
        bad.features[5].id = "ml\u{0}1".to_owned();
        let failed = store
            .put_version(&bad, Origin::Import, HASH_A, "gis-team")
            .await;
        assert!(failed.is_err(), "{label}: the import fails");

        let listed = store.versions("mixed", Page::first(10)).await.unwrap();
        let numbers: Vec<u32> = listed.iter().map(|v| v.version).collect();
        assert_eq!(
            numbers,
            vec![1],
            "{label}: versions after the failed import"
        );
        let active = store
            .active_version("mixed")
            .await
            .unwrap()
            .map(|v| v.version);
        assert_eq!(active, Some(1), "{label}: active version unchanged");
        let next = store
            .put_version(&good, Origin::Import, HASH_A, "gis-team")
            .await
            .unwrap();
        assert!(next.version >= 2, "{label}: next version number");
        let loaded = store.load_version("mixed", next.version).await.unwrap();
        assert_same_features(label, &good, &loaded);

        if let store_support::TestBackend::GeoPackage { path, .. } = &backend {
            let tables: Vec<String> = ogrinfo_counts(&ogrinfo_summary(path))
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            let want = [
                "mixed__v0001".to_owned(),
                format!("mixed__v{:04}", next.version),
                "repere_activations".to_owned(),
                "repere_versions".to_owned(),
            ];
            assert_eq!(tables, want, "no table left by the failed import");
        }
    }
}

/// Every default layer (Laval and Montréal), read by the source reader from
/// the repository's manifest, stored and read back.
#[tokio::test]
async fn default_layers_round_trip() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = Manifest::load(&root.join("data/layers.toml")).expect("data/layers.toml");
    assert!(
        manifest.layers.len() >= 2,
        "default layers in data/layers.toml"
    );
    let backends = backends("default_layers").await;
    let mut stores = Vec::new();
    for backend in &backends {
        stores.push((backend.label(), backend.open().await));
    }

    for spec in &manifest.layers {
        let name = spec.name.as_str();
        let layer = source::load_layer(spec).unwrap_or_else(|e| panic!("read {name}: {e}"));
        let hash = sha256_file(&spec.path).unwrap();
        assert_eq!(
            hash,
            sha256sum(&spec.path),
            "hash of {}",
            spec.path.display()
        );

        for (label, store) in &stores {
            let put = store
                .put_version(&layer, Origin::Manifest, &hash, "gis-team")
                .await
                .unwrap();
            let loaded = store.load_version(name, put.version).await.unwrap();

            let label = format!("{label} {name}");
            assert_same_features(&label, &layer, &loaded);
            assert_eq!(
                put.feature_count,
                layer.features.len(),
                "{label}: feature_count"
            );
            assert_eq!(loaded.info.bbox, layer.info.bbox, "{label}: bbox");
            assert_eq!(loaded.report, layer.report, "{label}: load report");
        }
    }
}

/// Returns the SHA-256 of a file as coreutils' `sha256sum` prints it.
fn sha256sum(path: &std::path::Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(output.status.success(), "sha256sum failed: {output:?}");
    let text = String::from_utf8(output.stdout).expect("sha256sum prints ASCII");
    text.split_whitespace().next().expect("a hash").to_owned()
}
