//! Errors that reject a source file, naming the file and the fix.

use std::fmt;

use super::crs::CrsError;
use super::options::SettingSource;

/// A source file that cannot become a layer. Each variant names the file
/// (`path`) and, where one is at fault, the feature (`fid`, the GDAL feature
/// id) and its coordinate in the source CRS.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {path}: {message}")]
    Open { path: String, message: String },
    #[error("{path} contains no vector layer")]
    NoLayer { path: String },
    #[error("{path} has no layer (table) {table:?}: choose one of {available}")]
    NoSuchTable {
        path: String,
        table: String,
        available: String,
    },
    #[error("{path} contains no features")]
    NoFeatures { path: String },
    #[error(
        "{path}: GDAL failed to read the file after {read} features: {message}. \
         The file is truncated or corrupt: export it again"
    )]
    ReadFailed {
        path: String,
        /// The features read before the failure.
        read: usize,
        message: String,
    },
    #[error(
        "{path}: the `where` filter {filter:?} ({}) leaves 0 of {count} features: check the filter",
        settings.name("where")
    )]
    FilterLeavesNone {
        path: String,
        filter: String,
        /// The features of the source before the filter.
        count: usize,
        settings: SettingSource,
    },
    #[error(
        "{path}: invalid `where` filter {filter:?} ({}): {message}",
        settings.name("where")
    )]
    Filter {
        path: String,
        filter: String,
        message: String,
        settings: SettingSource,
    },
    #[error(
        "{path}: {} {field:?} is not a column of layer {layer:?}; its columns are: {available}",
        settings.name(setting)
    )]
    MissingField {
        path: String,
        /// The manifest key, e.g. `id_field`.
        setting: &'static str,
        settings: SettingSource,
        field: String,
        layer: String,
        available: String,
    },
    #[error(
        "{path}: {} applies to Shapefile sources only; remove it (it is {encoding:?})",
        settings.name("encoding")
    )]
    EncodingNotApplicable {
        path: String,
        encoding: String,
        settings: SettingSource,
    },
    #[error(
        "{path}: {} {encoding:?} is not an encoding GDAL can read (iconv does not know it): \
         use a name such as CP1252, ISO-8859-1 or UTF-8",
        settings.name("encoding")
    )]
    UnknownEncoding {
        path: String,
        encoding: String,
        settings: SettingSource,
    },
    #[error(
        "{path}: a CSV source needs {}, naming its longitude (or easting) and latitude \
         (or northing) columns{}",
        settings.name_pair("x_field", "y_field"),
        wkt_hint(*settings)
    )]
    CsvColumns {
        path: String,
        settings: SettingSource,
    },
    #[error(
        "{path} declares no CRS: set {} to the CRS of its coordinates, e.g. {} for \
         longitude/latitude or {} for MTM zone 8",
        settings.name("crs"),
        settings.with_value("crs", "EPSG:4326"),
        settings.with_value("crs", "EPSG:32188")
    )]
    MissingCrs {
        path: String,
        settings: SettingSource,
    },
    #[error(
        "{path}: its .prj file {prj} could not be parsed as a CRS: replace it with the .prj \
         the data was exported with, or set {} to the CRS of the coordinates, e.g. {}",
        settings.name("crs"),
        settings.with_value("crs", "EPSG:32188")
    )]
    UnparsablePrj {
        path: String,
        /// The file name of the .prj file.
        prj: String,
        settings: SettingSource,
    },
    #[error("{path}: {source}")]
    Crs {
        path: String,
        #[source]
        source: CrsError,
    },
    #[error(
        "{path}: feature {fid} has coordinate ({}, {}), outside the valid range of {crs} \
         (longitude -180 to 180, latitude -90 to 90). {hint}",
        Coordinate(*x),
        Coordinate(*y)
    )]
    OutOfRange {
        path: String,
        fid: i64,
        x: f64,
        y: f64,
        crs: String,
        hint: String,
    },
    #[error(
        "{path}: feature {fid}: coordinate ({}, {}) in {crs} cannot be transformed to \
         WGS84 ({message}); check that {} is the CRS of the coordinates",
        Coordinate(*x),
        Coordinate(*y),
        settings.name("crs")
    )]
    NotTransformed {
        path: String,
        fid: i64,
        x: f64,
        y: f64,
        crs: String,
        message: String,
        settings: SettingSource,
    },
    #[error(
        "{path}: feature {fid}: coordinate ({}, {}) in {crs} falls at longitude {:.6}, \
         latitude {:.6}, outside the area of use of {crs} ({area}); set {} to \
         the CRS the coordinates are in",
        Coordinate(*x),
        Coordinate(*y),
        Coordinate(*lon),
        Coordinate(*lat),
        settings.name("crs")
    )]
    OutsideAreaOfUse {
        path: String,
        fid: i64,
        x: f64,
        y: f64,
        crs: String,
        lon: f64,
        lat: f64,
        area: String,
        settings: SettingSource,
    },
    #[error("{path}: cannot read feature {fid}: {message}")]
    Read {
        path: String,
        fid: i64,
        message: String,
    },
    #[error(
        "{path}: layer {layer:?}: all {count} features were rejected, the first \
         (feature {fid}, id {id:?}) because: {reason}; check {} and the fields the layer \
         names",
        settings.name("kind")
    )]
    AllRejected {
        path: String,
        layer: String,
        count: usize,
        fid: i64,
        id: String,
        reason: String,
        settings: SettingSource,
    },
}

/// A coordinate value as messages print it. A magnitude of 1e15 or more, or
/// a non-zero one under 1e-6 printed without a precision, is written in
/// scientific notation (`1e308`), because `f64`'s `Display` would write
/// every digit of it. Other values print as `f64` prints them, with the
/// precision the format gives.
#[derive(Debug, Clone, Copy)]
pub(super) struct Coordinate(pub(super) f64);

impl Coordinate {
    const MIN_LARGE: f64 = 1e15;
    const MAX_SMALL: f64 = 1e-6;
}

impl fmt::Display for Coordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.abs();
        let is_large = magnitude.is_finite() && magnitude >= Coordinate::MIN_LARGE;
        let is_small = magnitude > 0.0 && magnitude < Coordinate::MAX_SMALL;
        if is_large || (is_small && f.precision().is_none()) {
            write!(f, "{:e}", self.0)
        } else {
            fmt::Display::fmt(&self.0, f)
        }
    }
}

/// Returns the WKT alternative of an import's error message. Imports may
/// name a column of WKT geometries instead of coordinate columns, and the
/// manifest may not.
fn wkt_hint(settings: SettingSource) -> String {
    match settings {
        SettingSource::Manifest => String::new(),
        _ => format!(
            ", or {} naming a column of WKT geometries",
            settings.name("wkt_field")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::Coordinate;

    #[test]
    fn coordinate_notation_follows_magnitude() {
        let cases = [
            (1e308, "1e308"),
            (-1.5e20, "-1.5e20"),
            (1e-300, "1e-300"),
            (-73.5673, "-73.5673"),
            (296_000.25, "296000.25"),
            (999_999_999_999_999.0, "999999999999999"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(Coordinate(value).to_string(), expected, "for {value:?}");
        }
    }

    #[test]
    fn coordinate_keeps_precision() {
        assert_eq!(format!("{:.6}", Coordinate(-73.5)), "-73.500000");
        assert_eq!(format!("{:.6}", Coordinate(1e-9)), "0.000000");
        assert_eq!(format!("{:.6}", Coordinate(1e300)), "1e300");
    }
}
