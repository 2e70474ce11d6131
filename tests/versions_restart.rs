//! A layer imported through the API, not named in the manifest, is served
//! from the first request after a restart: the server loads every active
//! version of its store before `/ready` returns 200.

mod versions_support;

use serde_json::{Value, json};
use versions_support::{
    LayerFiles, POINT_LAT, POINT_LON, Server, backends, client, districts, feature_ids, get_json,
    post_import, post_json,
};

/// The layer of the manifest, and the one imported through the API.
const MANIFEST_LAYER: &str = "wards";
const IMPORTED_LAYER: &str = "hydrants";

/// Two hydrants, one of them 0.001° east of the test point: about 78 m at
/// latitude 45.5.
fn hydrants() -> Vec<u8> {
    let features = [("h1", POINT_LON + 0.001), ("h2", POINT_LON + 0.05)]
        .map(|(id, lon)| {
            json!({
                "type": "Feature",
                "properties": {"id": id, "name": format!("hydrant {id}")},
                "geometry": {"type": "Point", "coordinates": [lon, POINT_LAT]}
            })
        })
        .to_vec();
    serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap()
}

async fn import_hydrants(server: &Server) -> Value {
    let path_and_query = format!("/v1/layers/{IMPORTED_LAYER}/import?activate=true");
    let fields = [
        ("kind", "asset"),
        ("id_field", "id"),
        ("name_field", "name"),
    ];
    let (status, report) = post_import(
        server,
        &path_and_query,
        "hydrants.geojson",
        &hydrants(),
        &fields,
    )
    .await;
    assert_eq!(status, 200, "import: {report}");
    report
}

/// Posts a context request at the test point for both layers and returns
/// the status and the body.
async fn context(server: &Server) -> (u16, Value) {
    let body = json!({
        "lat": POINT_LAT,
        "lon": POINT_LON,
        "layers": [MANIFEST_LAYER, IMPORTED_LAYER],
    });
    post_json(&client(), &format!("{}/v1/context", server.base), &body).await
}

#[tokio::test]
async fn imported_layer_served_once_ready() {
    for backend in backends("versions_restart").await {
        let label = backend.label();
        let files = LayerFiles::new(MANIFEST_LAYER, "district");
        files.write(&districts(1, 2));

        let server = Server::start(&files.manifest, &backend);
        let report = import_hydrants(&server).await;
        assert_eq!(report["activated"], true, "{label}: {report}");
        let (status, before) = context(&server).await;
        assert_eq!(status, 200, "{label}: context before the restart: {before}");
        server.stop();

        // `Server::start` returns once the server logs `ready`; the first
        // request follows at once, well before the activation watcher's
        // first check (REPERE_VERSION_CHECK_S = 5 in the test servers).
        let server = Server::start(&files.manifest, &backend);
        let (status, after) = context(&server).await;
        assert_eq!(status, 200, "{label}: context right after ready: {after}");
        assert_eq!(
            feature_ids(&after, IMPORTED_LAYER),
            feature_ids(&before, IMPORTED_LAYER),
            "{label}: hydrants before and after the restart"
        );
        assert!(
            feature_ids(&after, IMPORTED_LAYER).contains(&"h1".to_owned()),
            "{label}: nearest hydrant in {after}"
        );

        let url = format!("{}/v1/layers", server.base);
        let (status, layers) = get_json(&client(), &url).await;
        assert_eq!(status, 200, "{label}: {layers}");
        let names: Vec<&str> = layers["layers"]
            .as_array()
            .unwrap_or_else(|| panic!("{label}: no layers in {layers}"))
            .iter()
            .filter_map(|layer| layer["name"].as_str())
            .collect();
        assert_eq!(
            names,
            vec![MANIFEST_LAYER, IMPORTED_LAYER],
            "{label}: served layers, manifest first"
        );
        server.stop();
    }
}
