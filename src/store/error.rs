//! Errors of the layer stores.

use std::path::PathBuf;

/// A failed store operation, with the layer and version it was about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The layer, or this version of it, is not in the store (a 404 for HTTP).
    #[error("{}", not_found_message(layer, *version))]
    NotFound {
        layer: String,
        /// `None` when the layer itself is unknown.
        version: Option<u32>,
    },
    #[error("invalid layer name: {message}")]
    InvalidLayerName { name: String, message: String },
    #[error(
        "cannot {operation} layer {layer:?} in the database: {source}; check that \
         PostgreSQL is reachable and that the migrations ran"
    )]
    Database {
        layer: String,
        operation: &'static str,
        source: sqlx::Error,
    },
    #[error("cannot connect to the database: {source}; check --database-url or DATABASE_URL")]
    Connect { source: sqlx::Error },
    #[error("cannot apply the database migrations: {source}")]
    Migrate { source: sqlx::migrate::MigrateError },
    #[error("cannot {operation} in GeoPackage {path}: {source}")]
    GeoPackage {
        path: PathBuf,
        operation: String,
        source: gdal::errors::GdalError,
    },
    /// A file at the store's path that GDAL's GPKG driver does not open,
    /// such as a GeoJSON or CSV file renamed `repere.gpkg`.
    #[error(
        "{path} is not a GeoPackage ({reason}), so the layer store cannot use it: move or \
         rename the file, or choose another state directory (--state-dir, \
         REPERE_STATE_DIR or `state_dir` in the config file)"
    )]
    NotGeoPackage { path: PathBuf, reason: String },
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read source file {path} to hash it: {source}")]
    Hash {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A geometry that could not be encoded to or decoded from WKB.
    #[error("layer {layer:?} feature {feature_id:?}: invalid geometry: {message}")]
    Geometry {
        layer: String,
        feature_id: String,
        message: String,
    },
    /// A stored value that does not read back, e.g. a malformed timestamp.
    #[error("layer {layer:?} version {version}: stored {field} is invalid: {message}")]
    Corrupt {
        layer: String,
        version: u32,
        field: &'static str,
        message: String,
    },
    /// A value that does not fit the store's integer columns.
    #[error("layer {layer:?}: {field} = {value} is too large to store")]
    TooLarge {
        layer: String,
        field: &'static str,
        value: usize,
    },
    /// The row reserved by an import was removed before the import ended,
    /// by another process that judged the import abandoned.
    #[error(
        "version {version} of layer {layer:?} was removed from GeoPackage {path} while it \
         was being imported, as an abandoned import, by another process opening the file: \
         import the file again"
    )]
    ImportRemoved {
        path: PathBuf,
        layer: String,
        version: u32,
    },
    #[error("a GeoPackage task for layer {layer:?} failed: {source}")]
    Task {
        layer: String,
        source: tokio::task::JoinError,
    },
}

impl StoreError {
    /// Returns true for an unknown layer or version.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    pub(crate) fn not_found(layer: &str, version: Option<u32>) -> Self {
        StoreError::NotFound {
            layer: layer.to_owned(),
            version,
        }
    }
}

fn not_found_message(layer: &str, version: Option<u32>) -> String {
    match version {
        Some(version) => {
            format!("layer {layer:?} has no version {version}: list its versions to pick one")
        }
        None => format!("layer {layer:?} is not in the store: import it first"),
    }
}
