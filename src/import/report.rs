//! The import report: what the file contained, what was repaired or
//! rejected, and how the layer differs from its active version.
//!
//! [`ImportRecord`] contains the keys that the import response and
//! `GET /v1/layers/{name}/versions/{version}` share, and both flatten it,
//! so the two routes return a report with the same keys and nesting.

use serde::Serialize;

use crate::layer::{InvalidGeometry, LayerKind, RejectedFeature, SyntheticId, UndecodableText};
use crate::store::{Diff, VersionInfo};

/// The outcome of an import, returned as JSON: the record of the import
/// and what was done with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    #[serde(flatten)]
    pub record: ImportRecord,
    /// True when nothing was written.
    pub dry_run: bool,
    pub activated: bool,
}

/// Gives read access to the record's fields as `report.version`, because
/// the record is the report apart from `dry_run` and `activated`.
impl std::ops::Deref for ImportReport {
    type Target = ImportRecord;

    fn deref(&self) -> &ImportRecord {
        &self.record
    }
}

/// The source of an imported layer, what was read, repaired and rejected,
/// and the changes from the version active before. A version keeps it, so
/// its route returns these keys with the values its import returned.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportRecord {
    pub layer: String,
    pub kind: LayerKind,
    /// The stored version, absent for a dry run.
    pub version: Option<u32>,
    /// The token name (HTTP), user (CLI) or `manifest` recorded as the
    /// author, null in a version whose `report_format` is 1.
    pub imported_by: Option<String>,
    pub source_file: String,
    /// SHA-256 of the source file, lowercase hex.
    pub source_sha256: String,
    /// The CRS the coordinates were read in.
    pub source_crs: String,
    /// Features read from the file, before the `where` filter.
    pub read_count: usize,
    /// Features left out by the `where` filter.
    pub filtered_count: usize,
    /// Features kept, repaired ones included.
    pub feature_count: usize,
    /// Kept features whose Z or M values were dropped, because layers are
    /// two-dimensional. 0 in a version stored before this count was kept.
    pub flattened_count: usize,
    /// `[min_lon, min_lat, max_lon, max_lat]` in WGS84, absent when the
    /// layer is empty or the version's `report_format` is 1.
    pub bbox_wgs84: Option<[f64; 4]>,
    /// Invalid geometries in the file's own CRS, with the GEOS reason and
    /// the repair.
    pub invalid: Vec<InvalidGeometry>,
    /// Features left out, with the reason.
    pub rejected: Vec<RejectedFeature>,
    /// Ids made up because the id field was missing or repeated.
    pub synthetic_ids: Vec<SyntheticId>,
    /// Kept features with text that did not decode (U+FFFD), by id with
    /// the attributes concerned: set `encoding` for a Shapefile, or convert
    /// the file to UTF-8. A version whose `report_format` is 1 or 2 may
    /// have been stored before this list was kept, and then has it empty.
    pub undecodable: Vec<UndecodableText>,
    /// Changes from the version active when the import ran, absent when
    /// none was or the version's `report_format` is 1.
    pub diff: Option<Diff>,
    /// The latest version of the layer read from a file with the same
    /// SHA-256, absent when none was or the version's `report_format` is
    /// below 3: the import repeats that version.
    pub same_file_as: Option<u32>,
}

impl ImportRecord {
    /// Builds the record of a stored version from its columns and the
    /// report stored with it.
    pub fn of_version(info: &VersionInfo) -> Self {
        let report = &info.report;
        let load = &report.load;
        ImportRecord {
            layer: info.layer.clone(),
            kind: info.kind,
            version: Some(info.version),
            imported_by: report.imported_by.clone(),
            source_file: info.source_file.clone(),
            source_sha256: info.source_sha256.clone(),
            source_crs: info.source_crs.clone(),
            read_count: load.read_count,
            filtered_count: load.filtered_count,
            feature_count: info.feature_count,
            flattened_count: load.flattened_count,
            bbox_wgs84: report.bbox_wgs84,
            invalid: load.invalid.clone(),
            rejected: load.rejected.clone(),
            synthetic_ids: load.synthetic_ids.clone(),
            undecodable: load.undecodable.clone(),
            diff: report.diff.clone(),
            same_file_as: report.same_file_as,
        }
    }
}
