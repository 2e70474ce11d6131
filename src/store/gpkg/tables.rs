//! The attribute tables `repere_versions` and `repere_activations`: their
//! creation and the writes of an import or an activation.

use std::path::Path;

use chrono::{DateTime, Utc};
use gdal::Dataset;
use gdal::vector::{LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};

use super::queries::{active_version_at, select_version, version_not_found};
use super::sql::{execute, int, query_rows, sql_optional_text, sql_text};
use super::{gdal_error, leftovers};
use crate::store::StoreError;
use crate::store::record::format_instant;
use crate::store::version::{Activation, VersionInfo, now_micros};

const VERSIONS: &str = "repere_versions";
const ACTIVATIONS: &str = "repere_activations";

const VERSION_FIELDS: &[(&str, OGRFieldType::Type)] = &[
    ("layer", OGRFieldType::OFTString),
    ("version", OGRFieldType::OFTInteger),
    ("kind", OGRFieldType::OFTString),
    ("source_file", OGRFieldType::OFTString),
    ("source_sha256", OGRFieldType::OFTString),
    ("source_crs", OGRFieldType::OFTString),
    ("attribution", OGRFieldType::OFTString),
    ("licence", OGRFieldType::OFTString),
    ("feature_count", OGRFieldType::OFTInteger64),
    ("invalid_count", OGRFieldType::OFTInteger64),
    ("repaired_count", OGRFieldType::OFTInteger64),
    ("synthetic_id_count", OGRFieldType::OFTInteger64),
    ("origin", OGRFieldType::OFTString),
    // The VersionReport as JSON: a LoadReport with added keys.
    ("load_report", OGRFieldType::OFTString),
    // Instants are RFC 3339 text in UTC with microseconds, which sorts in
    // time order (OGR date-time fields keep milliseconds only).
    ("imported_at", OGRFieldType::OFTString),
    ("activated_at", OGRFieldType::OFTString),
    ("activated_by", OGRFieldType::OFTString),
    // 0 while the import runs, 1 once every feature is written.
    ("complete", OGRFieldType::OFTInteger),
    // The host name and process id of the import, NULL in rows written by
    // builds that did not record them. See `leftovers`.
    ("writer_host", OGRFieldType::OFTString),
    ("writer_pid", OGRFieldType::OFTInteger64),
];

const ACTIVATION_FIELDS: &[(&str, OGRFieldType::Type)] = &[
    ("layer", OGRFieldType::OFTString),
    ("version", OGRFieldType::OFTInteger),
    ("activated_at", OGRFieldType::OFTString),
    ("activated_by", OGRFieldType::OFTString),
];

/// Creates the two tables and their indexes when missing.
pub(super) fn create_if_missing(ds: &mut Dataset, path: &Path) -> Result<(), StoreError> {
    create_table(ds, path, VERSIONS, VERSION_FIELDS)?;
    create_table(ds, path, ACTIVATIONS, ACTIVATION_FIELDS)?;
    execute(
        ds,
        path,
        "CREATE UNIQUE INDEX IF NOT EXISTS repere_versions_layer_version \
         ON repere_versions (layer, version)",
        "index repere_versions",
    )?;
    execute(
        ds,
        path,
        "CREATE INDEX IF NOT EXISTS repere_activations_layer_at \
         ON repere_activations (layer, activated_at)",
        "index repere_activations",
    )
}

/// Creates an attribute table (a GeoPackage table without geometry) once,
/// and adds the columns a file written by an older build lacks.
fn create_table(
    ds: &mut Dataset,
    path: &Path,
    name: &str,
    fields: &[(&str, OGRFieldType::Type)],
) -> Result<(), StoreError> {
    if let Ok(table) = ds.layer_by_name(name) {
        return add_missing_fields(&table, path, name, fields);
    }
    let options = LayerOptions {
        name,
        ty: OGRwkbGeometryType::wkbNone,
        ..Default::default()
    };
    let table = ds
        .create_layer(options)
        .map_err(gdal_error(path, format!("create table {name}")))?;
    table
        .create_defn_fields(fields)
        .map_err(gdal_error(path, format!("add the columns of table {name}")))
}

fn add_missing_fields(
    table: &gdal::vector::Layer<'_>,
    path: &Path,
    name: &str,
    fields: &[(&str, OGRFieldType::Type)],
) -> Result<(), StoreError> {
    let missing: Vec<(&str, OGRFieldType::Type)> = fields
        .iter()
        .filter(|(field, _)| table.defn().field_index(field).is_err())
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    table.create_defn_fields(&missing).map_err(gdal_error(
        path,
        format!("add the new columns of table {name}"),
    ))
}

/// Reserves the next version number of a layer with a row marked
/// incomplete, in a transaction of its own. `info` describes the version;
/// its number is replaced by the reserved one.
pub(super) fn reserve_version(
    ds: &mut Dataset,
    path: &Path,
    mut info: VersionInfo,
) -> Result<u32, StoreError> {
    let name = info.layer.clone();
    let operation = format!("reserve a version of layer {name:?}");
    let tx = ds
        .start_transaction()
        .map_err(gdal_error(path, operation.clone()))?;
    let latest = query_rows(&tx, path, &latest_version_sql(&name), |f| int(f, "latest"))?;
    let number = latest
        .first()
        .copied()
        .flatten()
        .map_or(1, |v| v as u32 + 1);
    info.version = number;
    execute(&tx, path, &insert_version_sql(&info), &operation)?;
    tx.commit().map_err(gdal_error(path, operation))?;
    Ok(number)
}

fn latest_version_sql(layer: &str) -> String {
    format!(
        "SELECT max(version) AS latest FROM repere_versions WHERE layer = {}",
        sql_text(layer)
    )
}

fn insert_version_sql(info: &VersionInfo) -> String {
    let report = serde_json::to_string(&info.report).expect("a VersionReport serializes to JSON");
    format!(
        "INSERT INTO repere_versions (layer, version, kind, source_file, source_sha256, \
         source_crs, attribution, licence, feature_count, invalid_count, repaired_count, \
         synthetic_id_count, origin, load_report, imported_at, complete, writer_host, \
         writer_pid) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 0, {}, {})",
        sql_text(&info.layer),
        info.version,
        sql_text(info.kind.as_str()),
        sql_text(&info.source_file),
        sql_text(&info.source_sha256),
        sql_text(&info.source_crs),
        sql_optional_text(info.attribution.as_deref()),
        sql_optional_text(info.licence.as_deref()),
        info.feature_count,
        info.invalid_count,
        info.repaired_count,
        info.synthetic_id_count,
        sql_text(info.origin.as_str()),
        sql_text(&report),
        sql_text(&format_instant(info.imported_at)),
        sql_text(leftovers::host_name()),
        std::process::id(),
    )
}

/// Marks a version complete, with the instant its import ended. Runs inside
/// the transaction that wrote its features. Fails when the reserved row is
/// gone or no longer this process's, because another process removed it as
/// an abandoned import (see `leftovers`): the transaction then rolls back.
pub(super) fn mark_complete(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    version: u32,
) -> Result<(), StoreError> {
    let row = own_row_condition(layer, version);
    let sql = format!(
        "UPDATE repere_versions SET complete = 1, imported_at = {} WHERE {row} AND complete = 0",
        sql_text(&format_instant(now_micros())),
    );
    let operation = format!("complete version {version} of layer {layer:?}");
    execute(ds, path, &sql, &operation)?;
    let check = format!("SELECT count(*) AS n FROM repere_versions WHERE {row} AND complete = 1");
    let completed = query_rows(ds, path, &check, |f| int(f, "n"))?;
    if completed.first().copied().flatten() == Some(1) {
        return Ok(());
    }
    Err(StoreError::ImportRemoved {
        path: path.to_owned(),
        layer: layer.to_owned(),
        version,
    })
}

/// Returns the SQL condition that matches the row this process reserved for `version`.
fn own_row_condition(layer: &str, version: u32) -> String {
    format!(
        "layer = {} AND version = {version} AND writer_host = {} AND writer_pid = {}",
        sql_text(layer),
        sql_text(leftovers::host_name()),
        std::process::id(),
    )
}

/// Logs an activation and records it on the version row, in one transaction.
pub(super) fn activate(
    ds: &mut Dataset,
    path: &Path,
    layer: &str,
    version: u32,
    by: &str,
) -> Result<Activation, StoreError> {
    let operation = format!("activate version {version} of layer {layer:?}");
    let tx = ds
        .start_transaction()
        .map_err(gdal_error(path, operation.clone()))?;
    if select_version(&tx, path, layer, version)?.is_none() {
        return Err(version_not_found(&tx, path, layer, version));
    }
    let previous = active_version_at(&tx, path, layer, None)?.map(|info| info.version);
    let at = now_micros();
    execute(
        &tx,
        path,
        &insert_activation_sql(layer, version, at, by),
        &operation,
    )?;
    execute(
        &tx,
        path,
        &record_activation_sql(layer, version, at, by),
        &operation,
    )?;
    tx.commit().map_err(gdal_error(path, operation))?;
    Ok(Activation {
        layer: layer.to_owned(),
        version,
        activated_at: at,
        activated_by: by.to_owned(),
        previous,
    })
}

fn insert_activation_sql(layer: &str, version: u32, at: DateTime<Utc>, by: &str) -> String {
    format!(
        "INSERT INTO repere_activations (layer, version, activated_at, activated_by) \
         VALUES ({}, {version}, {}, {})",
        sql_text(layer),
        sql_text(&format_instant(at)),
        sql_text(by),
    )
}

fn record_activation_sql(layer: &str, version: u32, at: DateTime<Utc>, by: &str) -> String {
    format!(
        "UPDATE repere_versions SET activated_at = {}, activated_by = {} \
         WHERE layer = {} AND version = {version}",
        sql_text(&format_instant(at)),
        sql_text(by),
        sql_text(layer),
    )
}
