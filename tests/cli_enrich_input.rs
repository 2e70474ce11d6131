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

/// A Windows-1252 "é" (byte 0xE9) in a column that is not a coordinate.
#[test]
fn invalid_utf8_row_passes_through() {
    let fixture = fixture();
    let mut input = format!("ref,lat,lon,note\nA1,{CITY_HALL},caf").into_bytes();
    input.extend_from_slice(b"\xe9\nA2,");
    input.extend_from_slice(format!("{CITY_HALL},ok\n").as_bytes());
    let output_path = fixture.dir.path().join("out.csv");
    let path_arg = output_path.to_str().unwrap();
    let mut args = LAT_LON.to_vec();
    args.extend(["-o", path_arg]);

    let output = fixture.enrich(&args, &input);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let written = std::fs::read(&output_path).unwrap();
    let lines: Vec<&[u8]> = written.split(|b| *b == b'\n').collect();
    assert_eq!(lines.len(), 4, "header, two rows and the final newline");
    assert!(lines[1].starts_with(b"A1,45.5088,-73.5542,caf\xe9,13,Ville-Marie,"));
    assert!(lines[2].starts_with(b"A2,45.5088,-73.5542,ok,13,Ville-Marie,"));
    assert!(stderr.contains("rows enriched: 2"), "{stderr}");
    assert!(
        stderr.contains("rows not in UTF-8: 1 (first at line 2)"),
        "{stderr}"
    );
    assert!(stderr.contains("Windows-1252"), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(fixture.dir.path()).unwrap().collect();
    assert_eq!(files.len(), 2, "only layers.toml and out.csv remain");
}

#[test]
fn rows_of_other_lengths_kept() {
    let fixture = fixture();
    let input =
        format!("ref,lat,lon,note\nA1,{CITY_HALL},x,extra\nA2,45.5088\nA3,{CITY_HALL},ok\n");
    let output = fixture.enrich(&LAT_LON, input.as_bytes());
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(
        rows[1].starts_with("A1,45.5088,-73.5542,x,extra,13,"),
        "{}",
        rows[1]
    );
    assert!(rows[2].starts_with("A2,45.5088,,,,"), "{}", rows[2]);
    assert!(
        rows[3].starts_with("A3,45.5088,-73.5542,ok,13,"),
        "{}",
        rows[3]
    );
    assert!(
        stderr.contains("rows read: 3, rows enriched: 2, rows without coordinates: 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "rows with another number of fields than the header: 2 (first at lines 2, 3)"
        ),
        "{stderr}"
    );
}
