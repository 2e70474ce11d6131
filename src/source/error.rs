//! Errors that reject a source file, naming the file and the fix.

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
    #[error("{path}: invalid `where` filter {filter:?}: {message}")]
    Filter {
        path: String,
        filter: String,
        message: String,
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
    #[error("{path}: {source}")]
    Crs {
        path: String,
        #[source]
        source: CrsError,
    },
    #[error(
        "{path}: feature {fid} has coordinate ({x}, {y}), outside the valid range of {crs} \
         (longitude -180 to 180, latitude -90 to 90). {hint}"
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
        "{path}: feature {fid}: coordinate ({x}, {y}) in {crs} cannot be transformed to \
         WGS84 ({message}); check that {} is the CRS of the coordinates",
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
        "{path}: feature {fid}: coordinate ({x}, {y}) in {crs} falls at longitude {lon:.6}, \
         latitude {lat:.6}, outside the area of use of {crs} ({area}); set {} to \
         the CRS the coordinates are in",
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
