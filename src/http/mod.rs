//! The HTTP interface: routes, errors, middleware and the server.
//!
//! Handlers stay thin: they decode the request, call [`crate::context`] and
//! serialize the borrowed response straight to bytes.

mod context;
mod error;
mod import;
mod listen;
mod meta;
mod middleware;
mod openapi;
mod parse;
mod server;
mod state;
mod versions;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::{Extension, middleware as axum_middleware};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use import::{DEFAULT_MAX_UPLOAD_BYTES, UploadLimit};
pub use middleware::is_valid_request_id;
pub use openapi::ApiDoc;
pub use server::{ServeError, serve};
pub use state::{AppState, Settings};

/// Builds the router with every route and middleware. The last layer added
/// is the first to see a request: request ids are settled before the span
/// opens, and the time-out and body limit apply inside it.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    let timeout = settings.request_timeout;
    let time_limit = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(move |error| {
            middleware::handle_layer_error(timeout, error)
        }))
        .timeout(timeout);
    Router::new()
        .route(
            "/v1/context",
            post(context::post_context).get(context::get_context),
        )
        .route("/v1/context/batch", post(context::post_batch))
        .route("/v1/layers", get(meta::layers))
        .route("/v1/layers/{name}/versions", get(versions::list_versions))
        .route("/v1/layers/{name}/versions/{version}", get(versions::get_version))
        .route_layer(axum_middleware::from_fn(crate::auth::require_read))
        .route("/v1/layers/{name}/activate", post(versions::activate))
        .route("/health", get(meta::health))
        .route("/ready", get(meta::ready))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(openapi::OpenApiJson::build()))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(time_limit)
        .merge(import::routes())
        .layer(PropagateRequestIdLayer::new(middleware::X_REQUEST_ID))
        .layer(middleware::trace())
        .layer(SetRequestIdLayer::new(
            middleware::X_REQUEST_ID,
            MakeRequestUuid,
        ))
        .layer(axum_middleware::map_request(
            middleware::drop_invalid_request_id,
        ))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound {
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
