//! Rows of `layer_versions` and `layer_activations`.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Postgres, Row, Transaction};

use super::db;
use crate::store::record::count_to_i32;
use crate::store::version::{Activation, LayerSummary, Origin, Page, VersionInfo, parse_kind};
use crate::store::{StoreError, VersionReport};

/// The columns [`version_from_row`] reads, from `layer_versions AS v`.
const VERSION_COLUMNS: &str = "v.layer, v.version, v.kind, v.source_file, v.source_sha256, \
     v.source_crs, v.attribution, v.licence, v.feature_count, v.invalid_count, \
     v.repaired_count, v.synthetic_id_count, v.origin, v.load_report, v.imported_at, \
     v.activated_at, v.activated_by";

/// Inserts the row of a new version and returns its `imported_at`, taken
/// from the database clock like activation instants.
pub(super) async fn insert_version(
    tx: &mut Transaction<'_, Postgres>,
    info: &VersionInfo,
) -> Result<DateTime<Utc>, StoreError> {
    let layer = info.layer.as_str();
    // The column `load_report` keeps its name and type: a new migration
    // would stop older builds sharing the database at start-up, because
    // sqlx 0.8 rejects an applied migration that it does not know.
    let report = serde_json::to_value(&info.report).expect("a VersionReport serializes to JSON");
    sqlx::query_scalar(
        "INSERT INTO layer_versions (layer, version, kind, source_file, source_sha256, \
         source_crs, attribution, licence, feature_count, invalid_count, repaired_count, \
         synthetic_id_count, origin, load_report, imported_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         date_trunc('microseconds', clock_timestamp())) RETURNING imported_at",
    )
    .bind(layer)
    .bind(info.version as i32)
    .bind(info.kind.as_str())
    .bind(&info.source_file)
    .bind(&info.source_sha256)
    .bind(&info.source_crs)
    .bind(&info.attribution)
    .bind(&info.licence)
    .bind(count_to_i32(layer, "feature_count", info.feature_count)?)
    .bind(count_to_i32(layer, "invalid_count", info.invalid_count)?)
    .bind(count_to_i32(layer, "repaired_count", info.repaired_count)?)
    .bind(count_to_i32(
        layer,
        "synthetic_id_count",
        info.synthetic_id_count,
    )?)
    .bind(info.origin.as_str())
    .bind(report)
    .fetch_one(&mut **tx)
    .await
    .map_err(db(layer, "insert a version of"))
}

/// Logs an activation and records it on the version row; returns its instant.
pub(super) async fn insert_activation(
    tx: &mut Transaction<'_, Postgres>,
    layer: &str,
    version: u32,
    by: &str,
) -> Result<DateTime<Utc>, StoreError> {
    // clock_timestamp(), not now(): the lock was taken after the transaction
    // began, and activation instants must follow the lock order.
    let at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO layer_activations (layer, version, activated_at, activated_by) \
         VALUES ($1, $2, clock_timestamp(), $3) RETURNING activated_at",
    )
    .bind(layer)
    .bind(version as i32)
    .bind(by)
    .fetch_one(&mut **tx)
    .await
    .map_err(db(layer, "log an activation of"))?;
    sqlx::query(
        "UPDATE layer_versions SET activated_at = $3, activated_by = $4 \
         WHERE layer = $1 AND version = $2",
    )
    .bind(layer)
    .bind(version as i32)
    .bind(at)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map_err(db(layer, "record an activation of"))?;
    Ok(at)
}

pub(super) async fn select_version<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
    version: u32,
) -> Result<Option<VersionInfo>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM layer_versions v WHERE v.layer = $1 AND v.version = $2"
    );
    let row = sqlx::query(&sql)
        .bind(layer)
        .bind(version as i32)
        .fetch_optional(executor)
        .await
        .map_err(db(layer, "read a version of"))?;
    row.as_ref().map(version_from_row).transpose()
}

pub(super) async fn select_versions<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
    page: Page,
) -> Result<Vec<VersionInfo>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM layer_versions v WHERE v.layer = $1 \
         AND ($2::integer IS NULL OR v.version < $2) ORDER BY v.version DESC LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(layer)
        .bind(page.before.map(|v| v as i32))
        .bind(i64::from(page.limit))
        .fetch_all(executor)
        .await
        .map_err(db(layer, "list the versions of"))?;
    rows.iter().map(version_from_row).collect()
}

/// The version of the latest activation at or before `at` (any time when
/// `at` is `None`). Ties on the instant go to the activation logged last.
pub(super) async fn active_version_at<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Option<VersionInfo>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM layer_activations a \
         JOIN layer_versions v ON v.layer = a.layer AND v.version = a.version \
         WHERE a.layer = $1 AND ($2::timestamptz IS NULL OR a.activated_at <= $2) \
         ORDER BY a.activated_at DESC, a.id DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(layer)
        .bind(at)
        .fetch_optional(executor)
        .await
        .map_err(db(layer, "find the active version of"))?;
    row.as_ref().map(version_from_row).transpose()
}

pub(super) async fn select_last_manifest_version<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
) -> Result<Option<VersionInfo>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM layer_versions v \
         WHERE v.layer = $1 AND v.origin = 'manifest' ORDER BY v.version DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(layer)
        .fetch_optional(executor)
        .await
        .map_err(db(layer, "find the manifest version of"))?;
    row.as_ref().map(version_from_row).transpose()
}

pub(super) async fn latest_version_with_sha256<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
    source_sha256: &str,
) -> Result<Option<u32>, StoreError> {
    let latest: Option<i32> = sqlx::query_scalar(
        "SELECT max(version) FROM layer_versions WHERE layer = $1 AND source_sha256 = $2",
    )
    .bind(layer)
    .bind(source_sha256)
    .fetch_one(executor)
    .await
    .map_err(db(layer, "find the versions with the same source file of"))?;
    Ok(latest.map(|v| v as u32))
}

/// Whether an operator imported a later version, or another version was
/// activated, since `info` was imported.
pub(super) async fn changed_since<'e>(
    executor: impl PgExecutor<'e>,
    info: &VersionInfo,
) -> Result<bool, StoreError> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM layer_versions \
             WHERE layer = $1 AND version > $2 AND origin = 'import') \
         OR EXISTS (SELECT 1 FROM layer_activations \
             WHERE layer = $1 AND version <> $2 AND activated_at >= $3)",
    )
    .bind(&info.layer)
    .bind(info.version as i32)
    .bind(info.imported_at)
    .fetch_one(executor)
    .await
    .map_err(db(&info.layer, "check for changes to"))
}

pub(super) async fn select_layers<'e>(
    executor: impl PgExecutor<'e>,
) -> Result<Vec<LayerSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT ON (v.layer) v.layer, v.kind, v.version, \
             (SELECT a.version FROM layer_activations a WHERE a.layer = v.layer \
              ORDER BY a.activated_at DESC, a.id DESC LIMIT 1) AS active_version \
         FROM layer_versions v ORDER BY v.layer, v.version DESC",
    )
    .fetch_all(executor)
    .await
    .map_err(db("*", "list"))?;
    rows.iter().map(summary_from_row).collect()
}

pub(super) async fn select_activations<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
) -> Result<Vec<Activation>, StoreError> {
    let rows = sqlx::query(
        "SELECT layer, version, activated_at, activated_by, \
             lead(version) OVER (ORDER BY activated_at DESC, id DESC) AS previous \
         FROM layer_activations WHERE layer = $1 ORDER BY activated_at DESC, id DESC",
    )
    .bind(layer)
    .fetch_all(executor)
    .await
    .map_err(db(layer, "list the activations of"))?;
    rows.iter()
        .map(|row| activation_from_row(layer, row))
        .collect()
}

fn activation_from_row(layer: &str, row: &PgRow) -> Result<Activation, StoreError> {
    let read = |source| StoreError::Database {
        layer: layer.to_owned(),
        operation: "read an activation of",
        source,
    };
    let previous: Option<i32> = row.try_get("previous").map_err(read)?;
    Ok(Activation {
        layer: row.try_get("layer").map_err(read)?,
        version: row.try_get::<i32, _>("version").map_err(read)? as u32,
        activated_at: row.try_get("activated_at").map_err(read)?,
        activated_by: row.try_get("activated_by").map_err(read)?,
        previous: previous.map(|v| v as u32),
    })
}

fn summary_from_row(row: &PgRow) -> Result<LayerSummary, StoreError> {
    let name: String = row.try_get("layer").map_err(db("*", "list"))?;
    let read = db(&name, "read the summary of");
    let kind: String = row.try_get("kind").map_err(read)?;
    let latest: i32 = row
        .try_get("version")
        .map_err(db(&name, "read the summary of"))?;
    let active: Option<i32> = row
        .try_get("active_version")
        .map_err(db(&name, "read the summary of"))?;
    Ok(LayerSummary {
        kind: parse_kind(&kind).map_err(|message| corrupt(&name, latest, "kind", message))?,
        latest_version: latest as u32,
        active_version: active.map(|v| v as u32),
        name,
    })
}

fn version_from_row(row: &PgRow) -> Result<VersionInfo, StoreError> {
    let layer: String = row
        .try_get("layer")
        .map_err(db("?", "read a version row of"))?;
    let version: i32 = row
        .try_get("version")
        .map_err(db(&layer, "read a version row of"))?;
    let read = |source| StoreError::Database {
        layer: layer.clone(),
        operation: "read a version row of",
        source,
    };
    let kind: String = row.try_get("kind").map_err(read)?;
    let origin: String = row.try_get("origin").map_err(read)?;
    let report: serde_json::Value = row.try_get("load_report").map_err(read)?;
    let count = |column: &str| {
        row.try_get::<i32, _>(column)
            .map(|n| n as usize)
            .map_err(read)
    };
    Ok(VersionInfo {
        version: version as u32,
        kind: parse_kind(&kind).map_err(|m| corrupt(&layer, version, "kind", m))?,
        source_file: row.try_get("source_file").map_err(read)?,
        source_sha256: row.try_get("source_sha256").map_err(read)?,
        source_crs: row.try_get("source_crs").map_err(read)?,
        attribution: row.try_get("attribution").map_err(read)?,
        licence: row.try_get("licence").map_err(read)?,
        feature_count: count("feature_count")?,
        invalid_count: count("invalid_count")?,
        repaired_count: count("repaired_count")?,
        synthetic_id_count: count("synthetic_id_count")?,
        origin: origin
            .parse::<Origin>()
            .map_err(|m| corrupt(&layer, version, "origin", m))?,
        report: serde_json::from_value::<VersionReport>(report)
            .map_err(|e| corrupt(&layer, version, "load_report", e.to_string()))?,
        imported_at: row.try_get("imported_at").map_err(read)?,
        activated_at: row.try_get("activated_at").map_err(read)?,
        activated_by: row.try_get("activated_by").map_err(read)?,
        layer: layer.clone(),
    })
}

fn corrupt(layer: &str, version: i32, field: &'static str, message: String) -> StoreError {
    StoreError::Corrupt {
        layer: layer.to_owned(),
        version: version as u32,
        field,
        message,
    }
}
