//! The report stored with each version, through both stores: the author,
//! the bbox and the diff from the active version, and rows written before
//! those were kept.

mod store_support;

use repere::store::{Origin, Store, VersionReport};
use serde_json::{Value, json};
use store_support::{TestBackend, backends, districts_layer, mixed_layer};

const HASH_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const HASH_2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// Stores districts `d0a`…`d2a` as version 1, active, then `d0b`…`d2b` as
/// version 2.
async fn two_versions(store: &Store) {
    let v1 = store
        .put_version(
            &districts_layer("districts", "a"),
            Origin::Manifest,
            HASH_1,
            "manifest",
        )
        .await
        .unwrap();
    store
        .activate("districts", v1.version, "manifest")
        .await
        .unwrap();
    store
        .put_version(
            &districts_layer("districts", "b"),
            Origin::Import,
            HASH_2,
            "gis-team",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn report_keeps_diff_and_author() {
    for backend in backends("report_diff").await {
        let label = backend.label();
        two_versions(&backend.open().await).await;

        let store = backend.open().await;
        let first = store.version("districts", 1).await.unwrap().report;
        assert_eq!(first.format, VersionReport::FORMAT, "{label}");
        assert_eq!(first.diff, None, "{label}: nothing was active");
        assert_eq!(first.imported_by.as_deref(), Some("manifest"), "{label}");
        let second = store.version("districts", 2).await.unwrap().report;
        assert_eq!(second.imported_by.as_deref(), Some("gis-team"), "{label}");
        let diff = second.diff.expect("version 1 was active");
        assert_eq!(diff.active_version, 1, "{label}");
        assert_eq!(diff.added.ids, ["d0b", "d1b", "d2b"], "{label}: added");
        assert_eq!(diff.removed.ids, ["d0a", "d1a", "d2a"], "{label}: removed");
        assert_eq!(diff.geometry_changed.count, 0, "{label}");
        assert_eq!(diff.properties_changed.count, 0, "{label}");
        // Three squares of 0.1° from -72.9 westwards, 45.0 to 45.1.
        let bbox = second.bbox_wgs84.expect("a bbox");
        for (got, want) in bbox.iter().zip([-73.2, 45.0, -72.9, 45.1]) {
            assert!((got - want).abs() < 1e-9, "{label}: bbox {bbox:?}");
        }
    }
}

/// A layer stored without an active version has no diff, even when older
/// versions exist.
#[tokio::test]
async fn no_diff_without_active() {
    for backend in backends("report_inactive").await {
        let label = backend.label();
        let store = backend.open().await;
        for suffix in ["a", "b"] {
            let layer = districts_layer("districts", suffix);
            let info = store
                .put_version(&layer, Origin::Import, HASH_1, "gis-team")
                .await
                .unwrap();
            assert_eq!(info.report.diff, None, "{label}: version {}", info.version);
        }
    }
}

#[tokio::test]
async fn report_round_trips() {
    for backend in backends("report_round_trip").await {
        let label = backend.label();
        let store = backend.open().await;
        let layer = mixed_layer("mixed");
        let put = store
            .put_version(&layer, Origin::Import, HASH_1, "gis-team")
            .await
            .unwrap();
        let read = backend.open().await.version("mixed", 1).await.unwrap();
        assert_eq!(read.report, put.report, "{label}");
        assert_eq!(read.report.load, layer.report, "{label}: load report");
        assert_eq!(read.report.bbox_wgs84, layer.info.bbox, "{label}: bbox");
    }
}

/// The `load_report` value of a version as builds that stored only the
/// load report wrote it.
fn load_report_only() -> Value {
    json!({
        "read_count": 5,
        "filtered_count": 2,
        "invalid": [{"id": "d1a", "reason": "Self-intersection[-73.1 45.05]",
                     "action": "repaired with GEOS MakeValid"}],
        "synthetic_ids": [],
        "rejected": [{"fid": 4, "reason": "no geometry"}]
    })
}

/// Replaces the stored report of version 1 of `districts` with `value`.
async fn overwrite_report(backend: &TestBackend, value: &Value) {
    let text = value.to_string();
    match backend {
        TestBackend::Postgis { .. } => {
            let mut conn = backend.connect_sql().await.unwrap();
            sqlx::query(
                "UPDATE layer_versions SET load_report = $1::jsonb \
                 WHERE layer = 'districts' AND version = 1",
            )
            .bind(&text)
            .execute(&mut conn)
            .await
            .expect("overwrite the report");
        }
        TestBackend::GeoPackage { path, .. } => {
            let options = gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE
                    | gdal::GdalOpenFlags::GDAL_OF_VECTOR,
                ..Default::default()
            };
            let ds = gdal::Dataset::open_ex(path, options).expect("open the GeoPackage");
            let sql = format!(
                "UPDATE repere_versions SET load_report = '{}' \
                 WHERE layer = 'districts' AND version = 1",
                text.replace('\'', "''")
            );
            ds.execute_sql(&sql, None, gdal::vector::sql::Dialect::DEFAULT)
                .expect("overwrite the report");
        }
    }
}

#[tokio::test]
async fn load_report_rows_still_read() {
    for backend in backends("report_old_rows").await {
        let label = backend.label();
        two_versions(&backend.open().await).await;
        overwrite_report(&backend, &load_report_only()).await;

        let store = backend.open().await;
        let info = store.version("districts", 1).await.unwrap();
        let report = &info.report;
        assert_eq!(report.format, VersionReport::LOAD_REPORT_FORMAT, "{label}");
        assert_eq!(report.load.read_count, 5, "{label}");
        assert_eq!(report.load.filtered_count, 2, "{label}");
        assert_eq!(report.load.invalid[0].id, "d1a", "{label}");
        assert_eq!(report.load.rejected[0].fid, 4, "{label}");
        assert!(report.load.synthetic_ids.is_empty(), "{label}");
        assert_eq!(report.bbox_wgs84, None, "{label}");
        assert_eq!(report.imported_by, None, "{label}");
        assert_eq!(report.diff, None, "{label}");

        let layer = store.load_version("districts", 1).await.unwrap();
        assert_eq!(layer.features.len(), 3, "{label}: features still load");
        assert_eq!(layer.report, report.load, "{label}: the layer's report");
        let listed = store
            .versions("districts", repere::store::Page::first(10))
            .await
            .unwrap();
        assert_eq!(listed.len(), 2, "{label}: both versions listed");
    }
}
