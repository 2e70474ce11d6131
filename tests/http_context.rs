//! The context routes over real HTTP: responses, batches and every rejected input.

mod http_support;

use http_support::*;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(base: &str, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn post_raw(base: &str, path: &str, body: &str) -> reqwest::Response {
    client()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn get(base: &str, query: &str) -> reqwest::Response {
    client()
        .get(format!("{base}/v1/context?{query}"))
        .send()
        .await
        .unwrap()
}

fn centre() -> Value {
    json!({ "lat": CENTRE_LAT, "lon": CENTRE_LON, "at": DURING_R1 })
}

#[tokio::test]
async fn post_context_centre() {
    let base = serve_catalog().await;
    let response = post(&base, "/v1/context", centre()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();

    assert_eq!(
        body["point"],
        json!({ "lat": CENTRE_LAT, "lon": CENTRE_LON })
    );
    assert_eq!(body["h3"]["resolution"], 9);
    let names: Vec<&str> = body["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["wards", "hydrants", "roadworks"], "manifest order");

    let wards = &body["layers"][0];
    assert_eq!(wards["kind"], "district");
    assert_eq!(wards["attribution"], "Test publisher");
    assert_eq!(wards["features"].as_array().unwrap().len(), 1);
    assert_eq!(wards["features"][0]["id"], "W1");
    assert_eq!(wards["features"][0]["properties"]["label"], "WEST");
    let edge_m = wards["features"][0]["boundary_distance_m"]
        .as_f64()
        .unwrap();
    assert!(
        (edge_m - CENTRE_TO_EDGE_M).abs() < 0.002,
        "boundary distance {edge_m}"
    );
    assert_eq!(
        wards["features"][0]["neighbours"],
        json!([]),
        "east is 390 m away, over near_m 25"
    );

    let hydrants = &body["layers"][1]["features"];
    let ids: Vec<&str> = hydrants
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["H1", "H2"], "nearest first, H3 beyond 100 m");
    assert_eq!(hydrants[0]["distance_m"], 0.0);
    let h2_m = hydrants[1]["distance_m"].as_f64().unwrap();
    assert!((h2_m - CENTRE_TO_H2_M).abs() < 0.002, "H2 distance {h2_m}");

    let works = &body["layers"][2]["features"];
    assert_eq!(
        works.as_array().unwrap().len(),
        1,
        "only R1 is active: {works}"
    );
    assert_eq!(works[0]["id"], "R1");
    assert_eq!(works[0]["active_from"], "2026-12-01T00:00:00Z");
    assert_eq!(works[0]["active_until"], "2026-12-10T00:00:00Z");
}

#[tokio::test]
async fn get_context_with_layers() {
    let base = serve_catalog().await;
    let query = format!(
        "lat={CENTRE_LAT}&lon={CENTRE_LON}&limit=1&layers=roadworks,hydrants&at=2026-12-04T10%3A30%3A00-05%3A00"
    );
    let response = get(&base, &query).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let layers = body["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0]["name"], "hydrants",
        "manifest order, not request order"
    );
    assert_eq!(
        layers[0]["features"].as_array().unwrap().len(),
        1,
        "limit=1"
    );
    assert_eq!(layers[1]["name"], "roadworks");
    assert_eq!(layers[1]["features"][0]["id"], "R1");
}

#[tokio::test]
async fn point_outside_every_layer() {
    let base = serve_catalog().await;
    let response = post(&base, "/v1/context", json!({ "lat": -33.9, "lon": 151.2 })).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    for layer in body["layers"].as_array().unwrap() {
        assert_eq!(layer["features"], json!([]), "layer {}", layer["name"]);
    }
}

#[tokio::test]
async fn batch_keeps_order() {
    let base = serve_catalog().await;
    let requests = json!([
        { "lat": 45.505, "lon": -73.695 },
        { "lat": CENTRE_LAT, "lon": CENTRE_LON },
        { "lat": 0.0, "lon": 0.0 },
    ]);
    let response = post(&base, "/v1/context/batch", requests).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let answers = body.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["layers"][0]["features"][0]["id"], "E1");
    assert_eq!(answers[1]["layers"][0]["features"][0]["id"], "W1");
    assert_eq!(answers[2]["point"], json!({ "lat": 0.0, "lon": 0.0 }));
    assert_eq!(answers[2]["layers"][0]["features"], json!([]));
}

#[tokio::test]
async fn batch_invalid_item_named() {
    let base = serve_catalog().await;
    let mut requests = vec![centre(); 13];
    requests[12] = json!({ "lat": 91, "lon": -73.6 });
    let response = post(&base, "/v1/context/batch", Value::Array(requests)).await;
    let error = error_of(response, 400).await;
    assert_names(&error, "[12].lat", "[12].lat: 91 is out of range");
}

#[tokio::test]
async fn batch_item_missing_field() {
    let base = serve_catalog().await;
    let response = post(
        &base,
        "/v1/context/batch",
        json!([centre(), { "lat": 45.5 }]),
    )
    .await;
    let error = error_of(response, 400).await;
    assert_names(&error, "[1].lon", "missing field `lon`");
}

#[tokio::test]
async fn batch_of_1001_rejected() {
    let base = serve_catalog().await;
    let requests = vec![json!({ "lat": 45.5, "lon": -73.6 }); 1001];
    let response = post(&base, "/v1/context/batch", Value::Array(requests)).await;
    let error = error_of(response, 400).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("1001 requests"), "{message}");
    assert!(message.contains("maximum of 1000"), "{message}");
}

#[tokio::test]
async fn batch_of_1000_accepted() {
    let base = serve_catalog().await;
    let requests = vec![json!({ "lat": 45.5, "lon": -73.6 }); 1000];
    let response = post(&base, "/v1/context/batch", Value::Array(requests)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1000);
}

#[tokio::test]
async fn nan_latitude_rejected() {
    let base = serve_catalog().await;
    let error = error_of(get(&base, "lat=NaN&lon=-73.6").await, 400).await;
    assert_names(&error, "lat", "lat: NaN is not a finite number");
}

#[tokio::test]
async fn nan_literal_in_json_rejected() {
    let base = serve_catalog().await;
    let response = post_raw(&base, "/v1/context", r#"{"lat": NaN, "lon": -73.6}"#).await;
    let error = error_of(response, 400).await;
    assert_names(&error, "lat", "expected value");
}

#[tokio::test]
async fn latitude_91_rejected() {
    let base = serve_catalog().await;
    let error = error_of(
        post(&base, "/v1/context", json!({ "lat": 91, "lon": -73.6 })).await,
        400,
    )
    .await;
    assert_names(&error, "lat", "lat: 91 is out of range");
}

#[tokio::test]
async fn longitude_minus_181_rejected() {
    let base = serve_catalog().await;
    let error = error_of(
        post(&base, "/v1/context", json!({ "lat": 45.5, "lon": -181 })).await,
        400,
    )
    .await;
    assert_names(&error, "lon", "lon: -181 is out of range");
}

#[tokio::test]
async fn missing_latitude_rejected() {
    let base = serve_catalog().await;
    let error = error_of(
        post(&base, "/v1/context", json!({ "lon": -73.6 })).await,
        400,
    )
    .await;
    assert_names(&error, "lat", "missing field `lat`");
}

#[tokio::test]
async fn missing_latitude_in_query() {
    let base = serve_catalog().await;
    let error = error_of(get(&base, "lon=-73.6").await, 400).await;
    assert_names(&error, "lat", "missing field `lat`");
}

#[tokio::test]
async fn string_latitude_rejected() {
    let base = serve_catalog().await;
    let error = error_of(
        post(
            &base,
            "/v1/context",
            json!({ "lat": "north", "lon": -73.6 }),
        )
        .await,
        400,
    )
    .await;
    assert_names(&error, "lat", "invalid type: string \"north\"");
}

#[tokio::test]
async fn string_latitude_in_query() {
    let base = serve_catalog().await;
    let error = error_of(get(&base, "lat=north&lon=-73.6").await, 400).await;
    assert_names(&error, "lat", "\"north\" is invalid");
}

#[tokio::test]
async fn unknown_field_rejected() {
    let base = serve_catalog().await;
    let body = json!({ "lat": 45.5, "lon": -73.6, "radius": 50 });
    let error = error_of(post(&base, "/v1/context", body).await, 400).await;
    assert_names(&error, "radius", "unknown field `radius`");
}

#[tokio::test]
async fn radius_5001_rejected() {
    let base = serve_catalog().await;
    let body = json!({ "lat": 45.5, "lon": -73.6, "radius_m": 5001 });
    let error = error_of(post(&base, "/v1/context", body).await, 400).await;
    assert_names(
        &error,
        "radius_m",
        "5001 is over the maximum of 5000 metres",
    );
}

#[tokio::test]
async fn limit_101_rejected() {
    let base = serve_catalog().await;
    let error = error_of(get(&base, "lat=45.5&lon=-73.6&limit=101").await, 400).await;
    assert_names(&error, "limit", "101 is over the maximum of 100");
}

#[tokio::test]
async fn unknown_layer_rejected() {
    let base = serve_catalog().await;
    let error = error_of(
        get(&base, "lat=45.5&lon=-73.6&layers=wards,parks").await,
        400,
    )
    .await;
    assert_names(&error, "layers", "unknown layer \"parks\"");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("wards, hydrants, roadworks"),
        "lists the known layers: {message}"
    );
}

#[tokio::test]
async fn bad_at_rejected() {
    let base = serve_catalog().await;
    let body = json!({ "lat": 45.5, "lon": -73.6, "at": "2026-12-04 10:30" });
    let error = error_of(post(&base, "/v1/context", body).await, 400).await;
    assert_names(&error, "at", "\"2026-12-04 10:30\" is not an RFC 3339 date");
}

#[tokio::test]
async fn unencoded_plus_in_at_explained() {
    let base = serve_catalog().await;
    let error = error_of(
        get(&base, "lat=45.5&lon=-73.6&at=2026-12-04T10:30:00+05:00").await,
        400,
    )
    .await;
    assert_names(&error, "at", "\"2026-12-04T10:30:00 05:00\"");
    assert_names(&error, "at", "write the + of an offset as %2B");
}

#[tokio::test]
async fn encoded_plus_in_at_accepted() {
    let base = serve_catalog().await;
    let response = get(&base, "lat=45.5&lon=-73.6&at=2026-12-04T10:30:00%2B05:00").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["at"], "2026-12-04T10:30:00+05:00");
}

#[tokio::test]
async fn malformed_json_rejected() {
    let base = serve_catalog().await;
    let error = error_of(post_raw(&base, "/v1/context", "{\"lat\": 45.5,").await, 400).await;
    assert!(
        error["message"].as_str().unwrap().contains("EOF"),
        "{error}"
    );
}

#[tokio::test]
async fn empty_body_rejected() {
    let base = serve_catalog().await;
    let error = error_of(post_raw(&base, "/v1/context", "").await, 400).await;
    assert_eq!(error.get("field"), None, "no field to name: {error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON body"),
        "{error}"
    );
}

#[tokio::test]
async fn empty_layer_list_rejected() {
    let base = serve_catalog().await;
    for query in ["layers=", "layers=,,,", "layers=%20,%20"] {
        let response = get(&base, &format!("lat=45.5&lon=-73.6&{query}")).await;
        let error = error_of(response, 400).await;
        assert_names(&error, "layers", "omit layers for all layers");
    }
    let body = json!({ "lat": 45.5, "lon": -73.6, "layers": [] });
    let error = error_of(post(&base, "/v1/context", body).await, 400).await;
    assert_names(&error, "layers", "the list is empty");
}

#[tokio::test]
async fn layers_of_wrong_type_rejected() {
    let base = serve_catalog().await;
    let body = json!({ "lat": 45.5, "lon": -73.6, "layers": 5 });
    let error = error_of(post(&base, "/v1/context", body).await, 400).await;
    assert_names(&error, "layers", "`5`");
    assert_names(
        &error,
        "layers",
        "expected a list of layer names or a comma-separated string",
    );
}

#[tokio::test]
async fn layers_as_json_string_accepted() {
    let base = serve_catalog().await;
    let body = json!({ "lat": CENTRE_LAT, "lon": CENTRE_LON, "layers": "hydrants, wards" });
    let response = post(&base, "/v1/context", body).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["layers"][0]["name"], "wards");
    assert_eq!(body["layers"][1]["name"], "hydrants");
}

#[tokio::test]
async fn number_out_of_range_named() {
    let base = serve_catalog().await;
    let body = r#"{"lat": 1e400, "lon": -73.6}"#;
    let error = error_of(post_raw(&base, "/v1/context", body).await, 400).await;
    assert_names(&error, "lat", "1e400");
}

/// Sends only the headers of a request that declares a body of `length`
/// bytes, and returns the status line of the response.
async fn status_of_declared_length(base: &str, path: &str, length: usize) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut status_line = String::new();
    BufReader::new(stream)
        .read_line(&mut status_line)
        .await
        .unwrap();
    status_line
}

#[tokio::test]
async fn declared_length_over_limit_rejected() {
    let base = serve_catalog().await;
    let over_limit = settings().max_body_bytes + 1;
    for path in ["/v1/context", "/v1/context/batch"] {
        let status_line = status_of_declared_length(&base, path, over_limit).await;
        assert!(
            status_line.starts_with("HTTP/1.1 413"),
            "{path}: {status_line:?}"
        );
    }
}

#[tokio::test]
async fn batch_response_over_limit_rejected() {
    let settings = repere::http::Settings {
        max_batch_response_bytes: 4096,
        ..settings()
    };
    let base = serve(repere::http::AppState::ready(catalog(), settings)).await;
    let batch: Vec<Value> = (0..50).map(|_| centre()).collect();
    let response = post(&base, "/v1/context/batch", json!(batch)).await;
    let error = error_of(response, 413).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("4096 bytes"), "{message}");
    assert!(message.contains("split the batch"), "{message}");

    let small: Vec<Value> = (0..2).map(|_| centre()).collect();
    let response = post(&base, "/v1/context/batch", json!(small)).await;
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.unwrap();
    assert_eq!(answers.as_array().unwrap().len(), 2);
}
