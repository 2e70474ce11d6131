//! Records of layer versions and activations, as both stores keep them.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::report::VersionReport;
use crate::layer::{Layer, LayerKind};

/// The origin of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Loaded from the file a manifest names.
    Manifest,
    /// Uploaded or imported by an operator.
    Import,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Manifest => "manifest",
            Origin::Import => "import",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "manifest" => Ok(Origin::Manifest),
            "import" => Ok(Origin::Import),
            other => Err(format!(
                "origin {other:?} is not \"manifest\" or \"import\""
            )),
        }
    }
}

/// Parses a stored layer kind.
pub(crate) fn parse_kind(value: &str) -> Result<LayerKind, String> {
    match value {
        "district" => Ok(LayerKind::District),
        "asset" => Ok(LayerKind::Asset),
        "work" => Ok(LayerKind::Work),
        other => Err(format!("kind {other:?} is not district, asset or work")),
    }
}

/// One immutable version of a layer. Only `activated_at` and `activated_by`
/// change, when the version is activated again.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub layer: String,
    /// 1 for the first version of a layer, then 2, 3…
    pub version: u32,
    pub kind: LayerKind,
    /// Source file name, relative to the manifest.
    pub source_file: String,
    /// SHA-256 of the source file, in lowercase hex.
    pub source_sha256: String,
    pub source_crs: String,
    pub attribution: Option<String>,
    pub licence: Option<String>,
    pub feature_count: usize,
    /// Features whose source geometry was invalid.
    pub invalid_count: usize,
    /// Invalid features that were repaired and kept.
    pub repaired_count: usize,
    pub synthetic_id_count: usize,
    pub origin: Origin,
    pub imported_at: DateTime<Utc>,
    /// The latest activation of this version, if any.
    pub activated_at: Option<DateTime<Utc>>,
    pub activated_by: Option<String>,
    pub report: VersionReport,
}

impl VersionInfo {
    /// Describes `layer` as version `version`, imported now and never
    /// activated, with the report of the layer alone: the stores replace it
    /// with the one that names the author and the diff. Instants are
    /// truncated to the microsecond, the precision both stores keep.
    pub(crate) fn new(layer: &Layer, version: u32, origin: Origin, source_sha256: &str) -> Self {
        let info = &layer.info;
        VersionInfo {
            layer: info.name.clone(),
            version,
            kind: info.kind,
            source_file: info.source.clone(),
            source_sha256: source_sha256.to_owned(),
            source_crs: info.source_crs.clone(),
            attribution: info.attribution.clone(),
            licence: info.licence.clone(),
            feature_count: layer.features.len(),
            invalid_count: layer.report.invalid_feature_count(),
            repaired_count: repaired_count(layer),
            synthetic_id_count: layer.report.synthetic_ids.len(),
            origin,
            imported_at: now_micros(),
            activated_at: None,
            activated_by: None,
            report: VersionReport::of_layer(layer),
        }
    }
}

/// Counts the features with a geometry problem that are still in the
/// layer, so were repaired. A feature with several problems counts once.
fn repaired_count(layer: &Layer) -> usize {
    let kept: HashSet<&str> = layer.features.iter().map(|f| f.id.as_str()).collect();
    let repaired: HashSet<&str> = layer
        .report
        .invalid
        .iter()
        .map(|invalid| invalid.id.as_str())
        .filter(|id| kept.contains(id))
        .collect();
    repaired.len()
}

/// Returns the current instant, truncated to the microsecond.
pub(crate) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// One entry of the activation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Activation {
    pub layer: String,
    pub version: u32,
    pub activated_at: DateTime<Utc>,
    pub activated_by: String,
    /// The version that was active just before, if any.
    pub previous: Option<u32>,
}

/// The latest version imported from the manifest, for deciding at start-up
/// whether the manifest file must be imported again.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestVersion {
    pub info: VersionInfo,
    /// True when, since that version was imported, a version was imported
    /// by an operator (origin `import`) or another version was activated.
    /// An operator's change then takes precedence over the manifest.
    pub changed_since: bool,
}

/// A layer of the store, as [`crate::store::Store::layers`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LayerSummary {
    pub name: String,
    /// The kind of the latest version.
    pub kind: LayerKind,
    pub latest_version: u32,
    pub active_version: Option<u32>,
}

/// A page of versions, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Only versions with a lower number; `None` starts at the newest.
    pub before: Option<u32>,
    /// The maximum number of versions returned.
    pub limit: u32,
}

impl Page {
    /// Selects the first `limit` versions, newest first.
    pub fn first(limit: u32) -> Self {
        Page {
            before: None,
            limit,
        }
    }

    /// The page after one that ended with version `last`.
    pub fn after(self, last: u32) -> Self {
        Page {
            before: Some(last),
            ..self
        }
    }
}
