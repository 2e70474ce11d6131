//! Conversions shared by both stores: geometries to and from WKB, instants
//! to and from text, and the hash of a source file.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::Geometry;
use geozero::wkb::Wkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::layer::{ActiveInterval, Feature};

/// Encodes a feature's geometry as 2D OGC WKB (little endian).
pub(crate) fn encode_wkb(layer: &str, feature: &Feature) -> Result<Vec<u8>, StoreError> {
    feature
        .geometry
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| StoreError::Geometry {
            layer: layer.to_owned(),
            feature_id: feature.id.clone(),
            message: e.to_string(),
        })
}

/// Decodes OGC WKB into a geometry.
pub(crate) fn decode_wkb(
    layer: &str,
    feature_id: &str,
    wkb: &[u8],
) -> Result<Geometry<f64>, StoreError> {
    Wkb(wkb).to_geo().map_err(|e| StoreError::Geometry {
        layer: layer.to_owned(),
        feature_id: feature_id.to_owned(),
        message: e.to_string(),
    })
}

/// Formats an instant as RFC 3339 in UTC with microseconds, e.g.
/// `2026-03-01T12:00:00.000000Z`. The width is fixed, so the text sorts in
/// time order.
pub(crate) fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an instant written by [`format_instant`].
pub(crate) fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 instant: {e}"))
}

/// Splits an optional interval into the stored columns: whether there is
/// one, its start and its end. A work without an interval is never active,
/// while an interval with two open bounds is always active, so the flag
/// keeps them apart.
pub(crate) fn split_interval(
    active: Option<ActiveInterval>,
) -> (bool, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match active {
        Some(interval) => (true, interval.start, interval.end),
        None => (false, None, None),
    }
}

/// Joins the stored interval columns back, the inverse of [`split_interval`].
pub(crate) fn join_interval(
    has_interval: bool,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Option<ActiveInterval> {
    has_interval.then_some(ActiveInterval { start, end })
}

/// Returns the SHA-256 of a file, in lowercase hex: the content hash that
/// shows whether a source file changed since a version was imported.
pub fn sha256_file(path: &Path) -> Result<String, StoreError> {
    let hash_error = |source| StoreError::Hash {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(hash_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(hash_error)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Converts a count to the stores' integer columns.
pub(crate) fn count_to_i32(
    layer: &str,
    field: &'static str,
    value: usize,
) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::TooLarge {
        layer: layer.to_owned(),
        field,
        value,
    })
}
