//! Rejections of `POST /v1/layers/{name}/import` for a `where` filter that
//! leaves no feature and for an unknown encoding, on a `repere serve`
//! process on 127.0.0.1 with a GeoPackage store.

mod common;
mod versions_support;

use std::io::Write;

use serde_json::Value;
use versions_support::{Backend, LayerFiles, Server, TOKEN, backends, districts, post_import};

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
