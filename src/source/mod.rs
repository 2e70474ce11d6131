//! Reading layer sources through GDAL and PROJ into validated layers.

use crate::layer::Layer;
use crate::manifest::LayerSpec;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {message}")]
    Open { path: String, message: String },
}

/// Reads the source file of `spec` into a layer in WGS84.
pub fn load_layer(spec: &LayerSpec) -> Result<Layer, SourceError> {
    Err(SourceError::Open {
        path: spec.path.display().to_string(),
        message: "not written yet".into(),
    })
}
