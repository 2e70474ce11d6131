//! Opening a source file through GDAL with the options its format needs.

use std::path::Path;

use gdal::vector::{Layer, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use super::cpl;
use super::error::SourceError;
use super::fields::{Columns, IdSource};
use super::filter::{self, Dialect};
use super::lockdown::{self, ALLOWED_DRIVERS, SUPPORTED_FORMATS};
use super::options::{SettingSource, SourceOptions};
use crate::manifest::LayerSpec;

/// The source formats that need options to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Shapefile,
    /// Comma-separated values with coordinate columns, including GTFS
    /// `stops.txt`.
    Csv,
    /// Any other format GDAL recognises: GeoJSON, GeoPackage…
    Other,
}

fn format_of(spec: &LayerSpec, options: &SourceOptions) -> Format {
    let extension = spec
        .path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("shp" | "dbf") => Format::Shapefile,
        Some("csv" | "tsv" | "txt") => Format::Csv,
        _ if spec.x_field.is_some() || options.wkt_field.is_some() => Format::Csv,
        _ => Format::Other,
    }
}

/// Opens the source of `spec` read-only, as a vector dataset, with one of
/// the [`ALLOWED_DRIVERS`] and without network access.
///
/// # Errors
/// [`SourceError::Open`] when GDAL cannot open it, when no allowed driver
/// reads it or when opening it needs a URL, and the option errors
/// [`SourceError::EncodingNotApplicable`] and [`SourceError::CsvColumns`].
pub(super) fn open(
    spec: &LayerSpec,
    source_options: &SourceOptions,
    path: &str,
) -> Result<Dataset, SourceError> {
    lockdown::lock_down_gdal();
    lockdown::check_local_path(&spec.path, path)?;
    let format = format_of(spec, source_options);
    let options = open_options(spec, source_options, format, path)?;
    let option_refs: Vec<&str> = options.iter().map(String::as_str).collect();
    let target = gdal_path(&spec.path, format);
    let dataset_options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        allowed_drivers: Some(&ALLOWED_DRIVERS),
        open_options: Some(&option_refs),
        ..Default::default()
    };
    if !spec.path.is_file() {
        return Err(SourceError::Open {
            path: path.to_owned(),
            message: "no such file; `path` in the manifest is relative to the manifest".to_owned(),
        });
    }
    open_locked_down(Path::new(&target), dataset_options, path)
}

/// Opens `target` and rejects it when GDAL tried to fetch a URL meanwhile,
/// such as the `href` of a GeoJSON `crs` link. The CRS such a link names
/// stays unknown, so reading the coordinates in GDAL's fallback CRS could
/// misplace every feature.
fn open_locked_down(
    target: &Path,
    options: DatasetOptions<'_>,
    path: &str,
) -> Result<Dataset, SourceError> {
    lockdown::take_rejected_urls();
    let (opened, messages) = cpl::capture(|| Dataset::open_ex(target, options));
    let rejected_urls = lockdown::take_rejected_urls();
    if let Some(url) = rejected_urls.first() {
        return Err(SourceError::Open {
            path: path.to_owned(),
            message: format!(
                "it refers to the URL {url}, and repère reads no URL: remove the reference \
                 (for a GeoJSON `crs` link, remove the `crs` member and give the CRS in the \
                 `crs` setting)"
            ),
        });
    }
    match opened {
        Ok(dataset) => {
            cpl::log_captured(&messages);
            Ok(dataset)
        }
        Err(_) => Err(SourceError::Open {
            path: path.to_owned(),
            message: cpl::join(&messages).unwrap_or_else(|| {
                format!("it is not in a supported format; repère reads {SUPPORTED_FORMATS}")
            }),
        }),
    }
}

/// Returns the name GDAL opens. The CSV driver recognises `.csv` and `.tsv`
/// only, so other names such as GTFS `stops.txt` get the `CSV:` prefix.
fn gdal_path(path: &Path, format: Format) -> String {
    let text = path.display().to_string();
    let is_csv_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("tsv"));
    if format == Format::Csv && !is_csv_name {
        format!("CSV:{text}")
    } else {
        text
    }
}

fn open_options(
    spec: &LayerSpec,
    source_options: &SourceOptions,
    format: Format,
    path: &str,
) -> Result<Vec<String>, SourceError> {
    let mut options = Vec::new();
    if let Some(encoding) = &spec.encoding {
        if format != Format::Shapefile {
            return Err(SourceError::EncodingNotApplicable {
                path: path.to_owned(),
                encoding: encoding.clone(),
                settings: source_options.settings,
            });
        }
        check_encoding(encoding, source_options, path)?;
        // Overrides the .cpg file and the DBF language byte.
        options.push(format!("ENCODING={encoding}"));
    }
    if format == Format::Csv
        && let Some(wkt) = &source_options.wkt_field
    {
        options.push(format!("GEOM_POSSIBLE_NAMES={wkt}"));
        // The column is kept so that the reader can check it exists and
        // distinguish an empty cell from text GDAL cannot parse. The reader
        // then leaves it out of the properties.
        options.push("KEEP_GEOM_COLUMNS=YES".to_owned());
    } else if format == Format::Csv {
        let (Some(x), Some(y)) = (&spec.x_field, &spec.y_field) else {
            return Err(SourceError::CsvColumns {
                path: path.to_owned(),
                settings: source_options.settings,
            });
        };
        options.push(format!("X_POSSIBLE_NAMES={x}"));
        options.push(format!("Y_POSSIBLE_NAMES={y}"));
        options.push("KEEP_GEOM_COLUMNS=YES".to_owned());
    }
    Ok(options)
}

/// Rejects an encoding that iconv cannot convert to UTF-8. GDAL built with
/// iconv, as Debian's GDAL 3.6 is, recodes Shapefile text with
/// `iconv_open("UTF-8", encoding)` and keeps the bytes undecoded when that
/// fails. An empty name is valid because GDAL reads it as "no recoding".
fn check_encoding(
    encoding: &str,
    source_options: &SourceOptions,
    path: &str,
) -> Result<(), SourceError> {
    let unknown = || SourceError::UnknownEncoding {
        path: path.to_owned(),
        encoding: encoding.to_owned(),
        settings: source_options.settings,
    };
    if encoding.is_empty() {
        return Ok(());
    }
    let name = std::ffi::CString::new(encoding).map_err(|_| unknown())?;
    // SAFETY: both names are NUL-terminated, and a descriptor that opened
    // is closed at once.
    let known = unsafe {
        let descriptor = libc::iconv_open(c"UTF-8".as_ptr(), name.as_ptr());
        let failed = descriptor as isize == -1;
        if !failed {
            libc::iconv_close(descriptor);
        }
        !failed
    };
    if known { Ok(()) } else { Err(unknown()) }
}

/// Returns layer `table` of `dataset`, or its first layer when `table` is
/// `None`.
pub(super) fn select_layer<'a>(
    dataset: &'a Dataset,
    table: Option<&str>,
    path: &str,
) -> Result<Layer<'a>, SourceError> {
    if dataset.layer_count() == 0 {
        return Err(SourceError::NoLayer {
            path: path.to_owned(),
        });
    }
    let Some(table) = table else {
        return dataset.layer(0).map_err(|e| SourceError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        });
    };
    dataset
        .layer_by_name(table)
        .map_err(|_| SourceError::NoSuchTable {
            path: path.to_owned(),
            table: table.to_owned(),
            available: dataset_layer_names(dataset).join(", "),
        })
}

fn dataset_layer_names(dataset: &Dataset) -> Vec<String> {
    dataset.layers().map(|layer| layer.name()).collect()
}

/// Lists the layers (tables) of the vector file at `path`, in file order,
/// opening it as [`open`] does.
pub fn layer_names(path: &Path) -> Result<Vec<String>, SourceError> {
    let path_text = path.display().to_string();
    lockdown::lock_down_gdal();
    lockdown::check_local_path(path, &path_text)?;
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        allowed_drivers: Some(&ALLOWED_DRIVERS),
        ..Default::default()
    };
    let dataset = open_locked_down(path, options, &path_text)?;
    Ok(dataset_layer_names(&dataset))
}

/// Applies the `where` filter to `layer`, read by GDAL driver `driver`,
/// and returns how many features it leaves out. The filter is parsed with
/// the grammar of [`filter`], so that the GeoPackage driver's SQLite never
/// sees the text as written, and its field names must be columns of the
/// layer or its feature id.
///
/// # Errors
/// [`SourceError::Filter`] when the filter does not fit the grammar or GDAL
/// rejects it, and [`SourceError::MissingField`] for a field the layer
/// lacks.
pub(super) fn apply_filter(
    layer: &mut Layer<'_>,
    driver: &str,
    text: &str,
    path: &str,
    settings: SettingSource,
) -> Result<usize, SourceError> {
    let invalid = |message: String| SourceError::Filter {
        path: path.to_owned(),
        filter: text.to_owned(),
        message,
        settings,
    };
    let mut expr = filter::parse(text).map_err(|e| invalid(e.to_string()))?;
    let dialect = if driver == "GPKG" {
        Dialect::Sqlite
    } else {
        Dialect::OgrSql
    };
    let columns = Columns::of_layer(layer, driver);
    if let Some(missing) = expr
        .fields()
        .into_iter()
        .find(|f| columns.id_source(f).is_none())
    {
        return Err(SourceError::MissingField {
            path: path.to_owned(),
            setting: "where",
            settings,
            field: missing.to_owned(),
            layer: layer.name(),
            available: columns.describe(),
        });
    }
    expr.rename_fields(&|name| match columns.id_source(name) {
        Some(IdSource::Column(index)) => columns.name(index).to_owned(),
        // OGR SQL names the feature id `FID`, whatever the driver calls it.
        _ if dialect == Dialect::OgrSql => "FID".to_owned(),
        // SQLite names the FID only by its column name (`OBJECTID` in
        // GeoPackages from ArcGIS). It reads an unknown double-quoted name
        // as a string, so `"FID" > 5` would be true for every row.
        _ => columns.fid_column().unwrap_or(name).to_owned(),
    });
    let unquotable = expr
        .fields()
        .into_iter()
        .find(|name| name.contains('"') || name.ends_with('\\'));
    if let Some(name) = unquotable {
        // OGR SQL and SQLite escape quotes in names differently, so such a
        // name could end the quoted name early in one of them.
        return Err(invalid(format!(
            "field {name:?} contains a double quote or ends with a backslash, which a \
             filter cannot quote safely: rename the column, or import without `where`"
        )));
    }
    let rebuilt = expr.render(dialect);

    let before = layer.feature_count();
    let (applied, messages) = cpl::capture(|| layer.set_attribute_filter(&rebuilt));
    applied.map_err(|e| invalid(cpl::join(&messages).unwrap_or_else(|| e.to_string())))?;
    let after = layer.feature_count();
    Ok(usize::try_from(before.saturating_sub(after)).unwrap_or(usize::MAX))
}
