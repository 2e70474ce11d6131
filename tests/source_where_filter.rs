//! The `where` filter on real files: filters in the accepted grammar select
//! what `ogrinfo -where` selects, and SQL beyond it is rejected before it
//! reaches GDAL (and, for a GeoPackage, SQLite).
//!
//! Expected counts come from GDAL 3.6.2's `ogrinfo -so FILE merge -where
//! FILTER` on the Montréal 2017 districts (116 features), as a Shapefile
//! and as a GeoPackage written by `ogr2ogr -f GPKG`.

use std::path::{Path, PathBuf};
use std::process::Command;

use repere::manifest::{LayerSpec, Manifest};
use repere::source::{SourceError, load_layer};

fn districts_shapefile() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/montreal-districts-2017/merge.shp")
}

/// Writes the districts to `dir`/districts.gpkg, table `merge`, with ogr2ogr.
fn districts_geopackage(dir: &Path) -> PathBuf {
    districts_geopackage_with(dir, "districts.gpkg", &[])
}

/// Writes the districts to `dir`/`name`, table `merge`, with ogr2ogr and
/// the extra arguments `args`, such as layer creation options.
fn districts_geopackage_with(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let target = dir.join(name);
    let output = Command::new("ogr2ogr")
        .args(["-f", "GPKG"])
        .args(args)
        .arg(&target)
        .arg(districts_shapefile())
        .output()
        .expect("cannot run ogr2ogr: install gdal-bin (scripts/test does)");
    assert!(
        output.status.success(),
        "ogr2ogr failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    target
}

fn spec(path: &Path, filter: &str) -> LayerSpec {
    let text = format!(
        "[[layer]]\nname = \"districts\"\nkind = \"district\"\npath = {:?}\n\
         id_field = \"NO_DIS\"\nname_field = \"NM_DIS\"\nwhere = {:?}\n",
        path.display().to_string(),
        filter
    );
    let dir = path.parent().unwrap();
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), &text).unwrap();
    manifest.layers.remove(0)
}

/// Returns the number of features the filter lets through.
fn selected(path: &Path, filter: &str) -> usize {
    let layer = load_layer(&spec(path, filter)).unwrap_or_else(|e| panic!("{filter}: {e}"));
    layer.report.read_count - layer.report.filtered_count
}

fn rejected(path: &Path, filter: &str) -> SourceError {
    match load_layer(&spec(path, filter)) {
        Ok(layer) => panic!("{filter}: loaded {} features", layer.features.len()),
        Err(error) => error,
    }
}

#[test]
fn filters_select_as_ogrinfo() {
    let dir = tempfile::tempdir().unwrap();
    let geopackage = districts_geopackage(dir.path());
    let shapefile = districts_shapefile();
    // (filter, Shapefile count, GeoPackage count). FIDs start at 0 in a
    // Shapefile and at 1 in a GeoPackage. SQLite has no ILIKE, and its
    // LIKE ignores ASCII case: `-where "NM_DIS LIKE 'saint%'"` on the
    // GeoPackage counts 8.
    let cases = [
        ("NO_DIS IS NOT NULL", 58, 58),
        ("no_dis is not null", 58, 58),
        ("\"NM_DIS\" ILIKE 'saint%'", 8, 8),
        ("NO_DIS BETWEEN 10 AND 20", 27, 27),
        ("NO_DIS IS NOT NULL AND NOT (NM_DIS LIKE 'S%')", 47, 47),
        ("FID < 3", 3, 2),
        ("NM_DIS = 'de l''Est'", 1, 1),
    ];
    for (filter, in_shapefile, in_geopackage) in cases {
        assert_eq!(
            selected(&shapefile, filter),
            in_shapefile,
            "Shapefile: {filter}"
        );
        assert_eq!(
            selected(&geopackage, filter),
            in_geopackage,
            "GeoPackage: {filter}"
        );
    }
}

#[test]
fn sql_beyond_grammar_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let geopackage = districts_geopackage(dir.path());
    // GDAL 3.6 hands each of these to SQLite as written, where the first
    // one never ends.
    let cases = [
        (
            "fid IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) \
             SELECT x FROM c WHERE x < 0)",
            "`WITH`",
        ),
        (
            "fid IN (SELECT fid FROM merge WHERE NO_DIS > 10)",
            "`SELECT`",
        ),
        ("length(NM_DIS) > 3", "function call `length(`"),
        ("NO_DIS > 1; SELECT 1", "`;`"),
        ("NO_DIS > 1 -- all", "`--`"),
        ("NO_DIS > 1 /* all */", "`/*`"),
        ("NM_DIS = 'a' || 'b'", "`|`"),
    ];
    for (filter, token) in cases {
        let error = rejected(&geopackage, filter);
        let message = error.to_string();
        assert!(
            matches!(error, SourceError::Filter { .. }),
            "{filter}: {error:?}"
        );
        assert!(message.contains(token), "{filter}: {message}");
        assert!(message.contains("`where` in the manifest"), "{message}");
        assert!(message.contains("[NOT] BETWEEN"), "{message}");
    }
}

#[test]
fn unknown_filter_field_lists_columns() {
    let error = rejected(&districts_shapefile(), "NO_DISTRICT > 3");
    let message = error.to_string();
    assert!(
        matches!(
            error,
            SourceError::MissingField {
                setting: "where",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains("\"NO_DISTRICT\""), "{message}");
    assert!(
        message.contains("NM_ARON, NO_ARON, NO_DIS, NM_DIS"),
        "{message}"
    );
}

/// A quoted name is a field name even when it looks like a string: SQLite
/// would read an unknown `"NOPE"` as the string 'NOPE'.
#[test]
fn quoted_unknown_field_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let geopackage = districts_geopackage(dir.path());
    let error = rejected(&geopackage, "NM_DIS = \"NOPE\"");
    assert!(
        matches!(
            error,
            SourceError::MissingField {
                setting: "where",
                ..
            }
        ),
        "{error:?}"
    );
}

/// A column name with a double quote could close the quoted name that
/// GDAL receives, so a filter on it is rejected. The file's own column
/// name is `x" OR "y`, written in the filter with its quote doubled.
#[test]
fn quote_in_column_name_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.geojson");
    let feature = serde_json::json!({
        "type": "Feature",
        "properties": {"NO_DIS": 1, "NM_DIS": "one", "x\" OR \"y": 1},
        "geometry": {"type": "Point", "coordinates": [-73.6, 45.5]}
    });
    let collection = serde_json::json!({"type": "FeatureCollection", "features": [feature]});
    std::fs::write(&path, collection.to_string()).unwrap();

    let error = rejected(&path, "\"x\"\" OR \"\"y\" = 1");
    let message = error.to_string();
    assert!(matches!(error, SourceError::Filter { .. }), "{error:?}");
    assert!(message.contains("cannot quote safely"), "{message}");
}

/// Counts the features of table `merge` that `ogrinfo -where FILTER`
/// selects, the independent reference.
fn ogrinfo_count(path: &Path, filter: &str) -> usize {
    let output = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(path)
        .args(["merge", "-where", filter])
        .output()
        .expect("ogrinfo runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with("Feature Count:"))
        .unwrap_or_else(|| panic!("no feature count from ogrinfo for {filter}: {text}"));
    line["Feature Count:".len()..].trim().parse().unwrap()
}

/// A GeoPackage whose FID column is `OBJECTID`, as ArcGIS writes them:
/// `FID` in a filter means that column, where SQLite alone would read
/// `"FID"` as a string and keep every row.
#[test]
fn fid_filter_on_objectid_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let target = districts_geopackage_with(dir.path(), "objectid.gpkg", &["-lco", "FID=OBJECTID"]);

    let expected = ogrinfo_count(&target, "OBJECTID > 100");
    assert_eq!(expected, 16, "ogrinfo on the 116 districts");
    assert_eq!(selected(&target, "FID > 100"), expected, "FID > 100");
    assert_eq!(
        selected(&target, "OBJECTID > 100"),
        expected,
        "OBJECTID > 100"
    );
}

/// A list of 150 districts joined by OR, longer than SQLite's parser
/// takes when each term is nested in parentheses of its own.
#[test]
fn long_or_chain_on_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let geopackage = districts_geopackage(dir.path());
    // NO_DIS contains district numbers such as 1.3 and 11.2.
    let terms: Vec<String> = (10..160)
        .map(|n| format!("NO_DIS = {}.{}", n / 10, n % 10))
        .collect();
    let filter = terms.join(" OR ");
    let expected = ogrinfo_count(&geopackage, &filter);
    assert!(expected > 0, "ogrinfo selects none of {filter}");
    assert_eq!(selected(&geopackage, &filter), expected, "150 OR terms");
    let nested = format!("NO_DIS > 0 AND ({filter})");
    let expected = ogrinfo_count(&geopackage, &nested);
    assert_eq!(
        selected(&geopackage, &nested),
        expected,
        "AND of 150 OR terms"
    );
}

/// GDAL takes the filter as a C string, so a NUL byte is rejected by name.
#[test]
fn nul_byte_in_filter_rejected() {
    // TOML strings cannot hold a NUL byte, so the filter is set after the
    // manifest is read, as the import form and `--where` set it.
    let mut spec = spec(&districts_shapefile(), "NM_DIS = 'x'");
    spec.filter = Some("NM_DIS = 'a\0b'".to_owned());
    let message = match load_layer(&spec) {
        Ok(layer) => panic!("loaded {} features", layer.features.len()),
        Err(error) => error.to_string(),
    };
    assert!(message.contains("a NUL byte at byte 11"), "{message}");
}
