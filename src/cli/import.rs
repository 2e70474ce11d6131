//! `repere import FILE --layer NAME --kind KIND`: reads a layer file,
//! prints the import report as JSON and stores the layer as a new version.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::CliError;
use crate::config::Config;
use crate::import::{self, Commit, ImportOptions};
use crate::layer::LayerKind;
use crate::manifest::validate_layer_name;
use crate::source::{ReadProgress, SettingSource};
use crate::store::{DEFAULT_FILE_NAME, Store};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The layer file: GeoJSON, zipped Shapefile (.zip), GeoPackage, CSV or
    /// OSM PBF.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Name of the layer to create or update.
    #[arg(long, value_name = "NAME")]
    pub layer: String,
    /// Layer kind, which decides how context queries read it: district, asset or work.
    #[arg(long, value_parser = parse_kind)]
    pub kind: LayerKind,
    /// Attribute holding each feature's id; `fid` reads the GDAL FID unless a column has that name.
    #[arg(long, value_name = "FIELD")]
    pub id_field: String,
    /// Attribute holding each feature's display name.
    #[arg(long, value_name = "FIELD")]
    pub name_field: String,
    /// CRS of the coordinates, overriding the file's, e.g. EPSG:32188.
    #[arg(long)]
    pub crs: Option<String>,
    /// Attribute encoding of a Shapefile without .cpg, e.g. CP1252.
    #[arg(long)]
    pub encoding: Option<String>,
    /// Attribute filter in a subset of OGR SQL (comparisons, LIKE, ILIKE, IN,
    /// BETWEEN, IS NULL, AND, OR, NOT); OSM tags without a column are in other_tags.
    #[arg(long = "where", value_name = "FILTER")]
    pub filter: Option<String>,
    /// Properties to keep, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    pub keep: Option<Vec<String>>,
    #[arg(long)]
    pub attribution: Option<String>,
    #[arg(long)]
    pub licence: Option<String>,
    /// Layer of a multi-layer file: a GeoPackage table, or points, lines,
    /// multipolygons… in an OSM PBF file.
    #[arg(long)]
    pub table: Option<String>,
    /// CSV: longitude (or easting) column.
    #[arg(long, value_name = "COLUMN")]
    pub x_field: Option<String>,
    /// CSV: latitude (or northing) column.
    #[arg(long, value_name = "COLUMN")]
    pub y_field: Option<String>,
    /// CSV: column of WKT geometries, instead of --x-field and --y-field.
    #[arg(long, value_name = "COLUMN")]
    pub wkt_field: Option<String>,
    /// Work layers: IANA time zone of dates without an offset.
    #[arg(long)]
    pub timezone: Option<String>,
    /// Work layers: attribute holding the start of activity.
    #[arg(long, value_name = "FIELD")]
    pub start_field: Option<String>,
    /// Work layers: attribute holding the end of activity.
    #[arg(long, value_name = "FIELD")]
    pub end_field: Option<String>,
    /// Work layers: chrono strftime pattern of the start and end values.
    #[arg(long, value_name = "PATTERN")]
    pub datetime_format: Option<String>,
    /// Folder of the GeoPackage layer store [default: the config's state_dir].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// PostgreSQL URL of a PostGIS layer store [default: DATABASE_URL].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Read and report only; write nothing to the store.
    #[arg(long)]
    pub dry_run: bool,
    /// Activate the new version once stored.
    #[arg(long, conflicts_with = "dry_run")]
    pub activate: bool,
}

fn parse_kind(value: &str) -> Result<LayerKind, String> {
    match value {
        "district" => Ok(LayerKind::District),
        "asset" => Ok(LayerKind::Asset),
        "work" => Ok(LayerKind::Work),
        other => Err(format!("{other:?} is not district, asset or work")),
    }
}

impl ImportArgs {
    fn options(&self, progress: Arc<ReadProgress>) -> ImportOptions {
        ImportOptions {
            kind: self.kind,
            id_field: self.id_field.clone(),
            name_field: self.name_field.clone(),
            crs: self.crs.clone(),
            encoding: self.encoding.clone(),
            filter: self.filter.clone(),
            keep: self.keep.clone(),
            attribution: self.attribution.clone(),
            licence: self.licence.clone(),
            table: self.table.clone(),
            x_field: self.x_field.clone(),
            y_field: self.y_field.clone(),
            wkt_field: self.wkt_field.clone(),
            timezone: self.timezone.clone(),
            start_field: self.start_field.clone(),
            end_field: self.end_field.clone(),
            datetime_format: self.datetime_format.clone(),
            settings: SettingSource::CliFlags,
            progress: Some(progress),
        }
    }
}

pub fn run(args: &ImportArgs, config: &Config) -> Result<(), CliError> {
    let bar = progress_bar();
    let imported = import_file(args, config, &bar);
    // Cleared on failure too, so that the error is not printed after a
    // half-drawn progress line.
    bar.finish_and_clear();
    print_json(&imported?)
}

/// Reads, compares and stores the file, showing progress on `bar`.
fn import_file(
    args: &ImportArgs,
    config: &Config,
    bar: &ProgressBar,
) -> Result<import::ImportReport, CliError> {
    validate_layer_name(&args.layer)
        .map_err(|message| CliError::Usage(format!("--layer: {message}")))?;
    bar.set_message(format!("reading {}", args.file.display()));
    let work_dir = import::new_work_dir().map_err(|e| CliError::Output {
        path: "a temporary folder".to_owned(),
        message: e.to_string(),
    })?;
    let progress = Arc::new(ReadProgress::default());
    let options = args.options(Arc::clone(&progress));
    let prepared = show_read_progress(bar, &progress, || {
        import::prepare(
            &args.layer,
            &args.file,
            &file_name(&args.file),
            &options,
            work_dir.path(),
        )
    })
    .map_err(|e| with_user_paths(e, &args.file, work_dir.path()))?;
    set_style(bar, SPINNER_TEMPLATE);
    bar.set_message(format!(
        "comparing and storing {} features",
        prepared.layer.features.len()
    ));
    store_layer(args, config, &prepared)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Names the files of an unpacked archive by their entry names, after the
/// archive's own path, instead of their temporary copies in `work_dir`.
fn with_user_paths(error: import::ImportError, file: &Path, work_dir: &Path) -> CliError {
    let message = error.to_string();
    let folder = format!("{}/", work_dir.join("unpacked").display());
    if !message.contains(&folder) {
        return error.into();
    }
    CliError::Input {
        path: file.display().to_string(),
        message: message.replace(&folder, ""),
    }
}

fn store_layer(
    args: &ImportArgs,
    config: &Config,
    prepared: &import::Prepared,
) -> Result<import::ImportReport, CliError> {
    let state_dir = args.state_dir.as_ref().unwrap_or(&config.state_dir);
    let database_url = args.database_url.as_ref().or(config.database_url.as_ref());
    let commit = Commit {
        dry_run: args.dry_run,
        activate: args.activate,
        by: cli_user(),
    };
    // A dry run creates no store: without one, no version is active.
    let gpkg = state_dir.join(DEFAULT_FILE_NAME);
    if args.dry_run && database_url.is_none() && !gpkg.exists() {
        return Ok(import::report_without_store(prepared, &commit));
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Output {
        path: "the async runtime".to_owned(),
        message: e.to_string(),
    })?;
    runtime.block_on(async {
        let store = Store::open(database_url.map(String::as_str), state_dir)
            .await
            .map_err(import::ImportError::from)?;
        Ok(import::commit(&store, prepared, &commit).await?)
    })
}

/// Returns the author recorded for a command-line import: `cli:` and the
/// login name from `LOGNAME` or `USER`, else `cli:uid-` and the user id.
fn cli_user() -> String {
    let name = ["LOGNAME", "USER"]
        .iter()
        .filter_map(|variable| std::env::var(variable).ok())
        .find(|name| !name.is_empty());
    match name {
        Some(name) => format!("cli:{name}"),
        // SAFETY: getuid has no preconditions and cannot fail.
        None => format!("cli:uid-{}", unsafe { libc::getuid() }),
    }
}

/// The progress line while comparing and storing.
const SPINNER_TEMPLATE: &str = "{spinner} {elapsed} {msg}";

/// The progress line while reading, from the first feature read until the
/// feature count is known.
const COUNTER_TEMPLATE: &str = "{spinner} {elapsed} {msg}: {human_pos} features read ({rate})";

/// The progress line while reading a file whose features GDAL can count.
const BAR_TEMPLATE: &str =
    "{elapsed} [{wide_bar}] {human_pos}/{human_len} features read ({rate}, {eta} left)";

/// How often the reading progress is redrawn.
const REFRESH: Duration = Duration::from_millis(100);

/// Creates a spinner on stderr when it is a terminal, else a hidden bar.
/// It shows only its message until the read counts a feature.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    set_style(&bar, SPINNER_TEMPLATE);
    bar.enable_steady_tick(REFRESH);
    bar
}

/// Sets `template` as the style of `bar`, with `{rate}` the features read
/// per second, rounded.
fn set_style(bar: &ProgressBar, template: &str) {
    let Ok(style) = ProgressStyle::with_template(template) else {
        return;
    };
    let rate = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
        let _ = write!(out, "{:.0}/s", state.per_sec());
    };
    bar.set_style(style.with_key("rate", rate));
}

/// Runs `read` on this thread while another thread copies `progress` to
/// `bar`, which shows the features read once there are some, and becomes a
/// bar once the feature count is known.
fn show_read_progress<T>(
    bar: &ProgressBar,
    progress: &ReadProgress,
    read: impl FnOnce() -> T,
) -> T {
    if bar.is_hidden() {
        return read();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut line = ProgressLine::Message;
            while !done.load(Ordering::Relaxed) {
                line = update_bar(bar, progress, line);
                std::thread::sleep(REFRESH);
            }
        });
        let result = read();
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// The kind of progress line drawn while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgressLine {
    /// The message alone, while GDAL opens the file and nothing is counted.
    Message,
    /// The features read, with [`COUNTER_TEMPLATE`].
    Counter,
    /// The features read out of the count, with [`BAR_TEMPLATE`].
    Bar,
}

/// Copies `progress` to `bar`, changing its style when `progress` has more
/// than `line` draws, and returns the kind of line drawn now.
fn update_bar(bar: &ProgressBar, progress: &ReadProgress, line: ProgressLine) -> ProgressLine {
    let read = progress.read();
    let mut next = line;
    if let Some(total) = progress.total()
        && bar.length() != Some(total)
    {
        bar.set_length(total);
        next = ProgressLine::Bar;
    } else if line == ProgressLine::Message && read > 0 {
        next = ProgressLine::Counter;
    }
    if next != line {
        let template = if next == ProgressLine::Bar {
            BAR_TEMPLATE
        } else {
            COUNTER_TEMPLATE
        };
        set_style(bar, template);
    }
    bar.set_position(read);
    next
}

fn print_json(report: &import::ImportReport) -> Result<(), CliError> {
    let output_error = |message: String| CliError::Output {
        path: "stdout".to_owned(),
        message,
    };
    let mut text = serde_json::to_string_pretty(report).map_err(|e| output_error(e.to_string()))?;
    text.push('\n');
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| output_error(e.to_string()))
}
