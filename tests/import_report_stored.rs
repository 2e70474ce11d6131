//! The import report stored with each version, read back through
//! `GET /v1/layers/{name}/versions/{version}` after a restart of
//! `repere serve`, on the GeoPackage and on PostGIS.
//!
//! The hydrants file of version 2 is built from version 1 by removing `h2`,
//! moving `h3`, changing a property of `h4`, renaming `h5` and adding `h6`,
//! so the expected diff is written here from those edits.

mod versions_support;

use serde_json::{Value, json};
use versions_support::{
    LayerFiles, Server, TOKEN_NAME, assert_version_repeats_import, backends, client, districts,
    get_json, post_import,
};

const LAYER: &str = "hydrants";
fn point(id: Option<&str>, name: &str, lon: f64, size: &str) -> Value {
    json!({
        "type": "Feature",
        "properties": {"id": id, "name": name, "size": size, "status": "active"},
        "geometry": {"type": "Point", "coordinates": [lon, 45.50]}
    })
}

/// Returns a polygon whose ring crosses itself, which the import repairs.
fn bowtie() -> Value {
    json!({
        "type": "Feature",
        "properties": {"id": "h7", "name": "H7", "size": "s", "status": "active"},
        "geometry": {"type": "Polygon", "coordinates": [[
            [-73.58, 45.49], [-73.57, 45.51], [-73.57, 45.49], [-73.58, 45.51], [-73.58, 45.49]
        ]]}
    })
}

/// The features of version 1, in file order: one without an id (FID 0),
/// one without a geometry (FID 1), five points, the bowtie and one
/// feature that the `where` filter leaves out.
fn hydrants_v1() -> Vec<Value> {
    vec![
        point(None, "no id", -73.59, "s"),
        json!({
            "type": "Feature",
            "properties": {"id": "h0", "name": "H0", "size": "s", "status": "active"},
            "geometry": null
        }),
        point(Some("h1"), "H1", -73.60, "s"),
        point(Some("h2"), "H2", -73.61, "s"),
        point(Some("h3"), "H3", -73.62, "s"),
        point(Some("h4"), "H4", -73.63, "s"),
        point(Some("h5"), "H5", -73.64, "s"),
        bowtie(),
        json!({
            "type": "Feature",
            "properties": {"id": "h9", "name": "H9", "size": "s", "status": "retired"},
            "geometry": {"type": "Point", "coordinates": [-73.65, 45.50]}
        }),
    ]
}

/// Version 1 with `h2` removed, `h3` moved, `h4` resized, `h5` renamed,
/// and `h6`, `100`, `a`, `9` and `10` added.
fn hydrants_v2() -> Vec<Value> {
    let mut features = hydrants_v1();
    features[4] = point(Some("h3"), "H3", -73.625, "s");
    features[5] = point(Some("h4"), "H4", -73.63, "m");
    features[6] = point(Some("h5"), "H5 bis", -73.64, "s");
    features.remove(3);
    for id in ["h6", "100", "a", "9", "10"] {
        features.push(point(Some(id), id, -73.66, "s"));
    }
    features
}

/// The diff of version 2 from version 1, from the edits above, with the
/// ids of digits only first, by number.
fn expected_diff() -> Value {
    let changes = |ids: &[&str]| json!({"count": ids.len(), "ids": ids, "truncated": false});
    json!({
        "active_version": 1,
        "added": changes(&["9", "10", "100", "a", "h6"]),
        "removed": changes(&["h2"]),
        "geometry_changed": changes(&["h3"]),
        "properties_changed": changes(&["h4", "h5"]),
    })
}

fn collection(features: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap()
}

/// Imports `file` as the hydrants layer and returns the import report.
async fn import(server: &Server, file: &[u8], query: &str) -> Value {
    let path_and_query = format!("/v1/layers/{LAYER}/import?{query}");
    let fields = [
        ("kind", "asset"),
        ("id_field", "id"),
        ("name_field", "name"),
        ("where", "status = 'active'"),
    ];
    let file_name = format!("{LAYER}.geojson");
    let (status, report) = post_import(server, &path_and_query, &file_name, file, &fields).await;
    assert_eq!(status, 200, "import {query}: {report}");
    report
}

async fn version(server: &Server, layer: &str, version: u32) -> Value {
    let url = format!("{}/v1/layers/{layer}/versions/{version}", server.base);
    let (status, body) = get_json(&client(), &url).await;
    assert_eq!(status, 200, "{layer} version {version}: {body}");
    body
}

/// Checks that the stored version has the keys and values of the report
/// its import returned.
fn assert_stored(label: &str, stored: &Value, returned: &Value) {
    assert_version_repeats_import(label, stored, returned);
    assert_eq!(stored["report_format"], 3, "{label}: report format");
    assert!(stored.get("report").is_none(), "{label}: no nested report");
}

/// Checks the report of version 1 against the file it was read from.
fn assert_first_report(label: &str, report: &Value) {
    assert_eq!(report["version"], 1, "{label}: {report}");
    assert_eq!(
        report["read_count"], 9,
        "{label}: every feature of the file"
    );
    assert_eq!(report["filtered_count"], 1, "{label}: the retired h9");
    assert_eq!(report["feature_count"], 7, "{label}: kept features");

    assert_eq!(
        report["rejected"][0]["fid"], 1,
        "{label}: h0 has no geometry"
    );
    assert_eq!(
        report["rejected"].as_array().unwrap().len(),
        1,
        "{label}: rejected"
    );
    assert_eq!(
        report["synthetic_ids"].as_array().unwrap().len(),
        1,
        "{label}: synthetic ids"
    );

    let invalid_ids: Vec<&Value> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|invalid| &invalid["id"])
        .collect();
    assert!(
        invalid_ids.contains(&&json!("h7")),
        "{label}: the bowtie in {invalid_ids:?}"
    );

    assert_eq!(report["diff"], Value::Null, "{label}: nothing was active");
    assert_eq!(report["imported_by"], TOKEN_NAME, "{label}");
    assert_bbox(label, &report["bbox_wgs84"], [-73.64, 45.49, -73.57, 45.51]);
}

/// Checks a bbox to 1e-9°, because coordinates computed as sums of
/// decimals, such as the districts' edges, are not exact.
fn assert_bbox(label: &str, bbox: &Value, expected: [f64; 4]) {
    let got: [f64; 4] = serde_json::from_value(bbox.clone())
        .unwrap_or_else(|e| panic!("{label}: bbox {bbox} is not 4 numbers: {e}"));
    for (got, want) in got.iter().zip(expected) {
        assert!(
            (got - want).abs() < 1e-9,
            "{label}: bbox {bbox}, expected {expected:?}"
        );
    }
}

async fn version_list(server: &Server) -> Value {
    let url = format!("{}/v1/layers/{LAYER}/versions", server.base);
    let (status, list) = get_json(&client(), &url).await;
    assert_eq!(status, 200, "{list}");
    list
}

/// Imports versions 1 and 2 and a dry run, and returns the reports of the
/// two versions.
async fn import_twice(server: &Server, label: &str) -> [Value; 2] {
    let first = import(server, &collection(hydrants_v1()), "activate=true").await;
    assert_first_report(label, &first);
    let second = import(server, &collection(hydrants_v2()), "activate=true").await;
    assert_eq!(second["version"], 2, "{label}: {second}");
    assert_eq!(
        second["diff"],
        expected_diff(),
        "{label}: diff of version 2"
    );

    let listed = version_list(server).await;
    let entry = &listed["versions"][0];
    assert_eq!(entry["version"], 2, "{label}: {listed}");
    assert!(
        entry.get("report").is_none(),
        "{label}: list keeps to counts"
    );
    let mut third = hydrants_v2();
    third.push(point(Some("h8"), "H8", -73.67, "s"));
    let dry = import(server, &collection(third), "dry_run=true").await;
    assert_eq!(dry["version"], Value::Null, "{label}: {dry}");
    assert_eq!(dry["diff"]["active_version"], 2, "{label}: dry run diff");
    assert_eq!(dry["diff"]["added"]["ids"], json!(["h8"]), "{label}");
    assert_eq!(
        version_list(server).await,
        listed,
        "{label}: a dry run stores nothing"
    );
    [first, second]
}

#[tokio::test]
async fn stored_report_survives_restart() {
    for backend in backends("report_restart").await {
        let label = backend.label();
        let files = LayerFiles::new("wards", "district");
        files.write(&districts(1, 2));
        let server = Server::start(&files.manifest, &backend);
        let [first, second] = import_twice(&server, label).await;
        server.stop();

        let server = Server::start(&files.manifest, &backend);
        let stored = version(&server, LAYER, 1).await;
        assert_stored(&format!("{label} v1"), &stored, &first);
        assert_eq!(stored["active"], false, "{label}: v1 replaced by v2");
        let stored = version(&server, LAYER, 2).await;
        assert_stored(&format!("{label} v2"), &stored, &second);
        assert_eq!(stored["active"], true, "{label}: v2 active");
        assert_eq!(stored["activated_by"], TOKEN_NAME, "{label}");
        let url = format!("{}/v1/layers/{LAYER}/versions/3", server.base);
        let (status, error) = get_json(&client(), &url).await;
        assert_eq!(status, 404, "{label}: the dry run stored nothing: {error}");
        server.stop();
    }
}

/// Manifest layers synced at start-up get the same report, their diff
/// taken from the version active before.
#[tokio::test]
async fn manifest_versions_get_report() {
    for backend in backends("report_manifest").await {
        let label = backend.label();
        let files = LayerFiles::new("wards", "district");
        let sha1 = files.write(&districts(1, 2));
        Server::start(&files.manifest, &backend).stop();
        files.write(&districts(2, 3));
        let server = Server::start(&files.manifest, &backend);

        let first = version(&server, "wards", 1).await;
        assert_eq!(first["source_sha256"], sha1, "{label}");
        assert_eq!(first["diff"], Value::Null, "{label}: {first}");
        assert_eq!(first["imported_by"], "manifest", "{label}");
        assert_eq!(first["read_count"], 2, "{label}");
        let bbox = &first["bbox_wgs84"];
        assert_bbox(label, bbox, [-73.60, 45.50, -73.58, 45.51]);
        let second = version(&server, "wards", 2).await;
        let diff = &second["diff"];
        assert_eq!(diff["active_version"], 1, "{label}: {second}");
        assert_eq!(
            diff["added"]["ids"],
            json!(["v2-A", "v2-B", "v2-C"]),
            "{label}"
        );
        assert_eq!(diff["removed"]["ids"], json!(["v1-A", "v1-B"]), "{label}");
        assert_eq!(diff["geometry_changed"]["count"], 0, "{label}");
        assert_eq!(diff["properties_changed"]["count"], 0, "{label}");
        server.stop();
    }
}

#[tokio::test]
async fn version_route_errors() {
    for backend in backends("report_errors").await {
        let label = backend.label();
        let files = LayerFiles::new("wards", "district");
        files.write(&districts(1, 2));
        let server = Server::start(&files.manifest, &backend);
        let base = &server.base;

        for text in ["0", "two", "-1", "1.5", "+1", "4294967296"] {
            let url = format!("{base}/v1/layers/wards/versions/{text}");
            let (status, error) = get_json(&client(), &url).await;
            assert_eq!(status, 400, "{label} {text}: {error}");
            assert_eq!(error["error"]["field"], "version", "{label} {text}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(text), "{label}: {message}");
            assert!(
                message.contains("GET /v1/layers/wards/versions"),
                "{label}: {message}"
            );
        }
        for (path, field) in [
            ("wards/versions/%FF", "version"),
            ("%FF/versions/1", "name"),
        ] {
            let url = format!("{base}/v1/layers/{path}");
            let (status, error) = get_json(&client(), &url).await;
            assert_eq!(status, 400, "{label} {path}: {error}");
            assert_eq!(
                error["error"]["field"], field,
                "{label} {path}: invalid UTF-8"
            );
        }
        let cases = [("wards", 9, "9"), ("nowhere", 1, "nowhere")];
        for (layer, number, part) in cases {
            let url = format!("{base}/v1/layers/{layer}/versions/{number}");
            let (status, error) = get_json(&client(), &url).await;
            assert_eq!(status, 404, "{label} {layer} {number}: {error}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(layer), "{label}: {message}");
            assert!(message.contains(part), "{label}: {message}");
        }
        server.stop();
    }
}
