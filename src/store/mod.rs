//! Durable, versioned layer stores.
//!
//! Every import of a layer becomes an immutable, numbered version, written
//! inactive and then activated in one transaction. Older versions stay, and
//! an activation log records every activation, so the version that was active
//! at any past instant can be read back ([`Store::version_active_at`]) and a
//! request routed then explained with the same features.
//!
//! Two backends implement the same operations:
//! - [`GpkgStore`], the default: a GeoPackage file (`state/repere.gpkg`)
//!   written through GDAL, which QGIS and `ogrinfo` open directly;
//! - [`PgStore`]: PostGIS, shared by several instances, which learn of each
//!   other's activations through `LISTEN repere_layers`.
//!
//! [`Store`] is an enum over the two rather than a trait object: the set of
//! backends is closed, async methods stay plain `async fn`, and the choice is
//! made once at start-up (`--database-url` selects PostGIS).
//!
//! Both stores keep instants to the microsecond and geometries as 2D WKB,
//! so a loaded version equals the stored one feature by feature. WKB has no
//! `Rect`, `Triangle` or `Line`, so geometries of those geo types would come
//! back as other types; the source reader produces none of them.
//!
//! At start-up, [`sync_manifest`] imports the manifest layers whose source
//! changed and reads the others back. While serving, [`ActiveVersionWatcher`]
//! returns the layers activated elsewhere, woken by `NOTIFY` (PostGIS) or by
//! a periodic check.

mod diff;
mod error;
mod gpkg;
mod postgis;
mod record;
mod report;
mod sync;
mod version;
mod watch;

use std::path::Path;

use chrono::{DateTime, Utc};

pub use diff::{Diff, IdChanges, MAX_DIFF_IDS, diff};
pub use error::StoreError;
pub use gpkg::{DEFAULT_FILE_NAME, GpkgStore};
pub use postgis::{LayerEvent, LayerListener, NOTIFY_CHANNEL, PgStore};
pub use record::sha256_file;
pub use report::VersionReport;
pub use sync::{SyncAction, SyncError, SyncedLayer, sync_manifest, sync_manifest_layer};
pub use version::{Activation, LayerSummary, ManifestVersion, Origin, Page, VersionInfo};
pub use watch::{ActiveLayer, ActiveVersionWatcher};

use crate::layer::{Feature, Layer, LayerInfo};
use crate::manifest::validate_layer_name;

/// A layer store: GeoPackage or PostGIS.
#[derive(Debug, Clone)]
pub enum Store {
    GeoPackage(GpkgStore),
    Postgis(PgStore),
}

impl Store {
    /// Opens PostGIS when `database_url` is set, else the GeoPackage
    /// [`DEFAULT_FILE_NAME`] in `state_dir` (created if missing).
    pub async fn open(database_url: Option<&str>, state_dir: &Path) -> Result<Self, StoreError> {
        match database_url {
            Some(url) => Ok(Store::Postgis(PgStore::connect(url).await?)),
            None => {
                let path = state_dir.join(DEFAULT_FILE_NAME);
                Ok(Store::GeoPackage(GpkgStore::open(&path).await?))
            }
        }
    }

    /// Stores `layer` as its next version, inactive, with its report: the
    /// author `imported_by` and the diff from the active version.
    /// `source_sha256` is the hash of the source file ([`sha256_file`]).
    pub async fn put_version(
        &self,
        layer: &Layer,
        origin: Origin,
        source_sha256: &str,
        imported_by: &str,
    ) -> Result<VersionInfo, StoreError> {
        // NOTE: the diff and the same-file version are taken before the
        // write begins, so an activation or import by another instance in
        // between is not reflected in them.
        let diff = self.diff_with_active(layer).await?;
        let same_file_as = self
            .latest_version_with_sha256(&layer.info.name, source_sha256)
            .await?;
        let report = VersionReport::new(layer, imported_by, diff, same_file_as);
        let info = match self {
            Store::GeoPackage(store) => {
                store
                    .put_version(layer, origin, source_sha256, report)
                    .await?
            }
            Store::Postgis(store) => {
                store
                    .put_version(layer, origin, source_sha256, report)
                    .await?
            }
        };
        tracing::info!(
            layer = %info.layer,
            version = info.version,
            origin = %info.origin,
            features = info.feature_count,
            same_file_as = info.report.same_file_as,
            "layer version stored"
        );
        Ok(info)
    }

    /// Compares `layer` with the active version of the layer of that name,
    /// by feature id. `None` when no version is active, also for a layer
    /// not in the store.
    pub async fn diff_with_active(&self, layer: &Layer) -> Result<Option<Diff>, StoreError> {
        let name = &layer.info.name;
        let active = match self.active_version(name).await {
            Ok(Some(active)) => active.version,
            Ok(None) | Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let old = self.load_version(name, active).await?;
        Ok(Some(diff(&old, layer, active)))
    }

    /// Returns the latest complete version of `layer` whose source file has
    /// the SHA-256 `source_sha256`, `None` when there is none (also for a
    /// layer not in the store).
    pub async fn latest_version_with_sha256(
        &self,
        layer: &str,
        source_sha256: &str,
    ) -> Result<Option<u32>, StoreError> {
        match self {
            Store::GeoPackage(store) => {
                store.latest_version_with_sha256(layer, source_sha256).await
            }
            Store::Postgis(store) => store.latest_version_with_sha256(layer, source_sha256).await,
        }
    }

    /// Makes `version` the active version of `layer` and logs who did it.
    /// Activating an older version is a rollback.
    pub async fn activate(
        &self,
        layer: &str,
        version: u32,
        by: &str,
    ) -> Result<Activation, StoreError> {
        let activation = match self {
            Store::GeoPackage(store) => store.activate(layer, version, by).await?,
            Store::Postgis(store) => store.activate(layer, version, by).await?,
        };
        tracing::info!(
            layer,
            version,
            previous = ?activation.previous,
            by,
            "layer version activated"
        );
        Ok(activation)
    }

    /// Lists versions of `layer`, newest first.
    pub async fn versions(&self, layer: &str, page: Page) -> Result<Vec<VersionInfo>, StoreError> {
        match self {
            Store::GeoPackage(store) => store.versions(layer, page).await,
            Store::Postgis(store) => store.versions(layer, page).await,
        }
    }

    /// Returns version `version` of `layer`.
    pub async fn version(&self, layer: &str, version: u32) -> Result<VersionInfo, StoreError> {
        match self {
            Store::GeoPackage(store) => store.version(layer, version).await,
            Store::Postgis(store) => store.version(layer, version).await,
        }
    }

    /// Returns the active version of `layer`, `None` if none was activated.
    pub async fn active_version(&self, layer: &str) -> Result<Option<VersionInfo>, StoreError> {
        match self {
            Store::GeoPackage(store) => store.active_version(layer).await,
            Store::Postgis(store) => store.active_version(layer).await,
        }
    }

    /// Returns the version of `layer` that was active at `at`, `None` before
    /// its first activation.
    pub async fn version_active_at(
        &self,
        layer: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<VersionInfo>, StoreError> {
        match self {
            Store::GeoPackage(store) => store.version_active_at(layer, at).await,
            Store::Postgis(store) => store.version_active_at(layer, at).await,
        }
    }

    /// Reads version `version` of `layer` back with all its features.
    pub async fn load_version(&self, layer: &str, version: u32) -> Result<Layer, StoreError> {
        match self {
            Store::GeoPackage(store) => store.load_version(layer, version).await,
            Store::Postgis(store) => store.load_version(layer, version).await,
        }
    }

    /// Returns the latest version of `layer` imported from the manifest, and
    /// whether an operator changed the layer since. `None` when there is
    /// none, also for a layer not in the store.
    pub async fn last_manifest_version(
        &self,
        layer: &str,
    ) -> Result<Option<ManifestVersion>, StoreError> {
        match self {
            Store::GeoPackage(store) => store.last_manifest_version(layer).await,
            Store::Postgis(store) => store.last_manifest_version(layer).await,
        }
    }

    /// Lists the layers in the store, by name.
    pub async fn layers(&self) -> Result<Vec<LayerSummary>, StoreError> {
        match self {
            Store::GeoPackage(store) => store.layers().await,
            Store::Postgis(store) => store.layers().await,
        }
    }

    /// Lists the activations of `layer`, newest first.
    pub async fn activations(&self, layer: &str) -> Result<Vec<Activation>, StoreError> {
        match self {
            Store::GeoPackage(store) => store.activations(layer).await,
            Store::Postgis(store) => store.activations(layer).await,
        }
    }
}

/// Rejects a name that cannot be a layer's before anything is written.
fn check_layer_name(name: &str) -> Result<(), StoreError> {
    validate_layer_name(name).map_err(|message| StoreError::InvalidLayerName {
        name: name.to_owned(),
        message,
    })
}

/// Rebuilds a layer from its stored version row and features.
fn layer_from_version(info: &VersionInfo, features: Vec<Feature>) -> Layer {
    let layer_info = LayerInfo {
        name: info.layer.clone(),
        kind: info.kind,
        source: info.source_file.clone(),
        source_crs: info.source_crs.clone(),
        feature_count: 0,
        bbox: None,
        invalid_count: 0,
        synthetic_id_count: 0,
        attribution: info.attribution.clone(),
        licence: info.licence.clone(),
    };
    Layer::new(layer_info, features, info.report.load.clone())
}
