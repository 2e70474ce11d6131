//! The PostGIS store: versions, features and the activation log in three
//! tables (see `migrations/`), shared by every instance of the service.
//!
//! Writes to one layer are serialized by a transaction-level advisory lock
//! on the layer name, so version numbers and activation order follow commit
//! order across instances. An activation sends `NOTIFY repere_layers,
//! '<layer>'` in its own transaction; [`PgStore::listen`] receives these.

mod features;
mod listen;
mod rows;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

pub use listen::{LayerEvent, LayerListener};

use super::version::{Activation, LayerSummary, ManifestVersion, Origin, Page, VersionInfo};
use super::{StoreError, VersionReport, check_layer_name, layer_from_version};
use crate::layer::Layer;

/// The channel activations are announced on, with the layer name as payload.
pub const NOTIFY_CHANNEL: &str = "repere_layers";

/// Connections in the pool of one instance.
const MAX_CONNECTIONS: u32 = 8;

/// The migrations in `migrations/`, embedded at build time.
///
/// sqlx 0.8's Postgres migrator takes `pg_advisory_lock` on a key derived
/// from the database name before it reads `_sqlx_migrations`, and releases
/// it when done, so instances starting together apply each migration once.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Maps a sqlx error to [`StoreError::Database`] for one layer.
fn db(layer: &str, operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    let layer = layer.to_owned();
    move |source| StoreError::Database {
        layer,
        operation,
        source,
    }
}

/// Layer versions in PostGIS.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `database_url` (`postgres://user@host:port/db`) and
    /// applies the migrations.
    ///
    /// NOTE: sqlx is built without TLS, so a URL with `sslmode=require`
    /// fails to connect; enable an sqlx TLS feature to reach such a server.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(database_url)
            .map_err(|source| StoreError::Connect { source })?;
        Self::connect_with(options).await
    }

    /// Connects with explicit options (for example a `search_path` that
    /// puts the tables in their own schema) and applies the migrations.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect { source })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { source })?;
        Ok(PgStore { pool })
    }

    /// Returns the connection pool, for queries the store does not wrap.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores `layer` as its next version, inactive, with `report`, in one
    /// transaction.
    pub async fn put_version(
        &self,
        layer: &Layer,
        origin: Origin,
        source_sha256: &str,
        report: VersionReport,
    ) -> Result<VersionInfo, StoreError> {
        let name = layer.info.name.as_str();
        check_layer_name(name)?;
        let mut tx = self.begin_locked(name, "import").await?;
        let number = next_version(&mut tx, name).await?;
        let mut info = VersionInfo::new(layer, number, origin, source_sha256);
        info.report = report;
        info.imported_at = rows::insert_version(&mut tx, &info).await?;
        features::insert(&mut tx, name, number, &layer.features).await?;
        tx.commit()
            .await
            .map_err(db(name, "commit the import of"))?;
        Ok(info)
    }

    /// Makes `version` the active version of `layer`, logs the activation
    /// and notifies listeners, in one transaction.
    pub async fn activate(
        &self,
        layer: &str,
        version: u32,
        by: &str,
    ) -> Result<Activation, StoreError> {
        let mut tx = self.begin_locked(layer, "activate").await?;
        if rows::select_version(&mut *tx, layer, version)
            .await?
            .is_none()
        {
            return Err(self.version_not_found(layer, version).await);
        }
        let previous = rows::active_version_at(&mut *tx, layer, None).await?;
        let activated_at = rows::insert_activation(&mut tx, layer, version, by).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(layer)
            .execute(&mut *tx)
            .await
            .map_err(db(layer, "notify the activation of"))?;
        tx.commit()
            .await
            .map_err(db(layer, "commit the activation of"))?;
        Ok(Activation {
            layer: layer.to_owned(),
            version,
            activated_at,
            activated_by: by.to_owned(),
            previous: previous.map(|info| info.version),
        })
    }

    /// Lists versions of `layer`, newest first.
    pub async fn versions(&self, layer: &str, page: Page) -> Result<Vec<VersionInfo>, StoreError> {
        let versions = rows::select_versions(&self.pool, layer, page).await?;
        if versions.is_empty() {
            self.require_layer(layer).await?;
        }
        Ok(versions)
    }

    /// Returns version `version` of `layer`.
    pub async fn version(&self, layer: &str, version: u32) -> Result<VersionInfo, StoreError> {
        match rows::select_version(&self.pool, layer, version).await? {
            Some(info) => Ok(info),
            None => Err(self.version_not_found(layer, version).await),
        }
    }

    /// Returns the active version of `layer`, `None` if none was activated.
    pub async fn active_version(&self, layer: &str) -> Result<Option<VersionInfo>, StoreError> {
        self.version_at(layer, None).await
    }

    /// Returns the version of `layer` that was active at instant `at`:
    /// the one of the latest activation at or before `at`.
    pub async fn version_active_at(
        &self,
        layer: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<VersionInfo>, StoreError> {
        self.version_at(layer, Some(at)).await
    }

    async fn version_at(
        &self,
        layer: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<VersionInfo>, StoreError> {
        let found = rows::active_version_at(&self.pool, layer, at).await?;
        if found.is_none() {
            self.require_layer(layer).await?;
        }
        Ok(found)
    }

    /// Reads version `version` of `layer` back with all its features.
    pub async fn load_version(&self, layer: &str, version: u32) -> Result<Layer, StoreError> {
        let Some(info) = rows::select_version(&self.pool, layer, version).await? else {
            return Err(self.version_not_found(layer, version).await);
        };
        let features = features::select(&self.pool, layer, version).await?;
        Ok(layer_from_version(&info, features))
    }

    /// Returns the latest version of `layer` imported from the manifest,
    /// `None` when there is none (also for a layer not in the store).
    pub async fn last_manifest_version(
        &self,
        layer: &str,
    ) -> Result<Option<ManifestVersion>, StoreError> {
        let Some(info) = rows::select_last_manifest_version(&self.pool, layer).await? else {
            return Ok(None);
        };
        let changed_since = rows::changed_since(&self.pool, &info).await?;
        Ok(Some(ManifestVersion {
            info,
            changed_since,
        }))
    }

    /// Returns the latest version of `layer` whose source file has the
    /// SHA-256 `source_sha256`.
    pub async fn latest_version_with_sha256(
        &self,
        layer: &str,
        source_sha256: &str,
    ) -> Result<Option<u32>, StoreError> {
        rows::latest_version_with_sha256(&self.pool, layer, source_sha256).await
    }

    /// Lists the layers in the store, by name.
    pub async fn layers(&self) -> Result<Vec<LayerSummary>, StoreError> {
        rows::select_layers(&self.pool).await
    }

    /// Lists the activations of `layer`, newest first.
    pub async fn activations(&self, layer: &str) -> Result<Vec<Activation>, StoreError> {
        let activations = rows::select_activations(&self.pool, layer).await?;
        if activations.is_empty() {
            self.require_layer(layer).await?;
        }
        Ok(activations)
    }

    /// Starts listening for activations, from any instance.
    pub async fn listen(&self) -> Result<LayerListener, StoreError> {
        LayerListener::connect(&self.pool).await
    }

    /// Begins a transaction holding the advisory lock of `layer`, which
    /// serializes imports and activations of that layer.
    async fn begin_locked(
        &self,
        layer: &str,
        operation: &'static str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db(layer, operation))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('repere layer ' || $1, 0))")
            .bind(layer)
            .execute(&mut *tx)
            .await
            .map_err(db(layer, operation))?;
        Ok(tx)
    }

    /// The error for a missing version: the layer's own NotFound when the
    /// whole layer is unknown.
    async fn version_not_found(&self, layer: &str, version: u32) -> StoreError {
        match self.require_layer(layer).await {
            Ok(()) => StoreError::not_found(layer, Some(version)),
            Err(error) => error,
        }
    }

    async fn require_layer(&self, layer: &str) -> Result<(), StoreError> {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM layer_versions WHERE layer = $1)")
                .bind(layer)
                .fetch_one(&self.pool)
                .await
                .map_err(db(layer, "look up"))?;
        if exists {
            Ok(())
        } else {
            Err(StoreError::not_found(layer, None))
        }
    }
}

async fn next_version(tx: &mut Transaction<'_, Postgres>, layer: &str) -> Result<u32, StoreError> {
    let latest: Option<i32> =
        sqlx::query_scalar("SELECT max(version) FROM layer_versions WHERE layer = $1")
            .bind(layer)
            .fetch_one(&mut **tx)
            .await
            .map_err(db(layer, "number the next version of"))?;
    Ok(latest.map_or(1, |v| v as u32 + 1))
}
