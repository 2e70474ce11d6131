//! The GeoPackage store: one file, written through GDAL's GPKG driver, that
//! QGIS and `ogrinfo` open directly.
//!
//! Version `N` of layer `L` is the spatial table `L__v000N`. The attribute
//! tables `repere_versions` and `repere_activations` hold the version rows
//! and the activation log. A version is written in two GDAL transactions:
//! the first reserves its number with a row marked incomplete, the second
//! writes the features and marks the row complete. Readers skip incomplete
//! rows, so an import that crashed leaves no half version visible. An import
//! that fails drops its table. One killed midway leaves its incomplete row
//! and its table, which QGIS lists but the store never reads, until the
//! store is opened again and removes them (see `leftovers` for when an
//! import counts as abandoned).
//!
//! GDAL calls block, so each operation runs on `spawn_blocking` with a
//! dataset of its own (GDAL datasets are not `Sync`), and a mutex keeps one
//! operation at a time in this process.
//!
//! NOTE: nothing coordinates two processes writing the same file. SQLite
//! lets one write at a time, so the other's write may fail as "database is
//! locked" instead of waiting. The unique index on (layer, version) still
//! keeps version numbers distinct.

mod features;
mod leftovers;
mod queries;
mod sql;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use gdal::errors::GdalError;
use gdal::{Dataset, DatasetOptions, DriverManager, GdalOpenFlags};

use super::version::{Activation, LayerSummary, ManifestVersion, Origin, Page, VersionInfo};
use super::{StoreError, VersionReport, check_layer_name, layer_from_version};
use crate::layer::Layer;

/// The file name of the store in the state directory.
pub const DEFAULT_FILE_NAME: &str = "repere.gpkg";

/// Layer versions in a GeoPackage file.
#[derive(Debug, Clone)]
pub struct GpkgStore {
    path: Arc<PathBuf>,
    /// Held for the whole of each operation: SQLite allows one writer, and
    /// GDAL would report a concurrent one as "database is locked".
    lock: Arc<Mutex<()>>,
}

impl GpkgStore {
    /// Opens the GeoPackage at `path`, creating it, its directory and the
    /// store's tables when missing.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::StateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let store = GpkgStore {
            path: Arc::new(path.to_owned()),
            lock: Arc::new(Mutex::new(())),
        };
        let create_path = store.path.clone();
        store
            .run("*", move || create_if_missing(&create_path))
            .await?;
        Ok(store)
    }

    /// Returns the path of the GeoPackage file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn put_version(
        &self,
        layer: &Layer,
        origin: Origin,
        source_sha256: &str,
        report: VersionReport,
    ) -> Result<VersionInfo, StoreError> {
        check_layer_name(&layer.info.name)?;
        let layer = layer.clone();
        let sha256 = source_sha256.to_owned();
        let name = layer.info.name.clone();
        self.run_update(&name, move |ds, path| {
            let mut info = VersionInfo::new(&layer, 0, origin, &sha256);
            info.report = report;
            let number = tables::reserve_version(ds, path, info)?;
            features::write(ds, path, &layer, number)?;
            queries::select_version(ds, path, &layer.info.name, number)?
                .ok_or_else(|| StoreError::not_found(&layer.info.name, Some(number)))
        })
        .await
    }

    pub async fn activate(
        &self,
        layer: &str,
        version: u32,
        by: &str,
    ) -> Result<Activation, StoreError> {
        let (name, by) = (layer.to_owned(), by.to_owned());
        self.run_update(layer, move |ds, path| {
            tables::activate(ds, path, &name, version, &by)
        })
        .await
    }

    pub async fn versions(&self, layer: &str, page: Page) -> Result<Vec<VersionInfo>, StoreError> {
        let name = layer.to_owned();
        self.run_read(layer, move |ds, path| {
            let versions = queries::select_versions(ds, path, &name, page)?;
            if versions.is_empty() {
                queries::require_layer(ds, path, &name)?;
            }
            Ok(versions)
        })
        .await
    }

    pub async fn version(&self, layer: &str, version: u32) -> Result<VersionInfo, StoreError> {
        let name = layer.to_owned();
        self.run_read(layer, move |ds, path| {
            queries::select_version(ds, path, &name, version)?
                .ok_or_else(|| queries::version_not_found(ds, path, &name, version))
        })
        .await
    }

    pub async fn active_version(&self, layer: &str) -> Result<Option<VersionInfo>, StoreError> {
        self.version_at(layer, None).await
    }

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
        let name = layer.to_owned();
        self.run_read(layer, move |ds, path| {
            let found = queries::active_version_at(ds, path, &name, at)?;
            if found.is_none() {
                queries::require_layer(ds, path, &name)?;
            }
            Ok(found)
        })
        .await
    }

    pub async fn load_version(&self, layer: &str, version: u32) -> Result<Layer, StoreError> {
        let name = layer.to_owned();
        self.run_read(layer, move |ds, path| {
            let Some(info) = queries::select_version(ds, path, &name, version)? else {
                return Err(queries::version_not_found(ds, path, &name, version));
            };
            let features = features::read(ds, path, &name, version)?;
            Ok(layer_from_version(&info, features))
        })
        .await
    }

    pub async fn last_manifest_version(
        &self,
        layer: &str,
    ) -> Result<Option<ManifestVersion>, StoreError> {
        let name = layer.to_owned();
        self.run_read(layer, move |ds, path| {
            let Some(info) = queries::select_last_manifest_version(ds, path, &name)? else {
                return Ok(None);
            };
            let changed_since = queries::changed_since(ds, path, &info)?;
            Ok(Some(ManifestVersion {
                info,
                changed_since,
            }))
        })
        .await
    }

    pub async fn latest_version_with_sha256(
        &self,
        layer: &str,
        source_sha256: &str,
    ) -> Result<Option<u32>, StoreError> {
        let (name, sha256) = (layer.to_owned(), source_sha256.to_owned());
        self.run_read(layer, move |ds, path| {
            queries::latest_version_with_sha256(ds, path, &name, &sha256)
        })
        .await
    }

    pub async fn layers(&self) -> Result<Vec<LayerSummary>, StoreError> {
        self.run_read("*", queries::select_layers).await
    }

    pub async fn activations(&self, layer: &str) -> Result<Vec<Activation>, StoreError> {
        let name = layer.to_owned();
        self.run_read(layer, move |ds, path| {
            let activations = queries::select_activations(ds, path, &name)?;
            if activations.is_empty() {
                queries::require_layer(ds, path, &name)?;
            }
            Ok(activations)
        })
        .await
    }

    async fn run_read<T, F>(&self, layer: &str, task: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Dataset, &Path) -> Result<T, StoreError> + Send + 'static,
    {
        // Opened for update all the same: a writer killed mid-transaction
        // leaves a hot journal that SQLite rolls back only on a writable
        // open, and a read-only one fails with "readonly database".
        self.run_on_dataset(layer, GdalOpenFlags::GDAL_OF_UPDATE, task)
            .await
    }

    async fn run_update<T, F>(&self, layer: &str, task: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Dataset, &Path) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_on_dataset(layer, GdalOpenFlags::GDAL_OF_UPDATE, task)
            .await
    }

    /// Opens the GeoPackage in `mode` for one blocking task.
    async fn run_on_dataset<T, F>(
        &self,
        layer: &str,
        mode: GdalOpenFlags,
        task: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Dataset, &Path) -> Result<T, StoreError> + Send + 'static,
    {
        let path = self.path.clone();
        self.run(layer, move || {
            let mut ds = open_dataset(&path, mode)?;
            task(&mut ds, &path)
        })
        .await
    }

    /// Runs a blocking task on the blocking pool, holding the store's lock.
    async fn run<T, F>(&self, layer: &str, task: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        let lock = self.lock.clone();
        let joined = tokio::task::spawn_blocking(move || {
            // A task that panicked poisons the mutex, but SQLite rolled its
            // transaction back, so the file is consistent: go on.
            let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            task()
        })
        .await;
        joined.map_err(|source| StoreError::Task {
            layer: layer.to_owned(),
            source,
        })?
    }
}

/// Maps a GDAL error to [`StoreError::GeoPackage`] for one operation.
fn gdal_error(path: &Path, operation: impl Into<String>) -> impl FnOnce(GdalError) -> StoreError {
    let path = path.to_owned();
    let operation = operation.into();
    move |source| StoreError::GeoPackage {
        path,
        operation,
        source,
    }
}

/// Opens the store's file with GDAL's GPKG driver alone, so that a file of
/// another format at that path is never read or written by another driver.
fn open_dataset(path: &Path, mode: GdalOpenFlags) -> Result<Dataset, StoreError> {
    let options = DatasetOptions {
        open_flags: mode | GdalOpenFlags::GDAL_OF_VECTOR,
        allowed_drivers: Some(&["GPKG"]),
        ..Default::default()
    };
    Dataset::open_ex(path, options).map_err(|source| match not_sqlite_reason(path) {
        Some(reason) => StoreError::NotGeoPackage {
            path: path.to_owned(),
            reason,
        },
        None => gdal_error(path, "open the GeoPackage")(source),
    })
}

/// The 16 bytes that start every SQLite 3 database file, and so every
/// GeoPackage.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Explains why the file at `path` cannot be a GeoPackage when it does not
/// start with [`SQLITE_HEADER`], or returns `None` when it does or cannot
/// be read.
fn not_sqlite_reason(path: &Path) -> Option<String> {
    use std::io::Read;

    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    let file = std::fs::File::open(path).ok()?;
    let limit = SQLITE_HEADER.len() as u64;
    file.take(limit).read_to_end(&mut header).ok()?;
    if header.is_empty() {
        Some("the file is empty".to_owned())
    } else if header != SQLITE_HEADER {
        Some("it does not start with the SQLite 3 header".to_owned())
    } else {
        None
    }
}

fn create_if_missing(path: &Path) -> Result<(), StoreError> {
    let mut ds = if path.exists() {
        open_dataset(path, GdalOpenFlags::GDAL_OF_UPDATE)?
    } else {
        DriverManager::get_driver_by_name("GPKG")
            .and_then(|driver| driver.create_vector_only(path))
            .map_err(gdal_error(path, "create the GeoPackage"))?
    };
    tables::create_if_missing(&mut ds, path)?;
    leftovers::remove_abandoned(&mut ds, path)
}
