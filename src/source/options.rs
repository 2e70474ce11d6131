//! Reading options beyond the manifest's: those an import adds, where
//! the settings come from, for error messages, and the progress counter.

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
    /// The origin of the caller's settings, so that error messages name
    /// the setting to change as the user sets it.
    pub settings: SettingSource,
    /// Counts the features read, for a caller that shows progress.
    pub progress: Option<Arc<ReadProgress>>,
}

/// The origin of the reading settings, which depends on how the file came
/// in. Error messages name a setting the way the user sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SettingSource {
    /// A `[[layer]]` of the manifest: `crs = "EPSG:32188"`.
    #[default]
    Manifest,
    /// The flags of `repere import`: `--crs EPSG:32188`.
    CliFlags,
    /// The form fields of `POST /v1/layers/{name}/import`: `crs=EPSG:32188`.
    FormFields,
}

impl SettingSource {
    /// Names setting `key` (a manifest key such as `x_field`), e.g.
    /// "`x_field` in the manifest" or "`--x-field`".
    pub fn name(self, key: &str) -> String {
        match self {
            SettingSource::Manifest => format!("`{key}` in the manifest"),
            SettingSource::CliFlags => format!("`repere import --{}`", flag(key)),
            SettingSource::FormFields => format!("the form field `{key}`"),
        }
    }

    /// Names two settings together, e.g. "`x_field` and `y_field` in the
    /// manifest" or "`repere import --x-field` and `--y-field`".
    pub fn name_pair(self, first: &str, second: &str) -> String {
        match self {
            SettingSource::Manifest => format!("`{first}` and `{second}` in the manifest"),
            SettingSource::CliFlags => {
                format!("`repere import --{}` and `--{}`", flag(first), flag(second))
            }
            SettingSource::FormFields => format!("the form fields `{first}` and `{second}`"),
        }
    }

    /// Formats setting `key` with `value`, e.g. `crs = "EPSG:32188"` or
    /// `--crs EPSG:32188`.
    pub fn with_value(self, key: &str, value: &str) -> String {
        match self {
            SettingSource::Manifest => format!("{key} = \"{value}\""),
            SettingSource::CliFlags => format!("--{} {value}", flag(key)),
            SettingSource::FormFields => format!("{key}={value}"),
        }
    }
}

/// Converts a manifest key to its `repere import` flag: `x_field` → `x-field`.
fn flag(key: &str) -> String {
    key.replace('_', "-")
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

#[cfg(test)]
mod tests {
    use super::SettingSource;

    #[test]
    fn names_follow_the_source() {
        let names: Vec<String> = [
            SettingSource::Manifest,
            SettingSource::CliFlags,
            SettingSource::FormFields,
        ]
        .iter()
        .map(|s| {
            format!(
                "{} | {}",
                s.name("id_field"),
                s.with_value("crs", "EPSG:2950")
            )
        })
        .collect();
        assert_eq!(
            names,
            [
                "`id_field` in the manifest | crs = \"EPSG:2950\"",
                "`repere import --id-field` | --crs EPSG:2950",
                "the form field `id_field` | crs=EPSG:2950",
            ]
        );
    }

    #[test]
    fn pair_names_share_one_prefix() {
        assert_eq!(
            SettingSource::CliFlags.name_pair("x_field", "y_field"),
            "`repere import --x-field` and `--y-field`"
        );
    }
}
