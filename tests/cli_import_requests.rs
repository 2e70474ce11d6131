//! `repere import` as a process: a dry run leaves no store behind, the
//! recorded author without `LOGNAME` or `USER`, and errors in a zipped
//! Shapefile named by the archive and its entry, not a temporary copy.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The Montréal neighbourhoods, 32 polygons in EPSG:4326 with ids 1 to 32.
const NEIGHBOURHOODS: &str =
    "data/montreal-neighbourhoods-2014/quartiers_sociologiques_2014.geojson";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The arguments that read [`NEIGHBOURHOODS`].
const NEIGHBOURHOOD_ARGS: [&str; 4] = ["--id-field", "id", "--name-field", "Q_sociologique"];

/// Runs `repere import` on `file` as district layer `districts` with
/// `extra` arguments, without the `LOGNAME` and `USER` variables, and
/// returns its output.
fn import(file: &Path, state_dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repere"))
        .arg("import")
        .arg(file)
        .args(["--layer", "districts", "--kind", "district"])
        .arg("--state-dir")
        .arg(state_dir)
        .args(extra)
        .env_remove("REPERE_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("LOGNAME")
        .env_remove("USER")
        .output()
        .unwrap()
}

/// The user id as coreutils' `id -u` prints it.
fn uid() -> String {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn dry_run_creates_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");

    let mut args = NEIGHBOURHOOD_ARGS.to_vec();
    args.push("--dry-run");
    let output = import(&repo_file(NEIGHBOURHOODS), &state_dir, &args);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["feature_count"], 32);
    assert_eq!(report["version"], Value::Null);
    assert_eq!(report["diff"], Value::Null);
    assert!(!state_dir.exists(), "the dry run created {state_dir:?}");
}

#[test]
fn author_falls_back_to_uid() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");

    let output = import(&repo_file(NEIGHBOURHOODS), &state_dir, &NEIGHBOURHOOD_ARGS);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["imported_by"], format!("cli:uid-{}", uid()));
    assert_eq!(report["version"], 1);
    assert!(state_dir.join("repere.gpkg").exists());
}

/// Zips the Laval districts Shapefile without its .prj into `zip_path`.
fn zip_without_prj(zip_path: &Path) {
    let file = std::fs::File::create(zip_path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for extension in ["shp", "shx", "dbf"] {
        let name = format!("Laval-2465005.{extension}");
        let bytes = std::fs::read(repo_file(&format!("data/laval-districts-2013/{name}"))).unwrap();
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// The test folder's name has no `.tmp`, unlike the temporary folders the
/// command unpacks into.
#[test]
fn archive_error_names_entry() {
    let dir = tempfile::Builder::new()
        .prefix("cli-import-")
        .tempdir()
        .unwrap();
    let zip_path = dir.path().join("laval.zip");
    zip_without_prj(&zip_path);
    let state_dir = dir.path().join("state");
    let args = [
        "--id-field",
        "NO_DIS",
        "--name-field",
        "NM_DIS",
        "--encoding",
        "CP1252",
        "--dry-run",
    ];

    let output = import(&zip_path, &state_dir, &args);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&zip_path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("Laval-2465005.shp declares no CRS"),
        "{stderr}"
    );
    assert!(!stderr.contains("unpacked"), "{stderr}");
    assert!(!stderr.contains(".tmp"), "{stderr}");
}
