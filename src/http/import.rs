//! `POST /v1/layers/{name}/import`: a layer file uploaded as multipart form
//! data, read, reported on and stored as a new version.
//!
//! The form has one `file` part (GeoJSON, zipped Shapefile, GeoPackage,
//! CSV or OSM PBF, recognised by its file name) and one text part per
//! [`ImportOptions`] field, such as `kind`, `id_field` and `where`. The
//! `keep` option takes a comma-separated list or repeated parts. The query
//! string takes `dry_run` and `activate` (`true` or `false`).

use std::io::Write;
use std::path::Path as FsPath;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Extension, Multipart, RawQuery, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::{ApiError, ErrorBody};
use super::middleware;
use super::parse::LayerName;
use super::state::AppState;
use super::versions::install_version;
use crate::auth::RequireGis;
use crate::import::{self, Commit, ImportError, ImportOptions, ImportReport, Prepared};
use crate::store::{Store, StoreError};

pub use crate::config::DEFAULT_MAX_UPLOAD_BYTES;

/// The largest file accepted by the import route, bytes. The router adds it
/// as an extension; without one, [`DEFAULT_MAX_UPLOAD_BYTES`] applies.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub usize);

/// The time an import request may take, from its headers to its response:
/// longer than [`crate::config::Config::request_timeout_s`], because the
/// upload and the read grow with the file (about 4 s for 100,000 points in
/// the import benchmark).
// NOTE: a fixed estimate, not a setting; a file that takes longer gets 408.
pub const IMPORT_TIMEOUT: Duration = Duration::from_secs(600);

/// The largest text part of the form, bytes.
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

/// Returns the import route with its own time-out, body limit (the upload
/// limit is checked while streaming) and panic handler, to be merged after
/// the request time-out of the other routes.
pub(super) fn routes() -> Router<AppState> {
    let time_limit = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|error| {
            middleware::handle_layer_error(IMPORT_TIMEOUT, error)
        }))
        .timeout(IMPORT_TIMEOUT);
    Router::new()
        .route("/v1/layers/{name}/import", post(import_layer))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::disable())
        .layer(time_limit)
}

/// Query parameters of the import route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Read and report only; write nothing.
    #[serde(default)]
    dry_run: bool,
    /// Activate the new version once stored.
    #[serde(default)]
    activate: bool,
}

/// The uploaded file, saved in a temporary folder removed on drop.
struct Upload {
    dir: tempfile::TempDir,
    file_name: String,
}

/// Imports an uploaded layer file and returns the import report.
#[utoipa::path(
    post,
    path = "/v1/layers/{name}/import",
    tag = "versions",
    params(
        ("name" = String, Path, description = "Layer name"),
        ("dry_run" = Option<bool>, Query, description = "Read and report only; write nothing"),
        ("activate" = Option<bool>, Query, description = "Activate the new version once stored"),
    ),
    request_body(
        content_type = "multipart/form-data",
        description = "A `file` part (GeoJSON, zipped Shapefile, GeoPackage, CSV or OSM PBF) \
                       and one text part per import option: kind, id_field, name_field, crs, \
                       encoding, where, keep, attribution, licence, table, x_field, y_field, \
                       wkt_field, start_field, end_field, datetime_format, timezone"
    ),
    responses(
        (status = 200, description = "The import report", body = ImportReport),
        (status = 400, description = "The file or an option is invalid", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks role gis", body = ErrorBody),
        (status = 413, description = "The file is over the upload limit", body = ErrorBody),
    )
)]
pub async fn import_layer(
    State(state): State<AppState>,
    RequireGis(caller): RequireGis,
    LayerName(name): LayerName,
    RawQuery(query): RawQuery,
    limit: Option<Extension<UploadLimit>>,
    multipart: Multipart,
) -> Result<Json<ImportReport>, ApiError> {
    let query: ImportQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|e| {
            ApiError::InvalidQuery {
                message: format!("{e}: expected dry_run=true|false and activate=true|false"),
            }
        })?;
    let store = store(&state)?.clone();
    let limit = limit.map_or(DEFAULT_MAX_UPLOAD_BYTES, |Extension(l)| l.0);
    let (upload, options) = read_form(multipart, limit).await?;
    tracing::info!(layer = %name, by = %caller.name, dry_run = query.dry_run, "import started");
    let prepared = prepare(name, options, upload).await?;
    let commit = Commit {
        dry_run: query.dry_run,
        activate: query.activate,
        by: caller.name,
    };
    let report = commit_import(&store, &prepared, &commit).await?;
    if report.activated {
        serve_activated(&state, &store, prepared, &report).await;
    }
    Ok(Json(report))
}

fn store(state: &AppState) -> Result<&Store, ApiError> {
    state
        .versions()
        .map(|source| source.store())
        .ok_or_else(|| ApiError::VersionNotFound {
            message: "this service reads its layers from files and keeps no versions: \
                      run repere serve to import layers into a store"
                .to_owned(),
        })
}

/// Reads the form: the file into a temporary folder, the text parts into
/// import options.
async fn read_form(
    mut multipart: Multipart,
    limit: usize,
) -> Result<(Upload, ImportOptions), ApiError> {
    let dir = tempfile::tempdir().map_err(|e| ApiError::Internal {
        detail: format!("cannot create a temporary folder for an upload: {e}"),
    })?;
    let mut file_name = None;
    let mut fields = Map::new();
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        match field.name().unwrap_or_default() {
            "file" => file_name = Some(save_file(field, dir.path(), limit).await?),
            _ => add_text_field(field, &mut fields).await?,
        }
    }
    let file_name = file_name.ok_or_else(|| {
        ApiError::invalid(
            "file",
            "missing: send the layer file as the form part `file`",
        )
    })?;
    let options = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::invalid("options", format!("{e}")))?;
    Ok((Upload { dir, file_name }, options))
}

fn form_error(error: MultipartError) -> ApiError {
    ApiError::InvalidBody {
        message: format!("invalid multipart form: {}", error.body_text()),
    }
}

/// Streams the file part to disk and returns its file name, without
/// folders.
async fn save_file(mut field: Field<'_>, dir: &FsPath, limit: usize) -> Result<String, ApiError> {
    let file_name = safe_file_name(field.file_name())?;
    let path = dir.join(&file_name);
    let mut output = std::fs::File::create(&path).map_err(|e| ApiError::Internal {
        detail: format!("cannot create {}: {e}", path.display()),
    })?;
    let mut written = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(|e| upload_error(e, limit))? {
        written = written.saturating_add(chunk.len());
        if written > limit {
            return Err(ApiError::BodyTooLarge { limit_bytes: limit });
        }
        output.write_all(&chunk).map_err(|e| ApiError::Internal {
            detail: format!("cannot write {}: {e}", path.display()),
        })?;
    }
    Ok(file_name)
}

fn upload_error(error: MultipartError, limit: usize) -> ApiError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::BodyTooLarge { limit_bytes: limit };
    }
    form_error(error)
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

/// Adds a text part to the options; `keep` becomes a list.
async fn add_text_field(
    mut field: Field<'_>,
    fields: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TEXT_FIELD_BYTES {
            return Err(ApiError::invalid(
                name,
                format!("over the limit of {MAX_TEXT_FIELD_BYTES} bytes for a text part"),
            ));
        }
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::invalid(name.clone(), "invalid UTF-8: send the value as UTF-8"))?;
    if name == "keep" {
        let list = fields
            .entry("keep")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            let names = text.split(',').map(str::trim).filter(|s| !s.is_empty());
            items.extend(names.map(|s| Value::String(s.to_owned())));
        }
        return Ok(());
    }
    fields.insert(name, Value::String(text));
    Ok(())
}

/// Reads the upload on a blocking thread.
async fn prepare(
    name: String,
    options: ImportOptions,
    upload: Upload,
) -> Result<Prepared, ApiError> {
    let dir = upload.dir.path().to_owned();
    let file_name = upload.file_name.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let result = import::prepare(&name, &dir.join(&file_name), &file_name, &options, &dir);
        drop(upload);
        result.map_err(|e| (e, dir))
    })
    .await
    .map_err(|e| ApiError::Internal {
        detail: format!("the import task failed: {e}"),
    })?;
    prepared.map_err(|(error, dir)| import_error(error, &dir))
}

async fn commit_import(
    store: &Store,
    prepared: &Prepared,
    commit: &Commit,
) -> Result<ImportReport, ApiError> {
    import::commit(store, prepared, commit)
        .await
        .map_err(|e| import_error(e, FsPath::new("")))
}

/// Serves the activated version here; other instances learn of it through
/// the store.
async fn serve_activated(
    state: &AppState,
    store: &Store,
    prepared: Prepared,
    report: &ImportReport,
) {
    let Some(version) = report.version else {
        return;
    };
    match store.version(&report.layer, version).await {
        Ok(info) => install_version(state, prepared.layer, info).await,
        Err(e) => {
            tracing::error!(layer = %report.layer, version, error = %e, "cannot read the imported version back");
        }
    }
}

/// Maps an import failure to a response. File and option problems are the
/// client's (400, naming the file as sent, not the temporary folder); store
/// and I/O failures are the service's (500).
fn import_error(error: ImportError, dir: &FsPath) -> ApiError {
    match error {
        ImportError::Store(StoreError::InvalidLayerName { .. }) | ImportError::LayerName { .. } => {
            ApiError::invalid("name", error.to_string())
        }
        ImportError::Store(_) | ImportError::Io { .. } => ApiError::Internal {
            detail: error.to_string(),
        },
        ImportError::Option { .. } | ImportError::UnknownProperty { .. } => {
            ApiError::invalid("options", error.to_string())
        }
        other => ApiError::invalid("file", without_folder(&other.to_string(), dir)),
    }
}

fn without_folder(message: &str, dir: &FsPath) -> String {
    if dir.as_os_str().is_empty() {
        return message.to_owned();
    }
    let unpacked = format!("{}/", dir.join("unpacked").display());
    let folder = format!("{}/", dir.display());
    message.replace(&unpacked, "").replace(&folder, "")
}
