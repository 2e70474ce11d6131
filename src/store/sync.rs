//! Start-up against a store: the layers of a manifest, imported when their
//! source file changed, else read back from the store.

use std::path::PathBuf;

use super::version::{ManifestVersion, Origin, VersionInfo};
use super::{Store, StoreError, sha256_file};
use crate::layer::Layer;
use crate::manifest::{LayerSpec, Manifest};
use crate::source::{self, SourceError};

/// The outcome of [`sync_manifest_layer`] for one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// The source file was read and stored as a new version, now active.
    Imported,
    /// The manifest version was stored but never activated (an interrupted
    /// start-up), and is now active.
    Activated,
    /// The source file and its manifest entry are unchanged since the
    /// active manifest version was imported.
    Unchanged,
    /// An operator imported or activated another version since the last
    /// manifest import, so the operator's active version stays.
    KeptOperatorVersion,
}

impl SyncAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncAction::Imported => "imported",
            SyncAction::Activated => "activated",
            SyncAction::Unchanged => "unchanged",
            SyncAction::KeptOperatorVersion => "kept operator version",
        }
    }
}

/// A manifest layer as the service should serve it.
#[derive(Debug, Clone)]
pub struct SyncedLayer {
    pub layer: Layer,
    /// The active version, the one `layer` was read from.
    pub version: VersionInfo,
    pub action: SyncAction,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot import layer {layer:?}: {source}")]
    Source { layer: String, source: SourceError },
    #[error("reading the source of layer {layer:?} failed: {source}")]
    Task {
        layer: String,
        source: tokio::task::JoinError,
    },
}

/// Brings every layer of `manifest` into `store` and returns them in
/// manifest order, as [`sync_manifest_layer`] does for one. The first layer
/// that fails stops the whole start-up.
pub async fn sync_manifest(
    store: &Store,
    manifest: &Manifest,
    by: &str,
) -> Result<Vec<SyncedLayer>, SyncError> {
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for spec in &manifest.layers {
        layers.push(sync_manifest_layer(store, spec, by).await?);
    }
    Ok(layers)
}

/// Imports the source of `spec` as a new active version when its file
/// (SHA-256) or its manifest entry changed since the last manifest import,
/// unless an operator changed the layer since. Otherwise reads the active
/// version back from the store.
///
/// NOTE: only the kind, attribution and licence of the manifest entry are
/// compared. A changed `where`, `id_field`, `crs` or time setting with the
/// same file is not detected; import the layer again to apply it.
pub async fn sync_manifest_layer(
    store: &Store,
    spec: &LayerSpec,
    by: &str,
) -> Result<SyncedLayer, SyncError> {
    let name = spec.name.as_str();
    let hash = hash_source(spec).await?;
    let last = store.last_manifest_version(name).await?;
    let active = match last {
        Some(_) => store.active_version(name).await?,
        None => None,
    };
    let synced = match plan(spec, last.as_ref(), active.as_ref(), &hash) {
        Plan::Import => import(store, spec, &hash, by).await?,
        Plan::Activate(version) => {
            store.activate(name, version, by).await?;
            read_back(store, name, version, SyncAction::Activated).await?
        }
        Plan::Keep(version, action) => read_back(store, name, version, action).await?,
    };
    log_sync(&synced, last.as_ref(), &hash);
    Ok(synced)
}

/// The step that brings one layer up to date.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    Import,
    Activate(u32),
    Keep(u32, SyncAction),
}

fn plan(
    spec: &LayerSpec,
    last: Option<&ManifestVersion>,
    active: Option<&VersionInfo>,
    hash: &str,
) -> Plan {
    let Some(last) = last else {
        return Plan::Import;
    };
    if let (true, Some(active)) = (last.changed_since, active) {
        return Plan::Keep(active.version, SyncAction::KeptOperatorVersion);
    }
    if !same_source(spec, &last.info, hash) {
        return Plan::Import;
    }
    match active {
        Some(active) if active.version == last.info.version => {
            Plan::Keep(active.version, SyncAction::Unchanged)
        }
        _ => Plan::Activate(last.info.version),
    }
}

fn same_source(spec: &LayerSpec, info: &VersionInfo, hash: &str) -> bool {
    info.source_sha256 == hash
        && info.kind == spec.kind
        && info.attribution == spec.attribution
        && info.licence == spec.licence
}

async fn hash_source(spec: &LayerSpec) -> Result<String, SyncError> {
    let path: PathBuf = spec.path.clone();
    tokio::task::spawn_blocking(move || sha256_file(&path))
        .await
        .map_err(|source| SyncError::Task {
            layer: spec.name.clone(),
            source,
        })?
        .map_err(SyncError::from)
}

async fn import(
    store: &Store,
    spec: &LayerSpec,
    hash: &str,
    by: &str,
) -> Result<SyncedLayer, SyncError> {
    let owned = spec.clone();
    let loaded = tokio::task::spawn_blocking(move || source::load_layer(&owned)).await;
    let layer = loaded
        .map_err(|source| SyncError::Task {
            layer: spec.name.clone(),
            source,
        })?
        .map_err(|source| SyncError::Source {
            layer: spec.name.clone(),
            source,
        })?;
    let mut version = store
        .put_version(&layer, Origin::Manifest, hash, by)
        .await?;
    let activation = store.activate(&spec.name, version.version, by).await?;
    version.activated_at = Some(activation.activated_at);
    version.activated_by = Some(activation.activated_by);
    Ok(SyncedLayer {
        layer,
        version,
        action: SyncAction::Imported,
    })
}

async fn read_back(
    store: &Store,
    name: &str,
    version: u32,
    action: SyncAction,
) -> Result<SyncedLayer, SyncError> {
    let layer = store.load_version(name, version).await?;
    let info = store.version(name, version).await?;
    Ok(SyncedLayer {
        layer,
        version: info,
        action,
    })
}

fn log_sync(synced: &SyncedLayer, last: Option<&ManifestVersion>, hash: &str) {
    let manifest_changed = last.is_some_and(|m| m.info.source_sha256 != hash);
    if synced.action == SyncAction::KeptOperatorVersion && manifest_changed {
        tracing::warn!(
            layer = %synced.version.layer,
            version = synced.version.version,
            source_sha256 = %hash,
            "manifest source changed, but an operator's version stays active"
        );
    }
    tracing::info!(
        layer = %synced.version.layer,
        version = synced.version.version,
        action = synced.action.as_str(),
        features = synced.layer.features.len(),
        "manifest layer synced"
    );
}
