//! Request bodies and query strings, decoded with errors that name the field
//! and the value at fault (axum's own extractors reject in plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::state::AppState;

/// The `{name}` segment of a layer route, rejected with a JSON error on the
/// field `name` (axum's `Path` rejects in plain text).
pub struct LayerName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for LayerName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(name)) => Ok(LayerName(name)),
            Err(rejection) => Err(ApiError::invalid(
                "name",
                format!(
                    "{}: write the layer name as percent-encoded UTF-8",
                    rejection.body_text()
                ),
            )),
        }
    }
}

/// A JSON request body, not yet decoded: the caller chooses where to decode
/// it (a large batch is decoded off the async threads).
pub struct JsonBytes(pub Bytes);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(&request)?;
        let limit_bytes = state.settings.max_body_bytes;
        if declared_length(&request).is_some_and(|length| length > limit_bytes as u64) {
            return Err(ApiError::BodyTooLarge { limit_bytes });
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status().as_u16() {
                    413 => ApiError::BodyTooLarge { limit_bytes },
                    _ => ApiError::InvalidBody {
                        message: rejection.body_text(),
                    },
                })?;
        Ok(JsonBytes(bytes))
    }
}

/// The body length declared in `Content-Length`, so that a body over the
/// limit is rejected before the client sends it.
pub(super) fn declared_length(request: &Request) -> Option<u64> {
    let value = request.headers().get(CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

fn check_content_type(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let media_type = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media_type == "application/json" || media_type.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::UnsupportedMediaType {
        content_type: text.to_owned(),
    })
}

/// Decodes a JSON body, naming the field of the first error (`lat`,
/// `[12].lat` in an array).
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = json_message(bytes, e.inner());
        field_error(&path, message, |message| ApiError::InvalidBody { message })
    })?;
    deserializer.end().map_err(|e| ApiError::InvalidBody {
        message: e.to_string(),
    })?;
    Ok(value)
}

/// The message of a JSON decoding error. serde_json's "number out of
/// range" does not name the number, so the message adds it.
fn json_message(bytes: &[u8], error: &serde_json::Error) -> String {
    let message = error.to_string();
    if !message.starts_with("number out of range") {
        return message;
    }
    match number_before(bytes, error.line(), error.column()) {
        Some(number) => format!(
            "{number} is out of the range of a 64-bit float: send a number from \
             -1.7976931348623157e308 to 1.7976931348623157e308 ({message})"
        ),
        None => message,
    }
}

/// The JSON number that ends at or just before 1-based `line` and
/// `column`, where serde_json reports a number error.
fn number_before(bytes: &[u8], line: usize, column: usize) -> Option<&str> {
    let line_start = match line {
        0 | 1 => 0,
        _ => {
            let newlines = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n');
            newlines.map(|(i, _)| i + 1).nth(line - 2)?
        }
    };
    let is_number_byte = |b: &u8| b.is_ascii_digit() || b"+-.eE".contains(b);
    let mut end = (line_start + column).min(bytes.len());
    while end < bytes.len() && is_number_byte(&bytes[end]) {
        end += 1;
    }
    while end > line_start && !is_number_byte(&bytes[end - 1]) {
        end -= 1;
    }
    let start = bytes[..end]
        .iter()
        .rposition(|b| !is_number_byte(b))
        .map_or(0, |i| i + 1);
    let number = std::str::from_utf8(&bytes[start..end]).ok()?;
    (!number.is_empty()).then_some(number)
}

/// Decodes a query string, naming the field and the raw value of the first error.
pub fn query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let raw = pairs
            .into_iter()
            .find(|(key, _)| *key == path)
            .map(|(_, value)| value);
        let message = match raw {
            Some(value) => format!("{value:?} is invalid: {}", e.inner()),
            None => e.inner().to_string(),
        };
        field_error(&path, message, |message| ApiError::InvalidQuery { message })
    })
}

/// Decodes the text fields of a form, naming the field of the first error.
pub fn form_fields<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        field_error(&path, message, |message| ApiError::InvalidForm { message })
    })
}

/// Builds the error of a decoding failure at `path` (`.` for the root), or
/// calls `unnamed` when no field can be named. serde reports a missing or
/// repeated field at its parent, so the field name is then taken from the
/// message.
fn field_error(path: &str, message: String, unnamed: impl FnOnce(String) -> ApiError) -> ApiError {
    let path = if path == "." { "" } else { path };
    let last_segment = path.rsplit(['.', ']']).next().unwrap_or("");
    let field = match named_field(&message) {
        Some(name) if name == last_segment => path.to_owned(),
        Some(name) if path.is_empty() => name.to_owned(),
        Some(name) => format!("{path}.{name}"),
        None => path.to_owned(),
    };
    if field.is_empty() {
        return unnamed(message);
    }
    ApiError::invalid(field, message)
}

/// Extracts the name from serde's "missing field `x`", "unknown field `x`"
/// and "duplicate field `x`" messages.
fn named_field(message: &str) -> Option<&str> {
    let rest = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use crate::context::ContextRequest;

    use super::*;

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::InvalidField(invalid) => invalid.field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn missing_field_in_batch_item() {
        let err = json::<Vec<ContextRequest>>(br#"[{"lat":1,"lon":2},{"lon":2}]"#).unwrap_err();
        assert_eq!(field_of(err), "[1].lat");
    }

    #[test]
    fn unknown_field_named() {
        let err = json::<ContextRequest>(br#"{"lat":1,"lon":2,"radius":3}"#).unwrap_err();
        assert_eq!(field_of(err), "radius");
    }

    #[test]
    fn trailing_characters_rejected() {
        let err = json::<ContextRequest>(br#"{"lat":1,"lon":2} x"#).unwrap_err();
        assert!(matches!(err, ApiError::InvalidBody { .. }), "{err:?}");
    }

    #[test]
    fn repeated_query_field_named() {
        let err = query::<ContextRequest>("lat=1&lon=2&lat=3").unwrap_err();
        assert_eq!(field_of(err), "lat");
    }

    #[test]
    fn number_out_of_range_named() {
        for body in [
            &br#"{"lat":1e400,"lon":2}"#[..],
            b"{\n \"lon\": 2,\n \"lat\": -1e400 }",
        ] {
            let err = json::<ContextRequest>(body).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("1e400 is out of the range"), "{message}");
            assert_eq!(field_of(err), "lat");
        }
    }

    #[test]
    fn query_value_named() {
        let err = query::<ContextRequest>("lat=north&lon=2").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"north\""), "{message}");
    }
}
