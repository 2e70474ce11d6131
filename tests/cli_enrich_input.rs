//! `repere enrich` on awkward input files: column choices that would make
//! the output ambiguous, rows that break the CSV grammar or UTF-8, and the
//! output file left behind on failure. The layer is Montréal's boroughs
//! from tests/fixtures; the files are written in a temporary folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Montréal city hall, in the Ville-Marie borough (CODEID 13).
const CITY_HALL: &str = "45.5088,-73.5542";

struct Fixture {
    dir: tempfile::TempDir,
    manifest: PathBuf,
}

/// Writes a manifest with one district layer, `boroughs`, in a new folder.
fn fixture() -> Fixture {
    let boroughs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/montreal-boroughs/limites-administratives-agglomeration.geojson");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("layers.toml");
    let text = format!(
        "[[layer]]\nname = \"boroughs\"\nkind = \"district\"\npath = {:?}\n\
         id_field = \"CODEID\"\nname_field = \"NOM\"\n",
        boroughs.display().to_string()
    );
    std::fs::write(&manifest, text).unwrap();
    Fixture { dir, manifest }
}

impl Fixture {
    /// Runs `repere enrich` with `args`, writing `input` to its stdin.
    fn enrich(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_repere"))
            .arg("enrich")
            .args(args)
            .arg("--manifest")
            .arg(&self.manifest)
            .env("REPERE_LOG", "warn")
            .env_remove("REPERE_CONFIG")
            .env_remove("REPERE_MANIFEST")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}

const LAT_LON: [&str; 4] = ["--lat-column", "lat", "--lon-column", "lon"];

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn same_column_for_lat_and_lon() {
    let fixture = fixture();
    let input = format!("ref,lat,lon\nA1,{CITY_HALL}\n");
    let args = ["--lat-column", "lat", "--lon-column", "lat"];
    let output = fixture.enrich(&args, input.as_bytes());
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing written");
    assert!(
        stderr.contains("--lat-column and --lon-column name the same column \"lat\""),
        "{stderr}"
    );
}

#[test]
fn duplicated_coordinate_header() {
    let fixture = fixture();
    let input = format!("lat,lat,lon\n1,{CITY_HALL}\n");
    let output = fixture.enrich(&LAT_LON, input.as_bytes());
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing written");
    assert!(
        stderr.contains("--lat-column: column \"lat\" appears 2 times in the header"),
        "{stderr}"
    );
}

#[test]
fn duplicated_other_header() {
    let fixture = fixture();
    let input = format!("note,lat,lon,note\nx,{CITY_HALL},y\n");
    let output = fixture.enrich(&LAT_LON, input.as_bytes());
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("column \"note\" appears 2 times in the header"),
        "{stderr}"
    );
}

#[test]
fn input_column_clashes_with_output() {
    let fixture = fixture();
    let input = format!("boroughs_id,lat,lon\n7,{CITY_HALL}\n");
    let output = fixture.enrich(&LAT_LON, input.as_bytes());
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing written");
    assert!(
        stderr.contains("column \"boroughs_id\" of the input is also an appended column"),
        "{stderr}"
    );
}

#[test]
fn one_skipped_line_singular() {
    let fixture = fixture();
    let input = format!("ref,lat,lon\nA1,{CITY_HALL}\nA2,,-73.55\n");
    let output = fixture.enrich(&LAT_LON, input.as_bytes());
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("rows without coordinates: 1 (first at line 3)"),
        "{stderr}"
    );
}
