//! The bound on a batch response, `max_batch_response_bytes`, set on the
//! command line of `repere serve` and enforced over real HTTP.

#[path = "serve_support/mod.rs"]
mod serve_support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// A bound far below the response of the large batch (20 requests of 100
/// stops, each stop about 300 bytes with its properties) and above that of
/// a batch of one request for one stop.
const LOW_BOUND_BYTES: usize = 4096;

/// Writes a manifest of the STM stops fixture in `dir`.
fn write_manifest(dir: &Path) -> std::path::PathBuf {
    let stops = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/montreal-stm-stops/stm_arrets_sig.geojson");
    let text = format!(
        "[[layer]]\nname = \"stops\"\nkind = \"asset\"\npath = {}\nid_field = \"stop_id\"\n\
         name_field = \"stop_name\"\n",
        Value::String(stops.display().to_string())
    );
    let path = dir.join("layers.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Returns a request at Berri-UQAM, in central Montréal, where hundreds of stops
/// lie within `radius_m`.
fn request(limit: u32) -> Value {
    json!({"lat": 45.5152, "lon": -73.5611, "radius_m": 2000, "limit": limit})
}

async fn post_batch(address: &str, batch: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{address}/v1/context/batch"))
        .json(batch)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn low_bound_flag_gives_413() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path());
    let state_dir = dir.path().join("state");
    let bound = LOW_BOUND_BYTES.to_string();
    let (mut server, address) = serve_support::start_serve([
        "--manifest".as_ref(),
        manifest.as_os_str(),
        "--state-dir".as_ref(),
        state_dir.as_os_str(),
        "--max-batch-response-bytes".as_ref(),
        bound.as_ref(),
    ]);

    let large: Vec<Value> = (0..20).map(|_| request(100)).collect();
    let (status, body) = post_batch(&address, &json!(large)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["status"], 413, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("4096 bytes"), "{message}");
    assert!(message.contains("max_batch_response_bytes"), "{message}");
    assert!(message.contains("split the batch"), "{message}");

    let (status, body) = post_batch(&address, &json!([request(1)])).await;
    assert_eq!(status, 200, "a batch under the bound: {body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");

    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn serve_help_lists_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_repere"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("--max-batch-response-bytes <BYTES>"),
        "{help}"
    );
    assert!(help.contains("REPERE_MAX_BATCH_RESPONSE_BYTES"), "{help}");
}
