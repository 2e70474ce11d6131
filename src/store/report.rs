//! The import report stored with each version, in the `load_report` JSON
//! column of both stores.
//!
//! The column keeps the shape of a [`LoadReport`] and adds keys. An older
//! build sharing the store reads the rows of this one, because serde ignores
//! the unknown keys. This build reads theirs as
//! [`VersionReport::LOAD_REPORT_FORMAT`], with the added keys null.
//!
//! `GET /v1/layers/{name}/versions/{version}` returns the report with the
//! version's columns as a [`crate::import::ImportRecord`], under the keys of
//! the import response, and `format` as `report_format`.

use serde::{Deserialize, Serialize};

use super::diff::Diff;
use crate::layer::{Layer, LoadReport};

/// The import report of a version, besides the version's own fields: what
/// the source contained and what changed from the version that was active
/// when it was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionReport {
    /// 3 for a report with every key. 2 for a row stored before
    /// `same_file_as` was kept, and 1 for one stored before `bbox_wgs84`,
    /// `imported_by` and `diff` were kept: the keys added later are then
    /// null, whatever the import found.
    #[serde(default = "load_report_format")]
    pub format: u32,
    /// Features read, left out by the `where` filter, invalid, rejected and
    /// given a synthetic id.
    #[serde(flatten)]
    pub load: LoadReport,
    /// `[min_lon, min_lat, max_lon, max_lat]` in WGS84, absent for an empty
    /// layer.
    #[serde(default)]
    pub bbox_wgs84: Option<[f64; 4]>,
    /// The token name (HTTP), user (CLI) or `manifest` recorded as the
    /// author of the import.
    #[serde(default)]
    pub imported_by: Option<String>,
    /// Changes from the version that was active when this one was stored,
    /// absent when none was.
    #[serde(default)]
    pub diff: Option<Diff>,
    /// The latest complete version of the layer whose source file had the
    /// same SHA-256 when this one was stored, absent when none had: a
    /// re-import of an unchanged file.
    #[serde(default)]
    pub same_file_as: Option<u32>,
}

fn load_report_format() -> u32 {
    VersionReport::LOAD_REPORT_FORMAT
}

impl VersionReport {
    /// The format of rows that hold only a [`LoadReport`].
    pub const LOAD_REPORT_FORMAT: u32 = 1;
    /// The format written by this build.
    pub const FORMAT: u32 = 3;

    /// Builds the report of `layer`, imported by `imported_by`, with its
    /// diff from the active version and the latest version read from the
    /// same file.
    pub fn new(
        layer: &Layer,
        imported_by: &str,
        diff: Option<Diff>,
        same_file_as: Option<u32>,
    ) -> Self {
        VersionReport {
            imported_by: Some(imported_by.to_owned()),
            diff,
            same_file_as,
            ..Self::of_layer(layer)
        }
    }

    /// Builds the part of the report that `layer` itself holds, without
    /// author or diff.
    pub fn of_layer(layer: &Layer) -> Self {
        VersionReport {
            format: Self::FORMAT,
            load: layer.report.clone(),
            bbox_wgs84: layer.info.bbox,
            imported_by: None,
            diff: None,
            same_file_as: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layer::SyntheticId;

    /// Returns a `load_report` value as builds before `format` wrote it.
    fn load_report_row() -> serde_json::Value {
        json!({
            "read_count": 4,
            "filtered_count": 1,
            "invalid": [],
            "synthetic_ids": [{"id": "stops:3", "source_value": null, "reason": "missing"}],
            "rejected": [{"fid": 2, "reason": "no geometry"}]
        })
    }

    #[test]
    fn load_report_row_reads() {
        let report: VersionReport = serde_json::from_value(load_report_row()).unwrap();
        assert_eq!(report.format, VersionReport::LOAD_REPORT_FORMAT);
        assert_eq!(report.load.read_count, 4);
        assert_eq!(report.load.filtered_count, 1);
        assert_eq!(report.load.rejected[0].fid, 2);
        assert_eq!(
            report.load.synthetic_ids,
            vec![SyntheticId {
                id: "stops:3".to_owned(),
                source_value: None,
                reason: "missing".to_owned(),
            }]
        );
        assert_eq!(report.bbox_wgs84, None);
        assert_eq!(report.imported_by, None);
        assert_eq!(report.diff, None);
        assert_eq!(report.same_file_as, None);
    }

    /// An older build reads the column as a `LoadReport`, ignoring the
    /// added keys.
    #[test]
    fn row_reads_as_load_report() {
        let mut report: VersionReport = serde_json::from_value(load_report_row()).unwrap();
        report.format = VersionReport::FORMAT;
        report.bbox_wgs84 = Some([-73.6, 45.5, -73.5, 45.6]);
        report.imported_by = Some("gis-team".to_owned());
        report.diff = Some(Diff {
            active_version: 3,
            added: Default::default(),
            removed: Default::default(),
            geometry_changed: Default::default(),
            properties_changed: Default::default(),
        });
        report.same_file_as = Some(2);
        let written = serde_json::to_value(&report).unwrap();
        let keys = [
            "format",
            "bbox_wgs84",
            "imported_by",
            "diff",
            "same_file_as",
            "read_count",
        ];
        for key in keys {
            assert!(written.get(key).is_some(), "{key} in {written}");
        }
        let load: LoadReport = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(load, report.load);
        let again: VersionReport = serde_json::from_value(written).unwrap();
        assert_eq!(again, report);
    }
}
