//! Two `repere serve` processes on one PostGIS database: an activation on
//! one reaches the other through `NOTIFY` or the periodic check.

mod versions_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use versions_support::{
    LayerFiles, POINT_LAT, POINT_LON, Server, client, districts, feature_ids, layer_entry,
    post_json, postgis,
};

const LAYER: &str = "wards";

async fn served_version(server: &Server) -> Value {
    let body = json!({"lat": POINT_LAT, "lon": POINT_LON});
    let (status, answer) =
        post_json(&client(), &format!("{}/v1/context", server.base), &body).await;
    assert_eq!(status, 200, "{answer}");
    let version = layer_entry(&answer, LAYER)["version"].clone();
    let ids = feature_ids(&answer, LAYER);
    assert_eq!(
        ids,
        vec![format!("v{version}-A")],
        "ids of version {version}"
    );
    version
}

/// Activates `version` on `from` and polls `to` until it serves it.
/// Returns the delay from the activation's response to the first response
/// of `to` with that version.
async fn propagate(from: &Server, to: &Server, version: u32) -> Duration {
    let url = format!("{}/v1/layers/{LAYER}/activate", from.base);
    let (status, activation) = post_json(&client(), &url, &json!({"version": version})).await;
    assert_eq!(status, 200, "{activation}");
    let activated = Instant::now();
    // The periodic check runs every 5 s, so 60 s means the watcher is stuck.
    while served_version(to).await != version {
        assert!(
            activated.elapsed() < Duration::from_secs(60),
            "version {version} did not reach the second instance"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    activated.elapsed()
}

#[tokio::test]
async fn activation_reaches_other_instance() {
    let backend = postgis("instances").await;
    let files = LayerFiles::new(LAYER, "district");
    files.write(&districts(1, 2));
    Server::start(&files.manifest, &backend).stop();
    files.write(&districts(2, 3));
    let first = Server::start(&files.manifest, &backend);
    let second = Server::start(&files.manifest, &backend);
    assert_eq!(served_version(&first).await, 2);
    assert_eq!(served_version(&second).await, 2);

    let rollback = propagate(&first, &second, 1).await;
    let forward = propagate(&second, &first, 2).await;
    println!(
        "propagation delay: rollback first -> second {} ms, roll forward second -> first {} ms",
        rollback.as_millis(),
        forward.as_millis()
    );
    assert_eq!(served_version(&first).await, 2);
    assert_eq!(served_version(&second).await, 2);
    first.stop();
    second.stop();
}
