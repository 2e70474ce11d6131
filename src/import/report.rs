//! The import report: what the file contained, what was repaired or
//! rejected, and how the layer differs from its active version.

use serde::Serialize;

use crate::layer::{InvalidGeometry, LayerKind, RejectedFeature, SyntheticId, UndecodableText};
use crate::store::Diff;

/// The outcome of an import, returned as JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub layer: String,
    pub kind: LayerKind,
    /// True when nothing was written.
    pub dry_run: bool,
    /// The stored version, absent for a dry run.
    pub version: Option<u32>,
    pub activated: bool,
    /// The token name (HTTP) or user (CLI) recorded as the author.
    pub imported_by: String,
    pub source_file: String,
    /// SHA-256 of the uploaded file, lowercase hex.
    pub source_sha256: String,
    /// The CRS the coordinates were read in.
    pub source_crs: String,
    /// Features read from the file, before the `where` filter.
    pub read_count: usize,
    /// Features left out by the `where` filter.
    pub filtered_count: usize,
    /// Features kept, repaired ones included.
    pub feature_count: usize,
    /// `[min_lon, min_lat, max_lon, max_lat]` in WGS84, absent when empty.
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
    /// the file to UTF-8.
    pub undecodable: Vec<UndecodableText>,
    /// Changes from the active version, absent when none is active.
    pub diff: Option<Diff>,
    /// The latest version of the layer read from a file with the same
    /// SHA-256, absent when none was: the import repeats that version.
    pub same_file_as: Option<u32>,
}
