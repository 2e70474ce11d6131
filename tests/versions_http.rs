//! Layer versions through `repere serve`: `as_of`, the version routes and a
//! restart, on the GeoPackage and on PostGIS.
//!
//! Version 1 of the `wards` layer has districts `v1-A` and `v1-B`, version
//! 2 has `v2-A`, `v2-B` and `v2-C`: the ids in an answer tell which version
//! it came from, and the counts and hashes come from the files written here.

mod versions_support;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use versions_support::{
    Backend, LayerFiles, POINT_LAT, POINT_LON, Server, TOKEN_NAME, backends, client, districts,
    feature_ids, get_json, layer_entry, post_json,
};

const LAYER: &str = "wards";

/// Returns the context at the test point, with `as_of` when given.
async fn context(server: &Server, as_of: Option<&DateTime<Utc>>) -> Value {
    let mut body = json!({"lat": POINT_LAT, "lon": POINT_LON});
    if let Some(as_of) = as_of {
        body["as_of"] = json!(as_of.to_rfc3339());
    }
    let (status, answer) =
        post_json(&client(), &format!("{}/v1/context", server.base), &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Checks that `answer` comes from version `version` of the wards.
fn assert_version(answer: &Value, version: u32, label: &str) {
    let entry = layer_entry(answer, LAYER);
    assert_eq!(entry["version"], version, "{label}: version in {entry}");
    assert_eq!(
        feature_ids(answer, LAYER),
        vec![format!("v{version}-A")],
        "{label}: districts at the point"
    );
}

async fn versions(server: &Server, query: &str) -> Value {
    let url = format!("{}/v1/layers/{LAYER}/versions{query}", server.base);
    let (status, list) = get_json(&client(), &url).await;
    assert_eq!(status, 200, "{list}");
    list
}

/// An instant between the activations of versions 1 and 2, and the SHA-256
/// of both source files.
struct Steps {
    between: DateTime<Utc>,
    sha256: [String; 2],
}

/// Serves version 1, then restarts on version 2 of the source file.
async fn two_versions(files: &LayerFiles, backend: &Backend) -> (Server, Steps) {
    let sha1 = files.write(&districts(1, 2));
    let server = Server::start(&files.manifest, backend);
    assert_version(&context(&server, None).await, 1, backend.label());
    server.stop();
    let between = Utc::now();

    let sha2 = files.write(&districts(2, 3));
    let server = Server::start(&files.manifest, backend);
    let steps = Steps {
        between,
        sha256: [sha1, sha2],
    };
    (server, steps)
}

#[tokio::test]
async fn as_of_picks_version_active_then() {
    for backend in backends("as_of").await {
        let label = backend.label();
        let files = LayerFiles::new(LAYER, "district");
        let (server, steps) = two_versions(&files, &backend).await;
        let after_v2 = Utc::now();

        assert_version(&context(&server, None).await, 2, label);
        assert_version(&context(&server, Some(&steps.between)).await, 1, label);
        let before_all: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
        let early = context(&server, Some(&before_all)).await;
        assert_version(&early, 1, label);
        assert_eq!(
            layer_entry(&early, LAYER)["as_of_fallback"],
            "first_version",
            "{label}: before the first activation"
        );
        assert!(
            layer_entry(&context(&server, None).await, LAYER)
                .get("as_of_fallback")
                .is_none(),
            "{label}: no fallback without as_of"
        );
        let between = steps.between.to_rfc3339().replace('+', "%2B");
        let url = format!(
            "{}/v1/context?lat={POINT_LAT}&lon={POINT_LON}&as_of={between}",
            server.base
        );
        let (status, answer) = get_json(&client(), &url).await;
        assert_eq!(status, 200, "{label}: {answer}");
        assert_version(&answer, 1, label);

        let url = format!("{}/v1/layers/{LAYER}/activate", server.base);
        let (status, activation) = post_json(&client(), &url, &json!({"version": 1})).await;
        assert_eq!(status, 200, "{label}: {activation}");
        assert_eq!(activation["version"], 1, "{label}");
        assert_eq!(activation["previous"], 2, "{label}");
        assert_eq!(activation["activated_by"], TOKEN_NAME, "{label}");
        assert_version(&context(&server, None).await, 1, label);
        assert_version(&context(&server, Some(&after_v2)).await, 2, label);
        assert_version(&context(&server, Some(&Utc::now())).await, 1, label);
        server.stop();
    }
}

#[tokio::test]
async fn batch_items_use_their_as_of() {
    for backend in backends("batch").await {
        let label = backend.label();
        let files = LayerFiles::new(LAYER, "district");
        let (server, steps) = two_versions(&files, &backend).await;
        let point = json!({"lat": POINT_LAT, "lon": POINT_LON});
        let mut old = point.clone();
        old["as_of"] = json!(steps.between.to_rfc3339());
        let body = json!([point, old, point]);
        let url = format!("{}/v1/context/batch", server.base);
        let (status, answers) = post_json(&client(), &url, &body).await;
        assert_eq!(status, 200, "{label}: {answers}");
        assert_version(&answers[0], 2, label);
        assert_version(&answers[1], 1, label);
        assert_version(&answers[2], 2, label);

        let bad = json!([point, {"lat": POINT_LAT, "lon": POINT_LON, "as_of": "yesterday"}]);
        let (status, error) = post_json(&client(), &url, &bad).await;
        assert_eq!(status, 400, "{label}: {error}");
        assert_eq!(error["error"]["field"], "[1].as_of", "{label}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("\"yesterday\""), "{label}: {message}");
        server.stop();
    }
}

#[tokio::test]
async fn versions_listed_newest_first() {
    for backend in backends("list").await {
        let label = backend.label();
        let files = LayerFiles::new(LAYER, "district");
        let (server, steps) = two_versions(&files, &backend).await;

        let list = versions(&server, "").await;
        assert_eq!(list["total"], 2, "{label}: {list}");
        let entries = list["versions"].as_array().unwrap();
        let numbers: Vec<&Value> = entries.iter().map(|v| &v["version"]).collect();
        assert_eq!(numbers, [2, 1], "{label}");
        assert_eq!(entries[0]["feature_count"], 3, "{label}");
        assert_eq!(entries[1]["feature_count"], 2, "{label}");
        assert_eq!(entries[0]["source_sha256"], steps.sha256[1], "{label}");
        assert_eq!(entries[1]["source_sha256"], steps.sha256[0], "{label}");
        assert_eq!(entries[0]["source_file"], "wards.geojson", "{label}");
        assert_eq!(entries[0]["active"], true, "{label}");
        assert_eq!(entries[1]["active"], false, "{label}");
        assert_eq!(entries[0]["origin"], "manifest", "{label}");
        assert_eq!(entries[0]["activated_by"], "manifest", "{label}");
        assert_eq!(entries[0]["invalid_count"], 0, "{label}");
        assert_eq!(entries[0]["repaired_count"], 0, "{label}");
        let imported: DateTime<Utc> = entries[0]["imported_at"].as_str().unwrap().parse().unwrap();
        assert!(
            imported > steps.between,
            "{label}: v2 imported after the restart"
        );

        let second = versions(&server, "?page=2&per_page=1").await;
        let numbers: Vec<&Value> = second["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["version"])
            .collect();
        assert_eq!(numbers, [1], "{label}: page 2 of 1 per page");
        let third = versions(&server, "?page=3&per_page=1").await;
        assert_eq!(third["versions"], json!([]), "{label}: past the last page");
        server.stop();
    }
}

#[tokio::test]
async fn version_errors_name_value() {
    for backend in backends("errors").await {
        let label = backend.label();
        let files = LayerFiles::new(LAYER, "district");
        files.write(&districts(1, 2));
        let server = Server::start(&files.manifest, &backend);
        let base = &server.base;
        let client = client();

        let cases = [
            (
                format!("{base}/v1/layers/{LAYER}/activate"),
                json!({"version": 9}),
                404,
                None,
                "9",
            ),
            (
                format!("{base}/v1/layers/nowhere/activate"),
                json!({"version": 1}),
                404,
                None,
                "nowhere",
            ),
            (
                format!("{base}/v1/layers/{LAYER}/activate"),
                json!({"version": "two"}),
                400,
                Some("version"),
                "two",
            ),
            (
                format!("{base}/v1/layers/{LAYER}/activate"),
                json!({"versoin": 1}),
                400,
                Some("versoin"),
                "versoin",
            ),
            (
                format!("{base}/v1/context"),
                json!({"lat": 45.5, "lon": -73.6, "as_of": "2026-11-01"}),
                400,
                Some("as_of"),
                "2026-11-01",
            ),
        ];
        for (url, body, status, field, part) in cases {
            let (got, error) = post_json(&client, &url, &body).await;
            assert_eq!(got, status, "{label}: {url} {body}: {error}");
            assert_eq!(error["error"]["field"].as_str(), field, "{label}: {body}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(part), "{label}: {message}");
        }

        let (status, error) =
            get_json(&client, &format!("{base}/v1/layers/nowhere/versions")).await;
        assert_eq!(status, 404, "{label}: {error}");
        let url = format!("{base}/v1/layers/{LAYER}/versions?per_page=0");
        let (status, error) = get_json(&client, &url).await;
        assert_eq!(status, 400, "{label}: {error}");
        assert_eq!(error["error"]["field"], "per_page", "{label}");
        server.stop();
    }
}

#[tokio::test]
async fn restart_keeps_versions() {
    for backend in backends("restart").await {
        let label = backend.label();
        let files = LayerFiles::new(LAYER, "district");
        let (server, _) = two_versions(&files, &backend).await;
        let url = format!("{}/v1/layers/{LAYER}/activate", server.base);
        let (status, activation) = post_json(&client(), &url, &json!({"version": 1})).await;
        assert_eq!(status, 200, "{label}: {activation}");
        let listed = versions(&server, "").await;
        let (_, layers) = get_json(&client(), &format!("{}/v1/layers", server.base)).await;
        server.stop();

        let server = Server::start(&files.manifest, &backend);
        assert_eq!(
            versions(&server, "").await,
            listed,
            "{label}: versions after restart"
        );
        assert_version(&context(&server, None).await, 1, label);
        let (_, layers_again) = get_json(&client(), &format!("{}/v1/layers", server.base)).await;
        assert_eq!(layers_again, layers, "{label}: /v1/layers after restart");
        assert_eq!(layers_again["layers"][0]["feature_count"], 2, "{label}");
        server.stop();
    }
}

/// Past versions are cached by least recent use, at most 8 of them: the
/// log line "past layer version loaded" counts the reads from the store.
#[tokio::test]
async fn as_of_cache_bounded() {
    for backend in backends("cache").await {
        let label = backend.label();
        let files = LayerFiles::new(LAYER, "district");
        let mut instants = Vec::new();
        for version in 1..=10 {
            files.write(&districts(version, 2));
            let server = Server::start(&files.manifest, &backend);
            instants.push(Utc::now());
            server.stop();
        }
        let server = Server::start(&files.manifest, &backend);
        for (i, instant) in instants.iter().enumerate().take(9) {
            assert_version(&context(&server, Some(instant)).await, i as u32 + 1, label);
        }
        assert_version(&context(&server, Some(&instants[8])).await, 9, label);
        assert_version(&context(&server, Some(&instants[9])).await, 10, label);
        assert_version(&context(&server, Some(&instants[0])).await, 1, label);
        let log = server.stop_with_log();

        let reads = log
            .iter()
            .filter(|line| line.contains("past layer version loaded"))
            .count();
        // Versions 1 to 9 once each; 9 again is cached, 10 is the served
        // one, and 1 was evicted when 9 was read.
        assert_eq!(reads, 10, "{label}: reads from the store");
    }
}
