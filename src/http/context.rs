//! The context routes: one point by POST or GET, many points by batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use super::parse::{self, JsonBytes};
use super::state::AppState;
use super::versions::{AsOfKey, choose_versions};
use crate::catalog::Catalog;
use crate::context::{
    self, ContextQuery, ContextRequest, ContextResponse, InvalidField, LayerChoice,
};

/// The context of one point.
#[utoipa::path(
    post,
    path = "/v1/context",
    tag = "context",
    request_body = ContextRequest,
    responses(
        (status = 200, description = "The context of the point; a point outside every layer has empty feature lists", body = ContextResponse),
        (status = 400, description = "A field is missing, of the wrong type or out of range", body = ErrorBody),
        (status = 413, description = "The body is over the size limit", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 503, description = "The layers are still loading", body = ErrorBody),
    )
)]
pub async fn post_context(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let request: ContextRequest = parse::json(&body)?;
    context_of_one(&state, &request).await
}

/// The context of one point, with the parameters in the query string.
#[utoipa::path(
    get,
    path = "/v1/context",
    tag = "context",
    params(ContextRequest),
    responses(
        (status = 200, description = "The context of the point", body = ContextResponse),
        (status = 400, description = "A parameter is missing, of the wrong type or out of range", body = ErrorBody),
        (status = 503, description = "The layers are still loading", body = ErrorBody),
    )
)]
pub async fn get_context(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request: ContextRequest = parse::query(query.as_deref().unwrap_or(""))?;
    context_of_one(&state, &request)
        .await
        .map_err(|e| hint_encoded_plus(e, &request))
}

/// Adds the likely fix to an `at` error when the value contains a space,
/// because a query string decodes an unencoded `+`, as in `+05:00`, to a space.
fn hint_encoded_plus(error: ApiError, request: &ContextRequest) -> ApiError {
    let has_space = |value: &Option<String>| value.as_deref().is_some_and(|v| v.contains(' '));
    let spaced = |field: &str| match field {
        "at" => has_space(&request.at),
        "as_of" => has_space(&request.as_of),
        _ => false,
    };
    match error {
        ApiError::InvalidField(mut invalid) if spaced(&invalid.field) => {
            invalid
                .message
                .push_str("; in a query string, write the + of an offset as %2B");
            ApiError::InvalidField(invalid)
        }
        other => other,
    }
}

/// The contexts of many points, in request order. The whole batch fails when
/// one request is invalid, and the error names its index, e.g. `[12].lat`.
#[utoipa::path(
    post,
    path = "/v1/context/batch",
    tag = "context",
    request_body(content = Vec<ContextRequest>, description = "At most `max_batch` requests (1,000 by default)"),
    responses(
        (status = 200, description = "One context per request, in the same order", body = Vec<ContextResponse>),
        (status = 400, description = "An item is invalid, or the batch is too long", body = ErrorBody),
        (status = 413, description = "The body, or the batch response, is over its size limit", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 503, description = "The layers are still loading", body = ErrorBody),
    )
)]
pub async fn post_batch(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let catalog = state.catalog()?;
    let max_batch = state.settings.max_batch;
    let now = Utc::now();
    let limit_bytes = state.settings.max_batch_response_bytes;
    // NOTE: decoding, unlike computing, is not cancelled when the request
    // times out or the client leaves.
    let decoding = catalog.clone();
    let queries = blocking(move || decode_batch(&decoding, &body, max_batch, now)).await?;
    let choices = batch_choices(&state, &catalog, &queries).await?;
    let cancel = CancelOnDrop::default();
    let cancelled = cancel.0.clone();
    let bytes = blocking(move || {
        let output = BatchOutput {
            limit_bytes,
            cancelled: &cancelled,
        };
        contexts_of_batch(&catalog, &queries, &choices, output)
    })
    .await?;
    drop(cancel);
    Ok(json_response(bytes))
}

/// A flag set when the batch handler is dropped, because the request timed
/// out or the client left, so that the blocking work stops between items.
#[derive(Default)]
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Where a batch's computation stops: its size limit and cancellation flag.
struct BatchOutput<'a> {
    limit_bytes: usize,
    cancelled: &'a AtomicBool,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal {
            detail: format!("batch task failed: {e}"),
        })?
}

async fn context_of_one(state: &AppState, request: &ContextRequest) -> Result<Response, ApiError> {
    let catalog = state.catalog()?;
    let query = request.validate(&catalog, Utc::now())?;
    let Some(as_of) = query.as_of else {
        let response = context::context(&catalog, &query);
        return Ok(json_response(to_json(&response)?));
    };
    let choices = choose_versions(state, &catalog, &query.layers, as_of).await?;
    let response = context::context_of_choices(&choices, &query);
    Ok(json_response(to_json(&response)?))
}

/// Chooses the layer versions of every batch item with `as_of`, once per
/// distinct instant and layer list.
async fn batch_choices(
    state: &AppState,
    catalog: &Catalog,
    queries: &[ContextQuery],
) -> Result<HashMap<AsOfKey, Vec<LayerChoice>>, ApiError> {
    let mut choices = HashMap::new();
    for (i, query) in queries.iter().enumerate() {
        let Some(key) = AsOfKey::of(query) else {
            continue;
        };
        if choices.contains_key(&key) {
            continue;
        }
        let chosen = choose_versions(state, catalog, &query.layers, key.as_of)
            .await
            .map_err(|error| match error {
                ApiError::InvalidField(invalid) => at_index(i, invalid),
                other => other,
            })?;
        choices.insert(key, chosen);
    }
    Ok(choices)
}

/// Decodes and validates a batch: CPU work, run off the async threads.
fn decode_batch(
    catalog: &Catalog,
    body: &[u8],
    max_batch: usize,
    now: DateTime<Utc>,
) -> Result<Vec<ContextQuery>, ApiError> {
    let requests: Vec<ContextRequest> = parse::json(body)?;
    if requests.len() > max_batch {
        return Err(ApiError::BatchTooLarge {
            count: requests.len(),
            max: max_batch,
        });
    }
    requests
        .iter()
        .enumerate()
        .map(|(i, request)| request.validate(catalog, now).map_err(|e| at_index(i, e)))
        .collect()
}

/// Computes and serializes a batch item by item, stopping when the output
/// exceeds its limit or is cancelled: CPU work, run off the async threads.
fn contexts_of_batch(
    catalog: &Catalog,
    queries: &[ContextQuery],
    choices: &HashMap<AsOfKey, Vec<LayerChoice>>,
    output: BatchOutput<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = vec![b'['];
    for (i, query) in queries.iter().enumerate() {
        if output.cancelled.load(Ordering::Relaxed) {
            return Err(ApiError::Internal {
                detail: format!("batch cancelled after {i} items"),
            });
        }
        if i > 0 {
            bytes.push(b',');
        }
        let response = match AsOfKey::of(query).and_then(|key| choices.get(&key)) {
            Some(chosen) => context::context_of_choices(chosen, query),
            None => context::context(catalog, query),
        };
        serde_json::to_writer(&mut bytes, &response).map_err(|e| ApiError::Internal {
            detail: format!("cannot serialize the response: {e}"),
        })?;
        if bytes.len() > output.limit_bytes {
            let limit_bytes = output.limit_bytes;
            return Err(ApiError::BatchResponseTooLarge { limit_bytes });
        }
    }
    bytes.push(b']');
    Ok(bytes)
}

fn at_index(index: usize, invalid: InvalidField) -> ApiError {
    ApiError::invalid(format!("[{index}].{}", invalid.field), invalid.message)
}

pub fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal {
        detail: format!("cannot serialize the response: {e}"),
    })
}

/// Builds a JSON response from serialized bytes.
pub fn json_response(body: impl IntoResponse) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}
