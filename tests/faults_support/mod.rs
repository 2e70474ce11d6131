//! Reads a layer store's tables with plain SQL, apart from repère's store
//! code, for the `kill -9` tests: the active version from the activation
//! log, a fingerprint of a version's features, and every version row with
//! the number of feature rows stored for it.
//!
//! The GeoPackage is read through GDAL's SQLite dialect, using the
//! `ST_MinX`/`ST_MinY` functions of GDAL's GPKG driver; PostGIS through
//! sqlx.

use std::path::Path;

use gdal::vector::LayerAccess;
use gdal::vector::sql::Dialect;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use sqlx::{Connection, PgConnection};

/// Feature count, distinct ids and coordinate sums of one stored version,
/// computed by the database. Coordinates are rounded to thousandths of a
/// degree before summing, so the sums are exact integers for points on a
/// 0.001° grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub features: i64,
    pub distinct_ids: i64,
    pub lon_sum_milli: i64,
    pub lat_sum_milli: i64,
}

/// One version row of a layer, with the feature rows stored for it.
#[derive(Debug)]
pub struct VersionRow {
    pub version: i64,
    /// False for a GeoPackage row whose import has not finished. PostGIS
    /// writes a row in the transaction of its features, so its rows are
    /// always complete.
    pub complete: bool,
    /// The count the row declares.
    pub feature_count: i64,
    /// The feature rows actually stored for this version.
    pub stored_features: i64,
}

/// A direct connection to a store's tables.
pub enum Tables {
    GeoPackage(Dataset),
    Postgis(PgConnection),
}

impl Tables {
    /// Opens the GeoPackage at `path` for update, because SQLite rolls back
    /// the journal of a killed writer only on a writable open.
    pub fn open_geopackage(path: &Path) -> Tables {
        let options = DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_UPDATE | GdalOpenFlags::GDAL_OF_VECTOR,
            allowed_drivers: Some(&["GPKG"]),
            ..Default::default()
        };
        let dataset = Dataset::open_ex(path, options)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        Tables::GeoPackage(dataset)
    }

    /// Connects to PostGIS at `url`, whose `options` may set a search path.
    pub async fn connect_postgis(url: &str) -> Tables {
        let connection = PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the PostGIS store: {e}"));
        Tables::Postgis(connection)
    }

    /// Returns the version of the latest activation of `layer`.
    pub async fn active_version(&mut self, layer: &str) -> Option<i64> {
        match self {
            Tables::GeoPackage(dataset) => {
                let sql = format!(
                    "SELECT version FROM repere_activations WHERE layer = '{layer}' \
                     ORDER BY activated_at DESC, fid DESC LIMIT 1"
                );
                integer_rows(dataset, &sql).first().map(|row| row[0])
            }
            Tables::Postgis(connection) => {
                let version: Option<i32> = sqlx::query_scalar(
                    "SELECT version FROM layer_activations WHERE layer = $1 \
                     ORDER BY activated_at DESC, id DESC LIMIT 1",
                )
                .bind(layer)
                .fetch_optional(connection)
                .await
                .expect("read layer_activations");
                version.map(i64::from)
            }
        }
    }

    /// Computes the fingerprint of version `version` of `layer`.
    pub async fn fingerprint(&mut self, layer: &str, version: i64) -> Fingerprint {
        let [features, distinct_ids, lon_sum_milli, lat_sum_milli] = match self {
            Tables::GeoPackage(dataset) => {
                let sql = format!(
                    "SELECT count(*), count(DISTINCT feature_id), \
                     CAST(coalesce(sum(round(ST_MinX(geom) * 1000)), 0) AS INTEGER), \
                     CAST(coalesce(sum(round(ST_MinY(geom) * 1000)), 0) AS INTEGER) \
                     FROM \"{}\"",
                    table_name(layer, version)
                );
                let rows = integer_rows(dataset, &sql);
                [rows[0][0], rows[0][1], rows[0][2], rows[0][3]]
            }
            Tables::Postgis(connection) => {
                let (count, ids, lon, lat): (i64, i64, i64, i64) = sqlx::query_as(
                    "SELECT count(*), count(DISTINCT feature_id), \
                     coalesce(sum(round(ST_X(geom) * 1000)), 0)::bigint, \
                     coalesce(sum(round(ST_Y(geom) * 1000)), 0)::bigint \
                     FROM layer_features WHERE layer = $1 AND version = $2",
                )
                .bind(layer)
                .bind(version as i32)
                .fetch_one(connection)
                .await
                .expect("read layer_features");
                [count, ids, lon, lat]
            }
        };
        Fingerprint {
            features,
            distinct_ids,
            lon_sum_milli,
            lat_sum_milli,
        }
    }

    /// Lists the version rows of `layer`, oldest first.
    pub async fn version_rows(&mut self, layer: &str) -> Vec<VersionRow> {
        match self {
            Tables::GeoPackage(dataset) => geopackage_version_rows(dataset, layer),
            Tables::Postgis(connection) => postgis_version_rows(connection, layer).await,
        }
    }
}

/// The GeoPackage table of version `version` of `layer`: `<layer>__v<NNNN>`.
fn table_name(layer: &str, version: i64) -> String {
    format!("{layer}__v{version:04}")
}

/// Runs a query whose columns are all integers and returns its rows.
fn integer_rows(dataset: &Dataset, sql: &str) -> Vec<Vec<i64>> {
    let result = dataset
        .execute_sql(sql, None, Dialect::DEFAULT)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let Some(mut rows) = result else {
        return Vec::new();
    };
    rows.features()
        .map(|row| {
            (0..row.field_count())
                .map(|i| {
                    let value = row.field_as_integer64(i);
                    value.unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                })
                .map(|value| value.unwrap_or_else(|| panic!("{sql}: NULL value")))
                .collect()
        })
        .collect()
}

fn geopackage_version_rows(dataset: &Dataset, layer: &str) -> Vec<VersionRow> {
    let sql = format!(
        "SELECT version, complete, feature_count FROM repere_versions \
         WHERE layer = '{layer}' ORDER BY version"
    );
    integer_rows(dataset, &sql)
        .into_iter()
        .map(|row| VersionRow {
            version: row[0],
            complete: row[1] == 1,
            feature_count: row[2],
            stored_features: geopackage_feature_rows(dataset, &table_name(layer, row[0])),
        })
        .collect()
}

/// Counts the rows of `table`, 0 when the table does not exist.
fn geopackage_feature_rows(dataset: &Dataset, table: &str) -> i64 {
    let exists =
        format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'");
    if integer_rows(dataset, &exists)[0][0] == 0 {
        return 0;
    }
    integer_rows(dataset, &format!("SELECT count(*) FROM \"{table}\""))[0][0]
}

async fn postgis_version_rows(connection: &mut PgConnection, layer: &str) -> Vec<VersionRow> {
    let rows: Vec<(i32, i32, i64)> = sqlx::query_as(
        "SELECT v.version, v.feature_count, count(f.feature_id) \
         FROM layer_versions v LEFT JOIN layer_features f \
           ON f.layer = v.layer AND f.version = v.version \
         WHERE v.layer = $1 GROUP BY v.version, v.feature_count ORDER BY v.version",
    )
    .bind(layer)
    .fetch_all(connection)
    .await
    .expect("read layer_versions and layer_features");
    rows.into_iter()
        .map(|(version, feature_count, stored_features)| VersionRow {
            version: i64::from(version),
            complete: true,
            feature_count: i64::from(feature_count),
            stored_features,
        })
        .collect()
}
