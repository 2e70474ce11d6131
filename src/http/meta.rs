//! Routes about the service itself: liveness, readiness and the layer list.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::context::{json_response, to_json};
use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::layer::LayerInfo;

/// The body of `/health` and `/ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The layers the service queries, in manifest order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LayerList<'a> {
    #[schema(value_type = Vec<LayerInfo>)]
    pub layers: Vec<&'a LayerInfo>,
}

/// Liveness: 200 as long as the process serves HTTP.
#[utoipa::path(get, path = "/health", tag = "service", responses(
    (status = 200, description = "The process is alive", body = Status),
))]
pub async fn health() -> Result<Response, ApiError> {
    Ok(json_response(to_json(&Status { status: "ok" })?))
}

/// Readiness: 200 once the layers are loaded, 503 before.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, description = "The layers are loaded", body = Status),
    (status = 503, description = "The layers are still loading", body = ErrorBody),
))]
pub async fn ready(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.catalog()?;
    Ok(json_response(to_json(&Status { status: "ready" })?))
}

/// The loaded layers with their counts, extent, source CRS and licence.
#[utoipa::path(get, path = "/v1/layers", tag = "service", responses(
    (status = 200, description = "The layers, in manifest order", body = LayerList),
    (status = 503, description = "The layers are still loading", body = ErrorBody),
))]
pub async fn layers(State(state): State<AppState>) -> Result<Response, ApiError> {
    let catalog = state.catalog()?;
    let layers = catalog
        .layers()
        .iter()
        .map(|index| &index.layer().info)
        .collect();
    Ok(json_response(to_json(&LayerList { layers })?))
}
