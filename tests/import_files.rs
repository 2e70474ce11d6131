//! Every data file of the repository read by the import, without writing
//! (the import's `prepare` step, which a dry run also takes).
//!
//! Expected feature counts and CRS come from GDAL 3.6.2's `ogrinfo -so -al
//! FILE` ("Feature Count" and the last `ID["EPSG",…]` of the layer SRS),
//! from `ogrinfo -sql "SELECT COUNT(*) FROM points"` for the OSM layers and
//! from `ogrinfo -so -al CSV:FILE` for GTFS text files, which ogrinfo opens
//! as CSV only with that prefix.

use std::path::{Path, PathBuf};

use repere::import::{ImportError, ImportOptions, Prepared, prepare};
use repere::layer::GeometryProblem;
use serde_json::{Value, json};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn options(value: Value) -> ImportOptions {
    serde_json::from_value(value).expect("the test's options are valid")
}

/// Reads `relative` as layer `layer`, in a temporary work folder.
fn import(relative: &str, value: Value) -> Result<Prepared, ImportError> {
    let path = repo_file(relative);
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let work_dir = tempfile::tempdir().unwrap();
    prepare(
        "imported",
        &path,
        &file_name,
        &options(value),
        work_dir.path(),
    )
}

/// One file that imports: its options, the ogrinfo count and CRS.
struct Case {
    file: &'static str,
    options: Value,
    count: usize,
    crs: Option<&'static str>,
}

fn named(kind: &str, field: &str) -> Value {
    json!({"kind": kind, "id_field": field, "name_field": field})
}

fn with(mut base: Value, extra: Value) -> Value {
    let map = base.as_object_mut().unwrap();
    for (key, value) in extra.as_object().unwrap() {
        map.insert(key.clone(), value.clone());
    }
    base
}

fn cases() -> Vec<Case> {
    let csv_wgs84 = |x: &str, y: &str| json!({"x_field": x, "y_field": y, "crs": "EPSG:4326"});
    vec![
        Case {
            file: "data/laval-districts-2013/Laval-2465005.shp",
            options: named("district", "NM_DIS"),
            count: 21,
            crs: None,
        },
        Case {
            file: "tests/fixtures/laval-districts-2013/qc_districts_laval_districts.geojson",
            options: named("district", "NM_DIS"),
            count: 21,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "data/laval-stl-gtfs-2019/stops.txt",
            options: with(named("asset", "stop_id"), csv_wgs84("stop_lon", "stop_lat")),
            count: 2886,
            crs: None,
        },
        Case {
            file: "tests/fixtures/laval-stl-gtfs-2019/shapes.txt",
            options: with(
                named("asset", "shape_id"),
                csv_wgs84("shape_pt_lon", "shape_pt_lat"),
            ),
            count: 39163,
            crs: None,
        },
        Case {
            file: "data/laval-territory/hull.geojson",
            options: named("district", "Nom_SM2013"),
            count: 1,
            crs: Some("EPSG:32188"),
        },
        Case {
            file: "tests/fixtures/laval-territory/laval.geojson",
            options: with(
                named("district", "display_name"),
                json!({"crs": "EPSG:32618"}),
            ),
            count: 1,
            crs: Some("EPSG:32618"),
        },
        Case {
            file: "tests/fixtures/los-angeles-311/MyLA311_Service_Request_Data_2017_Subset.csv",
            options: with(
                named("asset", "SRNumber"),
                csv_wgs84("Longitude", "Latitude"),
            ),
            count: 9999,
            crs: None,
        },
        Case {
            file: "tests/fixtures/los-angeles-311/Neighborhood_Councils_Certified.geojson",
            options: named("district", "name"),
            count: 99,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/los-angeles-311/nc-boundary-2020.geojson",
            options: named("district", "Name"),
            count: 100,
            crs: Some("EPSG:3857"),
        },
        Case {
            file: "data/montreal-bixi/stations_bixi_clean.geojson",
            options: named("asset", "name"),
            count: 788,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/montreal-boroughs/limites-administratives-agglomeration.geojson",
            options: named("district", "NOM"),
            count: 34,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "data/montreal-boroughs/limites-administratives-agglomeration-nad83.geojson",
            options: named("district", "NOM"),
            count: 34,
            crs: Some("EPSG:32188"),
        },
        Case {
            file: "data/montreal-districts-2017/merge.shp",
            options: named("district", "NM_DIS"),
            count: 116,
            crs: None,
        },
        Case {
            file: "data/montreal-emergency/fire_halls.json",
            options: named("asset", "Name"),
            count: 67,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/montreal-emergency/spvm_stations.json",
            options: named("asset", "Name"),
            count: 33,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "data/montreal-emergency/water_supplies.json",
            options: named("asset", "Name"),
            count: 434,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "data/montreal-neighbourhoods-2014/quartiers_sociologiques_2014.geojson",
            options: named("district", "Q_sociologique"),
            count: 32,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/montreal-places/lieux-interet.geojson",
            options: named("asset", "Type"),
            count: 3231,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "data/montreal-police-districts/limitespdq_raw.geojson",
            options: named("district", "PDQ"),
            count: 28,
            crs: Some("EPSG:32188"),
        },
        Case {
            file: "tests/fixtures/montreal-police-districts/limitespdq_wgs84.geojson",
            options: named("district", "PDQ"),
            count: 28,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/montreal-pools/piscines_derived.geojson",
            options: named("asset", "NOM"),
            count: 311,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/montreal-stm-stops/stm_arrets_sig.geojson",
            options: named("asset", "stop_id"),
            count: 8869,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "data/montreal-taxi-stands/postes-taxi.geojson",
            options: named("asset", "Nom"),
            count: 409,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/nyc-boroughs/nybb.shp",
            options: named("district", "BoroName"),
            count: 5,
            crs: Some("EPSG:2263"),
        },
        Case {
            file: "tests/fixtures/quebec-city/vdqarrondissement.geojson",
            options: named("district", "NOM"),
            count: 6,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/quebec-city/vdqlieupublic.geojson",
            options: named("asset", "NOM_TOPOGRAPHIE"),
            count: 1345,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/schools-montreal-laval/mtl_laval_schools_subset.csv",
            options: with(
                named("asset", "facility_name"),
                csv_wgs84("longitude", "latitude"),
            ),
            count: 968,
            crs: None,
        },
        Case {
            file: "tests/fixtures/us-tiger/virginia.csv",
            options: with(named("asset", "SITEADDID"), csv_wgs84("LONG", "LAT")),
            count: 9,
            crs: None,
        },
        Case {
            file: "tests/fixtures/us-tiger/tl_2014_02270_addrfeat.zip",
            options: named("asset", "FULLNAME"),
            count: 5,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/us-tiger/tl_2014_56017_addrfeat.zip",
            options: named("asset", "FULLNAME"),
            count: 5,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/helsinki-osm/Helsinki.osm.pbf",
            options: with(named("asset", "osm_id"), json!({"table": "points"})),
            count: 8045,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/helsinki-osm/Helsinki.osm.pbf",
            options: with(named("asset", "osm_id"), json!({"table": "lines"})),
            count: 3818,
            crs: Some("EPSG:4326"),
        },
        Case {
            file: "tests/fixtures/helsinki-osm/Helsinki.osm.pbf",
            options: with(
                named("district", "osm_id"),
                json!({"table": "multipolygons"}),
            ),
            count: 1095,
            crs: Some("EPSG:4326"),
        },
    ]
}

/// Each file imports with the count and CRS ogrinfo reports, and every
/// feature read is either kept or listed as rejected.
#[test]
fn data_files_import() {
    let mut failures = Vec::new();
    for case in cases() {
        let label = format!("{} {}", case.file, case.options);
        let prepared = match import(case.file, case.options.clone()) {
            Ok(prepared) => prepared,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let report = &prepared.layer.report;
        if report.read_count != case.count {
            failures.push(format!(
                "{label}: read {} features, ogrinfo counts {}",
                report.read_count, case.count
            ));
        }
        let accounted =
            prepared.layer.features.len() + report.rejected.len() + report.filtered_count;
        if accounted != report.read_count {
            failures.push(format!(
                "{label}: {accounted} kept, rejected or filtered of {} read",
                report.read_count
            ));
        }
        if let Some(crs) = case.crs
            && prepared.layer.info.source_crs != crs
        {
            failures.push(format!(
                "{label}: CRS {} where ogrinfo reports {crs}",
                prepared.layer.info.source_crs
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn import_error(relative: &str, value: Value) -> String {
    match import(relative, value) {
        Ok(prepared) => panic!(
            "{relative} imported {} features",
            prepared.layer.features.len()
        ),
        Err(e) => e.to_string(),
    }
}

/// ny.json declares CRS84 but holds Web Mercator metres (x about -8.75e6,
/// y about 5.16e6, per its SOURCE.txt).
#[test]
fn metres_as_crs84_rejected() {
    let message = import_error(
        "tests/fixtures/us-tiger/ny.json",
        named("asset", "NYSAddressPointID"),
    );
    assert!(message.contains("ny.json"), "{message}");
    assert!(message.contains("outside the valid range"), "{message}");
    assert!(
        message.contains("(-8"),
        "the coordinate is named: {message}"
    );
}

/// arkansas.json declares CRS84 but holds UTM zone 15N metres (565453, 4025512).
#[test]
fn utm_as_crs84_rejected() {
    let message = import_error(
        "tests/fixtures/us-tiger/arkansas.json",
        named("asset", "adr_num_su"),
    );
    assert!(message.contains("arkansas.json"), "{message}");
    assert!(message.contains("outside the valid range"), "{message}");
}

/// laval.geojson has no `crs` member but holds UTM 18N metres (its
/// SOURCE.txt: (586261.29, 5042043.95) is its west edge in EPSG:32618).
#[test]
fn laval_metres_without_crs_rejected() {
    let message = import_error(
        "tests/fixtures/laval-territory/laval.geojson",
        named("district", "display_name"),
    );
    assert!(message.contains("586261.29"), "{message}");
}

/// GTFS tables without coordinates cannot become layers.
#[test]
fn gtfs_tables_without_coordinates() {
    for table in ["agency", "calendar", "calendar_dates", "routes"] {
        let file = format!("tests/fixtures/laval-stl-gtfs-2019/{table}.txt");
        let message = import_error(&file, named("asset", "route_id"));
        assert!(
            message.contains("the form fields `x_field` and `y_field`"),
            "{table}: {message}"
        );
    }
}

/// The STM's readme.txt is prose. GDAL reads a .txt file as CSV, so the
/// import rejects it for lack of coordinate columns and names the settings.
#[test]
fn stm_readme_not_a_layer() {
    let message = import_error(
        "tests/fixtures/montreal-stm-stops/readme.txt",
        named("asset", "fid"),
    );
    assert!(
        message.contains("the form fields `x_field` and `y_field`"),
        "{message}"
    );
    assert!(message.contains("`wkt_field`"), "{message}");
}

/// travaux_API.json is a JSON array of objects, not GeoJSON: ogrinfo
/// reports "Unable to open datasource".
#[test]
fn json_array_not_vector() {
    let message = import_error(
        "tests/fixtures/montreal-roadworks/travaux_API.json",
        named("work", "id"),
    );
    assert!(message.contains("cannot open"), "{message}");
    assert!(message.contains("travaux_API.json"), "{message}");
}

#[test]
fn osm_without_table_lists_layers() {
    let message = import_error(
        "tests/fixtures/helsinki-osm/Helsinki.osm.pbf",
        named("asset", "osm_id"),
    );
    assert!(
        message.contains("points, lines, multilinestrings, multipolygons, other_relations"),
        "{message}"
    );
    assert!(message.contains("`table`"), "{message}");
}

/// The OSM tag filter: `highway` has a column of its own in the points
/// layer. Expected count: `ogrinfo -sql "SELECT COUNT(*) FROM points WHERE
/// highway = 'bus_stop'"`.
#[test]
fn osm_tag_filter() {
    let value = with(
        named("asset", "osm_id"),
        json!({"table": "points", "where": "highway = 'bus_stop'"}),
    );
    let prepared = import("tests/fixtures/helsinki-osm/Helsinki.osm.pbf", value).unwrap();
    let expected = ogr_count(
        "tests/fixtures/helsinki-osm/Helsinki.osm.pbf",
        "SELECT COUNT(*) FROM points WHERE highway = 'bus_stop'",
    );
    assert!(expected > 0);
    assert_eq!(
        prepared.layer.features.len() + prepared.layer.report.rejected.len(),
        expected
    );
}

/// Runs an ogrinfo SQL count, the independent reference.
fn ogr_count(relative: &str, sql: &str) -> usize {
    let output = std::process::Command::new("ogrinfo")
        .args(["-q", "-sql", sql])
        .arg(repo_file(relative))
        .output()
        .expect("ogrinfo runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("COUNT_*"))
        .expect("ogrinfo prints the count");
    line.rsplit('=').next().unwrap().trim().parse().unwrap()
}

#[test]
fn keep_limits_properties() {
    let value = with(
        named("district", "Q_sociologique"),
        json!({"keep": ["Arrondissement"]}),
    );
    let prepared = import(
        "data/montreal-neighbourhoods-2014/quartiers_sociologiques_2014.geojson",
        value,
    )
    .unwrap();
    for feature in &prepared.layer.features {
        let keys: Vec<&String> = feature.properties.keys().collect();
        assert_eq!(keys, vec!["Arrondissement"], "{}", feature.id);
    }
}

#[test]
fn unknown_keep_names_properties() {
    let value = with(
        named("district", "Q_sociologique"),
        json!({"keep": ["Borough"]}),
    );
    let message = import_error(
        "data/montreal-neighbourhoods-2014/quartiers_sociologiques_2014.geojson",
        value,
    );
    assert!(message.contains("\"Borough\""), "{message}");
    assert!(message.contains("Arrondissement"), "{message}");
}

/// Writes a zip archive with the given entries, each containing `x`.
fn write_zip(dir: &Path, entries: &[&str]) -> PathBuf {
    use std::io::Write;

    let path = dir.join("layer.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for name in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(b"x").unwrap();
    }
    zip.finish().unwrap();
    path
}

fn zip_error(entries: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_zip(dir.path(), entries);
    let work_dir = tempfile::tempdir().unwrap();
    let result = prepare(
        "imported",
        &path,
        "layer.zip",
        &options(named("asset", "id")),
        work_dir.path(),
    );
    let message = result.expect_err("the archive is rejected").to_string();
    let written: Vec<_> = walk(work_dir.path());
    assert!(written.is_empty(), "nothing unpacked: {written:?}");
    message
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn zip_parent_entry_rejected() {
    let message = zip_error(&["a.shp", "../evil.shp"]);
    assert!(message.contains("\"../evil.shp\""), "{message}");
}

#[test]
fn zip_absolute_entry_rejected() {
    let message = zip_error(&["/tmp/evil.shp"]);
    assert!(message.contains("\"/tmp/evil.shp\""), "{message}");
}

#[test]
fn zip_entry_count_bounded() {
    let names: Vec<String> = (0..=repere::import::MAX_ENTRIES)
        .map(|i| format!("f{i}.txt"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let message = zip_error(&refs);
    assert!(
        message.contains(&format!("{} entries", names.len())),
        "{message}"
    );
}

/// Runs ogr2ogr, which writes the GeoPackage independently of repère.
fn ogr2ogr(args: &[&str]) {
    let status = std::process::Command::new("ogr2ogr")
        .args(args)
        .status()
        .expect("ogr2ogr runs");
    assert!(status.success(), "ogr2ogr {args:?}");
}

/// A GeoPackage with two tables: `fire_halls` (67 features) and
/// `taxi_stands` (409), the counts ogrinfo reports for their sources.
fn two_table_geopackage(dir: &Path) -> PathBuf {
    let path = dir.join("two.gpkg");
    let target = path.to_str().unwrap();
    let halls = repo_file("data/montreal-emergency/fire_halls.json");
    let stands = repo_file("data/montreal-taxi-stands/postes-taxi.geojson");
    ogr2ogr(&[
        "-f",
        "GPKG",
        target,
        halls.to_str().unwrap(),
        "-nln",
        "fire_halls",
    ]);
    ogr2ogr(&[
        "-f",
        "GPKG",
        "-update",
        target,
        stands.to_str().unwrap(),
        "-nln",
        "taxi_stands",
    ]);
    path
}

fn prepare_file(path: &Path, value: Value) -> Result<Prepared, ImportError> {
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let work_dir = tempfile::tempdir().unwrap();
    prepare(
        "imported",
        path,
        &file_name,
        &options(value),
        work_dir.path(),
    )
}

#[test]
fn geopackage_table_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let path = two_table_geopackage(dir.path());
    let value = with(named("asset", "Nom"), json!({"table": "taxi_stands"}));
    let prepared = prepare_file(&path, value).unwrap();
    assert_eq!(prepared.layer.report.read_count, 409);
}

#[test]
fn geopackage_ambiguous_lists_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = two_table_geopackage(dir.path());
    let message = prepare_file(&path, named("asset", "Nom"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("fire_halls, taxi_stands"), "{message}");
    let value = with(named("asset", "Nom"), json!({"table": "hydrants"}));
    let message = prepare_file(&path, value).unwrap_err().to_string();
    assert!(message.contains("\"hydrants\""), "{message}");
    assert!(message.contains("fire_halls, taxi_stands"), "{message}");
}

/// Two lines and a point as WKT, written by hand.
#[test]
fn csv_wkt_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segments.csv");
    std::fs::write(
        &path,
        "code,label,shape\n\
         s1,first,\"LINESTRING (-73.60 45.50, -73.59 45.51)\"\n\
         s2,second,\"LINESTRING (-73.58 45.50, -73.57 45.52)\"\n\
         p1,third,\"POINT (-73.56 45.53)\"\n",
    )
    .unwrap();
    let value = with(
        named("asset", "code"),
        json!({"wkt_field": "shape", "crs": "EPSG:4326"}),
    );
    let prepared = prepare_file(&path, value).unwrap();
    assert_eq!(prepared.layer.features.len(), 3);
    assert_eq!(
        prepared.layer.info.bbox,
        Some([-73.60, 45.50, -73.56, 45.53])
    );
    let first = &prepared.layer.features[0];
    assert!(
        !first.properties.contains_key("shape"),
        "{:?}",
        first.properties
    );
}

/// Zips the Laval districts Shapefile (DBF language byte 0x57, Windows
/// ANSI, so cp1252) with `extra` files added.
fn zipped_laval(dir: &Path, extra: &[(&str, &[u8])]) -> PathBuf {
    use std::io::Write;

    let path = dir.join("laval.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for extension in ["shp", "shx", "dbf", "prj"] {
        let source = repo_file(&format!(
            "data/laval-districts-2013/Laval-2465005.{extension}"
        ));
        zip.start_file(format!("laval/Laval-2465005.{extension}"), options)
            .unwrap();
        zip.write_all(&std::fs::read(source).unwrap()).unwrap();
    }
    for (name, bytes) in extra {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn district_names(prepared: &Prepared) -> Vec<String> {
    let mut names: Vec<String> = prepared
        .layer
        .features
        .iter()
        .filter_map(|f| f.name.clone())
        .collect();
    names.sort();
    names
}

/// `ogrinfo -al Laval-2465005.shp` lists NM_DIS "Sainte-Dorothée" and
/// "Laval-les-Îles".
#[test]
fn zipped_shapefile_cp1252_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = zipped_laval(dir.path(), &[]);
    let prepared = prepare_file(&path, named("district", "NM_DIS")).unwrap();
    assert_eq!(prepared.layer.features.len(), 21);
    let names = district_names(&prepared);
    assert!(names.contains(&"Sainte-Dorothée".to_owned()), "{names:?}");
    assert!(names.contains(&"Laval-les-Îles".to_owned()), "{names:?}");
}

/// A .cpg naming UTF-8 overrides the language byte, so the cp1252 "é"
/// (0xE9) no longer decodes to "é"; the `encoding` option overrides both.
#[test]
fn cpg_and_encoding_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = zipped_laval(dir.path(), &[("laval/Laval-2465005.cpg", b"UTF-8")]);
    let with_cpg = district_names(&prepare_file(&path, named("district", "NM_DIS")).unwrap());
    assert!(
        !with_cpg.contains(&"Sainte-Dorothée".to_owned()),
        "{with_cpg:?}"
    );
    let value = with(named("district", "NM_DIS"), json!({"encoding": "CP1252"}));
    let with_option = district_names(&prepare_file(&path, value).unwrap());
    assert!(
        with_option.contains(&"Sainte-Dorothée".to_owned()),
        "{with_option:?}"
    );
}

/// Five hand-written polygons, each broken in one way: every problem is
/// listed under its feature's id, and every feature is either kept or
/// listed as rejected with its reason.
#[test]
fn broken_polygons_accounted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.geojson");
    let feature = |code: &str, geometry: &str| {
        format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"code\":\"{code}\"}},\"geometry\":{geometry}}}"
        )
    };
    let features = [
        feature(
            "unclosed",
            r#"{"type":"Polygon","coordinates":[[[-73.6,45.5],[-73.5,45.5],[-73.5,45.6],[-73.6,45.6]]]}"#,
        ),
        feature(
            "three_points",
            r#"{"type":"Polygon","coordinates":[[[-73.6,45.5],[-73.5,45.5],[-73.6,45.5]]]}"#,
        ),
        feature("empty", r#"{"type":"Polygon","coordinates":[]}"#),
        feature("null", "null"),
        feature(
            "bow_tie",
            r#"{"type":"Polygon","coordinates":[[[-73.6,45.5],[-73.5,45.6],[-73.5,45.5],[-73.6,45.6],[-73.6,45.5]]]}"#,
        ),
    ];
    let text = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[{}]}}",
        features.join(",")
    );
    std::fs::write(&path, text).unwrap();

    let prepared = prepare_file(&path, named("district", "code")).unwrap();
    let report = &prepared.layer.report;
    let kept: Vec<&str> = prepared
        .layer
        .features
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(kept, vec!["unclosed", "bow_tie"]);
    let invalid: Vec<(&str, GeometryProblem, &str)> = report
        .invalid
        .iter()
        .map(|i| (i.id.as_str(), i.problem, i.action.as_str()))
        .collect();
    use GeometryProblem::{Empty, RingUnder4Points, SelfIntersection, UnclosedRing};
    let repaired = "repaired with GEOS MakeValid in the source CRS";
    assert_eq!(
        invalid,
        vec![
            (
                "unclosed",
                UnclosedRing,
                "closed the ring by repeating its first point"
            ),
            ("three_points", RingUnder4Points, "rejected"),
            ("empty", Empty, "rejected"),
            ("null", Empty, "rejected"),
            ("bow_tie", SelfIntersection, repaired),
        ]
    );
    // The bow tie's edges cross at (-73.55, 45.55), printed as the nearest double.
    assert!(
        report.invalid[4]
            .reason
            .starts_with("Self-intersection at or near point -73.549999"),
        "{:?}",
        report.invalid
    );
    let reasons: Vec<(&str, i64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.id.as_str(), r.fid, r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, "three_points");
    assert_eq!(reasons[0].1, 1);
    assert!(
        reasons[0].2.contains("exterior ring of 4 points"),
        "{reasons:?}"
    );
    // GDAL reads a Polygon without rings as a null geometry.
    assert_eq!(
        (reasons[1].0, reasons[1].2),
        ("empty", "no geometry (null)")
    );
    assert_eq!((reasons[2].0, reasons[2].2), ("null", "no geometry (null)"));
}
