//! The OpenAPI document, generated from the handlers' annotations.

use axum::Extension;
use axum::body::Bytes;
use axum::response::Response;
use utoipa::OpenApi;

use super::context::{self, json_response};
use super::error::{ErrorBody, ErrorDetail};
use super::import;
use super::meta::{self, LayerList, Status};
use super::versions::{self, ActivateRequest, VersionDetail, VersionEntry, VersionList};
use crate::context::{
    AsOfFallback, ContextRequest, ContextResponse, DistrictFeature, FeatureContext, H3Cell, LatLon,
    LayerContext, NearbyFeature, Neighbour,
};
use crate::import::{Diff, IdChanges, ImportRecord, ImportReport};
use crate::layer::{LayerInfo, LayerKind};
use crate::store::{Activation, Origin};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "repère",
        description = "Geographic context of citizen requests: districts covering a point, \
                       nearest assets, active works and the H3 cell."
    ),
    paths(
        context::post_context,
        context::get_context,
        context::post_batch,
        meta::layers,
        versions::list_versions,
        versions::get_version,
        versions::activate,
        import::import_layer,
        meta::health,
        meta::ready,
        openapi_json,
    ),
    components(schemas(
        ContextRequest,
        ContextResponse,
        LatLon,
        H3Cell,
        LayerContext,
        AsOfFallback,
        FeatureContext,
        DistrictFeature,
        Neighbour,
        NearbyFeature,
        LayerInfo,
        LayerKind,
        LayerList,
        Status,
        VersionList,
        VersionEntry,
        VersionDetail,
        ActivateRequest,
        Activation,
        Origin,
        ImportReport,
        ImportRecord,
        Diff,
        IdChanges,
        ErrorBody,
        ErrorDetail,
    ))
)]
pub struct ApiDoc;

/// The serialized document, built once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

impl OpenApiJson {
    pub fn build() -> Self {
        let bytes =
            serde_json::to_vec(&ApiDoc::openapi()).expect("the OpenAPI document serializes");
        OpenApiJson(Bytes::from(bytes))
    }
}

/// This document: every route with its request, response and error schemas.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses(
    (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"),
))]
pub async fn openapi_json(Extension(document): Extension<OpenApiJson>) -> Response {
    json_response(document.0)
}
