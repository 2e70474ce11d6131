//! The layer version routes: listing a layer's versions, reading one with
//! its stored import report and activating one, and swapping an activated
//! version into the served catalog.

use std::sync::Arc;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::context::{json_response, to_json};
use super::error::{ApiError, ErrorBody};
use super::parse::{self, JsonBytes, LayerName};
use super::state::AppState;
use crate::auth::RequireGis;
use crate::catalog::Catalog;
use crate::context::{
    ContextQuery, InvalidField, LayerChoice, VersionLoadError, VersionSource, index_layer,
    read_version,
};
use crate::import::ImportRecord;
use crate::layer::Layer;
use crate::store::{Activation, Origin, Page, Store, StoreError, VersionInfo};

/// Default and maximum of `per_page` when listing versions.
pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;

/// Query parameters of `GET /v1/layers/{name}/versions`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionsQuery {
    /// Page number, from 1 (the newest versions). Default 1.
    pub page: Option<u32>,
    /// Versions per page. Default 20, at most 100.
    pub per_page: Option<u32>,
}

/// One page of a layer's versions, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionList {
    pub layer: String,
    pub page: u32,
    pub per_page: u32,
    /// The number of versions of the layer.
    pub total: u32,
    pub versions: Vec<VersionEntry>,
}

/// One version of a layer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionEntry {
    pub version: u32,
    /// Source file name, relative to the manifest.
    pub source_file: String,
    /// SHA-256 of the source file, lowercase hex.
    pub source_sha256: String,
    pub feature_count: usize,
    /// Features whose source geometry was invalid.
    pub invalid_count: usize,
    /// Invalid features that were repaired and kept.
    pub repaired_count: usize,
    pub imported_at: DateTime<Utc>,
    /// The latest activation of this version, if any.
    pub activated_at: Option<DateTime<Utc>>,
    pub activated_by: Option<String>,
    pub origin: Origin,
    /// True for the layer's active version.
    pub active: bool,
}

impl VersionEntry {
    fn new(info: VersionInfo, active: Option<u32>) -> Self {
        VersionEntry {
            version: info.version,
            source_file: info.source_file,
            source_sha256: info.source_sha256,
            feature_count: info.feature_count,
            invalid_count: info.invalid_count,
            repaired_count: info.repaired_count,
            imported_at: info.imported_at,
            activated_at: info.activated_at,
            activated_by: info.activated_by,
            origin: info.origin,
            active: active == Some(info.version),
        }
    }
}

/// One version of a layer with the report stored at its import. The
/// report has the keys and nesting of the import response, without
/// `dry_run` and `activated`. The list of versions leaves the report out,
/// because it can name thousands of invalid or rejected features.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub record: ImportRecord,
    /// 3 when every key of the report was kept. 2 for a version stored
    /// before `same_file_as` was kept, and 1 for one stored before
    /// `bbox_wgs84`, `imported_by` and `diff` were kept: those keys are
    /// then null, whatever the import found.
    pub report_format: u32,
    pub origin: Origin,
    pub imported_at: DateTime<Utc>,
    /// True for the layer's active version.
    pub active: bool,
    /// The latest activation of this version, if any.
    pub activated_at: Option<DateTime<Utc>>,
    pub activated_by: Option<String>,
    /// Features whose source geometry was invalid.
    pub invalid_count: usize,
    /// Invalid features that were repaired and kept.
    pub repaired_count: usize,
    pub synthetic_id_count: usize,
    pub attribution: Option<String>,
    pub licence: Option<String>,
}

impl VersionDetail {
    fn new(info: VersionInfo, active: Option<u32>) -> Self {
        VersionDetail {
            record: ImportRecord::of_version(&info),
            report_format: info.report.format,
            origin: info.origin,
            imported_at: info.imported_at,
            active: active == Some(info.version),
            activated_at: info.activated_at,
            activated_by: info.activated_by,
            invalid_count: info.invalid_count,
            repaired_count: info.repaired_count,
            synthetic_id_count: info.synthetic_id_count,
            attribution: info.attribution,
            licence: info.licence,
        }
    }
}

/// The body of `POST /v1/layers/{name}/activate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The version to make active: an older one rolls back, a newer one rolls forward.
    #[schema(example = 2)]
    pub version: u32,
}

/// The versions of a layer, newest first.
#[utoipa::path(
    get,
    path = "/v1/layers/{name}/versions",
    tag = "versions",
    params(("name" = String, Path, description = "Layer name"), VersionsQuery),
    responses(
        (status = 200, description = "One page of versions, newest first", body = VersionList),
        (status = 400, description = "`page` or `per_page` is invalid", body = ErrorBody),
        (status = 404, description = "The layer is not in the store", body = ErrorBody),
    )
)]
pub async fn list_versions(
    State(state): State<AppState>,
    LayerName(name): LayerName,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query: VersionsQuery = parse::query(query.as_deref().unwrap_or(""))?;
    let (page, per_page) = page_bounds(&query)?;
    let store = store(&state)?;
    let summary = store
        .layers()
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|summary| summary.name == name)
        .ok_or_else(|| {
            store_error(StoreError::NotFound {
                layer: name.clone(),
                version: None,
            })
        })?;
    let skipped = (page - 1).saturating_mul(per_page);
    let before = (summary.latest_version + 1).saturating_sub(skipped);
    let versions = match before {
        0 | 1 => Vec::new(),
        before => store
            .versions(
                &name,
                Page {
                    before: Some(before),
                    limit: per_page,
                },
            )
            .await
            .map_err(store_error)?,
    };
    let list = VersionList {
        layer: name,
        page,
        per_page,
        total: summary.latest_version,
        versions: versions
            .into_iter()
            .map(|info| VersionEntry::new(info, summary.active_version))
            .collect(),
    };
    Ok(json_response(to_json(&list)?))
}

/// One version of a layer, with the report stored at its import under the
/// keys of the import response: counts, bbox, invalid, rejected and synthetic
/// ids, author, and the diff from the version that was active when it was
/// stored.
#[utoipa::path(
    get,
    path = "/v1/layers/{name}/versions/{version}",
    tag = "versions",
    params(
        ("name" = String, Path, description = "Layer name"),
        ("version" = u32, Path, description = "Version number, from 1", minimum = 1),
    ),
    responses(
        (status = 200, description = "The version and its import report, with the keys of the import response", body = VersionDetail),
        (status = 400, description = "`version` is not a positive integer", body = ErrorBody),
        (status = 404, description = "The layer or the version is not in the store", body = ErrorBody),
    )
)]
pub async fn get_version(
    State(state): State<AppState>,
    VersionPath { name, version }: VersionPath,
) -> Result<Response, ApiError> {
    let store = store(&state)?;
    let info = store.version(&name, version).await.map_err(store_error)?;
    let active = store.active_version(&name).await.map_err(store_error)?;
    let detail = VersionDetail::new(info, active.map(|a| a.version));
    Ok(json_response(to_json(&detail)?))
}

/// The `{name}` and `{version}` segments of a version route, rejected with
/// a JSON error that names the segment (axum's `Path` rejects in plain
/// text).
pub struct VersionPath {
    pub name: String,
    pub version: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for VersionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((name, version)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(path_error)?;
        let version = parse_version(&name, &version)?;
        Ok(VersionPath { name, version })
    }
}

fn path_error(rejection: PathRejection) -> ApiError {
    let field = match &rejection {
        PathRejection::FailedToDeserializePathParams(error) => match error.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
            _ => "name".to_owned(),
        },
        _ => "name".to_owned(),
    };
    ApiError::invalid(
        field,
        format!(
            "{}: write the path segments as percent-encoded UTF-8",
            rejection.body_text()
        ),
    )
}

/// Parses a version number of layer `name`: decimal digits only, from 1.
fn parse_version(name: &str, text: &str) -> Result<u32, ApiError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u32>() {
        Ok(version) if digits && version > 0 => Ok(version),
        _ => Err(ApiError::invalid(
            "version",
            format!(
                "{text:?} is invalid: expected a version number from 1 to {}, as listed by \
                 GET /v1/layers/{name}/versions",
                u32::MAX
            ),
        )),
    }
}

fn page_bounds(query: &VersionsQuery) -> Result<(u32, u32), ApiError> {
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid(
            "page",
            "0 is invalid: pages are numbered from 1",
        ));
    }
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(ApiError::invalid(
            "per_page",
            format!("{per_page} is invalid: expected 1 to {MAX_PER_PAGE}"),
        ));
    }
    Ok((page, per_page))
}

/// Makes a version of a layer active, here and, through the store, in
/// every instance that shares it. This instance serves it once the
/// response is sent.
#[utoipa::path(
    post,
    path = "/v1/layers/{name}/activate",
    tag = "versions",
    params(("name" = String, Path, description = "Layer name")),
    request_body = ActivateRequest,
    responses(
        (status = 200, description = "The activation", body = Activation),
        (status = 400, description = "The body is invalid", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks role gis", body = ErrorBody),
        (status = 404, description = "The layer or the version is not in the store", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
    )
)]
pub async fn activate(
    State(state): State<AppState>,
    RequireGis(caller): RequireGis,
    LayerName(name): LayerName,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let request: ActivateRequest = parse::json(&body)?;
    let store = store(&state)?;
    let _guard = state.lock_activation().await;
    let activation = store
        .activate(&name, request.version, &caller.name)
        .await
        .map_err(store_error)?;
    let layer = read_version(store, &name, request.version)
        .await
        .map_err(load_error)?;
    let info = store
        .version(&name, request.version)
        .await
        .map_err(store_error)?;
    swap_in(&state, layer, info).await.map_err(load_error)?;
    Ok(json_response(to_json(&activation)?))
}

/// Swaps a version activated by another process into the catalog, unless
/// another activation superseded it or the catalog already serves it.
/// Failures are logged: the next periodic check tries again.
pub(super) async fn install_version(state: &AppState, layer: Layer, version: VersionInfo) {
    let Some(source) = state.versions() else {
        return;
    };
    let _guard = state.lock_activation().await;
    let name = version.layer.clone();
    match source.store().active_version(&name).await {
        Ok(Some(active)) if active.version == version.version => {}
        Ok(_) => return,
        Err(e) => {
            tracing::error!(layer = ?name, error = ?e.to_string(), "cannot check the active version");
            return;
        }
    }
    if served_version(state, &name) == Some(version.version) {
        return;
    }
    let number = version.version;
    if let Err(e) = swap_in(state, layer, version).await {
        tracing::error!(layer = ?name, version = number, error = ?e.to_string(), "cannot serve the activated version");
    }
}

fn served_version(state: &AppState, name: &str) -> Option<u32> {
    let catalog = state.catalog().ok()?;
    let position = catalog.position(name)?;
    catalog.version(position).map(|v| v.version)
}

/// Indexes `layer` and replaces its entry in the catalog.
async fn swap_in(
    state: &AppState,
    layer: Layer,
    version: VersionInfo,
) -> Result<(), VersionLoadError> {
    let index = index_layer(layer, version.version).await?;
    tracing::info!(layer = ?version.layer, version = version.version, "layer version now served");
    state.replace_layer(Arc::new(index), version);
    Ok(())
}

fn store(state: &AppState) -> Result<&Store, ApiError> {
    state
        .versions()
        .map(|source: &Arc<VersionSource>| source.store())
        .ok_or_else(|| ApiError::VersionNotFound {
            message: "this service reads its layers from files and keeps no versions: \
                      run repere serve to serve layers from a store"
                .to_owned(),
        })
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound { .. } | StoreError::InvalidLayerName { .. } => {
            ApiError::VersionNotFound {
                message: error.to_string(),
            }
        }
        other => ApiError::Internal {
            detail: other.to_string(),
        },
    }
}

pub(super) fn load_error(error: VersionLoadError) -> ApiError {
    match error {
        VersionLoadError::Store(store) => store_error(store),
        other => ApiError::Internal {
            detail: other.to_string(),
        },
    }
}

/// The instant and layer list that a request with `as_of` chooses versions for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AsOfKey {
    pub as_of: DateTime<Utc>,
    pub layers: Vec<usize>,
}

impl AsOfKey {
    pub fn of(query: &ContextQuery) -> Option<Self> {
        let as_of = query.as_of?.with_timezone(&Utc);
        Some(AsOfKey {
            as_of,
            layers: query.layers.clone(),
        })
    }
}

/// Chooses the layer versions that were active at `as_of`. Fails with an
/// invalid `as_of` field when the service keeps no versions.
pub(super) async fn choose_versions(
    state: &AppState,
    catalog: &Catalog,
    positions: &[usize],
    as_of: impl Into<DateTime<Utc>>,
) -> Result<Vec<LayerChoice>, ApiError> {
    let Some(source) = state.versions() else {
        return Err(ApiError::from(InvalidField::new(
            "as_of",
            "this service reads its layers from files and keeps no versions: \
             omit as_of, or run repere serve to serve layers from a store",
        )));
    };
    source
        .choose(catalog, positions, as_of.into())
        .await
        .map_err(load_error)
}
