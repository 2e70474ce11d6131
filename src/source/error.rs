//! Errors that reject a source file, naming the file and the fix.

use super::crs::CrsError;
use super::options::CrsSetting;

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
    #[error("{path}: invalid `where` filter {filter:?}: {message}")]
    Filter {
        path: String,
        filter: String,
        message: String,
    },
    #[error(
        "{path}: {setting} {field:?} is not a column of layer {layer:?}; its columns are: {available}"
    )]
    MissingField {
        path: String,
        setting: &'static str,
        field: String,
        layer: String,
        available: String,
    },
    #[error(
        "{path}: `encoding` applies to Shapefile sources only; remove encoding = {encoding:?} \
         from the layer in the manifest"
    )]
    EncodingNotApplicable { path: String, encoding: String },
    #[error(
        "{path}: a CSV source needs x_field and y_field in the manifest, naming its \
         longitude (or easting) and latitude (or northing) columns"
    )]
    CsvColumns { path: String },
    #[error(
        "{path} declares no CRS: set {setting} to the CRS of its coordinates, e.g. {} for \
         longitude/latitude or {} for MTM zone 8",
        setting.with_value("EPSG:4326"),
        setting.with_value("EPSG:32188")
    )]
    MissingCrs { path: String, setting: CrsSetting },
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
         WGS84 ({message}); check that {setting} is the CRS of the coordinates"
    )]
    NotTransformed {
        path: String,
        fid: i64,
        x: f64,
        y: f64,
        crs: String,
        message: String,
        setting: CrsSetting,
    },
    #[error(
        "{path}: feature {fid}: coordinate ({x}, {y}) in {crs} falls at longitude {lon:.6}, \
         latitude {lat:.6}, outside the area of use of {crs} ({area}); set {setting} to \
         the CRS the coordinates are in"
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
        setting: CrsSetting,
    },
    #[error("{path}: cannot read feature {fid}: {message}")]
    Read {
        path: String,
        fid: i64,
        message: String,
    },
    #[error(
        "{path}: layer {layer:?}: all {count} features were rejected, the first \
         (feature {fid}, id {id:?}) because: {reason}; check the layer's `kind` and fields in \
         the manifest"
    )]
    AllRejected {
        path: String,
        layer: String,
        count: usize,
        fid: i64,
        id: String,
        reason: String,
    },
}
