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

/// Three works in Toronto time: one active in July 2024, one with neither a
/// start nor an end, and one that starts in the hour skipped on 2024-03-10
/// (02:30 is read as 03:30 EDT) and so ends when it starts.
#[test]
fn works_without_bounds_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let works = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "properties": {"id": "w1", "name": "A", "start": "2024-07-01", "end": "2024-07-31"},
         "geometry": {"type": "Point", "coordinates": [-73.55, 45.5]}},
        {"type": "Feature",
         "properties": {"id": "w2", "name": "B", "start": null, "end": null},
         "geometry": {"type": "Point", "coordinates": [-73.56, 45.51]}},
        {"type": "Feature",
         "properties": {"id": "w3", "name": "C", "start": "2024-03-10 02:30:00",
                        "end": "2024-03-10 03:30:00"},
         "geometry": {"type": "Point", "coordinates": [-73.57, 45.52]}}
    ]}"#;
    std::fs::write(dir.path().join("works.geojson"), works).unwrap();
    let manifest = dir.path().join("layers.toml");
    let text = "[[layer]]\nname = \"works\"\nkind = \"work\"\npath = \"works.geojson\"\n\
                id_field = \"id\"\nname_field = \"name\"\nstart_field = \"start\"\n\
                end_field = \"end\"\n";
    std::fs::write(&manifest, text).unwrap();

    let output = layers(&manifest);
    let stderr = stderr(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("read 3,"), "{stdout}");
    assert!(stdout.contains("rejected 2,"), "{stdout}");
    assert!(
        stdout.contains("rejected w2 (FID 1): no start or end"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "rejected w3 (FID 2): ends at 2024-03-10T07:30:00+00:00, not after it starts \
             at 2024-03-10T07:30:00+00:00"
        ),
        "{stdout}"
    );
}
