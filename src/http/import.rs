//! `POST /v1/layers/{name}/import`: a layer file uploaded as multipart form
//! data, read, reported on and stored as a new version.
//!
//! The form has one `file` part (GeoJSON, zipped Shapefile, GeoPackage,
//! CSV or OSM PBF, recognised by its file name) and one text part per
//! [`ImportOptions`] field, such as `kind`, `id_field` and `where`. The
//! `keep` option takes a comma-separated list or repeated parts. A second
//! `file` part, an unknown field or a repeated option other than `keep` is
//! rejected when its part header arrives. The file may take
//! `max_upload_bytes`, and the whole body 320 KiB more. The query string
//! takes `dry_run` and `activate` (`true` or `false`, not both `true`).

mod form;

use std::path::Path as FsPath;
use std::time::Duration;

use axum::BoxError;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Extension, RawQuery, Request, State};
use axum::http::Uri;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::{ApiError, ErrorBody};
use super::middleware;
use super::parse::{self, LayerName};
use super::state::AppState;
use super::versions::install_version;
use crate::auth::RequireGis;
use crate::import::{self, Commit, ImportError, ImportOptions, ImportReport, Prepared};
use crate::manifest::validate_layer_name;
use crate::source::SourceError;
use crate::source::crs::CrsError;
use crate::store::{Store, StoreError};
use form::Upload;

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

/// Returns the import route with its own time-out, body limit (the upload
/// limit is checked while streaming) and panic handler, to be merged after
/// the request time-out of the other routes.
pub(super) fn routes() -> Router<AppState> {
    let time_limit = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|uri: Uri, error: BoxError| {
            handle_layer_error(uri, error)
        }))
        .timeout(IMPORT_TIMEOUT);
    Router::new()
        .route("/v1/layers/{name}/import", post(import_layer))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::disable())
        .layer(time_limit)
}

/// Converts a time-out of the import route, or another middleware failure,
/// into an error response.
async fn handle_layer_error(uri: Uri, error: BoxError) -> ApiError {
    match middleware::handle_layer_error(IMPORT_TIMEOUT, error).await {
        ApiError::TimedOut { timeout_s } => {
            let import_path = uri.path();
            let layer_path = import_path.strip_suffix("/import").unwrap_or(import_path);
            ApiError::ImportTimedOut {
                timeout_s,
                versions_path: format!("{layer_path}/versions"),
            }
        }
        other => other,
    }
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
        (status = 408, description = "The import took longer than 600 s: check the layer's versions before importing again", body = ErrorBody),
        (status = 409, description = "Another process removed the version while it was written: import again", body = ErrorBody),
        (status = 413, description = "The file is over max_upload_bytes, or the form over it plus 320 KiB", body = ErrorBody),
    )
)]
pub async fn import_layer(
    State(state): State<AppState>,
    RequireGis(caller): RequireGis,
    LayerName(name): LayerName,
    RawQuery(query): RawQuery,
    limit: Option<Extension<UploadLimit>>,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    let query = import_query(query.as_deref().unwrap_or(""))?;
    validate_layer_name(&name).map_err(|message| ApiError::invalid("name", message))?;
    let store = store(&state)?.clone();
    let limit = limit.map_or(DEFAULT_MAX_UPLOAD_BYTES, |Extension(l)| l.0);
    let (upload, options) = form::read_form(request, limit).await?;
    tracing::info!(layer = ?name, by = ?caller.name, dry_run = query.dry_run, "import started");
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

/// Decodes the query string. `dry_run` and `activate` exclude each other,
/// because a dry run stores no version to activate.
fn import_query(raw: &str) -> Result<ImportQuery, ApiError> {
    let query: ImportQuery = parse::query(raw).map_err(|error| match error {
        ApiError::InvalidField(invalid) if ["dry_run", "activate"].contains(&&*invalid.field) => {
            let message = format!("{}: expected true or false", invalid.message);
            ApiError::invalid(invalid.field, message)
        }
        other => other,
    })?;
    if query.dry_run && query.activate {
        return Err(ApiError::invalid(
            "activate",
            "activate=true cannot be combined with dry_run=true, because a dry run stores \
             no version: drop one of them",
        ));
    }
    Ok(query)
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
            tracing::error!(layer = ?report.layer, version, error = ?e.to_string(), "cannot read the imported version back");
        }
    }
}

/// Maps an import failure to a response. File and option problems are the
/// client's: 400, naming the file as sent rather than its temporary copy,
/// with the form field at fault when there is one. A version removed while
/// it was written is a 409. Other store and I/O failures are the
/// service's: 500.
fn import_error(error: ImportError, dir: &FsPath) -> ApiError {
    let field = match &error {
        ImportError::Store(StoreError::ImportRemoved { layer, version, .. }) => {
            // The store's own message names its file, which clients need not see.
            return ApiError::ImportConflict {
                message: format!(
                    "version {version} of layer {layer:?} was removed while it was being \
                     imported, by another process that took it for an abandoned import: \
                     import the file again"
                ),
            };
        }
        ImportError::Store(StoreError::InvalidLayerName { .. }) | ImportError::LayerName { .. } => {
            Some("name")
        }
        ImportError::Store(_) | ImportError::Io { .. } => {
            return ApiError::Internal {
                detail: error.to_string(),
            };
        }
        ImportError::AmbiguousTable { .. } => Some("table"),
        ImportError::UnknownProperty { .. } => Some("keep"),
        ImportError::Option { .. } => None,
        ImportError::Source(source) => source_field(source),
        _ => Some("file"),
    };
    let message = without_folder(&error.to_string(), dir);
    match field {
        Some(field) => ApiError::invalid(field, message),
        None => ApiError::InvalidImport { message },
    }
}

/// Returns the form field a source error is about: the option when one is
/// at fault, `file` for the file's own content, none when it depends on
/// several options.
fn source_field(error: &SourceError) -> Option<&'static str> {
    match error {
        SourceError::MissingField { setting, .. } => Some(setting),
        SourceError::Filter { .. } | SourceError::FilterLeavesNone { .. } => Some("where"),
        SourceError::EncodingNotApplicable { .. } | SourceError::UnknownEncoding { .. } => {
            Some("encoding")
        }
        SourceError::NoSuchTable { .. } => Some("table"),
        SourceError::MissingCrs { .. }
        | SourceError::UnparsablePrj { .. }
        | SourceError::OutOfRange { .. }
        | SourceError::NotTransformed { .. }
        | SourceError::OutsideAreaOfUse { .. }
        | SourceError::Crs {
            source: CrsError::Invalid { .. },
            ..
        } => Some("crs"),
        SourceError::CsvColumns { .. } | SourceError::AllRejected { .. } => None,
        _ => Some("file"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn import_time_out_names_versions() {
        let uri = Uri::from_static("/v1/layers/wards/import?dry_run=true");
        let elapsed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        let error = handle_layer_error(uri, elapsed).await;
        let message = error.body().error.message;
        assert_eq!(error.status(), axum::http::StatusCode::REQUEST_TIMEOUT);
        assert!(
            message.contains("the import did not complete within 600 s"),
            "{message}"
        );
        assert!(
            message.contains("GET /v1/layers/wards/versions"),
            "{message}"
        );
        assert!(!message.contains("batch"), "{message}");
    }

    #[test]
    fn option_errors_name_their_field() {
        let settings = crate::source::SettingSource::FormFields;
        let cases = [
            (
                SourceError::UnknownEncoding {
                    path: "/tmp/upload/laval.shp".to_owned(),
                    encoding: "KLINGON".to_owned(),
                    settings,
                },
                "encoding",
            ),
            (
                SourceError::FilterLeavesNone {
                    path: "/tmp/upload/laval.shp".to_owned(),
                    filter: "NO_DIS > 1000".to_owned(),
                    count: 21,
                    settings,
                },
                "where",
            ),
        ];
        for (source, field) in cases {
            let error = import_error(ImportError::Source(source), FsPath::new("/tmp/upload"));
            let body = error.body();
            assert_eq!(
                body.error.field.as_deref(),
                Some(field),
                "{}",
                body.error.message
            );
            assert!(
                !body.error.message.contains("/tmp/upload"),
                "{}",
                body.error.message
            );
        }
    }

    #[test]
    fn keep_message_names_keep_once() {
        let unknown = ImportError::UnknownProperty {
            property: "colour".to_owned(),
            available: "NO_DIS, NM_DIS".to_owned(),
        };
        let error = import_error(unknown, FsPath::new(""));
        let message = error.body().error.message;
        assert!(message.starts_with("keep: "), "{message}");
        assert_eq!(message.matches("keep").count(), 2, "{message}");
        assert!(message.contains("\"colour\""), "{message}");
        assert!(message.contains("NO_DIS, NM_DIS"), "{message}");
    }

    #[test]
    fn removed_import_is_a_conflict() {
        let removed = StoreError::ImportRemoved {
            path: "/srv/repere/state/repere.gpkg".into(),
            layer: "hydrants".to_owned(),
            version: 4,
        };
        let error = import_error(ImportError::Store(removed), FsPath::new("/tmp/upload"));
        let body = error.body();
        assert_eq!(error.status(), axum::http::StatusCode::CONFLICT);
        assert!(body.error.message.contains("import the file again"));
        assert!(!body.error.message.contains("/srv/repere"));
    }
}
