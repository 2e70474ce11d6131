//! Abandoned imports in the GeoPackage store. A killed import leaves an
//! incomplete version row and its feature table. Opening the store again
//! removes them when their writer has ended or they are over an hour old,
//! and keeps them otherwise. The leftovers are made and checked with the
//! GDAL command-line tools (`ogr2ogr`, `ogrinfo`), apart from repère's code.

mod store_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{SecondsFormat, TimeDelta, Utc};
use repere::store::{GpkgStore, Origin, Page, Store};
use store_support::{assert_same_features, districts_layer};

const LAYER: &str = "districts";
const HASH: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// The writer of a leftover row: host name and process id.
struct Writer {
    host: Option<String>,
    pid: Option<u32>,
}

/// Runs `ogrinfo` on `file` and returns its standard output.
fn ogrinfo(file: &Path, args: &[&str]) -> String {
    let output = Command::new("ogrinfo")
        .arg("-q")
        .args(args)
        .arg(file)
        .output()
        .expect("ogrinfo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ogrinfo {args:?}: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs one SQLite statement on `file` through `ogrinfo`.
fn run_sql(file: &Path, sql: &str) -> String {
    ogrinfo(file, &["-sql", sql])
}

/// Returns the integer column `n` of a one-row `SELECT … AS n`.
fn count(file: &Path, sql: &str) -> i64 {
    let output = run_sql(file, sql);
    let line = output
        .lines()
        .find(|line| line.trim_start().starts_with("n ("))
        .unwrap_or_else(|| panic!("no column n in the output of {sql:?}: {output}"));
    let value = line.rsplit('=').next().unwrap().trim();
    value.parse().unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

fn table_exists(file: &Path, table: &str) -> bool {
    let sql = format!(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
    );
    count(file, &sql) == 1
}

fn row_exists(file: &Path, version: u32) -> bool {
    let sql = format!("SELECT count(*) AS n FROM repere_versions WHERE version = {version}");
    count(file, &sql) == 1
}

fn host_name() -> String {
    let output = Command::new("hostname").output().expect("hostname runs");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Returns the id of a process that has ended: a child that exited and was
/// waited for.
fn ended_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("true runs");
    child.wait().unwrap();
    child.id()
}

fn sql_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| format!("'{v}'"))
}

/// Leaves in `file` what an import of version `version`, killed while it
/// wrote its features, leaves: a copy of version 1's feature table under
/// the new version's name, and an incomplete row reserved `age` ago.
fn leave_killed_import(file: &Path, version: u32, writer: &Writer, age: TimeDelta) {
    let table = format!("{LAYER}__v{version:04}");
    let status = Command::new("ogr2ogr")
        .args(["-update", "-nln", &table])
        .arg(file)
        .arg(file)
        .arg(format!("{LAYER}__v0001"))
        .status()
        .expect("ogr2ogr runs");
    assert!(status.success(), "ogr2ogr copies {LAYER}__v0001 to {table}");
    let reserved_at = (Utc::now() - age).to_rfc3339_opts(SecondsFormat::Micros, true);
    let pid = writer.pid.map_or("NULL".to_owned(), |pid| pid.to_string());
    run_sql(
        file,
        &format!(
            "INSERT INTO repere_versions (layer, version, kind, source_file, source_sha256, \
             source_crs, feature_count, invalid_count, repaired_count, synthetic_id_count, \
             origin, load_report, imported_at, complete, writer_host, writer_pid) \
             SELECT layer, {version}, kind, source_file, source_sha256, source_crs, \
             feature_count, 0, 0, 0, 'import', load_report, '{reserved_at}', 0, {}, {pid} \
             FROM repere_versions WHERE layer = '{LAYER}' AND version = 1",
            sql_text(writer.host.as_deref()),
        ),
    );
    assert!(table_exists(file, &table), "{table} before the reopen");
    assert_eq!(
        count(file, &format!("SELECT count(*) AS n FROM \"{table}\"")),
        3,
        "features of {table} before the reopen"
    );
}

/// Opens a new store in `dir` with version 1 of the districts active.
async fn store_with_active_version(dir: &Path) -> (PathBuf, Store) {
    let file = dir.join("repere.gpkg");
    let store = Store::GeoPackage(GpkgStore::open(&file).await.unwrap());
    let stored = store
        .put_version(
            &districts_layer(LAYER, "a"),
            Origin::Manifest,
            HASH,
            "manifest",
        )
        .await
        .unwrap();
    assert_eq!(stored.version, 1);
    store.activate(LAYER, 1, "manifest").await.unwrap();
    (file, store)
}

/// Stores another version of the districts, inactive, and returns its
/// number.
async fn store_next_version(store: &Store) -> u32 {
    let layer = districts_layer(LAYER, "b");
    let stored = store.put_version(&layer, Origin::Import, HASH, "gis-team");
    stored.await.unwrap().version
}

/// Checks through repère's store and through `ogrinfo` that version 1 is
/// still active with all its features.
async fn check_active_intact(file: &Path, store: &Store) {
    let active = store.active_version(LAYER).await.unwrap().unwrap();
    assert_eq!(active.version, 1, "the active version");
    let loaded = store.load_version(LAYER, 1).await.unwrap();
    assert_same_features("version 1", &districts_layer(LAYER, "a"), &loaded);
    let sql = format!("SELECT count(*) AS n FROM {LAYER}__v0001");
    assert_eq!(count(file, &sql), 3, "features of {LAYER}__v0001");
}

#[tokio::test]
async fn ended_writer_import_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (file, store) = store_with_active_version(dir.path()).await;
    let writer = Writer {
        host: Some(host_name()),
        pid: Some(ended_pid()),
    };
    leave_killed_import(&file, 2, &writer, TimeDelta::seconds(3));
    drop(store);

    let store = Store::GeoPackage(GpkgStore::open(&file).await.unwrap());

    assert!(!table_exists(&file, "districts__v0002"), "table dropped");
    let failed = "SELECT count(*) AS n FROM repere_versions WHERE version = 2 AND complete = -1";
    assert_eq!(count(&file, failed), 1, "row marked failed");
    let listed = ogrinfo(&file, &[]);
    assert!(
        !listed.contains("districts__v0002"),
        "ogrinfo lists {listed}"
    );
    check_active_intact(&file, &store).await;
    let next = store_next_version(&store).await;
    assert_eq!(next, 3, "the number of the failed version is not reused");
    let sql = "SELECT count(*) AS n FROM districts__v0003";
    assert_eq!(count(&file, sql), 3, "features of the new version 3");
    drop(store);

    // A store opened anew reads the new version through GDAL.
    let reopened = Store::GeoPackage(GpkgStore::open(&file).await.unwrap());
    let loaded = reopened.load_version(LAYER, 3).await.unwrap();
    assert_eq!(loaded.features.len(), 3, "version 3 read back");
}

#[tokio::test]
async fn running_writer_import_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (file, store) = store_with_active_version(dir.path()).await;
    // This test process is alive, so its import may still be running.
    let writer = Writer {
        host: Some(host_name()),
        pid: Some(std::process::id()),
    };
    leave_killed_import(&file, 2, &writer, TimeDelta::minutes(59));
    drop(store);

    let store = Store::GeoPackage(GpkgStore::open(&file).await.unwrap());

    assert!(table_exists(&file, "districts__v0002"), "table kept");
    assert!(row_exists(&file, 2), "row kept");
    let versions = store.versions(LAYER, Page::first(10)).await.unwrap();
    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [1], "incomplete version 2 is not listed");
    check_active_intact(&file, &store).await;
}

#[tokio::test]
async fn other_host_import_removed_when_old() {
    let dir = tempfile::tempdir().unwrap();
    let (file, store) = store_with_active_version(dir.path()).await;
    let elsewhere = || Writer {
        host: Some("another-host.invalid".to_owned()),
        pid: Some(ended_pid()),
    };
    let unrecorded = Writer {
        host: None,
        pid: None,
    };
    leave_killed_import(&file, 2, &elsewhere(), TimeDelta::hours(2));
    leave_killed_import(&file, 3, &unrecorded, TimeDelta::hours(2));
    leave_killed_import(&file, 4, &elsewhere(), TimeDelta::minutes(59));
    leave_killed_import(&file, 5, &unrecorded, TimeDelta::minutes(59));
    drop(store);

    let store = Store::GeoPackage(GpkgStore::open(&file).await.unwrap());

    for version in [2, 3] {
        let table = format!("districts__v{version:04}");
        assert!(!table_exists(&file, &table), "{table} dropped");
        let failed = format!(
            "SELECT count(*) AS n FROM repere_versions WHERE version = {version} AND complete = -1"
        );
        assert_eq!(
            count(&file, &failed),
            1,
            "row of version {version} marked failed"
        );
    }
    for version in [4, 5] {
        let table = format!("districts__v{version:04}");
        assert!(table_exists(&file, &table), "{table} kept");
        assert!(row_exists(&file, version), "row of version {version} kept");
    }
    check_active_intact(&file, &store).await;
}

#[tokio::test]
async fn older_file_gains_writer_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (file, store) = store_with_active_version(dir.path()).await;
    drop(store);
    run_sql(&file, "ALTER TABLE repere_versions DROP COLUMN writer_pid");
    run_sql(&file, "ALTER TABLE repere_versions DROP COLUMN writer_host");
    let columns = "SELECT count(*) AS n FROM pragma_table_info('repere_versions') \
         WHERE name IN ('writer_host', 'writer_pid')";
    assert_eq!(count(&file, columns), 0, "writer columns dropped");

    let store = Store::GeoPackage(GpkgStore::open(&file).await.unwrap());
    let next = store_next_version(&store).await;

    assert_eq!(next, 2);
    let sql = format!(
        "SELECT count(*) AS n FROM repere_versions WHERE version = 2 AND complete = 1 \
         AND writer_host = '{}' AND writer_pid = {}",
        host_name(),
        std::process::id()
    );
    assert_eq!(count(&file, &sql), 1, "version 2 records its writer");
    check_active_intact(&file, &store).await;
}
