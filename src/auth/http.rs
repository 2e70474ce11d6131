//! Token checks on HTTP routes: a middleware for the read routes and an
//! extractor for the routes that need role `gis`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Access, AuthError, Caller, Role};
use crate::http::{ErrorBody, ErrorDetail};

impl AuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Forbidden { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        // The header value is never logged: only the outcome is.
        tracing::info!(status = status.as_u16(), "request not authorized");
        let body = ErrorBody {
            error: ErrorDetail {
                status: status.as_u16(),
                field: None,
                message: self.to_string(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Bearer");
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// Checks a request against the [`Access`] that the router's
/// `Extension(Arc<Access>)` layer added; without one, the default applies
/// (reads open, no token).
fn authorize(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
    role: Role,
) -> Result<Caller, AuthError> {
    let header = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
    match extensions.get::<Arc<Access>>() {
        Some(access) => access.authorize(header, role),
        None => Access::default().authorize(header, role),
    }
}

/// Middleware for the read routes: rejects a request without a token of
/// role `read`, unless reads are open.
pub async fn require_read(request: Request, next: Next) -> Result<Response, AuthError> {
    authorize(request.extensions(), request.headers(), Role::Read)?;
    Ok(next.run(request).await)
}

/// Extractor of the caller of a route that needs role `gis`; its name is
/// recorded as the author of imports and activations.
#[derive(Debug, Clone)]
pub struct RequireGis(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for RequireGis {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthError> {
        authorize(&parts.extensions, &parts.headers, Role::Gis).map(RequireGis)
    }
}
