//! Files that GDAL fails to read partway through are rejected whole, with
//! GDAL's message, and the counts of the load report are the features
//! really in the file. The broken files are made here from the fixtures
//! with ogr2ogr and by cutting or overwriting bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use repere::manifest::{LayerSpec, Manifest};
use repere::source::{SourceError, load_layer};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses one layer spec from manifest text, as if the manifest were in `dir`.
fn spec(dir: &Path, body: &str) -> LayerSpec {
    let text = format!("[[layer]]\n{body}");
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), &text).unwrap();
    manifest.layers.remove(0)
}

fn load_error(spec: &LayerSpec) -> SourceError {
    match load_layer(spec) {
        Ok(layer) => panic!(
            "{} loaded {} features, report {:?}",
            spec.name,
            layer.features.len(),
            layer.report
        ),
        Err(e) => e,
    }
}

/// Runs a GDAL command-line tool and returns its standard output.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}: install gdal-bin"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

const LAVAL_SHAPEFILE: &str = r#"
name = "laval_districts"
kind = "district"
path = "Laval-2465005.shp"
id_field = "NO_DIS"
name_field = "NM_DIS"
"#;

/// Copies the four files of the Laval districts Shapefile (21 features)
/// into `dir`.
fn copy_laval_shapefile(dir: &Path) {
    let source = root().join("data/laval-districts-2013");
    for extension in ["shp", "shx", "dbf", "prj"] {
        let name = format!("Laval-2465005.{extension}");
        fs::copy(source.join(&name), dir.join(&name)).unwrap();
    }
}

/// Cuts the DBF of the Laval Shapefile in `dir` 10 bytes into its 16th
/// record.
fn truncate_dbf(dir: &Path) {
    let dbf = dir.join("Laval-2465005.dbf");
    let bytes = fs::read(&dbf).unwrap();
    // dBase header: the header length at bytes 8-9, the record length at
    // bytes 10-11, both little-endian.
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let record_len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    fs::write(&dbf, &bytes[..header_len + record_len * 15 + 10]).unwrap();
}

/// A DBF cut in the middle of its 16th record: GDAL reads 15 features,
/// then fails with "fread(…) failed on DBF file".
#[test]
fn truncated_dbf_rejected() {
    let dir = tempfile::tempdir().unwrap();
    copy_laval_shapefile(dir.path());
    truncate_dbf(dir.path());

    let error = load_error(&spec(dir.path(), LAVAL_SHAPEFILE));

    let message = error.to_string();
    assert!(
        matches!(error, SourceError::ReadFailed { read: 15, .. }),
        "{error:?}"
    );
    assert!(message.contains("Laval-2465005.shp"), "{message}");
    assert!(message.contains("failed on DBF file"), "{message}");
    assert!(!message.contains(".."), "one full stop: {message}");
}

/// The same truncated DBF with a `where` filter: the count before the
/// filter reads the file and fails the same way.
#[test]
fn truncated_dbf_with_filter_rejected() {
    let dir = tempfile::tempdir().unwrap();
    copy_laval_shapefile(dir.path());
    truncate_dbf(dir.path());
    let body = format!("{LAVAL_SHAPEFILE}where = \"NO_DIS > 3\"\n");

    let error = load_error(&spec(dir.path(), &body));

    let message = error.to_string();
    assert!(matches!(error, SourceError::ReadFailed { .. }), "{error:?}");
    assert!(message.contains("failed on DBF file"), "{message}");
}

/// A .shp cut to two thirds of its length: GDAL returns the features past
/// the cut without geometry, and its fread message names the .shp file.
#[test]
fn truncated_shp_rejected() {
    let dir = tempfile::tempdir().unwrap();
    copy_laval_shapefile(dir.path());
    let shp = dir.path().join("Laval-2465005.shp");
    let bytes = fs::read(&shp).unwrap();
    fs::write(&shp, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let error = load_error(&spec(dir.path(), LAVAL_SHAPEFILE));

    let message = error.to_string();
    assert!(matches!(error, SourceError::ReadFailed { .. }), "{error:?}");
    assert!(message.contains("Laval-2465005.shp"), "{message}");
    assert!(message.contains(".shp file"), "{message}");
}

const PLACES_GEOPACKAGE: &str = r#"
name = "places"
kind = "asset"
path = "lieux.gpkg"
id_field = "ID"
name_field = "NOM_TOPOGRAPHIE"
"#;

/// Writes the 1,345 Quebec City public places into table `lieux` of
/// `lieux.gpkg` in `dir` with ogr2ogr, and returns the file's path.
fn places_geopackage(dir: &Path) -> PathBuf {
    let path = dir.join("lieux.gpkg");
    let source = root().join("tests/fixtures/quebec-city/vdqlieupublic.geojson");
    run(
        "ogr2ogr",
        &[
            "-f",
            "GPKG",
            "-nln",
            "lieux",
            path.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
    );
    path
}

/// Runs `sql`, which selects one integer, with `ogrinfo -sql` on the
/// GeoPackage's own SQLite, and returns the integer.
fn sql_value(gpkg: &Path, sql: &str) -> usize {
    let output = run(
        "ogrinfo",
        &["-ro", "-q", gpkg.to_str().unwrap(), "-sql", sql],
    );
    let line = output
        .lines()
        .find(|line| line.contains(") = "))
        .unwrap_or_else(|| panic!("no value in ogrinfo output: {output}"));
    line.rsplit(" = ").next().unwrap().trim().parse().unwrap()
}

/// Reads the SQLite varint at the start of `bytes`: big-endian groups of 7
/// bits, the high bit set on every byte but the last, 8 bits in a 9th byte.
fn varint(bytes: &[u8]) -> u64 {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(9).enumerate() {
        if i == 8 {
            return (value << 8) | u64::from(*byte);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            break;
        }
    }
    value
}

/// Overwrites the middle leaf page of table `lieux` in the GeoPackage
/// `bytes`, and returns the rows stored before that page. The table's root
/// page (SQLite file format, "B-tree Pages") is an interior page whose
/// cells each hold a child page number and the largest rowid of that child.
fn corrupt_middle_page(bytes: &mut [u8], root_page: usize) -> u64 {
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    let root = (root_page - 1) * page_size;
    assert_eq!(bytes[root], 0x05, "root page is not an interior table page");
    let cells = usize::from(u16::from_be_bytes([bytes[root + 3], bytes[root + 4]]));
    assert!(cells >= 2, "root page has {cells} cells");
    let cell_at = |index: usize| {
        let pointer = root + 12 + 2 * index;
        root + usize::from(u16::from_be_bytes([bytes[pointer], bytes[pointer + 1]]))
    };

    let middle = cell_at(cells / 2);
    let child: [u8; 4] = bytes[middle..middle + 4].try_into().unwrap();
    let child_page = usize::try_from(u32::from_be_bytes(child)).unwrap();
    let previous = cell_at(cells / 2 - 1);
    let rows_before = varint(&bytes[previous + 4..]);

    let start = (child_page - 1) * page_size;
    bytes[start..start + page_size].fill(0xAB);
    rows_before
}

/// A leaf page of the table overwritten: SQLite fails with "database disk
/// image is malformed" when the read reaches it.
#[test]
fn corrupt_geopackage_page_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = places_geopackage(dir.path());
    let root_page = sql_value(
        &gpkg,
        "SELECT rootpage FROM sqlite_master WHERE name = 'lieux'",
    );
    let mut bytes = fs::read(&gpkg).unwrap();
    let rows_before = corrupt_middle_page(&mut bytes, root_page);
    fs::write(&gpkg, &bytes).unwrap();

    let error = load_error(&spec(dir.path(), PLACES_GEOPACKAGE));

    let message = error.to_string();
    let SourceError::ReadFailed { read, .. } = error else {
        panic!("{error:?}");
    };
    assert_eq!(read as u64, rows_before);
    assert!(message.contains("lieux.gpkg"), "{message}");
    assert!(message.contains("malformed"), "{message}");
}

/// Sets the feature count cached in `gpkg_ogr_contents`, which GDAL returns
/// as the layer's feature count, to 5000 for a table of 1,345 rows.
fn set_cached_count(gpkg: &Path) {
    run(
        "ogrinfo",
        &[
            gpkg.to_str().unwrap(),
            "-sql",
            "UPDATE gpkg_ogr_contents SET feature_count = 5000",
        ],
    );
    let cached = run("ogrinfo", &["-ro", "-so", "-al", gpkg.to_str().unwrap()]);
    assert!(cached.contains("Feature Count: 5000"), "{cached}");
}

/// Without a filter the report counts the rows read, not the cached count.
#[test]
fn geopackage_wrong_cached_count_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = places_geopackage(dir.path());
    set_cached_count(&gpkg);
    let rows = sql_value(&gpkg, "SELECT COUNT(*) FROM lieux");

    let layer = load_layer(&spec(dir.path(), PLACES_GEOPACKAGE)).unwrap();

    let report = &layer.report;
    assert_eq!(rows, 1345);
    assert_eq!(report.read_count, rows);
    assert_eq!(report.filtered_count, 0);
    assert_eq!(layer.features.len() + report.rejected.len(), rows);
}

/// With a filter, the count before the filter is the table's rows, and
/// the filtered count is the rows the filter leaves out.
#[test]
fn geopackage_wrong_cached_count_with_filter() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = places_geopackage(dir.path());
    set_cached_count(&gpkg);
    let filter = "DESCRIPTION = 'Stationnements'";
    let rows = sql_value(&gpkg, "SELECT COUNT(*) FROM lieux");
    let passing = sql_value(&gpkg, &format!("SELECT COUNT(*) FROM lieux WHERE {filter}"));
    let body = format!("{PLACES_GEOPACKAGE}where = \"{filter}\"\n");

    let layer = load_layer(&spec(dir.path(), &body)).unwrap();

    let report = &layer.report;
    assert!(passing > 0, "no row passes {filter}");
    assert!(passing < rows, "every row passes {filter}");
    assert_eq!(report.read_count, rows);
    assert_eq!(report.filtered_count, rows - passing);
    assert_eq!(layer.features.len() + report.rejected.len(), passing);
}
