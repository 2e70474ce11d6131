//! Context requests while a 100,000-feature asset layer changes version:
//! each response comes wholly from the old or wholly from the new version.
//!
//! The layer is the STM's bus and metro stops (tests/fixtures/
//! montreal-stm-stops), replicated twelve times with offsets of 0.0003°
//! (about 30 m): 106,428 points. Version 1 has ids `v1-…`, version 2 `v2-…`.

mod versions_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;
use versions_support::{Backend, LayerFiles, Server, backends, client, layer_entry, post_json};

const LAYER: &str = "stops";
const REPLICAS: usize = 12;
const CLIENTS: usize = 4;

/// Berri-UQAM, where stops of every replica are within the search radius.
const POINT: (f64, f64) = (-73.5610, 45.5153);

fn stm_stops() -> Vec<(f64, f64)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/montreal-stm-stops/stm_arrets_sig.geojson"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let collection: Value = serde_json::from_str(&text).unwrap();
    collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|feature| {
            let coordinates = &feature["geometry"]["coordinates"];
            (
                coordinates[0].as_f64().unwrap(),
                coordinates[1].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The replicated stops of `version`, with ids `v{version}-{replica}-{n}`.
fn replicated(stops: &[(f64, f64)], version: u32) -> Value {
    let mut features = Vec::with_capacity(stops.len() * REPLICAS);
    for replica in 0..REPLICAS {
        let offset = 0.0003 * replica as f64;
        for (n, (lon, lat)) in stops.iter().enumerate() {
            features.push(json!({
                "type": "Feature",
                "properties": {"id": format!("v{version}-{replica}-{n}"), "name": format!("stop {n}")},
                "geometry": {"type": "Point", "coordinates": [lon + offset, lat + offset]}
            }));
        }
    }
    json!({"type": "FeatureCollection", "features": features})
}

/// Responses per version and the longest response time seen by the clients.
#[derive(Default)]
struct Seen {
    answers: [usize; 2],
    longest: Duration,
}

/// Requests the context at [`POINT`] until `stop`, checking each response.
async fn query_until(base: String, stop: Arc<AtomicBool>) -> Seen {
    let client = client();
    let body = json!({"lat": POINT.1, "lon": POINT.0, "radius_m": 200, "limit": 20});
    let url = format!("{base}/v1/context");
    let mut seen = Seen::default();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let (status, answer) = post_json(&client, &url, &body).await;
        seen.longest = seen.longest.max(started.elapsed());
        assert_eq!(status, 200, "{answer}");
        let version = check_one_version(&answer);
        seen.answers[version as usize - 1] += 1;
    }
    seen
}

/// Checks that every feature of the answer carries the id prefix of the
/// version the layer entry names, and returns that version.
fn check_one_version(answer: &Value) -> u64 {
    let entry = layer_entry(answer, LAYER);
    let version = entry["version"]
        .as_u64()
        .expect("the entry names its version");
    let prefix = format!("v{version}-");
    let features = entry["features"].as_array().unwrap();
    assert_eq!(features.len(), 20, "stops within 200 m: {entry}");
    for feature in features {
        let id = feature["id"].as_str().unwrap();
        assert!(
            id.starts_with(&prefix),
            "{id} in an answer of version {version}"
        );
    }
    version
}

async fn activate(server: &Server, version: u32) -> Duration {
    let started = Instant::now();
    let url = format!("{}/v1/layers/{LAYER}/activate", server.base);
    let (status, activation) = post_json(&client(), &url, &json!({"version": version})).await;
    assert_eq!(status, 200, "{activation}");
    started.elapsed()
}

async fn swap_under_load(backend: &Backend, files: &LayerFiles) {
    let server = Server::start(&files.manifest, backend);
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = JoinSet::new();
    for _ in 0..CLIENTS {
        clients.spawn(query_until(server.base.clone(), Arc::clone(&stop)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rollback = activate(&server, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let forward = activate(&server, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = Seen::default();
    while let Some(seen) = clients.join_next().await {
        let seen = seen.expect("a client task panicked");
        total.answers[0] += seen.answers[0];
        total.answers[1] += seen.answers[1];
        total.longest = total.longest.max(seen.longest);
    }
    let label = backend.label();
    println!(
        "{label}: {} answers from version 1, {} from version 2; longest response {} ms; \
         activation of version 1 took {} ms, of version 2 {} ms",
        total.answers[0],
        total.answers[1],
        total.longest.as_millis(),
        rollback.as_millis(),
        forward.as_millis()
    );
    assert!(total.answers[0] > 0, "{label}: no answer from version 1");
    assert!(total.answers[1] > 0, "{label}: no answer from version 2");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_never_mixes_versions() {
    let stops = stm_stops();
    for backend in backends("swap").await {
        let files = LayerFiles::new(LAYER, "asset");
        files.write(&replicated(&stops, 1));
        let started = Instant::now();
        Server::start(&files.manifest, &backend).stop();
        println!(
            "{}: version 1 imported in {} ms",
            backend.label(),
            started.elapsed().as_millis()
        );
        files.write(&replicated(&stops, 2));
        swap_under_load(&backend, &files).await;
    }
}
