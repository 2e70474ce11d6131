//! Removal of abandoned imports: the version rows left incomplete, and the
//! feature tables left behind, by imports whose process was killed.
//!
//! An import records in its reserved row the host name and process id of
//! its writer. When the store opens, an incomplete row is judged abandoned
//! when either:
//! - its writer ran on this host and that process no longer exists, or
//! - it was reserved more than [`ABANDONED_AFTER`] ago, which covers rows
//!   written on another host and rows from builds that recorded no writer.
//!
//! Its feature table is dropped and its row marked failed. The row stays so
//! that neither its version number nor its table name is given to another
//! import. SQLite keeps the freed pages for later writes; the file shrinks
//! only when it is vacuumed.
//!
//! A live import can still lose its row: one running longer than
//! [`ABANDONED_AFTER`] on another host. It then fails when it marks its
//! row complete, and its transaction rolls back. A reused process id that
//! looks alive only delays a removal.
//!
//! NOTE: two processes in different PID namespaces that report the same
//! host name (containers sharing the host's UTS namespace) cannot see each
//! other's processes, so one could remove the other's running import.

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use gdal::Dataset;
use gdal::errors::GdalError;
use gdal::vector::LayerAccess;

use super::features::table_name;
use super::gdal_error;
use super::sql::{execute, int, query_rows, text};
use crate::process::process_exists;
use crate::store::StoreError;
use crate::store::record::parse_instant;

/// The age after which an incomplete row counts as abandoned, from any
/// writer: a chosen margin, far above the time an import is expected to
/// take.
pub(super) const ABANDONED_AFTER: TimeDelta = TimeDelta::hours(1);

/// An incomplete row of `repere_versions`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IncompleteRow {
    pub fid: i64,
    pub layer: String,
    pub version: u32,
    /// When the version number was reserved; `None` when unreadable.
    pub reserved_at: Option<DateTime<Utc>>,
    pub writer_host: Option<String>,
    pub writer_pid: Option<i64>,
}

/// The reason an incomplete row counts as abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Abandoned {
    /// Its writer ran on this host and has ended.
    WriterEnded,
    /// It was reserved more than [`ABANDONED_AFTER`] ago.
    TooOld,
}

impl Abandoned {
    fn as_str(self) -> &'static str {
        match self {
            Abandoned::WriterEnded => "writer process ended",
            Abandoned::TooOld => "reserved over an hour ago",
        }
    }
}

/// Returns the host name of this machine, or "" when it cannot be read,
/// which disables the process check.
pub(super) fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(read_host_name)
}

fn read_host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the
    // call; gethostname writes at most `len` bytes.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Returns why `row` counts as abandoned at `now` on host `host`, or `None`
/// when its writer may still run. `exists` checks a process id.
pub(super) fn judge(
    row: &IncompleteRow,
    now: DateTime<Utc>,
    host: &str,
    exists: impl Fn(i64) -> Option<bool>,
) -> Option<Abandoned> {
    let same_host = !host.is_empty() && row.writer_host.as_deref() == Some(host);
    let writer_exists = row.writer_pid.and_then(exists);
    if same_host && writer_exists == Some(false) {
        return Some(Abandoned::WriterEnded);
    }
    let reserved_at = row.reserved_at?;
    (now - reserved_at > ABANDONED_AFTER).then_some(Abandoned::TooOld)
}

/// Removes the abandoned imports of the store, logging one line for each
/// version removed or kept. A removal that fails is logged and skipped, so
/// the store still opens.
pub(super) fn remove_abandoned(ds: &mut Dataset, path: &Path) -> Result<(), StoreError> {
    let now = Utc::now();
    for row in select_incomplete(ds, path)? {
        let Some(reason) = judge(&row, now, host_name(), process_exists) else {
            log_kept(&row);
            continue;
        };
        if let Err(error) = remove(ds, path, &row, reason) {
            tracing::warn!(
                layer = %row.layer,
                version = row.version,
                %error,
                "cannot remove an abandoned import; retried at the next start"
            );
        }
    }
    Ok(())
}

fn log_kept(row: &IncompleteRow) {
    tracing::info!(
        layer = %row.layer,
        version = row.version,
        writer_host = row.writer_host.as_deref().unwrap_or_default(),
        writer_pid = row.writer_pid,
        "incomplete import kept: its writer may still run"
    );
}

/// The `complete` value of a version whose import was abandoned and
/// cleaned up; 0 is an import that may still run, 1 a complete version.
const FAILED: i32 = -1;

fn select_incomplete(ds: &Dataset, path: &Path) -> Result<Vec<IncompleteRow>, StoreError> {
    let sql = "SELECT fid, layer, version, imported_at, writer_host, writer_pid \
         FROM repere_versions WHERE complete = 0 ORDER BY fid";
    query_rows(ds, path, sql, |f| -> Result<_, GdalError> {
        Ok(IncompleteRow {
            fid: f.fid().map_or(-1, |fid| fid as i64),
            layer: text(f, "layer")?.unwrap_or_default(),
            version: int(f, "version")?.unwrap_or_default() as u32,
            reserved_at: text(f, "imported_at")?.and_then(|at| parse_instant(&at).ok()),
            writer_host: text(f, "writer_host")?,
            writer_pid: int(f, "writer_pid")?,
        })
    })
}

/// Drops the row's feature table, then marks the row failed (`complete` =
/// -1). The row is kept so that its version number and table name are
/// never given to another import. Killed in between, the next start finds
/// the row without a table and marks it.
fn remove(
    ds: &mut Dataset,
    path: &Path,
    row: &IncompleteRow,
    reason: Abandoned,
) -> Result<(), StoreError> {
    let table = table_name(&row.layer, row.version);
    let features = drop_table(ds, path, &table)?;
    let sql = format!(
        "UPDATE repere_versions SET complete = {FAILED} WHERE fid = {} AND complete = 0",
        row.fid
    );
    let operation = format!("mark the row of abandoned table {table} failed");
    execute(ds, path, &sql, &operation)?;
    tracing::info!(
        layer = %row.layer,
        version = row.version,
        table,
        features,
        writer_host = row.writer_host.as_deref().unwrap_or_default(),
        writer_pid = row.writer_pid,
        reason = reason.as_str(),
        "abandoned import removed"
    );
    Ok(())
}

/// Drops `table` when it exists, returning how many features it held.
fn drop_table(ds: &mut Dataset, path: &Path, table: &str) -> Result<u64, StoreError> {
    let Some((index, features)) = ds
        .layers()
        .enumerate()
        .find(|(_, layer)| layer.name() == table)
        .map(|(index, layer)| (index, layer.feature_count()))
    else {
        return Ok(0);
    };
    ds.delete_layer(index)
        .map_err(gdal_error(path, format!("drop abandoned table {table}")))?;
    Ok(features)
}

#[cfg(test)]
mod tests {
    use gdal::GdalOpenFlags;
    use geo::{Geometry, point};
    use serde_json::Map;

    use super::super::{create_if_missing, features, open_dataset, tables};
    use super::*;
    use crate::layer::{Feature, Layer, LayerInfo, LayerKind, LoadReport};
    use crate::store::{Origin, VersionInfo};

    const HOST: &str = "records-1";

    fn row(host: Option<&str>, pid: Option<i64>, age: TimeDelta) -> IncompleteRow {
        IncompleteRow {
            fid: 7,
            layer: "districts".to_owned(),
            version: 2,
            reserved_at: Some(now() - age),
            writer_host: host.map(str::to_owned),
            writer_pid: pid,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    /// Process 100 exists, 200 does not, and 300 cannot be checked.
    fn exists(pid: i64) -> Option<bool> {
        match pid {
            100 => Some(true),
            200 => Some(false),
            _ => None,
        }
    }

    #[test]
    fn ended_writer_on_this_host() {
        let ended = row(Some(HOST), Some(200), TimeDelta::seconds(5));
        assert_eq!(
            judge(&ended, now(), HOST, exists),
            Some(Abandoned::WriterEnded)
        );
    }

    #[test]
    fn running_writer_kept() {
        let running = row(Some(HOST), Some(100), TimeDelta::minutes(59));
        assert_eq!(judge(&running, now(), HOST, exists), None);
        let unknown = row(Some(HOST), Some(300), TimeDelta::minutes(59));
        assert_eq!(judge(&unknown, now(), HOST, exists), None);
    }

    #[test]
    fn other_host_waits_for_age() {
        let young = row(Some("records-2"), Some(200), TimeDelta::minutes(59));
        assert_eq!(judge(&young, now(), HOST, exists), None);
        let old = row(Some("records-2"), Some(200), TimeDelta::minutes(61));
        assert_eq!(judge(&old, now(), HOST, exists), Some(Abandoned::TooOld));
    }

    #[test]
    fn old_row_without_writer() {
        let young = row(None, None, TimeDelta::minutes(30));
        assert_eq!(judge(&young, now(), HOST, exists), None);
        let old = row(None, None, TimeDelta::hours(2));
        assert_eq!(judge(&old, now(), HOST, exists), Some(Abandoned::TooOld));
    }

    #[test]
    fn unknown_host_disables_process_check() {
        let ended = row(Some(""), Some(200), TimeDelta::seconds(5));
        assert_eq!(judge(&ended, now(), "", exists), None);
    }

    #[test]
    fn unreadable_instant_never_too_old() {
        let mut unreadable = row(None, None, TimeDelta::hours(2));
        unreadable.reserved_at = None;
        assert_eq!(judge(&unreadable, now(), HOST, exists), None);
    }

    fn one_point_layer() -> Layer {
        let info = LayerInfo {
            name: "stops".to_owned(),
            kind: LayerKind::Asset,
            source: "stops.geojson".to_owned(),
            source_crs: "EPSG:4326".to_owned(),
            feature_count: 0,
            bbox: None,
            invalid_count: 0,
            synthetic_id_count: 0,
            attribution: None,
            licence: None,
        };
        let feature = Feature {
            id: "s1".to_owned(),
            synthetic_id: false,
            name: None,
            properties: Map::new(),
            geometry: Geometry::Point(point!(x: -73.6, y: 45.5)),
            active: None,
        };
        Layer::new(info, vec![feature], LoadReport::default())
    }

    /// An import whose reserved row another process deleted, or whose
    /// number another writer then reserved, fails and leaves no table.
    #[test]
    fn removed_row_fails_import() {
        let cases = [
            ("deleted", "DELETE FROM repere_versions"),
            ("marked failed", "UPDATE repere_versions SET complete = -1"),
            (
                "reserved again",
                "UPDATE repere_versions SET writer_pid = 1",
            ),
        ];
        for (case, sql) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("repere.gpkg");
            create_if_missing(&path).unwrap();
            let mut ds = open_dataset(&path, GdalOpenFlags::GDAL_OF_UPDATE).unwrap();
            let layer = one_point_layer();
            let info = VersionInfo::new(&layer, 0, Origin::Import, "00");
            let version = tables::reserve_version(&mut ds, &path, info).unwrap();
            execute(&ds, &path, sql, case).unwrap();

            let written = features::write(&mut ds, &path, &layer, version);

            assert!(
                matches!(written, Err(StoreError::ImportRemoved { version: 1, .. })),
                "{case}: {written:?}"
            );
            assert!(ds.layer_by_name("stops__v0001").is_err(), "{case}: table");
            let complete = "SELECT count(*) AS n FROM repere_versions WHERE complete = 1";
            let rows = query_rows(&ds, &path, complete, |f| int(f, "n")).unwrap();
            assert_eq!(rows, [Some(0)], "{case}: complete rows");
        }
    }
}
