//! Geometry problems and CRS hints of an import through
//! `POST /v1/layers/{name}/import`, on a `repere serve` process on
//! 127.0.0.1 with a GeoPackage store. Expected values are worked out by
//! hand from the files (tests/fixtures/geometry-problems/README.md).

mod common;
mod versions_support;

use serde_json::Value;
use versions_support::{Backend, LayerFiles, Server, backends, districts, post_import};

/// Sends a dry-run import of the fixture `relative` as layer `layer` and
/// returns the status and the JSON body.
async fn dry_run(
    server: &Server,
    layer: &str,
    relative: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let path = common::fixture(relative);
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let file = std::fs::read(&path).unwrap();
    let path_and_query = format!("/v1/layers/{layer}/import?dry_run=true");
    post_import(server, &path_and_query, &file_name, &file, fields).await
}

async fn geopackage_server() -> (Server, LayerFiles, Backend) {
    let backend = backends("problems_http").await.into_iter().next().unwrap();
    assert_eq!(backend.label(), "geopackage");
    let files = LayerFiles::new("wards", "district");
    files.write(&districts(1, 2));
    let server = Server::start(&files.manifest, &backend);
    (server, files, backend)
}

#[tokio::test]
async fn http_report_lists_problems() {
    let (server, _files, _backend) = geopackage_server().await;
    let fields = [
        ("kind", "district"),
        ("id_field", "code"),
        ("name_field", "code"),
    ];
    let (status, report) = dry_run(
        &server,
        "problems",
        "geometry-problems/polygons.geojson",
        &fields,
    )
    .await;
    server.stop();

    assert_eq!(status, 200, "{report}");
    assert_eq!(report["read_count"], 14);
    assert_eq!(report["feature_count"], 6);

    let invalid = report["invalid"].as_array().unwrap();
    let entries: Vec<(&str, &str)> = invalid
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["problem"].as_str().unwrap()))
        .collect();
    assert_eq!(entries.len(), 14, "{entries:?}");
    assert_eq!(entries[0], ("unclosed", "unclosed_ring"));
    assert_eq!(entries[2], ("unclosed_bow_tie", "self_intersection"));
    assert_eq!(entries[5], ("multi_short_shell", "ring_under_4_points"));
    assert_eq!(entries[9], ("nan_vertex", "non_finite_coordinate"));
    assert_eq!(entries[11], ("problems:10", "empty"));

    let rejected = report["rejected"].as_array().unwrap();
    let ids: Vec<&str> = rejected.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let expected = [
        "three_points",
        "null",
        "empty_multi",
        "nan_vertex",
        "infinite_vertex",
        "problems:10",
        "reused",
        "repeated_points",
    ];
    assert_eq!(ids, expected);
}

/// laval.geojson contains UTM metres without a `crs` member.
#[tokio::test]
async fn http_crs_hint_names_form_field() {
    let (server, _files, _backend) = geopackage_server().await;
    let fields = [
        ("kind", "district"),
        ("id_field", "display_name"),
        ("name_field", "display_name"),
    ];
    let (status, body) = dry_run(&server, "laval", "laval-territory/laval.geojson", &fields).await;
    server.stop();

    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("set the form field `crs` to it"), "{text}");
    assert!(text.contains("crs=EPSG:32618"), "{text}");
    assert!(!text.contains("manifest"), "{text}");
}
