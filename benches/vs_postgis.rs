//! The same context work in repère and in PostGIS, in one run.
//!
//! Loads every layer of data/layers.toml into PostGIS with `ogr2ogr`
//! (reprojected to EPSG:4326, invalid polygons passed through
//! `ST_MakeValid`, GiST indexes on geometry and on geography), then answers
//! the same points both ways:
//! - PostGIS: one prepared statement per point over one connection, a UNION
//!   ALL of, per district layer, the covering districts with their boundary
//!   distance and the districts within 25 m; per asset layer, the 3 nearest
//!   features within 100 m; distances on geography.
//! - repère: `context::context` plus JSON serialization, on one thread.
//!
//! Needs a PostGIS database: `REPERE_BENCH_DATABASE_URL` or
//! `REPERE_TEST_DATABASE_URL` (`scripts/postgis start` prints one).
//! Run with `cargo bench --bench vs_postgis`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use repere::catalog::Catalog;
use repere::context::{self, ContextRequest};
use repere::layer::LayerKind;
use repere::manifest::{LayerSpec, Manifest};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool, Row};

const SCHEMA: &str = "repere_bench";

/// Points timed under `cargo bench`; `cargo test` runs the bench without
/// `--bench` as a quick check that both sides still work.
const POINTS: usize = 1000;
const SMOKE_POINTS: usize = 50;

fn main() {
    let url = std::env::var("REPERE_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("REPERE_TEST_DATABASE_URL"))
        .expect("set REPERE_BENCH_DATABASE_URL to a PostGIS database (scripts/postgis start)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = Manifest::load(&root.join("data/layers.toml")).expect("data/layers.toml loads");
    let count = if std::env::args().any(|a| a == "--bench") { POINTS } else { SMOKE_POINTS };
    let points = support::sample_points(count);

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let postgis = runtime.block_on(async {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect to PostGIS");
        load_into_postgis(&pool, &url, &manifest).await;
        time_postgis(&pool, &manifest, &points).await
    });
    let repere = time_repere(&manifest, &points);

    let per_postgis = postgis.as_secs_f64() * 1e6 / count as f64;
    let per_repere = repere.as_secs_f64() * 1e6 / count as f64;
    println!("points: {count}, layers: {}", manifest.layers.len());
    println!("postgis: {per_postgis:.1} µs per context ({:.0}/s)", 1e6 / per_postgis);
    println!("repere:  {per_repere:.2} µs per context ({:.0}/s)", 1e6 / per_repere);
    println!("ratio:   {:.0}x", per_postgis / per_repere);
}


fn time_repere(manifest: &Manifest, points: &[(f64, f64)]) -> Duration {
    let catalog = Catalog::load(manifest).expect("the default layers load");
    let now = Utc::now();
    let queries: Vec<_> = points
        .iter()
        .map(|&(lat, lon)| {
            let request = ContextRequest {
                lat,
                lon,
                ..ContextRequest::default()
            };
            request.validate(&catalog, now).expect("valid request")
        })
        .collect();
    let mut bytes = 0;
    let started = Instant::now();
    for _ in 0..10 {
        for query in &queries {
            let response = context::context(&catalog, query);
            bytes += serde_json::to_vec(&response).expect("serializable").len();
        }
    }
    let elapsed = started.elapsed() / 10;
    assert!(bytes > 0);
    elapsed
}

async fn load_into_postgis(pool: &PgPool, url: &str, manifest: &Manifest) {
    pool.execute(format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}").as_str())
        .await
        .expect("create the bench schema");
    for spec in &manifest.layers {
        ogr2ogr(url, spec);
        let table = format!("{SCHEMA}.{}", spec.name);
        let statements = format!(
            "UPDATE {table} SET geom = ST_CollectionExtract(ST_MakeValid(geom), 3) \
               WHERE NOT ST_IsValid(geom) AND ST_Dimension(geom) = 2;
             CREATE INDEX ON {table} USING gist (geom);
             CREATE INDEX ON {table} USING gist ((geom::geography));
             ANALYZE {table};"
        );
        pool.execute(statements.as_str()).await.expect("index the layer");
    }
}

/// Loads one manifest layer with ogr2ogr, as a GIS analyst would.
fn ogr2ogr(url: &str, spec: &LayerSpec) {
    let mut command = Command::new("ogr2ogr");
    command
        .args(["-f", "PostgreSQL", &pg_dsn(url)])
        .arg(csv_aware_path(spec))
        .args(["-nln", &format!("{SCHEMA}.{}", spec.name)])
        .args(["-t_srs", "EPSG:4326", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-overwrite"]);
    if spec.kind == LayerKind::District {
        // ST_MakeValid may turn a Polygon into a MultiPolygon.
        command.args(["-nlt", "PROMOTE_TO_MULTI"]);
    }
    if let Some(crs) = &spec.crs {
        command.args(["-s_srs", crs]);
    }
    if let Some(filter) = &spec.filter {
        command.args(["-where", filter]);
    }
    if let (Some(x), Some(y)) = (&spec.x_field, &spec.y_field) {
        command.args(["-oo", &format!("X_POSSIBLE_NAMES={x}"), "-oo", &format!("Y_POSSIBLE_NAMES={y}")]);
    }
    if let Some(encoding) = &spec.encoding {
        command.args(["-oo", &format!("ENCODING={encoding}")]);
    }
    let status = command.status().expect("ogr2ogr runs (apt package gdal-bin)");
    assert!(status.success(), "ogr2ogr failed on {}", spec.path.display());
}

fn csv_aware_path(spec: &LayerSpec) -> String {
    let path = spec.path.display().to_string();
    if path.ends_with(".txt") { format!("CSV:{path}") } else { path }
}

/// Turns a `postgres://user@host:port/db` URL into the `PG:` string GDAL takes.
fn pg_dsn(url: &str) -> String {
    let rest = url.trim_start_matches("postgres://").trim_start_matches("postgresql://");
    let (auth, location) = rest.split_once('@').unwrap_or(("postgres", rest));
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (host_port, db) = location.split_once('/').unwrap_or((location, "postgres"));
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
    let db = db.split('?').next().unwrap_or(db);
    let mut dsn = format!("PG:host={host} port={port} user={user} dbname={db}");
    if !password.is_empty() {
        dsn.push_str(&format!(" password={password}"));
    }
    dsn
}

/// One statement that does per point what `context::context` does.
fn context_sql(manifest: &Manifest) -> String {
    let point = "ST_SetSRID(ST_MakePoint($1, $2), 4326)";
    let parts: Vec<String> = manifest
        .layers
        .iter()
        .flat_map(|spec| {
            let table = format!("{SCHEMA}.{}", spec.name);
            let name = &spec.name;
            match spec.kind {
                LayerKind::District => vec![
                    format!(
                        "SELECT '{name}' AS layer, fid, \
                           ST_Distance(ST_Boundary(geom)::geography, {point}::geography) AS d \
                         FROM {table} WHERE ST_Covers(geom, {point}) \
                           OR ST_DWithin(geom::geography, {point}::geography, 0.01)"
                    ),
                    format!(
                        "SELECT '{name}:near', fid, ST_Distance(geom::geography, {point}::geography) \
                         FROM {table} WHERE ST_DWithin(geom::geography, {point}::geography, 25)"
                    ),
                ],
                _ => vec![format!(
                    "(SELECT '{name}', fid, ST_Distance(geom::geography, {point}::geography) AS d \
                      FROM {table} WHERE ST_DWithin(geom::geography, {point}::geography, 100) \
                      ORDER BY d LIMIT 3)"
                )],
            }
        })
        .collect();
    parts.join(" UNION ALL ")
}

async fn time_postgis(pool: &PgPool, manifest: &Manifest, points: &[(f64, f64)]) -> Duration {
    let sql = context_sql(manifest);
    // One warm-up pass fills caches and prepares the statement.
    for &(lat, lon) in points.iter().take(50) {
        sqlx::query(&sql).bind(lon).bind(lat).fetch_all(pool).await.expect("context SQL");
    }
    let started = Instant::now();
    let mut rows = 0;
    for &(lat, lon) in points {
        let result = sqlx::query(&sql).bind(lon).bind(lat).fetch_all(pool).await.expect("context SQL");
        rows += result.iter().filter(|r| r.get::<Option<f64>, _>(2).is_some()).count();
    }
    let elapsed = started.elapsed();
    assert!(rows > 0, "PostGIS found nothing: check the load");
    elapsed
}
