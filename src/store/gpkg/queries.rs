//! Reads of the attribute tables: version rows, active versions and the
//! activation log.

use std::path::Path;

use chrono::{DateTime, Utc};
use gdal::Dataset;
use gdal::errors::GdalError;
use gdal::vector::Feature;

use super::sql::{RowError, int, query_rows, sql_text, text};
use crate::store::record::{format_instant, parse_instant};
use crate::store::version::{Activation, LayerSummary, Origin, Page, VersionInfo, parse_kind};
use crate::store::{StoreError, VersionReport};

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

pub(super) fn latest_version_with_sha256(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    source_sha256: &str,
) -> Result<Option<u32>, StoreError> {
    let sql = format!(
        "SELECT max(version) AS latest FROM repere_versions \
         WHERE layer = {} AND source_sha256 = {} AND complete = 1",
        sql_text(layer),
        sql_text(source_sha256)
    );
    let rows = query_rows(ds, path, &sql, |f| int(f, "latest"))?;
    Ok(rows.first().copied().flatten().map(|v| v as u32))
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
        report: serde_json::from_str::<VersionReport>(&report)
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
