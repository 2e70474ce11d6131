//! The one error type of the HTTP interface and its JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::context::InvalidField;

/// Every way a request can fail, each with the value that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field of the request is missing, of the wrong type or out of range.
    #[error("{0}")]
    InvalidField(InvalidField),
    /// The body is not JSON at all, so no field can be named.
    #[error("invalid JSON body: {message}")]
    InvalidBody { message: String },
    /// The query string cannot be decoded, and no field can be named.
    #[error("invalid query string: {message}")]
    InvalidQuery { message: String },
    /// The body is not a multipart form that can be read.
    #[error("invalid multipart form: {message}: send the file and options as multipart/form-data")]
    InvalidForm { message: String },
    /// Import options that do not fit together or with the file, where no
    /// single form field is at fault; the message names the fields.
    #[error("{message}")]
    InvalidImport { message: String },
    #[error(
        "the batch holds {count} requests, over the maximum of {max}: split it into smaller batches"
    )]
    BatchTooLarge { count: usize, max: usize },
    #[error("content type {content_type:?} is not supported: send the body as application/json")]
    UnsupportedMediaType { content_type: String },
    #[error(
        "the request body is over the limit of {limit_bytes} bytes: send a smaller body or split the batch"
    )]
    BodyTooLarge { limit_bytes: usize },
    /// The file part of an import is over `max_upload_bytes`.
    #[error(
        "the file is over the upload limit of {limit_bytes} bytes: send a smaller file, or raise \
         max_upload_bytes in the service's configuration"
    )]
    UploadTooLarge { limit_bytes: usize },
    /// The whole import form is over `max_upload_bytes` plus the allowance
    /// for its text fields and part headers.
    #[error(
        "the import form is over the limit of {form_limit_bytes} bytes (max_upload_bytes = \
         {limit_bytes}, plus {} bytes for the text fields and part headers): send a smaller file \
         or shorter options, or raise max_upload_bytes in the service's configuration",
        form_limit_bytes.saturating_sub(*limit_bytes)
    )]
    FormTooLarge {
        limit_bytes: usize,
        form_limit_bytes: usize,
    },
    #[error(
        "the batch response exceeds the limit of {limit_bytes} bytes: lower limit or radius_m, split the batch, or raise the service's max_batch_response_bytes setting"
    )]
    BatchResponseTooLarge { limit_bytes: usize },
    #[error("no route for {path}: see /openapi.json for the routes")]
    NotFound { path: String },
    #[error("method {method} is not allowed on {path}: see /openapi.json for the methods")]
    MethodNotAllowed { method: String, path: String },
    #[error("the request did not complete within {timeout_s} s: retry, or split the batch")]
    TimedOut { timeout_s: u64 },
    /// An import that took longer than the import route's time-out. The
    /// reading thread may still be running, and a store write that had
    /// started may still finish, so the message asks to check the versions.
    #[error(
        "the import did not complete within {timeout_s} s: check GET {versions_path} before \
         importing again, then send a smaller file, or select fewer features with `table` or \
         `where`"
    )]
    ImportTimedOut {
        timeout_s: u64,
        /// The versions route of the layer, e.g. `/v1/layers/wards/versions`.
        versions_path: String,
    },
    #[error("the layers are still loading: retry when GET /ready returns 200")]
    NotReady,
    /// A layer or layer version that the store does not have; the message
    /// names it.
    #[error("{message}")]
    VersionNotFound { message: String },
    /// An import that lost a race with another process on the same store.
    /// The message tells the user to import again.
    #[error("{message}")]
    ImportConflict { message: String },
    /// A fault of the service. `detail` goes to the log, never to the client.
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status code, repeated for clients that only see the body.
    #[schema(example = 400)]
    pub status: u16,
    /// The request field at fault, e.g. `lat` or `[12].lat` in a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "lat")]
    pub field: Option<String>,
    #[schema(example = "lat: 91 is out of range: expected a value from -90 to 90 (WGS84 degrees)")]
    pub message: String,
}

/// The message of every 500 response: the detail stays in the log.
const INTERNAL_MESSAGE: &str =
    "internal error: the service logged the details under this request's X-Request-Id";

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField(InvalidField {
            field: field.into(),
            message: message.into(),
        })
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidField(_)
            | ApiError::InvalidBody { .. }
            | ApiError::InvalidQuery { .. }
            | ApiError::InvalidForm { .. }
            | ApiError::InvalidImport { .. }
            | ApiError::BatchTooLarge { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge { .. }
            | ApiError::UploadTooLarge { .. }
            | ApiError::FormTooLarge { .. }
            | ApiError::BatchResponseTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound { .. } | ApiError::VersionNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TimedOut { .. } | ApiError::ImportTimedOut { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ImportConflict { .. } => StatusCode::CONFLICT,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::InvalidField(invalid) => Some(&invalid.field),
            _ => None,
        }
    }

    /// Logs the error in the request's span, which carries the request id.
    /// Messages are not logged because they repeat request values, such as
    /// coordinates. Strings are logged in Debug form, so that a line feed or
    /// NUL from a request cannot forge or break a log line.
    fn log(&self, status: StatusCode) {
        match self {
            ApiError::Internal { detail } => {
                tracing::error!(status = status.as_u16(), detail = ?detail, "request failed");
            }
            _ => tracing::info!(
                status = status.as_u16(),
                field = self.field(),
                "request rejected"
            ),
        }
    }

    pub fn body(&self) -> ErrorBody {
        let message = match self {
            ApiError::Internal { .. } => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                status: self.status().as_u16(),
                field: self.field().map(str::to_owned),
                message,
            },
        }
    }
}

impl From<InvalidField> for ApiError {
    fn from(invalid: InvalidField) -> Self {
        ApiError::InvalidField(invalid)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        self.log(status);
        (status, axum::Json(self.body())).into_response()
    }
}
