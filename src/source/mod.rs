//! Reading layer sources through GDAL and PROJ into validated layers.
//!
//! [`load_layer`] opens a file (GeoJSON, Shapefile, GeoPackage, CSV with
//! coordinate columns), applies the manifest's `where` filter, resolves the
//! source CRS, checks and repairs each geometry with GEOS in that CRS,
//! reprojects it to WGS84 with PROJ and settles feature ids. A file whose
//! finite coordinates do not fit its CRS is rejected as a whole. Each
//! geometry problem is listed in the layer's load report with what was done
//! about it, and a feature that cannot be used is left out and listed too.

mod checks;
mod cpl;
pub mod crs;
mod error;
mod fields;
mod filter;
mod geometry;
mod ids;
mod lockdown;
mod open;
mod options;
mod read;
mod srs;

use gdal::vector::LayerAccess;

pub use error::SourceError;
pub use lockdown::lock_down_gdal;
pub use open::layer_names;
pub use options::{ReadProgress, SettingSource, SourceOptions};

use crate::layer::{Layer, LayerInfo, LoadReport};
use crate::manifest::LayerSpec;
use read::Reader;
use srs::SourceCrs;

/// Reads the source file of `spec` into a layer in WGS84.
///
/// # Errors
/// A [`SourceError`] naming the file when it cannot be opened, lacks a
/// column the spec names, has no known CRS, or contains a coordinate outside
/// the valid range or the area of use of its CRS.
pub fn load_layer(spec: &LayerSpec) -> Result<Layer, SourceError> {
    load_layer_with(spec, &SourceOptions::default())
}

/// Reads the source file of `spec` as [`load_layer`] does, with the options
/// that imports add: the layer (table) of a multi-layer source, a CSV
/// column of WKT geometries, how messages name the settings and a
/// progress counter.
pub fn load_layer_with(spec: &LayerSpec, options: &SourceOptions) -> Result<Layer, SourceError> {
    let path = spec.path.display().to_string();
    let dataset = open::open(spec, options, &path)?;
    let mut source = open::select_layer(&dataset, options.table.as_deref(), &path)?;
    let driver = dataset.driver().short_name();
    let counted = match spec.filter {
        Some(_) => Some(count_features(&mut source, &driver, &path)?),
        None => None,
    };
    let empty = match counted {
        Some(count) => count == 0,
        None => read::next_feature(&mut source.features(), &path, 0)?.is_none(),
    };
    if empty {
        return Err(SourceError::NoFeatures { path });
    }
    let mut report = LoadReport {
        read_count: counted.unwrap_or(0),
        ..LoadReport::default()
    };
    if let Some(filter) = &spec.filter {
        open::apply_filter(&mut source, &driver, filter, &path, options.settings)?;
    }
    let progress = options.progress.as_deref();
    if let Some(progress) = progress {
        set_progress_total(progress, &source);
    }

    let crs = SourceCrs::resolve(
        &path,
        &driver,
        spec.crs.as_deref(),
        options.settings,
        source.spatial_ref(),
    )?;
    let transformer = if crs.is_wgs84() {
        None
    } else {
        let built = crs.to_wgs84().map_err(|source| SourceError::Crs {
            path: path.clone(),
            source,
        })?;
        Some(built)
    };

    let wkt_field = options.wkt_field.as_deref();
    let reader = Reader::new(spec, &path, &crs, transformer, &source, &driver, wkt_field)?;
    let features = reader.read(&mut source, &mut report, progress)?;
    settle_counts(&mut report, counted, features.len(), &path)?;
    check_filter_leaves_some(spec, &path, &features, &report, options.settings)?;
    check_not_all_rejected(spec, &path, &features, &report, options.settings)?;
    let layer = Layer::new(layer_info(spec, &crs), features, report);
    log_report(&layer);
    Ok(layer)
}

/// Counts the features of `source`, read by GDAL driver `driver`, before
/// the filter is applied. Without a filter the read itself counts them.
///
/// The driver's count is used where it is the number of features. Elsewhere
/// the features are counted in a first read of the layer. The OSM driver
/// cannot count without reading the file (`OGR_L_GetFeatureCount` returns
/// -1), and the GeoPackage driver returns the `feature_count` cached in
/// `gpkg_ogr_contents`, which software that edits the table without
/// updating it leaves wrong. The first read costs about what `ogrinfo -sql
/// "SELECT COUNT(*) FROM points"` takes, 0.2 s for the 685 kB Helsinki
/// extract in tests/fixtures on a 2-core machine.
///
/// # Errors
/// [`SourceError::ReadFailed`] when GDAL fails to read a feature.
fn count_features(
    source: &mut gdal::vector::Layer<'_>,
    driver: &str,
    path: &str,
) -> Result<usize, SourceError> {
    // A count of -1 arrives as u64::MAX through the gdal crate.
    let driver_count = i64::try_from(source.feature_count())
        .ok()
        .and_then(|count| usize::try_from(count).ok());
    if let Some(count) = driver_count
        && driver != "GPKG"
    {
        return Ok(count);
    }
    let mut features = source.features();
    let mut count = 0;
    while read::next_feature(&mut features, path, count)?.is_some() {
        count += 1;
    }
    Ok(count)
}

/// Sets the number of features the read will take, when the driver counts
/// them after the filter without reading the file. The OSM driver does not.
fn set_progress_total(progress: &ReadProgress, source: &gdal::vector::Layer<'_>) {
    if let Ok(total) = u64::try_from(i64::try_from(source.feature_count()).unwrap_or(-1)) {
        progress.set_total(total);
    }
}

/// Sets the report's `read_count` to the features read when there is no
/// filter, because no count came before the read. With a filter it sets
/// `filtered_count` instead. Every feature read from the filtered layer is
/// either kept or rejected, so the rest of the count was left out by the
/// filter.
fn settle_counts(
    report: &mut LoadReport,
    counted: Option<usize>,
    kept: usize,
    path: &str,
) -> Result<(), SourceError> {
    let read = kept + report.rejected.len();
    let Some(count) = counted else {
        if read == 0 {
            return Err(SourceError::NoFeatures {
                path: path.to_owned(),
            });
        }
        report.read_count = read;
        return Ok(());
    };
    report.filtered_count = count.saturating_sub(read);
    Ok(())
}

/// Rejects a `where` filter that leaves out every feature of a source
/// that has some: a version stored without features would match no request.
fn check_filter_leaves_some(
    spec: &LayerSpec,
    path: &str,
    features: &[crate::layer::Feature],
    report: &LoadReport,
    settings: SettingSource,
) -> Result<(), SourceError> {
    let Some(filter) = &spec.filter else {
        return Ok(());
    };
    if !features.is_empty() || !report.rejected.is_empty() {
        return Ok(());
    }
    Err(SourceError::FilterLeavesNone {
        path: path.to_owned(),
        filter: filter.clone(),
        count: report.read_count,
        settings,
    })
}

/// Rejects a layer left empty although its source had features: a layer of
/// the wrong `kind` would otherwise load and never match a request.
fn check_not_all_rejected(
    spec: &LayerSpec,
    path: &str,
    features: &[crate::layer::Feature],
    report: &LoadReport,
    settings: SettingSource,
) -> Result<(), SourceError> {
    let Some(first) = report.rejected.first() else {
        return Ok(());
    };
    if !features.is_empty() {
        return Ok(());
    }
    Err(SourceError::AllRejected {
        path: path.to_owned(),
        layer: spec.name.clone(),
        count: report.rejected.len(),
        fid: first.fid,
        id: first.id.clone(),
        reason: first.reason.clone(),
        settings,
    })
}

fn layer_info(spec: &LayerSpec, crs: &SourceCrs) -> LayerInfo {
    let file_name = spec.path.file_name().unwrap_or(spec.path.as_os_str());
    LayerInfo {
        name: spec.name.clone(),
        kind: spec.kind,
        source: file_name.to_string_lossy().into_owned(),
        source_crs: crs.label.clone(),
        feature_count: 0,
        bbox: None,
        invalid_count: 0,
        synthetic_id_count: 0,
        attribution: spec.attribution.clone(),
        licence: spec.licence.clone(),
    }
}

/// Logs one warning per layer with what loading changed or left out, and
/// each case at debug level. Source values are not logged.
fn log_report(layer: &Layer) {
    let name = &layer.info.name;
    let report = &layer.report;
    let changed = report.invalid.len()
        + report.synthetic_ids.len()
        + report.rejected.len()
        + report.flattened_count;
    if changed > 0 {
        tracing::warn!(
            layer = %name,
            invalid = report.invalid.len(),
            synthetic_ids = report.synthetic_ids.len(),
            rejected = report.rejected.len(),
            flattened = report.flattened_count,
            "layer has repaired geometries, synthetic ids, rejected features or dropped Z or M values"
        );
    }
    for invalid in &report.invalid {
        tracing::debug!(
            layer = %name,
            id = %invalid.id,
            reason = %invalid.reason,
            action = %invalid.action,
            "geometry problem"
        );
    }
    if !report.undecodable.is_empty() {
        tracing::warn!(
            layer = %name,
            features = report.undecodable.len(),
            "layer has text that did not decode: set `encoding` or convert the file to UTF-8"
        );
    }
    for synthetic in &report.synthetic_ids {
        tracing::debug!(layer = %name, id = %synthetic.id, reason = %synthetic.reason, "synthetic id");
    }
    for rejected in &report.rejected {
        tracing::debug!(
            layer = %name,
            id = %rejected.id,
            fid = rejected.fid,
            reason = %rejected.reason,
            "feature rejected"
        );
    }
}
