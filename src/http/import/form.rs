//! The multipart form of an import: one `file` part streamed to disk and one
//! text part per import option, each checked as soon as its part header
//! arrives, within limits on the file, each text part and the whole body.

use std::io::Write;
use std::path::Path as FsPath;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::http::error::ApiError;
use crate::http::parse;
use crate::import::ImportOptions;

/// The text fields of the form, one per [`ImportOptions`] field.
pub(super) const TEXT_FIELDS: [&str; 17] = [
    "kind",
    "id_field",
    "name_field",
    "crs",
    "encoding",
    "where",
    "keep",
    "attribution",
    "licence",
    "table",
    "x_field",
    "y_field",
    "wkt_field",
    "start_field",
    "end_field",
    "datetime_format",
    "timezone",
];

/// The largest text part, bytes.
pub(super) const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

/// The largest total of the text parts, bytes. Only `keep` may repeat.
pub(super) const MAX_TEXT_BYTES: usize = 256 * 1024;

/// The bytes allowed for part headers and boundaries on top of the file and
/// the text parts.
const MAX_FORM_OVERHEAD_BYTES: usize = 64 * 1024;

/// The uploaded file, saved in a temporary folder removed on drop.
pub(super) struct Upload {
    pub dir: tempfile::TempDir,
    pub file_name: String,
}

/// Size limits of one form, bytes.
#[derive(Clone, Copy)]
struct Limits {
    /// `max_upload_bytes`: the file part.
    upload: usize,
    /// The whole body.
    form: usize,
}

impl Limits {
    fn new(upload: usize) -> Limits {
        let allowance = MAX_TEXT_BYTES + MAX_FORM_OVERHEAD_BYTES;
        Limits {
            upload,
            form: upload.saturating_add(allowance),
        }
    }

    fn form_too_large(self) -> ApiError {
        ApiError::FormTooLarge {
            limit_bytes: self.upload,
            form_limit_bytes: self.form,
        }
    }
}

/// The text parts read so far.
#[derive(Default)]
struct TextFields {
    values: Map<String, Value>,
    total_bytes: usize,
}

/// Reads the form of `request`: the file into a temporary folder, the text
/// parts into import options. `upload_limit` is `max_upload_bytes`.
pub(super) async fn read_form(
    request: Request,
    upload_limit: usize,
) -> Result<(Upload, ImportOptions), ApiError> {
    let limits = Limits::new(upload_limit);
    let mut multipart = open_form(request, limits).await?;
    let dir = crate::import::new_work_dir().map_err(|e| ApiError::Internal {
        detail: format!("cannot create a temporary folder for an upload: {e}"),
    })?;
    let mut file_name = None;
    let mut text = TextFields::default();
    while let Some(field) = next_field(&mut multipart, limits).await? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if file_name.is_some() => return Err(second_file()),
            "file" => file_name = Some(save_file(field, dir.path(), limits).await?),
            known if TEXT_FIELDS.contains(&known) => {
                add_text_field(field, name, &mut text, limits).await?
            }
            _ => return Err(unknown_field(name)),
        }
    }
    let file_name = file_name.ok_or_else(|| {
        ApiError::invalid(
            "file",
            "missing: send the layer file as the form part `file`",
        )
    })?;
    let options = parse::form_fields(text.values).map_err(with_field_hint)?;
    Ok((Upload { dir, file_name }, options))
}

/// Checks the declared length and wraps the body so that reading stops at
/// the form limit.
async fn open_form(request: Request, limits: Limits) -> Result<Multipart, ApiError> {
    if parse::declared_length(&request).is_some_and(|length| length > limits.form as u64) {
        return Err(limits.form_too_large());
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limits.form)));
    Multipart::from_request(request, &())
        .await
        .map_err(|rejection| ApiError::InvalidForm {
            message: rejection.body_text(),
        })
}

async fn next_field(
    multipart: &mut Multipart,
    limits: Limits,
) -> Result<Option<Field<'_>>, ApiError> {
    multipart
        .next_field()
        .await
        .map_err(|e| form_error(e, limits))
}

/// Maps a multipart error: 413 when the body went over the form limit.
fn form_error(error: MultipartError, limits: Limits) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return limits.form_too_large();
    }
    ApiError::InvalidForm {
        message: error.body_text(),
    }
}

fn second_file() -> ApiError {
    ApiError::invalid(
        "file",
        "the form has a second `file` part: send one layer file per import, \
         and zip a Shapefile's files into one archive",
    )
}

fn unknown_field(name: String) -> ApiError {
    let message = format!(
        "unknown form field {name:?}: expected `file` or one of {}",
        TEXT_FIELDS.join(", ")
    );
    ApiError::invalid(name, message)
}

/// Streams the file part to disk and returns its file name, without
/// folders.
async fn save_file(mut field: Field<'_>, dir: &FsPath, limits: Limits) -> Result<String, ApiError> {
    let file_name = safe_file_name(field.file_name())?;
    let path = dir.join(&file_name);
    let mut output = std::fs::File::create(&path).map_err(|e| ApiError::Internal {
        detail: format!("cannot create {}: {e}", path.display()),
    })?;
    let mut written = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, limits))? {
        written = written.saturating_add(chunk.len());
        if written > limits.upload {
            return Err(ApiError::UploadTooLarge {
                limit_bytes: limits.upload,
            });
        }
        output.write_all(&chunk).map_err(|e| ApiError::Internal {
            detail: format!("cannot write {}: {e}", path.display()),
        })?;
    }
    Ok(file_name)
}

/// Keeps the last component of the sender's file name, which decides the
/// format, and rejects names that are empty or hidden.
fn safe_file_name(name: Option<&str>) -> Result<String, ApiError> {
    let base = name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .unwrap_or_default();
    if base.is_empty() || base.starts_with('.') {
        return Err(ApiError::invalid(
            "file",
            format!(
                "file name {:?} is invalid: send the file with its name, e.g. roads.geojson",
                name.unwrap_or_default()
            ),
        ));
    }
    Ok(base.to_owned())
}

/// Adds the text part `name` to `text`. Only `keep` may repeat, and its
/// comma-separated values join one list.
async fn add_text_field(
    field: Field<'_>,
    name: String,
    text: &mut TextFields,
    limits: Limits,
) -> Result<(), ApiError> {
    if name != "keep" && text.values.contains_key(&name) {
        let message = "repeated: send each option once (only `keep` may repeat)";
        return Err(ApiError::invalid(name, message));
    }
    let value = read_text(field, &name, text, limits).await?;
    if name != "keep" {
        text.values.insert(name, Value::String(value));
        return Ok(());
    }
    let list = text
        .values
        .entry("keep")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list {
        let names = value.split(',').map(str::trim).filter(|s| !s.is_empty());
        items.extend(names.map(|s| Value::String(s.to_owned())));
    }
    Ok(())
}

/// Reads a text part as UTF-8, within the limits on one part and on all.
async fn read_text(
    mut field: Field<'_>,
    name: &str,
    text: &mut TextFields,
    limits: Limits,
) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, limits))? {
        bytes.extend_from_slice(&chunk);
        text.total_bytes = text.total_bytes.saturating_add(chunk.len());
        if bytes.len() > MAX_TEXT_FIELD_BYTES {
            let message = format!(
                "over the limit of {MAX_TEXT_FIELD_BYTES} bytes for a text field: \
                 send a shorter value"
            );
            return Err(ApiError::invalid(name, message));
        }
        if text.total_bytes > MAX_TEXT_BYTES {
            let message = format!(
                "the text fields total over {MAX_TEXT_BYTES} bytes: send fewer or shorter \
                 options"
            );
            return Err(ApiError::invalid(name, message));
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::invalid(name, "invalid UTF-8: send the value as UTF-8"))
}

/// Adds what to send to the error of a missing or invalid required option.
fn with_field_hint(error: ApiError) -> ApiError {
    let ApiError::InvalidField(invalid) = error else {
        return error;
    };
    let hint = match invalid.field.as_str() {
        "kind" => "send the form field `kind` with district, asset or work",
        "id_field" => {
            "send the form field `id_field` with the attribute of each feature's id \
             (fid for the GDAL feature id)"
        }
        "name_field" => {
            "send the form field `name_field` with the attribute of each feature's \
             display name"
        }
        _ => return ApiError::InvalidField(invalid),
    };
    let message = format!("{}: {hint}", invalid.message);
    ApiError::invalid(invalid.field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde lists the fields of `ImportOptions` in its unknown-field error.
    #[test]
    fn text_fields_match_options() {
        let mut fields = Map::new();
        fields.insert("not_an_option".to_owned(), Value::Bool(true));
        let error = serde_json::from_value::<ImportOptions>(Value::Object(fields)).unwrap_err();
        let message = error.to_string();
        let expected = message
            .split_once("expected one of ")
            .map(|(_, list)| list)
            .unwrap_or_else(|| panic!("no field list in {message:?}"));
        let names: Vec<&str> = expected
            .split(", ")
            .map(|name| name.trim_matches('`'))
            .collect();
        let mut sorted_names = names.clone();
        sorted_names.sort_unstable();
        let mut sorted_fields = TEXT_FIELDS.to_vec();
        sorted_fields.sort_unstable();
        assert_eq!(sorted_names, sorted_fields);
    }
}
