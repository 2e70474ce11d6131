//! Importing a layer file uploaded by GIS staff: unpacking, reading through
//! [`crate::source`], the import report and the new version in the store.
//!
//! An import runs in two steps. [`prepare`] is blocking (GDAL and PROJ): it
//! unpacks a zip archive into a temporary folder, chooses the layer of a
//! multi-layer file and reads it. [`commit`] is async: it compares the
//! layer with the active version and, unless it is a dry run, stores it as
//! a new version (origin `import`) and activates it on request. The store
//! writes a version in one transaction, so an interrupted import leaves no
//! partial version and the active version unchanged.

mod archive;
mod report;
mod workdir;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

pub use crate::store::{Diff, IdChanges, MAX_DIFF_IDS, diff};
pub use archive::{MAX_ENTRIES, MAX_UNPACKED_BYTES};
pub use report::{ImportRecord, ImportReport};
pub use workdir::{new_work_dir, remove_abandoned_work_dirs};

use crate::layer::{Layer, LayerKind};
use crate::manifest::{DEFAULT_TIMEZONE, LayerSpec, validate_layer_name};
use crate::source::{
    ReadProgress, SettingSource, SourceError, SourceOptions, layer_names, load_layer_with,
};
use crate::store::{Origin, Store, StoreError, sha256_file};

/// How to read an imported file: the manifest's layer settings plus the
/// import's own (`table`, `wkt_field`, `keep`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    pub kind: LayerKind,
    /// The attribute holding each feature's id: `fid` means the GDAL FID
    /// (0-based in a Shapefile, 1-based in a CSV) unless the file has a
    /// column named `fid`.
    pub id_field: String,
    /// The attribute holding each feature's display name.
    pub name_field: String,
    /// The CRS of the coordinates when the file declares none or a wrong one.
    pub crs: Option<String>,
    /// Attribute encoding of a Shapefile without .cpg, e.g. `CP1252`.
    pub encoding: Option<String>,
    /// Attribute filter in the subset of OGR SQL listed in the README's
    /// import section, e.g. `"amenity" = 'school'`; for OSM
    /// files, tags without a column of their own are in `other_tags`.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// Properties to keep; all when absent.
    pub keep: Option<Vec<String>>,
    pub attribution: Option<String>,
    pub licence: Option<String>,
    /// Layer of a multi-layer file: a GeoPackage table, or `points`,
    /// `lines`, `multipolygons`… in an OSM PBF file.
    pub table: Option<String>,
    /// CSV: the longitude (or easting) column.
    pub x_field: Option<String>,
    /// CSV: the latitude (or northing) column.
    pub y_field: Option<String>,
    /// CSV: the column of WKT geometries, instead of `x_field`/`y_field`.
    pub wkt_field: Option<String>,
    /// Work layers: IANA time zone of dates without an offset.
    pub timezone: Option<String>,
    pub start_field: Option<String>,
    pub end_field: Option<String>,
    pub datetime_format: Option<String>,
    /// The origin of the settings that error messages name: form fields for
    /// options read from a request.
    #[serde(skip, default = "form_fields")]
    pub settings: SettingSource,
    /// Counts the features read, for a caller that shows progress.
    #[serde(skip)]
    pub progress: Option<Arc<ReadProgress>>,
}

fn form_fields() -> SettingSource {
    SettingSource::FormFields
}

/// A failed import. Nothing is written when an import fails.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `message`, from [`validate_layer_name`], names the layer.
    #[error("{message}")]
    LayerName { name: String, message: String },
    #[error("{file}: {}{message}", entry.as_ref().map(|e| format!("entry {e:?}: ")).unwrap_or_default())]
    Archive {
        file: String,
        entry: Option<String>,
        message: String,
    },
    #[error(
        "{file} contains {found} vector files ({names}): zip one layer per archive, or \
         import the layers one by one"
    )]
    ArchiveLayers {
        file: String,
        found: usize,
        names: String,
    },
    #[error("{file} contains no .shp, .geojson, .gpkg or .csv file: zip the layer's files")]
    ArchiveEmpty { file: String },
    #[error("{path} has several layers ({tables}): choose one with the `table` option")]
    AmbiguousTable { path: String, tables: String },
    #[error(
        "property {property:?} is not in the layer: `keep` takes its properties, which are: \
         {available}"
    )]
    UnknownProperty { property: String, available: String },
    #[error("invalid option: {message}")]
    Option { message: String },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A layer read from an imported file, ready to be compared and stored.
#[derive(Debug)]
pub struct Prepared {
    pub layer: Layer,
    pub source_sha256: String,
}

/// Reads the file at `upload` (named `file_name` by its sender) as layer
/// `name`, unpacking it into `work_dir` first when it is a zip archive.
/// Blocking: call it from a blocking thread.
pub fn prepare(
    name: &str,
    upload: &Path,
    file_name: &str,
    options: &ImportOptions,
    work_dir: &Path,
) -> Result<Prepared, ImportError> {
    validate_layer_name(name).map_err(|message| ImportError::LayerName {
        name: name.to_owned(),
        message,
    })?;
    check_options(options)?;
    let source_sha256 = sha256_file(upload)?;
    let path = source_path(upload, file_name, work_dir)?;
    let table = choose_table(&path, options)?;
    let spec = layer_spec(name, &path, options);
    let source_options = SourceOptions {
        table,
        wkt_field: options.wkt_field.clone(),
        settings: options.settings,
        progress: options.progress.clone(),
    };
    let mut layer = load_layer_with(&spec, &source_options)?;
    layer.info.source = file_name.to_owned();
    if let Some(keep) = &options.keep {
        keep_properties(&mut layer, keep)?;
    }
    Ok(Prepared {
        layer,
        source_sha256,
    })
}

fn check_options(options: &ImportOptions) -> Result<(), ImportError> {
    let xy = options.x_field.is_some() || options.y_field.is_some();
    if xy && options.wkt_field.is_some() {
        return Err(ImportError::Option {
            message: "set either x_field and y_field or wkt_field, not both".to_owned(),
        });
    }
    Ok(())
}

/// Returns the file GDAL reads: the upload itself, or the one vector file
/// of a zip archive once unpacked.
fn source_path(upload: &Path, file_name: &str, work_dir: &Path) -> Result<PathBuf, ImportError> {
    if !has_extension(Path::new(file_name), "zip") {
        return Ok(upload.to_owned());
    }
    let unpacked = archive::unpack(upload, &work_dir.join("unpacked"))?;
    let vector_files: Vec<&PathBuf> = unpacked.iter().filter(|p| is_vector_file(p)).collect();
    match vector_files.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ImportError::ArchiveEmpty {
            file: file_name.to_owned(),
        }),
        many => Err(ImportError::ArchiveLayers {
            file: file_name.to_owned(),
            found: many.len(),
            names: many
                .iter()
                .map(|p| p.file_name().unwrap_or_default().to_string_lossy())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

fn is_vector_file(path: &Path) -> bool {
    ["shp", "geojson", "json", "gpkg", "csv"]
        .iter()
        .any(|extension| has_extension(path, extension))
}

/// Returns the layer to read: the `table` option, or `None` for the only
/// layer of a file. A file with several layers and no `table` is rejected
/// with the list of its layers.
fn choose_table(path: &Path, options: &ImportOptions) -> Result<Option<String>, ImportError> {
    if options.table.is_some() || options.x_field.is_some() || options.wkt_field.is_some() {
        return Ok(options.table.clone());
    }
    // A file GDAL cannot open here, such as a CSV named .txt, gets its
    // error from the reader, which opens it with the format's options.
    let Ok(tables) = layer_names(path) else {
        return Ok(None);
    };
    if tables.len() > 1 {
        return Err(ImportError::AmbiguousTable {
            path: path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            tables: tables.join(", "),
        });
    }
    Ok(None)
}

fn layer_spec(name: &str, path: &Path, options: &ImportOptions) -> LayerSpec {
    LayerSpec {
        name: name.to_owned(),
        kind: options.kind,
        path: path.to_owned(),
        id_field: options.id_field.clone(),
        name_field: options.name_field.clone(),
        filter: options.filter.clone(),
        crs: options.crs.clone(),
        encoding: options.encoding.clone(),
        timezone: options
            .timezone
            .clone()
            .unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned()),
        attribution: options.attribution.clone(),
        licence: options.licence.clone(),
        start_field: options.start_field.clone(),
        end_field: options.end_field.clone(),
        datetime_format: options.datetime_format.clone(),
        x_field: options.x_field.clone(),
        y_field: options.y_field.clone(),
    }
}

/// Removes every property not in `keep`, after checking that each name in
/// `keep` is a property of at least one feature.
fn keep_properties(layer: &mut Layer, keep: &[String]) -> Result<(), ImportError> {
    let mut available: Vec<&str> = layer
        .features
        .iter()
        .flat_map(|f| f.properties.keys().map(String::as_str))
        .collect();
    available.sort_unstable();
    available.dedup();
    if !layer.features.is_empty()
        && let Some(unknown) = keep.iter().find(|k| !available.contains(&k.as_str()))
    {
        return Err(ImportError::UnknownProperty {
            property: unknown.clone(),
            available: available.join(", "),
        });
    }
    for feature in &mut layer.features {
        feature.properties.retain(|key, _| keep.contains(key));
    }
    Ok(())
}

/// The actions to take with a prepared layer.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Write nothing, only report.
    pub dry_run: bool,
    /// Activate the new version once stored.
    pub activate: bool,
    /// Recorded as the author of the activation.
    pub by: String,
}

/// Compares the prepared layer with the active version and, unless
/// `commit.dry_run`, stores it as a new version and activates it on request.
/// The report's diff is the one stored with the version.
pub async fn commit(
    store: &Store,
    prepared: &Prepared,
    commit: &Commit,
) -> Result<ImportReport, ImportError> {
    let layer = &prepared.layer;
    if commit.dry_run {
        let diff = store.diff_with_active(layer).await?;
        let mut report = new_report(prepared, commit, diff);
        report.record.same_file_as = store
            .latest_version_with_sha256(&layer.info.name, &prepared.source_sha256)
            .await?;
        return Ok(report);
    }
    let stored = store
        .put_version(layer, Origin::Import, &prepared.source_sha256, &commit.by)
        .await?;
    let mut report = new_report(prepared, commit, stored.report.diff);
    report.record.version = Some(stored.version);
    report.record.same_file_as = stored.report.same_file_as;
    if commit.activate {
        store
            .activate(&layer.info.name, stored.version, &commit.by)
            .await?;
        report.activated = true;
    }
    Ok(report)
}

/// Returns the report of a dry run where no store exists yet, so no
/// version is active and the report has no diff.
pub fn report_without_store(prepared: &Prepared, commit: &Commit) -> ImportReport {
    new_report(prepared, commit, None)
}

fn new_report(prepared: &Prepared, commit: &Commit, diff: Option<Diff>) -> ImportReport {
    let layer = &prepared.layer;
    let load = &layer.report;
    let record = ImportRecord {
        layer: layer.info.name.clone(),
        kind: layer.info.kind,
        version: None,
        imported_by: Some(commit.by.clone()),
        source_file: layer.info.source.clone(),
        source_sha256: prepared.source_sha256.clone(),
        source_crs: layer.info.source_crs.clone(),
        read_count: load.read_count,
        filtered_count: load.filtered_count,
        flattened_count: load.flattened_count,
        feature_count: layer.features.len(),
        bbox_wgs84: layer.info.bbox,
        invalid: load.invalid.clone(),
        rejected: load.rejected.clone(),
        synthetic_ids: load.synthetic_ids.clone(),
        undecodable: load.undecodable.clone(),
        diff,
        same_file_as: None,
    };
    ImportReport {
        record,
        dry_run: commit.dry_run,
        activated: false,
    }
}
