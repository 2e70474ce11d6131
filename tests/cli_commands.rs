//! `repere context`, `layers` and `enrich` as processes, on real files read
//! through GDAL: Montréal's boroughs and STM bus stops from tests/fixtures.
//!
//! Expected values come from PostGIS 3.3 over the same files loaded with
//! ogr2ogr (`ST_Intersects`, and `ST_Distance` on geography with the
//! spheroid), from ogrinfo's feature counts and from the h3 Python package
//! 4.5 (`latlng_to_cell`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Montréal city hall, in the Ville-Marie borough (CODEID 13).
const CITY_HALL: (&str, &str) = ("45.5088", "-73.5542");
const CITY_HALL_H3: &str = "892baa46a13ffff";
/// From city hall to Ville-Marie's boundary, metres.
const CITY_HALL_TO_BOUNDARY_M: f64 = 1258.9995;
/// The two nearest stops to city hall, with their distances in metres.
const NEAREST_STOPS: [(&str, &str, f64); 2] = [
    ("53998", "Place Jacques-Cartier", 81.681),
    (
        "53674",
        "Station Champ-de-Mars (St-Antoine / Gosford)",
        108.560,
    ),
];
/// A point in Laval, outside every borough and over 120 m from every stop.
const LAVAL_H3: &str = "892baa40a57ffff";

struct Fixture {
    dir: tempfile::TempDir,
    manifest: PathBuf,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Writes a manifest of two layers, `boroughs` and `stops`, in a new folder.
fn fixture() -> Fixture {
    let boroughs =
        fixtures().join("montreal-boroughs/limites-administratives-agglomeration.geojson");
    let stops = fixtures().join("montreal-stm-stops/stm_arrets_sig.geojson");
    Fixture::new(format!(
        "[[layer]]\nname = \"boroughs\"\nkind = \"district\"\npath = {:?}\n\
         id_field = \"CODEID\"\nname_field = \"NOM\"\n\n\
         [[layer]]\nname = \"stops\"\nkind = \"asset\"\npath = {:?}\n\
         id_field = \"stop_id\"\nname_field = \"stop_name\"\n",
        boroughs.display().to_string(),
        stops.display().to_string()
    ))
}

/// Writes a manifest with one work layer, `la_requests`: Los Angeles 311
/// requests of December 2017, each active from its creation to its closure,
/// written in Los Angeles local time.
fn works_fixture() -> Fixture {
    let requests = fixtures().join("los-angeles-311/MyLA311_Service_Request_Data_2017_Subset.csv");
    Fixture::new(format!(
        "[[layer]]\nname = \"la_requests\"\nkind = \"work\"\npath = {:?}\n\
         id_field = \"SRNumber\"\nname_field = \"RequestType\"\ncrs = \"EPSG:4326\"\n\
         x_field = \"Longitude\"\ny_field = \"Latitude\"\n\
         start_field = \"CreatedDate\"\nend_field = \"ClosedDate\"\n\
         datetime_format = \"%m/%d/%Y %I:%M:%S %p\"\ntimezone = \"America/Los_Angeles\"\n",
        requests.display().to_string()
    ))
}

impl Fixture {
    fn new(manifest_text: String) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("layers.toml");
        std::fs::write(&manifest, manifest_text).unwrap();
        Fixture { dir, manifest }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_repere"));
        command
            .args(args)
            .arg("--manifest")
            .arg(&self.manifest)
            .env("REPERE_LOG", "warn")
            .env_remove("REPERE_CONFIG")
            .env_remove("REPERE_MANIFEST");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `repere enrich` with `args`, writing `csv` to its stdin.
    fn enrich(&self, args: &[&str], csv: &str) -> Output {
        let mut full = vec!["enrich"];
        full.extend_from_slice(args);
        let mut child = self
            .command(&full)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(csv.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
}

fn assert_close(actual: &str, expected: f64, what: &str) {
    let value: f64 = actual
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {actual:?} is not a number"));
    assert!(
        (value - expected).abs() < 0.01,
        "{what}: {value} != {expected}"
    );
}

const INPUT: &str = "ref,latitude,longitude,note\n\
    A1,45.5088,-73.5542,\"city hall, east\"\n\
    A2,,-73.55,blank\n\
    A3,91,-73.55,north\n\
    A4,45.60,-73.75,laval\n";

const ENRICH_ARGS: [&str; 8] = [
    "--lat-column",
    "latitude",
    "--lon-column",
    "longitude",
    "--radius-m",
    "120",
    "--limit",
    "2",
];

/// Columns `lat`, `lon` and `at`.
const AT_ARGS: [&str; 6] = [
    "--lat-column",
    "lat",
    "--lon-column",
    "lon",
    "--at-column",
    "at",
];

#[test]
fn enrich_appends_context() {
    let fixture = fixture();
    let output = fixture.enrich(&ENRICH_ARGS, INPUT);
    assert_success(&output);

    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let expected_header = [
        "ref",
        "latitude",
        "longitude",
        "note",
        "boroughs_id",
        "boroughs_name",
        "boroughs_distance_m",
        "stops_id",
        "stops_name",
        "stops_distance_m",
        "h3_cell",
    ];
    assert_eq!(header, expected_header);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "every input row is written");

    let hall = &rows[0];
    let input: Vec<&str> = hall.iter().take(4).collect();
    assert_eq!(
        input,
        ["A1", "45.5088", "-73.5542", "city hall, east"],
        "input kept"
    );
    assert_eq!(&hall[4], "13");
    assert_eq!(&hall[5], "Ville-Marie");
    assert_close(&hall[6], CITY_HALL_TO_BOUNDARY_M, "boundary distance");
    let ids = format!("{}|{}", NEAREST_STOPS[0].0, NEAREST_STOPS[1].0);
    assert_eq!(&hall[7], ids, "nearest first");
    let names = format!("{}|{}", NEAREST_STOPS[0].1, NEAREST_STOPS[1].1);
    assert_eq!(&hall[8], names);
    let distances: Vec<&str> = hall[9].split('|').collect();
    assert_eq!(distances.len(), 2);
    assert_close(distances[0], NEAREST_STOPS[0].2, "first stop");
    assert_close(distances[1], NEAREST_STOPS[1].2, "second stop");
    assert_eq!(&hall[10], CITY_HALL_H3);

    for (row, name) in [(&rows[1], "blank latitude"), (&rows[2], "latitude 91")] {
        assert_eq!(row.len(), 11, "{name}");
        assert!(row.iter().skip(4).all(str::is_empty), "{name}: {row:?}");
    }
    let laval = &rows[3];
    assert!(laval.iter().skip(4).take(6).all(str::is_empty), "{laval:?}");
    assert_eq!(&laval[10], LAVAL_H3);

    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "rows read: 4, rows enriched: 2, rows without coordinates: 2 (first at lines 3, 4)"
        ),
        "{stderr}"
    );
}

#[test]
fn enrich_file_to_file() {
    let fixture = fixture();
    let input = fixture.dir.path().join("in.csv");
    let output_path = fixture.dir.path().join("out.csv");
    std::fs::write(&input, "lat,lon\n45.5088,-73.5542\n").unwrap();
    let args = [
        "enrich",
        "--lat-column",
        "lat",
        "--lon-column",
        "lon",
        "--layers",
        "boroughs",
        input.to_str().unwrap(),
        "-o",
        output_path.to_str().unwrap(),
    ];
    let output = fixture.run(&args);
    assert_success(&output);
    assert!(output.stdout.is_empty(), "the rows go to the file");

    let written = std::fs::read_to_string(&output_path).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(
        lines[0],
        "lat,lon,boroughs_id,boroughs_name,boroughs_distance_m,h3_cell"
    );
    assert!(
        lines[1].starts_with("45.5088,-73.5542,13,Ville-Marie,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(CITY_HALL_H3), "{}", lines[1]);
}

#[test]
fn enrich_invalid_time_counted() {
    let fixture = fixture();
    let input =
        "lat,lon,at\n45.5088,-73.5542,2026-12-04T10:30:00-05:00\n45.5088,-73.5542,yesterday\n";
    let output = fixture.enrich(&AT_ARGS, input);
    assert_success(&output);
    let stdout = text(&output.stdout);
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(rows[1].contains(",13,Ville-Marie,"), "{}", rows[1]);
    assert!(rows[2].ends_with("yesterday,,,,,,,"), "{}", rows[2]);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("rows enriched: 1"), "{stderr}");
    assert!(
        stderr.contains("rows with an invalid time: 1 (first at line 3)"),
        "{stderr}"
    );
}

/// Request 1-870704831 was created at 2017-12-31 23:59:58 in Los Angeles
/// and is the only request within 100 m of its point.
#[test]
fn enrich_active_works_at_column() {
    let fixture = works_fixture();
    let input = "lat,lon,at\n\
        34.073216645,-118.266861909,2017-12-31T23:59:58-08:00\n\
        34.073216645,-118.266861909,2017-12-31T23:59:57-08:00\n";
    let output = fixture.enrich(&AT_ARGS, input);
    assert_success(&output);

    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    let appended: Vec<&str> = header.iter().skip(3).collect();
    let expected = [
        "la_requests_id",
        "la_requests_name",
        "la_requests_distance_m",
        "h3_cell",
    ];
    assert_eq!(appended, expected);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][3], "1-870704831", "active from its creation");
    assert_eq!(&rows[0][4], "Homeless Encampment");
    assert_eq!(&rows[0][5], "0");
    assert_eq!(&rows[1][3], "", "not yet active a second earlier");
    assert_eq!(&rows[1][5], "");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("rows read: 2, rows enriched: 2"),
        "{stderr}"
    );
}

#[test]
fn enrich_missing_column_named() {
    let fixture = fixture();
    let output = fixture.enrich(&["--lat-column", "lat", "--lon-column", "longitude"], INPUT);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing written");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--lat-column: column \"lat\" is not in the header"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the columns are: ref, latitude, longitude, note"),
        "{stderr}"
    );
}

#[test]
fn enrich_empty_layer_list_is_usage_error() {
    let fixture = fixture();
    let mut args = ENRICH_ARGS.to_vec();
    args.extend(["--layers", ",,"]);
    let output = fixture.enrich(&args, INPUT);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--layers: the list is empty"), "{stderr}");
}

#[test]
fn enrich_unknown_layer_is_usage_error() {
    let fixture = fixture();
    let mut args = ENRICH_ARGS.to_vec();
    args.extend(["--layers", "parks"]);
    let output = fixture.enrich(&args, INPUT);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown layer \"parks\""), "{stderr}");
    assert!(
        stderr.contains("known layers are boroughs, stops"),
        "{stderr}"
    );
}

#[test]
fn context_prints_json() {
    let fixture = fixture();
    let args = [
        "context",
        "--lat",
        CITY_HALL.0,
        "--lon",
        CITY_HALL.1,
        "--layers",
        "boroughs",
    ];
    let output = fixture.run(&args);
    assert_success(&output);
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["h3"]["cell"], CITY_HALL_H3);
    assert_eq!(body["layers"].as_array().unwrap().len(), 1);
    let borough = &body["layers"][0]["features"][0];
    assert_eq!(borough["id"], "13");
    assert_eq!(borough["name"], "Ville-Marie");
    assert_eq!(borough["properties"]["ABREV"], "VM");
    assert!(
        text(&output.stdout).contains("\n  \"point\": {"),
        "pretty-printed"
    );
}

#[test]
fn context_latitude_91_is_usage_error() {
    let fixture = fixture();
    let output = fixture.run(&["context", "--lat", "91", "--lon", "-73.5"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--lat: 91 is out of range"), "{stderr}");
}

#[test]
fn context_missing_flag_is_usage_error() {
    let fixture = fixture();
    let output = fixture.run(&["context", "--lat", "45.5"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--lon <LON>"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn layers_lists_report() {
    let fixture = fixture();
    let output = fixture.run(&["layers"]);
    assert_success(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("boroughs (district): 34 features"),
        "{stdout}"
    );
    assert!(stdout.contains("stops (asset): 8869 features"), "{stdout}");
    assert!(stdout.contains("source CRS: EPSG:4326"), "{stdout}");
    // stop_id 36 appears twice in the file, so one of the two gets a synthetic id.
    assert!(
        stdout.contains(
            "read 8869, left out by the filter 0, rejected 0, invalid geometries 0, synthetic ids 1"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("source value 36 repeated"), "{stdout}");
}

#[test]
fn missing_manifest_names_path() {
    let output = Command::new(env!("CARGO_BIN_EXE_repere"))
        .args(["layers", "--manifest", "/nonexistent/layers.toml"])
        .env_remove("REPERE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("/nonexistent/layers.toml"),
        "{}",
        text(&output.stderr)
    );
}

/// Runs `repere layers` with the config file `repere.toml` of the fixture's
/// folder, the environment `env` and the flags `args`.
fn layers_with_config(fixture: &Fixture, env: &[(&str, &str)], args: &[&str]) -> Output {
    let config = fixture.dir.path().join("repere.toml");
    std::fs::write(
        &config,
        "manifest = \"layers.toml\"\nlog_filter = \"warn\"\nlistn = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_repere"))
        .arg("layers")
        .args(args)
        .env("REPERE_CONFIG", &config)
        .env_remove("REPERE_MANIFEST")
        .env_remove("REPERE_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn config_file_names_manifest() {
    let fixture = fixture();
    let output = layers_with_config(&fixture, &[], &[]);
    assert_success(&output);
    assert!(text(&output.stdout).contains("boroughs (district): 34 features"));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown config keys ignored"), "{stderr}");
    assert!(stderr.contains("listn"), "{stderr}");
}

#[test]
fn environment_overrides_config_file() {
    let fixture = fixture();
    let output = layers_with_config(
        &fixture,
        &[("REPERE_MANIFEST", "/nonexistent/env.toml")],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("/nonexistent/env.toml"), "{stderr}");
}

#[test]
fn flag_overrides_environment() {
    let fixture = fixture();
    let manifest = fixture.manifest.to_str().unwrap();
    let env = [("REPERE_MANIFEST", "/nonexistent/env.toml")];
    let output = layers_with_config(&fixture, &env, &["--manifest", manifest]);
    assert_success(&output);
    assert!(text(&output.stdout).contains("stops (asset): 8869 features"));
}

/// Streams the 9,999 Los Angeles 311 requests of the fixture through enrich
/// with the city's neighbourhood councils as districts. Python's csv module
/// counts 1,753 rows with a blank Latitude or Longitude, the first on lines
/// 46 to 50.
#[test]
fn enrich_los_angeles_requests() {
    let data = fixtures().join("los-angeles-311");
    let councils = data.join("Neighborhood_Councils_Certified.geojson");
    let fixture = Fixture::new(format!(
        "[[layer]]\nname = \"councils\"\nkind = \"district\"\npath = {:?}\n\
         id_field = \"nc_id\"\nname_field = \"name\"\n",
        councils.display().to_string()
    ));
    let input = data.join("MyLA311_Service_Request_Data_2017_Subset.csv");
    let args = [
        "enrich",
        "--lat-column",
        "Latitude",
        "--lon-column",
        "Longitude",
    ];
    let output = fixture.run(&[&args[..], &[input.to_str().unwrap()]].concat());
    assert_success(&output);

    let stderr = text(&output.stderr);
    let summary = "rows read: 9999, rows enriched: 8246, rows without coordinates: 1753 \
                   (first at lines 46, 47, 48, 49, 50)";
    assert!(stderr.contains(summary), "{stderr}");

    let mut original = csv::Reader::from_path(&input).unwrap();
    let mut enriched = csv::Reader::from_reader(output.stdout.as_slice());
    let width = original.headers().unwrap().len();
    assert_eq!(
        enriched.headers().unwrap().len(),
        width + 4,
        "id, name, distance and h3_cell"
    );
    let mut rows = 0;
    for (before, after) in original.records().zip(enriched.records()) {
        let (before, after) = (before.unwrap(), after.unwrap());
        let kept: Vec<&str> = after.iter().take(width).collect();
        assert_eq!(
            kept,
            before.iter().collect::<Vec<_>>(),
            "row {rows} unchanged"
        );
        rows += 1;
    }
    assert_eq!(rows, 9999);
}
