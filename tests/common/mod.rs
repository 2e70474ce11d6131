//! Helpers shared by the integration tests: the PostGIS test database, loading
//! files into it with ogr2ogr, fixtures, manifests and the `repere` binary.
//!
//! Each integration test crate compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Utc;
use repere::catalog::Catalog;
use repere::context::{self, ContextRequest};
use repere::manifest::Manifest;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The environment variable holding the URL of the test database,
/// `postgres://USER@HOST:PORT/DATABASE`.
pub const DATABASE_URL_VAR: &str = "REPERE_TEST_DATABASE_URL";

/// Returns the URL of the PostGIS test database, or panics with the fix: a
/// test that needs PostGIS fails without it rather than being skipped.
pub fn database_url() -> String {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{DATABASE_URL_VAR} is not set: run scripts/test, which starts PostGIS \
             (or keep one running with `eval \"$(scripts/postgis start)\"`)"
        ),
    }
}

/// Connects to the test database.
pub async fn connect() -> PgPool {
    let url = database_url();
    PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to {url} ({DATABASE_URL_VAR}): {e}; run scripts/test, which starts PostGIS")
        })
}

/// The key of the advisory lock that serialises ogr2ogr loads. Any constant
/// works as long as no other code of the test database uses it.
const OGR2OGR_LOCK: i64 = 0x7265_7065_7265;

/// Returns a name no other test of this run uses: `prefix`, the process id
/// and a counter. Tests run in parallel, in one process or several.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

/// A schema of the test database that belongs to one test, so that tests can
/// load tables with the same names side by side.
pub struct Schema {
    pub name: String,
    pool: PgPool,
}

impl Schema {
    /// Creates a new schema named after `prefix`.
    pub async fn create(pool: &PgPool, prefix: &str) -> Schema {
        let name = unique_name(prefix);
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("CREATE SCHEMA {name} failed: {e}"));
        Schema {
            name,
            pool: pool.clone(),
        }
    }

    /// Returns the qualified name of a table of this schema.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.name)
    }

    /// Loads a file into `table` with ogr2ogr, which reads it with GDAL
    /// independently of repère's reader. The geometry column is `geom`, the
    /// feature id column `fid`, and column names are laundered (lower case,
    /// spaces to underscores). `options` go to ogr2ogr before the file name,
    /// e.g. `["-t_srs", "EPSG:3857"]`.
    ///
    /// Loads run one at a time in the database, under an advisory lock.
    /// ogr2ogr registers a CRS without an EPSG code in `spatial_ref_sys`
    /// under the next free SRID, and two concurrent loads of such a file
    /// would insert the same SRID, so that one of them fails.
    pub async fn load(&self, path: &Path, table: &str, options: &[&str]) {
        let mut connection = self.pool.acquire().await.expect("connection");
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(OGR2OGR_LOCK)
            .execute(&mut *connection)
            .await
            .expect("pg_advisory_lock");
        let output = Command::new("ogr2ogr")
            .args(["-f", "PostgreSQL", &ogr_connection(&database_url())])
            .args(["-nln", table, "-lco", &format!("SCHEMA={}", self.name)])
            .args(["-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid"])
            .args(options)
            .arg(path)
            .output();
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(OGR2OGR_LOCK)
            .execute(&mut *connection)
            .await
            .expect("pg_advisory_unlock");
        let output = output.unwrap_or_else(|e| {
            panic!("cannot run ogr2ogr: {e}; install gdal-bin (scripts/test does)")
        });
        assert_command_succeeded("ogr2ogr", &output, path);
    }

    /// Loads a CSV file whose Longitude and Latitude columns are WGS84
    /// degrees into `table`, as points.
    pub async fn load_csv_points(&self, path: &Path, table: &str) {
        let options = [
            "-oo",
            "X_POSSIBLE_NAMES=Longitude",
            "-oo",
            "Y_POSSIBLE_NAMES=Latitude",
            "-a_srs",
            "EPSG:4326",
        ];
        self.load(path, table, &options).await;
    }

    /// Counts the invalid geometries of a table, for oracles that need valid
    /// polygons.
    pub async fn invalid_count(&self, table: &str) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE NOT ST_IsValid(geom)",
            self.table(table)
        );
        sqlx::query_scalar(&sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql} failed: {e}"))
    }

    /// Runs one or more SQL statements in this schema's database.
    pub async fn execute(&self, sql: &str) {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql} failed: {e}"));
    }

    /// Drops the schema and its tables. A failed test leaves its schema
    /// behind, for a look at the data.
    pub async fn drop(self) {
        let sql = format!("DROP SCHEMA {} CASCADE", self.name);
        sqlx::query(&sql)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql} failed: {e}"));
    }
}

/// Returns the SQL condition "`{polygon}.geom` covers `{point}.geom`" by the
/// service's rule: ST_Covers, or the polygon's edge lies within 0.01 m
/// (geodesic) of the point, so that a point on a shared edge is covered by
/// both neighbours. The planar ST_DWithin of 1e-6° only lets the index skip
/// far polygons, because 0.01 m is under 1e-6° of longitude below 84° of
/// latitude. Both geometries are in EPSG:4326.
pub fn covers_sql(polygon: &str, point: &str) -> String {
    format!(
        "(ST_Covers({polygon}.geom, {point}.geom) \
          OR (ST_DWithin({polygon}.geom, {point}.geom, 1e-6) \
              AND ST_DWithin({polygon}.geom::geography, {point}.geom::geography, 0.01)))"
    )
}

/// Turns `postgres://user[:password]@host[:port]/database` into the
/// `PG:key=value ...` string of GDAL's PostgreSQL driver, which does not read
/// URLs in GDAL 3.6.
pub fn ogr_connection(url: &str) -> String {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .unwrap_or_else(|| invalid_url(url));
    let (credentials, location) = rest.rsplit_once('@').unwrap_or_else(|| invalid_url(url));
    let (address, database) = location.split_once('/').unwrap_or_else(|| invalid_url(url));
    let database = database.split('?').next().unwrap_or(database);
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "5432"));
    let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
    let mut connection = format!("PG:host={host} port={port} dbname={database} user={user}");
    if !password.is_empty() {
        connection.push_str(&format!(" password={password}"));
    }
    connection
}

fn invalid_url(url: &str) -> ! {
    panic!("{DATABASE_URL_VAR}={url:?} is invalid: expected postgres://user@host:port/database")
}

/// Returns the path of a file under tests/fixtures.
pub fn fixture(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    assert!(path.exists(), "fixture {} not found", path.display());
    path
}

/// Returns the path of the default manifest, data/layers.toml.
pub fn default_manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/layers.toml")
}

/// Loads the named layers of the default manifest, as shipped, through the
/// library.
pub fn default_catalog(names: &[&str]) -> Catalog {
    let mut manifest = load_default_manifest();
    for name in names {
        assert!(
            manifest.layers.iter().any(|spec| spec.name == *name),
            "layer {name} not found in {}",
            manifest.path.display()
        );
    }
    manifest
        .layers
        .retain(|spec| names.contains(&spec.name.as_str()));
    Catalog::load(&manifest).unwrap_or_else(|e| panic!("{e}"))
}

/// Returns the source file of a layer of the default manifest, for loading
/// the same file into PostGIS.
pub fn default_layer_path(name: &str) -> PathBuf {
    let manifest = load_default_manifest();
    let spec = manifest.layers.iter().find(|spec| spec.name == name);
    let spec =
        spec.unwrap_or_else(|| panic!("layer {name} not found in {}", manifest.path.display()));
    spec.path.clone()
}

fn load_default_manifest() -> Manifest {
    Manifest::load(&default_manifest_path()).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes `text` as `layers.toml` in `dir` and returns its path. Layer paths
/// in a manifest are relative to its folder, so fixtures are best named by
/// absolute path (see [`toml_path`]).
pub fn write_manifest(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("layers.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Quotes a path as a TOML basic string.
pub fn toml_path(path: &Path) -> String {
    Value::String(path.display().to_string()).to_string()
}

/// Returns the path of the `repere` binary that cargo built for this test run.
pub fn repere_bin() -> &'static str {
    env!("CARGO_BIN_EXE_repere")
}

/// Runs `repere` with `args` and returns its output once it has exited
/// successfully; panics with its stderr otherwise.
pub fn run_repere(args: &[&str]) -> Output {
    let output = Command::new(repere_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", repere_bin()));
    assert_command_succeeded("repere", &output, Path::new(&args.join(" ")));
    output
}

fn assert_command_succeeded(program: &str, output: &Output, subject: &Path) {
    assert!(
        output.status.success(),
        "{program} failed on {} with {}:\n{}",
        subject.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads a manifest and loads its layers through the library, as the service
/// does at start-up.
pub fn load_catalog(manifest: &Path) -> Catalog {
    let manifest = Manifest::load(manifest).unwrap_or_else(|e| panic!("{e}"));
    Catalog::load(&manifest).unwrap_or_else(|e| panic!("{e}"))
}

/// Computes the context of a request through the library and returns it as
/// the JSON the HTTP API sends.
pub fn context_json(catalog: &Catalog, request: &ContextRequest) -> Value {
    let query = request
        .validate(catalog, Utc::now())
        .unwrap_or_else(|e| panic!("invalid request {request:?}: {e}"));
    serde_json::to_value(context::context(catalog, &query)).expect("a context serialises to JSON")
}

/// Finds the features of one layer in a context response.
pub fn layer_features<'a>(response: &'a Value, layer: &str) -> &'a [Value] {
    response["layers"]
        .as_array()
        .and_then(|layers| layers.iter().find(|l| l["name"] == layer))
        .and_then(|l| l["features"].as_array())
        .unwrap_or_else(|| panic!("layer {layer:?} missing from the response {response}"))
}

/// Collects the `field` values (`id` or `name`) of one layer's features in a
/// context response, sorted.
pub fn feature_values(response: &Value, layer: &str, field: &str) -> Vec<String> {
    let mut values: Vec<String> = layer_features(response, layer)
        .iter()
        .map(|f| match &f[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    values.sort();
    values
}
