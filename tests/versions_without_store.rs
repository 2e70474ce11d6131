//! A service whose layers come straight from files keeps no versions: its
//! responses name none, `as_of` is rejected and the version routes say why.

#[path = "http_support/mod.rs"]
mod http_support;

use http_support::{CENTRE_LAT, CENTRE_LON, assert_names, error_of, serve_catalog};
use serde_json::{Map, Value, json};

#[tokio::test]
async fn answers_name_no_version() {
    let base = serve_catalog().await;
    let body = json!({"lat": CENTRE_LAT, "lon": CENTRE_LON});
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/context"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    for entry in answer["layers"].as_array().unwrap() {
        assert!(entry.get("version").is_none(), "{entry}");
        assert!(entry.get("as_of_fallback").is_none(), "{entry}");
    }
    assert!(answer.get("as_of").is_none(), "{answer}");
}

#[tokio::test]
async fn as_of_rejected() {
    let base = serve_catalog().await;
    let client = reqwest::Client::new();
    let body = json!({"lat": CENTRE_LAT, "lon": CENTRE_LON, "as_of": "2026-11-01T00:00:00Z"});
    let response = client
        .post(format!("{base}/v1/context"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_names(&error_of(response, 400).await, "as_of", "keeps no versions");

    let batch = json!([{"lat": CENTRE_LAT, "lon": CENTRE_LON}, body]);
    let response = client
        .post(format!("{base}/v1/context/batch"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_names(
        &error_of(response, 400).await,
        "[1].as_of",
        "keeps no versions",
    );
}

#[tokio::test]
async fn version_routes_not_found() {
    let base = serve_catalog().await;
    for path in ["versions", "versions/1"] {
        let response = reqwest::get(format!("{base}/v1/layers/wards/{path}"))
            .await
            .unwrap();
        let error = error_of(response, 404).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("keeps no versions"), "{path}: {message}");
    }
}

#[tokio::test]
async fn openapi_documents_versions() {
    let base = serve_catalog().await;
    let response = reqwest::get(format!("{base}/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    let schemas = &document["components"]["schemas"];
    let properties = |schema: &str| schemas[schema]["properties"].clone();
    assert!(
        properties("ContextRequest")["as_of"].is_object(),
        "as_of in the request"
    );
    assert!(
        properties("ContextResponse")["as_of"].is_object(),
        "as_of in the response"
    );
    assert!(
        properties("LayerContext")["version"].is_object(),
        "version of a layer"
    );
    assert!(
        properties("LayerContext")["as_of_fallback"].is_object(),
        "as_of_fallback"
    );
    assert_eq!(schemas["AsOfFallback"]["enum"], json!(["first_version"]));
    assert!(
        properties("ActivateRequest")["version"].is_object(),
        "activation body"
    );
    let entry = properties("VersionEntry");
    for field in [
        "version",
        "source_file",
        "source_sha256",
        "feature_count",
        "invalid_count",
        "repaired_count",
        "imported_at",
        "activated_at",
        "activated_by",
        "origin",
        "active",
    ] {
        assert!(entry[field].is_object(), "{field} in a version entry");
    }
    let import = all_properties(schemas, "ImportReport");
    let detail = all_properties(schemas, "VersionDetail");
    for field in [
        "read_count",
        "invalid",
        "imported_by",
        "diff",
        "same_file_as",
    ] {
        assert!(import.contains_key(field), "{field} in an import report");
    }
    for (field, schema) in &import {
        if field == "dry_run" || field == "activated" {
            continue;
        }
        assert_eq!(
            detail.get(field),
            Some(schema),
            "{field} of a version detail as in an import report"
        );
    }
    for field in ["report_format", "active", "origin", "imported_at"] {
        assert!(detail.contains_key(field), "{field} in a version detail");
    }
    assert!(!detail.contains_key("report"), "no nested report");
    let route = &document["paths"]["/v1/layers/{name}/versions/{version}"]["get"];
    let body = &route["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(
        body["$ref"], "#/components/schemas/VersionDetail",
        "{route}"
    );
}

/// Returns the properties of schema `name`, with those of its `allOf`
/// parts and of the schemas they reference.
fn all_properties(schemas: &Value, name: &str) -> Map<String, Value> {
    let schema = &schemas[name];
    let mut properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        match part["$ref"].as_str() {
            Some(reference) => {
                let referenced = reference.rsplit('/').next().unwrap();
                properties.extend(all_properties(schemas, referenced));
            }
            None => properties.extend(part["properties"].as_object().cloned().unwrap_or_default()),
        }
    }
    properties
}
