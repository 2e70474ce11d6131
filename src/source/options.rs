//! Reading options beyond the manifest's: those an import adds, the name
//! of the CRS setting for error messages, and the progress counter.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Reading options beyond the manifest's, set by imports.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// The layer to read in a multi-layer source: a GeoPackage table, or
    /// `points`, `lines`, `multilinestrings`, `multipolygons` or
    /// `other_relations` in an OSM file. Default: the first layer.
    pub table: Option<String>,
    /// CSV sources: the column holding each geometry as WKT, in place of
    /// `x_field` and `y_field`.
    pub wkt_field: Option<String>,
    /// The setting the caller reads the CRS from, named in error messages
    /// that tell the user to set it.
    pub crs_setting: CrsSetting,
    /// Counts the features read, for a caller that shows progress.
    pub progress: Option<Arc<ReadProgress>>,
}

/// The setting that gives a source its CRS, which depends on how the file
/// came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrsSetting {
    /// `crs` of the layer in the manifest.
    #[default]
    Manifest,
    /// `repere import --crs`.
    CliFlag,
    /// The form field `crs` of `POST /v1/layers/{name}/import`.
    FormField,
}

impl CrsSetting {
    /// Formats the setting with `code` as its value, e.g.
    /// `crs = "EPSG:32188"` or `--crs EPSG:32188`.
    pub fn with_value(self, code: &str) -> String {
        match self {
            CrsSetting::Manifest => format!("crs = \"{code}\""),
            CrsSetting::CliFlag => format!("--crs {code}"),
            CrsSetting::FormField => format!("crs={code}"),
        }
    }
}

impl fmt::Display for CrsSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CrsSetting::Manifest => "`crs` in the manifest",
            CrsSetting::CliFlag => "`repere import --crs`",
            CrsSetting::FormField => "the form field `crs` of the import request",
        })
    }
}

/// The progress of one read, shared between the reader and a caller on
/// another thread.
#[derive(Debug, Default)]
pub struct ReadProgress {
    read: AtomicU64,
    /// The number of features GDAL counted after the `where` filter, plus
    /// one, or 0 while unknown.
    total_plus_one: AtomicU64,
}

impl ReadProgress {
    /// Returns the number of features read so far, filtered out ones not
    /// included. Once the read ends it equals the report's `read_count`
    /// minus its `filtered_count`.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Returns the number of features the read will take, when the GDAL
    /// driver can count them without reading the file.
    pub fn total(&self) -> Option<u64> {
        self.total_plus_one.load(Ordering::Relaxed).checked_sub(1)
    }

    pub(super) fn set_total(&self, total: u64) {
        self.total_plus_one
            .store(total.saturating_add(1), Ordering::Relaxed);
    }

    pub(super) fn add_read(&self) {
        self.read.fetch_add(1, Ordering::Relaxed);
    }
}
