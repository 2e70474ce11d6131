//! `repere layers` on manifests that cannot serve anything: no layer at all,
//! or a layer whose every feature is rejected. The manifests and GeoJSON
//! files are written in a temporary folder.

use std::path::Path;
use std::process::{Command, Output};

fn layers(manifest: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repere"))
        .arg("layers")
        .arg("--manifest")
        .arg(manifest)
        .env("REPERE_LOG", "warn")
        .env_remove("REPERE_CONFIG")
        .env_remove("REPERE_MANIFEST")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn manifest_without_layers_fails() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("layers.toml");
    std::fs::write(&manifest, "# no layers\n").unwrap();

    let output = layers(&manifest);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has no [[layer]] table"), "{stderr}");
    assert!(stderr.contains(&manifest.display().to_string()), "{stderr}");
}

/// Two points declared as a district layer: a district needs a polygon, so
/// both features are rejected and the layer would be empty.
#[test]
fn district_of_points_fails() {
    let dir = tempfile::tempdir().unwrap();
    let points = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a", "name": "A"},
         "geometry": {"type": "Point", "coordinates": [-73.55, 45.5]}},
        {"type": "Feature", "properties": {"id": "b", "name": "B"},
         "geometry": {"type": "Point", "coordinates": [-73.56, 45.51]}}
    ]}"#;
    std::fs::write(dir.path().join("points.geojson"), points).unwrap();
    let manifest = dir.path().join("layers.toml");
    let text = "[[layer]]\nname = \"wards\"\nkind = \"district\"\npath = \"points.geojson\"\n\
                id_field = \"id\"\nname_field = \"name\"\n";
    std::fs::write(&manifest, text).unwrap();

    let output = layers(&manifest);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("layer \"wards\""), "{stderr}");
    assert!(stderr.contains("all 2 features were rejected"), "{stderr}");
    assert!(stderr.contains("feature 0"), "{stderr}");
}
