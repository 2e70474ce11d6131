//! `repere import` as a process: a dry run leaves no store behind, the
//! recorded author without `LOGNAME` or `USER`, and errors in a zipped
//! Shapefile named by the archive and its entry, not a temporary copy.
//! Also the error for a store path that contains another format, GDAL
//! warnings logged without the values they quote, and huge coordinates
//! in scientific notation.

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

/// Files that GDAL's GPKG driver does not open, written where the store's
/// GeoPackage belongs.
const NOT_GEOPACKAGES: [(&str, &str); 3] = [
    (
        "GeoJSON",
        r#"{"type": "FeatureCollection", "features": []}"#,
    ),
    ("CSV", "id,x,y\n1,-73.6,45.5\n"),
    ("empty", ""),
];

#[test]
fn store_file_not_geopackage() {
    for (format, content) in NOT_GEOPACKAGES {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        std::fs::create_dir(&state_dir).unwrap();
        let store_path = state_dir.join("repere.gpkg");
        std::fs::write(&store_path, content).unwrap();

        let mut args = NEIGHBOURHOOD_ARGS.to_vec();
        args.push("--dry-run");
        let output = import(&repo_file(NEIGHBOURHOODS), &state_dir, &args);

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{format}: {stderr}");
        let named = format!("{} is not a GeoPackage", store_path.display());
        assert!(stderr.contains(&named), "{format}: {stderr}");
        assert!(stderr.contains("--state-dir"), "{format}: {stderr}");
        let after = std::fs::read_to_string(&store_path).unwrap();
        assert_eq!(after, content, "{format}: the file changed");
    }
}

/// A district value that a citizen could have typed, with an apostrophe.
const QUOTED_VALUE: &str = "34 rue de l'Eglise";

/// Writes `districts.shp` in `dir` through ogr2ogr: two Montréal squares
/// whose DBF column `note` is numeric but contains [`QUOTED_VALUE`] in the
/// second record, so that GDAL warns with the value quoted while it reads.
fn shapefile_with_bad_number(dir: &Path) -> PathBuf {
    let csv = dir.join("districts.csv");
    std::fs::write(
        &csv,
        format!(
            "id,name,note,wkt\n\
             1,Parc,12,\"POLYGON((-73.60 45.50,-73.59 45.50,-73.59 45.51,-73.60 45.51,-73.60 45.50))\"\n\
             2,Mile End,{QUOTED_VALUE},\"POLYGON((-73.58 45.50,-73.57 45.50,-73.57 45.51,-73.58 45.51,-73.58 45.50))\"\n"
        ),
    )
    .unwrap();
    // The CSV driver reads column types from this sidecar file.
    std::fs::write(
        dir.join("districts.csvt"),
        "Integer,String,String(40),String\n",
    )
    .unwrap();
    let shp = dir.join("districts.shp");
    let output = Command::new("ogr2ogr")
        .args([
            "-f",
            "ESRI Shapefile",
            "-a_srs",
            "EPSG:4326",
            "-nlt",
            "POLYGON",
        ])
        .args([
            "-oo",
            "GEOM_POSSIBLE_NAMES=wkt",
            "-oo",
            "KEEP_GEOM_COLUMNS=NO",
        ])
        .arg(&shp)
        .arg(&csv)
        .output()
        .expect("cannot run ogr2ogr: install gdal-bin");
    assert!(
        output.status.success(),
        "ogr2ogr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    set_dbf_field_type(&dir.join("districts.dbf"), "note", b'N');
    shp
}

/// Sets the type of DBF field `name` to `field_type`, in its 32-byte
/// descriptor: name at bytes 0 to 10, NUL-padded, type at byte 11. The
/// descriptors follow the 32-byte file header and end with 0x0D.
fn set_dbf_field_type(dbf: &Path, name: &str, field_type: u8) {
    let mut bytes = std::fs::read(dbf).unwrap();
    let mut offset = 32;
    while bytes[offset] != 0x0D {
        let descriptor = &bytes[offset..offset + 11];
        let end = descriptor.iter().position(|&b| b == 0).unwrap_or(11);
        if &descriptor[..end] == name.as_bytes() {
            bytes[offset + 11] = field_type;
            std::fs::write(dbf, bytes).unwrap();
            return;
        }
        offset += 32;
    }
    panic!("{} has no field {name}", dbf.display());
}

#[test]
fn gdal_warning_omits_quoted_value() {
    let dir = tempfile::tempdir().unwrap();
    let shp = shapefile_with_bad_number(dir.path());
    let ogrinfo = Command::new("ogrinfo")
        .args(["-al", "-q"])
        .arg(&shp)
        .output()
        .expect("cannot run ogrinfo: install gdal-bin");
    let gdal_warning = String::from_utf8_lossy(&ogrinfo.stderr);
    let quoted = format!("Value '{QUOTED_VALUE}' of field districts.note parsed incompletely");
    assert!(gdal_warning.contains(&quoted), "ogrinfo: {gdal_warning}");

    let args = ["--id-field", "id", "--name-field", "name", "--dry-run"];
    let output = import(&shp, &dir.path().join("state"), &args);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let redacted = "Value '…' of field districts.note parsed incompletely";
    assert!(stderr.contains(redacted), "{stderr}");
    assert!(stderr.contains("class=\"warning\""), "{stderr}");
    assert!(stderr.contains("number=1"), "{stderr}");
    assert!(!stderr.contains("Eglise"), "{stderr}");
}

/// A GeoPackage DATE cell holding a name and an address, as an export
/// with shifted columns would have: GDAL warns "Invalid content for record 1 in
/// column when: VALUE", without quotes around the value.
#[test]
fn gdal_warning_omits_unquoted_value() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("requests.csv");
    let square = |west: f64| {
        let east = west + 0.01;
        format!("\"POLYGON(({west} 45.5,{east} 45.5,{east} 45.51,{west} 45.51,{west} 45.5))\"")
    };
    let text = format!(
        "id,name,when,WKT\n1,a,2020-01-01,{}\n2,b,2020-01-02,{}\n",
        square(-73.6),
        square(-73.5)
    );
    std::fs::write(&csv, text).unwrap();
    let gpkg = dir.path().join("requests.gpkg");
    let status = Command::new("ogr2ogr")
        .args(["-f", "GPKG"])
        .arg(&gpkg)
        .arg(&csv)
        .args([
            "-oo",
            "AUTODETECT_TYPE=YES",
            "-a_srs",
            "EPSG:4326",
            "-nln",
            "pts",
        ])
        .status()
        .expect("cannot run ogr2ogr: install gdal-bin");
    assert!(status.success(), "ogr2ogr failed");
    let update = "UPDATE pts SET \"when\" = 'Jane Roe, 2111 W BELLEVUE AVE' WHERE fid = 1";
    let status = Command::new("ogrinfo")
        .arg(&gpkg)
        .args(["-sql", update])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("cannot run ogrinfo: install gdal-bin");
    assert!(status.success(), "ogrinfo UPDATE failed");
    let ogrinfo = Command::new("ogrinfo")
        .args(["-al", "-q"])
        .arg(&gpkg)
        .output()
        .expect("cannot run ogrinfo: install gdal-bin");
    let gdal_warning = String::from_utf8_lossy(&ogrinfo.stderr);
    assert!(
        gdal_warning.contains("in column when: Jane Roe"),
        "ogrinfo: {gdal_warning}"
    );

    let args = ["--id-field", "id", "--name-field", "name", "--dry-run"];
    let output = import(&gpkg, &dir.path().join("state"), &args);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("in column when: …"), "{stderr}");
    assert!(!stderr.contains("Jane Roe"), "{stderr}");
    assert!(!stderr.contains("BELLEVUE"), "{stderr}");
}

#[test]
fn huge_coordinate_in_scientific_notation() {
    let dir = tempfile::tempdir().unwrap();
    let geojson = dir.path().join("far.geojson");
    let square = "[[1e308, 45.5], [-73.5, 45.5], [-73.5, 45.6], [-73.6, 45.6], [1e308, 45.5]]";
    std::fs::write(
        &geojson,
        format!(
            r#"{{"type": "FeatureCollection", "features": [{{"type": "Feature",
            "properties": {{"id": 1, "name": "Far"}},
            "geometry": {{"type": "Polygon", "coordinates": [{square}]}}}}]}}"#
        ),
    )
    .unwrap();

    let args = ["--id-field", "id", "--name-field", "name", "--dry-run"];
    let output = import(&geojson, &dir.path().join("state"), &args);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("coordinate (1e308, 45.5)"), "{stderr}");
    assert!(!stderr.contains("1000000000"), "{stderr}");
}
