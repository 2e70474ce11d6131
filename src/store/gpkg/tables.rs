//! The attribute tables `repere_versions` and `repere_activations`, read and
//! written with SQLite SQL through `execute_sql`.

use std::path::Path;

use chrono::{DateTime, Utc};
use gdal::Dataset;
use gdal::errors::GdalError;
use gdal::vector::sql::Dialect;
use gdal::vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};

use super::gdal_error;
use crate::layer::{Layer, LoadReport};
use crate::store::StoreError;
use crate::store::record::{format_instant, parse_instant};
use crate::store::version::{
    Activation, LayerSummary, Origin, Page, VersionInfo, now_micros, parse_kind,
};

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
    // The LoadReport as JSON.
    ("load_report", OGRFieldType::OFTString),
    // Instants are RFC 3339 text in UTC with microseconds, which sorts in
    // time order (OGR date-time fields keep milliseconds only).
    ("imported_at", OGRFieldType::OFTString),
    ("activated_at", OGRFieldType::OFTString),
    ("activated_by", OGRFieldType::OFTString),
    // 0 while the import runs, 1 once every feature is written.
    ("complete", OGRFieldType::OFTInteger),
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

/// Creates an attribute table (a GeoPackage table without geometry) once.
fn create_table(
    ds: &mut Dataset,
    path: &Path,
    name: &str,
    fields: &[(&str, OGRFieldType::Type)],
) -> Result<(), StoreError> {
    if ds.layer_by_name(name).is_ok() {
        return Ok(());
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

/// Reserves the next version number of a layer with a row marked
/// incomplete, in a transaction of its own.
pub(super) fn reserve_version(
    ds: &mut Dataset,
    path: &Path,
    layer: &Layer,
    origin: Origin,
    source_sha256: &str,
) -> Result<u32, StoreError> {
    let name = layer.info.name.as_str();
    let operation = format!("reserve a version of layer {name:?}");
    let tx = ds
        .start_transaction()
        .map_err(gdal_error(path, operation.clone()))?;
    let latest = query_rows(&tx, path, &latest_version_sql(name), |f| int(f, "latest"))?;
    let number = latest
        .first()
        .copied()
        .flatten()
        .map_or(1, |v| v as u32 + 1);
    let info = VersionInfo::new(layer, number, origin, source_sha256);
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
    let report = serde_json::to_string(&info.report).expect("a LoadReport serializes to JSON");
    format!(
        "INSERT INTO repere_versions (layer, version, kind, source_file, source_sha256, \
         source_crs, attribution, licence, feature_count, invalid_count, repaired_count, \
         synthetic_id_count, origin, load_report, imported_at, complete) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 0)",
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
    )
}

/// Marks a version complete, with the instant its import ended. Runs inside
/// the transaction that wrote its features.
pub(super) fn mark_complete(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    version: u32,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE repere_versions SET complete = 1, imported_at = {} \
         WHERE layer = {} AND version = {version}",
        sql_text(&format_instant(now_micros())),
        sql_text(layer),
    );
    execute(
        ds,
        path,
        &sql,
        &format!("complete version {version} of layer {layer:?}"),
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

/// The columns [`version_from_feature`] reads, from `repere_versions AS v`.
const VERSION_COLUMNS: &str = "v.layer, v.version, v.kind, v.source_file, v.source_sha256, \
     v.source_crs, v.attribution, v.licence, v.feature_count, v.invalid_count, \
     v.repaired_count, v.synthetic_id_count, v.origin, v.load_report, v.imported_at, \
     v.activated_at, v.activated_by";

pub(super) fn select_version(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    version: u32,
) -> Result<Option<VersionInfo>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM repere_versions v \
         WHERE v.layer = {} AND v.version = {version} AND v.complete = 1",
        sql_text(layer)
    );
    first_version(ds, path, &sql)
}

pub(super) fn select_versions(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    page: Page,
) -> Result<Vec<VersionInfo>, StoreError> {
    let before = page
        .before
        .map_or(String::new(), |v| format!("AND v.version < {v}"));
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM repere_versions v \
         WHERE v.layer = {} AND v.complete = 1 {before} ORDER BY v.version DESC LIMIT {}",
        sql_text(layer),
        page.limit
    );
    query_rows(ds, path, &sql, version_from_feature)
}

/// The version of the latest activation at or before `at` (any time when
/// `at` is `None`). Ties on the instant go to the activation logged last.
pub(super) fn active_version_at(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Option<VersionInfo>, StoreError> {
    let until = at.map_or(String::new(), |at| {
        format!("AND a.activated_at <= {}", sql_text(&format_instant(at)))
    });
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM repere_activations a \
         JOIN repere_versions v ON v.layer = a.layer AND v.version = a.version \
         WHERE a.layer = {} {until} ORDER BY a.activated_at DESC, a.fid DESC LIMIT 1",
        sql_text(layer)
    );
    first_version(ds, path, &sql)
}

pub(super) fn select_last_manifest_version(
    ds: &Dataset,
    path: &Path,
    layer: &str,
) -> Result<Option<VersionInfo>, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM repere_versions v WHERE v.layer = {} \
         AND v.origin = 'manifest' AND v.complete = 1 ORDER BY v.version DESC LIMIT 1",
        sql_text(layer)
    );
    first_version(ds, path, &sql)
}

/// Whether an operator imported a later version, or another version was
/// activated, since `info` was imported.
pub(super) fn changed_since(
    ds: &Dataset,
    path: &Path,
    info: &VersionInfo,
) -> Result<bool, StoreError> {
    let layer = sql_text(&info.layer);
    let version = info.version;
    let sql = format!(
        "SELECT (EXISTS (SELECT 1 FROM repere_versions WHERE layer = {layer} \
             AND version > {version} AND origin = 'import' AND complete = 1) \
         OR EXISTS (SELECT 1 FROM repere_activations WHERE layer = {layer} \
             AND version <> {version} AND activated_at >= {})) AS changed",
        sql_text(&format_instant(info.imported_at))
    );
    let rows = query_rows(ds, path, &sql, |f| int(f, "changed"))?;
    Ok(rows.first().copied().flatten().unwrap_or(0) != 0)
}

pub(super) fn select_layers(
    ds: &mut Dataset,
    path: &Path,
) -> Result<Vec<LayerSummary>, StoreError> {
    let sql = "SELECT v.layer, v.kind, v.version, \
             (SELECT a.version FROM repere_activations a WHERE a.layer = v.layer \
              ORDER BY a.activated_at DESC, a.fid DESC LIMIT 1) AS active_version \
         FROM repere_versions v WHERE v.complete = 1 AND v.version = \
             (SELECT max(w.version) FROM repere_versions w \
              WHERE w.layer = v.layer AND w.complete = 1) \
         ORDER BY v.layer";
    let rows = query_rows(ds, path, sql, |f| -> Result<_, GdalError> {
        Ok((
            text(f, "layer")?,
            text(f, "kind")?,
            int(f, "version")?,
            int(f, "active_version")?,
        ))
    })?;
    rows.into_iter().map(summary_from_columns).collect()
}

type SummaryColumns = (Option<String>, Option<String>, Option<i64>, Option<i64>);

fn summary_from_columns(columns: SummaryColumns) -> Result<LayerSummary, StoreError> {
    let (name, kind, latest, active) = columns;
    let name = name.unwrap_or_default();
    let latest = latest.unwrap_or_default() as u32;
    let kind = parse_kind(kind.as_deref().unwrap_or_default())
        .map_err(|message| corrupt(&name, latest, "kind", message))?;
    Ok(LayerSummary {
        name,
        kind,
        latest_version: latest,
        active_version: active.map(|v| v as u32),
    })
}

pub(super) fn select_activations(
    ds: &Dataset,
    path: &Path,
    layer: &str,
) -> Result<Vec<Activation>, StoreError> {
    let sql = format!(
        "SELECT layer, version, activated_at, activated_by, \
             lead(version) OVER (ORDER BY activated_at DESC, fid DESC) AS previous \
         FROM repere_activations WHERE layer = {} ORDER BY activated_at DESC, fid DESC",
        sql_text(layer)
    );
    let rows = query_rows(ds, path, &sql, |f| -> Result<_, GdalError> {
        Ok((
            int(f, "version")?,
            text(f, "activated_at")?,
            text(f, "activated_by")?,
            int(f, "previous")?,
        ))
    })?;
    rows.into_iter()
        .map(|(version, at, by, previous)| {
            let version = version.unwrap_or_default() as u32;
            let at = at.unwrap_or_default();
            Ok(Activation {
                layer: layer.to_owned(),
                version,
                activated_at: parse_instant(&at)
                    .map_err(|m| corrupt(layer, version, "activated_at", m))?,
                activated_by: by.unwrap_or_default(),
                previous: previous.map(|v| v as u32),
            })
        })
        .collect()
}

/// Fails with [`StoreError::NotFound`] when no complete version of `layer`
/// exists.
pub(super) fn require_layer(ds: &Dataset, path: &Path, layer: &str) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT count(*) AS n FROM repere_versions WHERE layer = {} AND complete = 1",
        sql_text(layer)
    );
    let rows = query_rows(ds, path, &sql, |f| int(f, "n"))?;
    match rows.first().copied().flatten() {
        Some(n) if n > 0 => Ok(()),
        _ => Err(StoreError::not_found(layer, None)),
    }
}

/// The error for a missing version: the layer's own NotFound when the
/// whole layer is unknown.
pub(super) fn version_not_found(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    version: u32,
) -> StoreError {
    match require_layer(ds, path, layer) {
        Ok(()) => StoreError::not_found(layer, Some(version)),
        Err(error) => error,
    }
}

fn first_version(ds: &Dataset, path: &Path, sql: &str) -> Result<Option<VersionInfo>, StoreError> {
    Ok(query_rows(ds, path, sql, version_from_feature)?
        .into_iter()
        .next())
}

/// The failure of reading one row: a GDAL call, or a stored value.
enum RowError {
    Gdal(GdalError),
    Store(StoreError),
}

impl From<GdalError> for RowError {
    fn from(error: GdalError) -> Self {
        RowError::Gdal(error)
    }
}

impl From<StoreError> for RowError {
    fn from(error: StoreError) -> Self {
        RowError::Store(error)
    }
}

fn version_from_feature(f: &Feature) -> Result<VersionInfo, RowError> {
    let layer = text(f, "layer")?.unwrap_or_default();
    let version = int(f, "version")?.unwrap_or_default() as u32;
    let field = |name: &'static str| -> Result<String, RowError> {
        text(f, name)?.ok_or_else(|| corrupt(&layer, version, name, "missing".into()).into())
    };
    let count = |name: &'static str| -> Result<usize, RowError> {
        Ok(int(f, name)?.unwrap_or_default() as usize)
    };
    let instant = |name: &'static str, value: String| {
        parse_instant(&value).map_err(|m| corrupt(&layer, version, name, m))
    };
    let report = field("load_report")?;
    Ok(VersionInfo {
        kind: parse_kind(&field("kind")?).map_err(|m| corrupt(&layer, version, "kind", m))?,
        source_file: field("source_file")?,
        source_sha256: field("source_sha256")?,
        source_crs: field("source_crs")?,
        attribution: text(f, "attribution")?,
        licence: text(f, "licence")?,
        feature_count: count("feature_count")?,
        invalid_count: count("invalid_count")?,
        repaired_count: count("repaired_count")?,
        synthetic_id_count: count("synthetic_id_count")?,
        origin: field("origin")?
            .parse::<Origin>()
            .map_err(|m| corrupt(&layer, version, "origin", m))?,
        report: serde_json::from_str::<LoadReport>(&report)
            .map_err(|e| corrupt(&layer, version, "load_report", e.to_string()))?,
        imported_at: instant("imported_at", field("imported_at")?)?,
        activated_at: text(f, "activated_at")?
            .map(|at| instant("activated_at", at))
            .transpose()?,
        activated_by: text(f, "activated_by")?,
        version,
        layer: layer.clone(),
    })
}

fn corrupt(layer: &str, version: u32, field: &'static str, message: String) -> StoreError {
    StoreError::Corrupt {
        layer: layer.to_owned(),
        version,
        field,
        message,
    }
}

fn text(f: &Feature, name: &str) -> Result<Option<String>, GdalError> {
    f.field_as_string(f.field_index(name)?)
}

fn int(f: &Feature, name: &str) -> Result<Option<i64>, GdalError> {
    f.field_as_integer64(f.field_index(name)?)
}

/// Runs a SELECT and maps each row.
fn query_rows<T, E>(
    ds: &Dataset,
    path: &Path,
    sql: &str,
    mut map: impl FnMut(&Feature) -> Result<T, E>,
) -> Result<Vec<T>, StoreError>
where
    RowError: From<E>,
{
    let read_error = gdal_error(path, format!("run {sql:?}"));
    let result = ds.execute_sql(sql, None, Dialect::DEFAULT);
    let Some(mut rows) = result.map_err(read_error)? else {
        return Ok(Vec::new());
    };
    let mut mapped = Vec::new();
    for row in rows.features() {
        match map(&row).map_err(RowError::from) {
            Ok(value) => mapped.push(value),
            Err(RowError::Store(error)) => return Err(error),
            Err(RowError::Gdal(error)) => {
                return Err(gdal_error(path, format!("read a row of {sql:?}"))(error));
            }
        }
    }
    Ok(mapped)
}

/// Runs a statement that returns no rows.
pub(super) fn execute(
    ds: &Dataset,
    path: &Path,
    sql: &str,
    operation: &str,
) -> Result<(), StoreError> {
    ds.execute_sql(sql, None, Dialect::DEFAULT)
        .map(|_| ())
        .map_err(gdal_error(path, operation))
}

/// Quotes a string as an SQLite literal. Text containing a NUL byte cannot
/// pass through GDAL's C API, which fails on it.
pub(super) fn sql_text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn sql_optional_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), sql_text)
}
