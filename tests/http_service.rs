//! The service around the context routes over real HTTP: request ids,
//! readiness, the layer list, the OpenAPI document, limits and JSON errors.

mod http_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http_support::*;
use repere::http::{AppState, Settings};
use serde_json::{Value, json};

async fn get(url: String) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

#[tokio::test]
async fn request_id_generated() {
    let base = serve_catalog().await;
    let response = get(format!("{base}/health")).await;
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id:?} should be a UUID");
}

#[tokio::test]
async fn request_id_echoed() {
    let base = serve_catalog().await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{base}/health"))
        .header("x-request-id", "req-42.a:b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-42.a:b");
}

#[tokio::test]
async fn request_id_on_errors() {
    let base = serve_catalog().await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{base}/nowhere"))
        .header("x-request-id", "err-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "err-7");
}

#[tokio::test]
async fn invalid_request_id_replaced() {
    let base = serve_catalog().await;
    let client = reqwest::Client::new();
    for bad in ["has spaces", &"x".repeat(129), "semi;colon"] {
        let response = client
            .get(format!("{base}/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{bad:?} should be replaced by a UUID, got {id:?}"
        );
    }
}

#[tokio::test]
async fn health_always_ok() {
    let state = AppState::loading(settings());
    let base = serve(state).await;
    let response = get(format!("{base}/health")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
}

#[tokio::test]
async fn ready_after_install() {
    let state = AppState::loading(settings());
    let base = serve(state.clone()).await;

    let error = error_of(get(format!("{base}/ready")).await, 503).await;
    assert!(
        error["message"].as_str().unwrap().contains("still loading"),
        "{error}"
    );
    let context = get(format!("{base}/v1/context?lat=45.5&lon=-73.6")).await;
    assert_eq!(
        context.status(),
        503,
        "context before the layers are loaded"
    );

    state.install(catalog());
    let response = get(format!("{base}/ready")).await;
    assert_eq!(response.status(), 200);
    let context = get(format!("{base}/v1/context?lat=45.5&lon=-73.6")).await;
    assert_eq!(context.status(), 200);
}

#[tokio::test]
async fn layers_listed() {
    let base = serve_catalog().await;
    let response = get(format!("{base}/v1/layers")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let layers = body["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let wards = &layers[0];
    assert_eq!(wards["name"], "wards");
    assert_eq!(wards["kind"], "district");
    assert_eq!(wards["feature_count"], 2);
    assert_eq!(
        wards["bbox"],
        json!([-73.71, 45.5, -73.69, 45.51]),
        "the two squares' extent"
    );
    assert_eq!(wards["source_crs"], "EPSG:4326");
    assert_eq!(wards["invalid_count"], 0);
    assert_eq!(wards["synthetic_id_count"], 0);
    assert_eq!(wards["attribution"], "Test publisher");
    assert_eq!(wards["licence"], "CC0-1.0");
    assert_eq!(layers[1]["feature_count"], 3);
    assert_eq!(layers[2]["kind"], "work");
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let base = serve_catalog().await;
    let response = get(format!("{base}/openapi.json")).await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    let routes = [
        ("/v1/context", "post"),
        ("/v1/context", "get"),
        ("/v1/context/batch", "post"),
        ("/v1/layers", "get"),
        ("/v1/layers/{name}/versions", "get"),
        ("/v1/layers/{name}/versions/{version}", "get"),
        ("/v1/layers/{name}/activate", "post"),
        ("/v1/layers/{name}/import", "post"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/openapi.json", "get"),
    ];
    for (path, method) in routes {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} missing from the document"
        );
    }
    assert_eq!(
        document["paths"].as_object().unwrap().len(),
        10,
        "no undocumented or stale path"
    );
    for schema in [
        "ContextRequest",
        "ContextResponse",
        "ErrorBody",
        "LayerInfo",
        "LayerList",
        "ImportReport",
    ] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    let get_params = document["paths"]["/v1/context"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = get_params
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["lat", "lon", "at", "radius_m", "limit", "near_m", "layers"] {
        assert!(
            names.contains(&name),
            "query parameter {name} missing: {names:?}"
        );
    }
}

#[tokio::test]
async fn unknown_route_404() {
    let base = serve_catalog().await;
    let error = error_of(get(format!("{base}/v2/context")).await, 404).await;
    assert!(
        error["message"].as_str().unwrap().contains("/v2/context"),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_method_405() {
    let base = serve_catalog().await;
    let response = reqwest::Client::new()
        .delete(format!("{base}/v1/context"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST,GET,HEAD");
    let error = error_of(response, 405).await;
    assert!(
        error["message"].as_str().unwrap().contains("DELETE"),
        "{error}"
    );
}

#[tokio::test]
async fn text_body_415() {
    let base = serve_catalog().await;
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/context"))
        .header("content-type", "text/plain")
        .body("lat=45.5")
        .send()
        .await
        .unwrap();
    let error = error_of(response, 415).await;
    assert!(
        error["message"].as_str().unwrap().contains("text/plain"),
        "{error}"
    );
}

/// Posts a valid request padded with spaces to `len` bytes.
async fn post_padded(base: &str, len: usize) -> reqwest::Response {
    let mut body = String::from(r#"{"lat": 45.5, "lon": -73.6}"#);
    body.push_str(&" ".repeat(len - body.len()));
    reqwest::Client::new()
        .post(format!("{base}/v1/context"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn body_over_limit_413() {
    let base = serve_catalog().await;
    let error = error_of(post_padded(&base, 1024 * 1024 + 1).await, 413).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("1048576 bytes"), "{message}");
}

#[tokio::test]
async fn body_at_limit_accepted() {
    let base = serve_catalog().await;
    let response = post_padded(&base, 1024 * 1024).await;
    assert_eq!(response.status(), 200);
}

/// A client that sends half its body and stalls gets a JSON 408 once the
/// time-out passes; the test waits for it without timing it.
#[tokio::test]
async fn stalled_body_times_out() {
    let settings = Settings {
        request_timeout: Duration::from_secs(1),
        ..settings()
    };
    let base = serve(AppState::ready(catalog(), settings)).await;
    let address = base.trim_start_matches("http://").to_owned();

    let response = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let head = "POST /v1/context HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(b"{\"lat\": 45.5,").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();

    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("x-request-id: "), "{response}");
    assert!(
        response.contains(r#""message":"the request did not complete within 1 s"#),
        "{response}"
    );
}

#[tokio::test]
async fn invalid_layer_name_is_json() {
    let base = serve_catalog().await;
    let response = get(format!("{base}/v1/layers/%FF/versions")).await;
    let error = error_of(response, 400).await;
    assert_names(&error, "name", "Invalid UTF-8");
    assert_names(&error, "name", "percent-encoded UTF-8");
}
