//! The response of `POST /v1/layers/{name}/import` and of the version it
//! stored, and its rejections of a `where` filter that leaves no feature
//! and of an unknown encoding, on a `repere serve` process on 127.0.0.1
//! with a GeoPackage store.

mod common;
mod versions_support;

use std::io::Write;

use serde_json::{Value, json};
use versions_support::{
    Backend, LayerFiles, Server, TOKEN, assert_version_repeats_import, backends, client, districts,
    get_json, post_import,
};

/// Every key of the import response, as README and the OpenAPI document
/// describe it.
const IMPORT_KEYS: [&str; 20] = [
    "layer",
    "kind",
    "dry_run",
    "version",
    "activated",
    "imported_by",
    "source_file",
    "source_sha256",
    "source_crs",
    "read_count",
    "filtered_count",
    "feature_count",
    "flattened_count",
    "bbox_wgs84",
    "invalid",
    "rejected",
    "synthetic_ids",
    "undecodable",
    "diff",
    "same_file_as",
];

/// The keys that only `GET /v1/layers/{name}/versions/{version}` has.
const VERSION_ONLY_KEYS: [&str; 11] = [
    "report_format",
    "origin",
    "imported_at",
    "active",
    "activated_at",
    "activated_by",
    "invalid_count",
    "repaired_count",
    "synthetic_id_count",
    "attribution",
    "licence",
];

/// Sends an import that stores and activates a version, and returns the
/// status and the JSON body.
async fn import(
    server: &Server,
    file_name: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let path_and_query = "/v1/layers/laval/import?activate=true";
    post_import(server, path_and_query, file_name, file, fields).await
}

/// Starts a server; the backend and files must outlive it.
async fn start_server() -> (Server, LayerFiles, Backend) {
    let backend = backends("report_http").await.into_iter().next().unwrap();
    assert_eq!(backend.label(), "geopackage");
    let files = LayerFiles::new("wards", "district");
    files.write(&districts(1, 2));
    let server = Server::start(&files.manifest, &backend);
    (server, files, backend)
}

/// The Laval districts Shapefile of data/, zipped.
fn zipped_laval() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for extension in ["shp", "shx", "dbf", "prj"] {
        let path = format!(
            "{}/data/laval-districts-2013/Laval-2465005.{extension}",
            env!("CARGO_MANIFEST_DIR")
        );
        zip.start_file(format!("Laval-2465005.{extension}"), options)
            .unwrap();
        zip.write_all(&std::fs::read(path).unwrap()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The fixture has 21 districts (`ogrinfo -so`), numbered 1 to 21.
#[tokio::test]
async fn filter_leaving_none_is_400() {
    let (server, _files, _backend) = start_server().await;
    let path = common::fixture("laval-districts-2013/qc_districts_laval_districts.geojson");
    let file = std::fs::read(&path).unwrap();
    let fields = [
        ("kind", "district"),
        ("id_field", "NO_DIS"),
        ("name_field", "NM_DIS"),
        ("where", "NO_DIS > 1000"),
    ];
    let (status, body) = import(&server, "districts.geojson", &file, &fields).await;
    let url = format!("{}/v1/layers/laval/versions", server.base);
    let versions = reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let versions_status = versions.status().as_u16();
    server.stop();

    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("leaves 0 of 21 features"), "{text}");
    assert!(text.contains("the form field `where`"), "{text}");
    assert_eq!(versions_status, 404, "no version of laval was stored");
}

#[tokio::test]
async fn unknown_encoding_is_400() {
    let (server, _files, _backend) = start_server().await;
    let fields = [
        ("kind", "district"),
        ("id_field", "NO_DIS"),
        ("name_field", "NM_DIS"),
        ("encoding", "KLINGON"),
    ];
    let (status, body) = import(&server, "laval.zip", &zipped_laval(), &fields).await;
    server.stop();

    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("KLINGON"), "{text}");
    assert!(text.contains("CP1252, ISO-8859-1 or UTF-8"), "{text}");
}

/// Imports the Laval districts numbered above 15, then all 21 from the
/// same file, and reads version 2 back. The districts added are those
/// `ogrinfo -sql "SELECT NO_DIS FROM \"Laval-2465005\" WHERE NO_DIS <= 15"`
/// lists: 1 to 15, which the diff sorts by number.
#[tokio::test]
async fn version_repeats_import_keys() {
    let (server, _files, _backend) = start_server().await;
    let fields = [
        ("kind", "district"),
        ("id_field", "NO_DIS"),
        ("name_field", "NM_DIS"),
    ];
    let mut filtered = fields.to_vec();
    filtered.push(("where", "NO_DIS > 15"));
    let zip = zipped_laval();
    let (status, first) = import(&server, "laval.zip", &zip, &filtered).await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = import(&server, "laval.zip", &zip, &fields).await;
    assert_eq!(status, 200, "{second}");
    let url = format!("{}/v1/layers/laval/versions/2", server.base);
    let (status, version) = get_json(&client(), &url).await;
    server.stop();

    assert_eq!(status, 200, "{version}");
    let expected: Vec<String> = (1..=15).map(|n| n.to_string()).collect();
    assert_eq!(second["diff"]["added"]["ids"], json!(expected), "{second}");
    assert_eq!(second["same_file_as"], 1, "the same zip as version 1");
    for key in IMPORT_KEYS {
        assert!(second.get(key).is_some(), "{key} in the import response");
    }
    assert_version_repeats_import("laval version 2", &version, &second);
    for key in VERSION_ONLY_KEYS {
        assert!(version.get(key).is_some(), "{key} in {version}");
    }
    assert_eq!(version["report_format"], 3, "{version}");
    assert!(version.get("report").is_none(), "no nested report");
}

/// Three hydrants, two of them with a height: GeoJSON positions of three
/// numbers, as exported by tools that keep the elevation.
#[tokio::test]
async fn heights_dropped_and_counted() {
    let (server, _files, _backend) = start_server().await;
    let features: Vec<Value> = [
        ("h1", json!([-73.60, 45.50, 31.5])),
        ("h2", json!([-73.61, 45.51])),
        ("h3", json!([-73.62, 45.52, 28.0])),
    ]
    .into_iter()
    .map(|(id, position)| {
        json!({
            "type": "Feature",
            "properties": {"id": id, "name": format!("hydrant {id}")},
            "geometry": {"type": "Point", "coordinates": position}
        })
    })
    .collect();
    let file =
        serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap();
    let fields = [
        ("kind", "asset"),
        ("id_field", "id"),
        ("name_field", "name"),
    ];
    let (status, body) = import(&server, "hydrants.geojson", &file, &fields).await;
    let version = body["version"].as_u64().unwrap_or_default();
    let url = format!("{}/v1/layers/laval/versions/{version}", server.base);
    let (version_status, stored) = get_json(&client(), &url).await;
    server.stop();

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["feature_count"], 3, "{body}");
    assert_eq!(body["flattened_count"], 2, "{body}");
    assert_eq!(body["rejected"], json!([]), "{body}");
    assert_eq!(
        body["bbox_wgs84"],
        json!([-73.62, 45.50, -73.60, 45.52]),
        "{body}"
    );
    assert_eq!(version_status, 200, "{stored}");
    assert_eq!(stored["flattened_count"], 2, "{stored}");
}
