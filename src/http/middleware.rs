//! The layers around every route: request ids, the request span, time-outs
//! and panics.

use std::any::Any;
use std::time::Duration;

use axum::BoxError;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnRequest, OnResponse, TraceLayer};
use tracing::Span;

use super::error::ApiError;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Maximum length of a client request id that is kept; a longer one is replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Checks whether a client's request id is kept: 1 to 128 characters among ASCII
/// letters, digits and `-_.:/`, so that it is safe to log and echo.
pub fn is_valid_request_id(id: &[u8]) -> bool {
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || b"-_.:/".contains(b);
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.iter().all(allowed)
}

/// Removes a client request id that is invalid or repeated, so that the
/// next layer generates a UUID in its place.
pub async fn drop_invalid_request_id(mut request: Request) -> Request {
    let headers = request.headers();
    let mut ids = headers.get_all(&X_REQUEST_ID).iter();
    let keep = match (ids.next(), ids.next()) {
        (Some(id), None) => is_valid_request_id(id.as_bytes()),
        _ => false,
    };
    if !keep {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// Converts a time-out, or another middleware failure, into an error response.
pub async fn handle_layer_error(timeout: Duration, error: BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        return ApiError::TimedOut {
            timeout_s: timeout.as_secs(),
        };
    }
    ApiError::Internal {
        detail: format!("middleware failed: {error}"),
    }
}

/// Logs a handler panic and returns a generic 500 response.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a handler panicked with a non-text payload".to_owned()
    };
    ApiError::Internal {
        detail: format!("panic: {detail}"),
    }
    .into_response()
}

/// One span per request with its method, route, request id, status and
/// latency. The query string is left out because it contains the requested location.
pub fn trace() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    RequestStarted,
    RequestFinished,
    (),
    (),
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(RequestStarted)
        .on_response(RequestFinished)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// The `path` logged for a request that matches no route.
pub const UNMATCHED_PATH: &str = "<unmatched>";

#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        // An unrouted path is not logged because it may contain a location,
        // as in `/v1/context/45.5,-73.6`.
        let path = match request.extensions().get::<MatchedPath>() {
            Some(matched) => matched.as_str(),
            None => UNMATCHED_PATH,
        };
        let request_id = request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|id| id.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            method = %request.method(),
            path,
            request_id,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RequestStarted;

impl<B> OnRequest<B> for RequestStarted {
    fn on_request(&mut self, _request: &axum::http::Request<B>, _span: &Span) {
        tracing::debug!("request started");
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RequestFinished;

impl<B> OnResponse<B> for RequestFinished {
    fn on_response(self, response: &axum::http::Response<B>, latency: Duration, span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        span.record("status", status);
        span.record("latency_ms", latency_ms);
        tracing::info!("request finished");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panic_detail_not_sent() {
        let response = panic_response(Box::new("index 7 out of range in /srv/secret.rs"));
        assert_eq!(response.status(), 500);
        let bytes = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("X-Request-Id"), "{message}");
        assert_eq!(body["error"]["status"], 500);
    }

    #[test]
    fn request_id_rules() {
        assert!(is_valid_request_id(b"a1-B2_c.d:e/f"));
        assert!(is_valid_request_id(&[b'x'; 128]));
        assert!(!is_valid_request_id(&[b'x'; 129]));
        assert!(!is_valid_request_id(b""));
        assert!(!is_valid_request_id(b"a b"));
        assert!(!is_valid_request_id("é".as_bytes()));
    }
}
