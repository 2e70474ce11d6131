//! `repere enrich`: streams a CSV file and appends the context of each row's
//! point, row by row, in constant memory.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Args;
use csv::{ByteRecord, StringRecord};
use indicatif::{ProgressBar, ProgressStyle};

mod header;
mod output;

use super::columns;
use super::{CliError, load_catalog};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::context::{self, ContextQuery, ContextRequest};
use header::{Columns, check_no_clash, find_columns};
use output::Output;

/// How many line numbers of skipped rows the summary lists.
const LISTED_LINES: usize = 5;

#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// Column holding the latitude, WGS84 degrees.
    #[arg(long, value_name = "NAME")]
    pub lat_column: String,
    /// Column holding the longitude, WGS84 degrees.
    #[arg(long, value_name = "NAME")]
    pub lon_column: String,
    /// Column holding the instant works must be active at, RFC 3339 with an
    /// offset [default: the time the command started].
    #[arg(long, value_name = "NAME")]
    pub at_column: Option<String>,
    /// Layers to add, comma-separated [default: all, in manifest order].
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<String>>,
    /// Radius of the asset and work search, metres [default: 100].
    #[arg(long, value_name = "M")]
    pub radius_m: Option<f64>,
    /// Assets per asset layer [default: 3].
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Input CSV file with a header row; `-` reads stdin.
    #[arg(value_name = "INPUT.csv", default_value = "-")]
    pub input: PathBuf,
    /// Output CSV file [default: stdout].
    #[arg(short, long, value_name = "OUTPUT.csv")]
    pub output: Option<PathBuf>,
}

/// Counts reported on stderr when the run ends.
#[derive(Default)]
struct Summary {
    read: u64,
    enriched: u64,
    without_point: u64,
    without_point_lines: Vec<u64>,
    invalid_time: u64,
    invalid_time_lines: Vec<u64>,
    not_utf8: u64,
    not_utf8_lines: Vec<u64>,
    other_length: u64,
    other_length_lines: Vec<u64>,
}

/// Checks the input header first, so that a wrong column name fails before
/// the layers load.
pub fn run(args: &EnrichArgs, config: &Config) -> Result<(), CliError> {
    let input = Input::open(args)?;
    let catalog = load_catalog(&config.manifest, args.layers.as_deref())?;
    let started = Utc::now();
    let (template, positions) = request_template(args, &catalog, started)?;

    let appended = columns::headers(&catalog, &positions);
    check_no_clash(&input.header, &appended, &args.input)?;
    let output = Output::create(args.output.as_deref())?;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(output.writer()?);
    write_row(
        &mut writer,
        input.header.as_byte_record(),
        &appended,
        args.output.as_deref(),
    )?;

    let progress = progress_bar(input.len);
    let rows = Rows {
        catalog: &catalog,
        template: &template,
        columns: &input.columns,
        started,
        appended: appended.len(),
        header_len: input.header.len(),
    };
    let mut reader = input.reader;
    let summary = rows.copy(&mut reader, &mut writer, args, &progress)?;
    drop(writer);
    output.finish()?;
    progress.finish_and_clear();
    eprintln!("{}", summary.describe());
    Ok(())
}

/// The input CSV once its header is read and checked.
struct Input {
    reader: csv::Reader<Box<dyn Read>>,
    header: StringRecord,
    columns: Columns,
    /// Size in bytes, when the input is a file.
    len: Option<u64>,
}

impl Input {
    fn open(args: &EnrichArgs) -> Result<Input, CliError> {
        let (source, len) = open_input(&args.input)?;
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(source);
        let header = reader
            .byte_headers()
            .map_err(|e| input_error(&args.input, e))?
            .clone();
        let header = StringRecord::from_byte_record(header).map_err(|e| {
            input_error(
                &args.input,
                format!(
                    "the header is not UTF-8 ({e}): convert the file to UTF-8, e.g. \
                         from Windows-1252 with `iconv -f WINDOWS-1252 -t UTF-8`"
                ),
            )
        })?;
        let columns = find_columns(&header, args)?;
        Ok(Input {
            reader,
            header,
            columns,
            len,
        })
    }
}

/// Builds the request shared by every row and checks its radius, limit and
/// layers. Returns it with the positions of the requested layers.
fn request_template(
    args: &EnrichArgs,
    catalog: &Catalog,
    started: DateTime<Utc>,
) -> Result<(ContextRequest, Vec<usize>), CliError> {
    let template = ContextRequest {
        radius_m: args.radius_m,
        limit: args.limit,
        layers: args.layers.clone(),
        ..ContextRequest::default()
    };
    let query = template
        .validate(catalog, started)
        .map_err(CliError::flag)?;
    Ok((template, query.layers))
}

/// The shared inputs of every row's context query.
struct Rows<'a> {
    catalog: &'a Catalog,
    template: &'a ContextRequest,
    columns: &'a Columns,
    started: DateTime<Utc>,
    appended: usize,
    /// Number of fields in the header.
    header_len: usize,
}

impl Rows<'_> {
    /// Reads every row, appends its context and writes it, flushing each row
    /// so that a process reading the output gets it at once.
    fn copy<R: Read, W: Write>(
        &self,
        reader: &mut csv::Reader<R>,
        writer: &mut csv::Writer<W>,
        args: &EnrichArgs,
        progress: &ProgressBar,
    ) -> Result<Summary, CliError> {
        let mut summary = Summary::default();
        let mut record = ByteRecord::new();
        let mut cells = Vec::with_capacity(self.appended);
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| input_error(&args.input, e))?
        {
            let line = record.position().map_or(0, |p| p.line());
            summary.read += 1;
            summary.check_bytes(&record, self.header_len, line);
            match self.query(&record) {
                Ok(query) => {
                    columns::values(&context::context(self.catalog, &query), &mut cells);
                    summary.enriched += 1;
                }
                Err(field) => {
                    columns::empty(self.appended, &mut cells);
                    summary.skip(field, line);
                }
            }
            write_row(writer, &record, &cells, args.output.as_deref())?;
            progress.set_position(reader.position().byte());
        }
        Ok(summary)
    }

    /// Builds and validates the request of a row, or returns the field that
    /// made it unusable.
    fn query(&self, record: &ByteRecord) -> Result<ContextQuery, String> {
        let field = |i: usize| record.get(i).and_then(|b| std::str::from_utf8(b).ok());
        let coordinate = |i: usize| field(i).unwrap_or("").trim().parse::<f64>();
        let (Ok(lat), Ok(lon)) = (coordinate(self.columns.lat), coordinate(self.columns.lon))
        else {
            return Err("lat".to_owned());
        };
        let at = self
            .columns
            .at
            .map(|i| match record.get(i) {
                Some(bytes) => std::str::from_utf8(bytes).unwrap_or("\u{FFFD}"),
                None => "",
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let request = ContextRequest {
            lat,
            lon,
            at: at.map(str::to_owned),
            ..self.template.clone()
        };
        request
            .validate(self.catalog, self.started)
            .map_err(|e| e.field)
    }
}

impl Summary {
    /// Counts a row that is not UTF-8 or whose field count differs from the
    /// header's. The row is still written, with its bytes unchanged.
    fn check_bytes(&mut self, record: &ByteRecord, header_len: usize, line: u64) {
        if std::str::from_utf8(record.as_slice()).is_err() {
            count_line(&mut self.not_utf8, &mut self.not_utf8_lines, line);
        }
        if record.len() != header_len {
            count_line(&mut self.other_length, &mut self.other_length_lines, line);
        }
    }

    fn skip(&mut self, field: String, line: u64) {
        let (count, lines) = match field.as_str() {
            "at" => (&mut self.invalid_time, &mut self.invalid_time_lines),
            _ => (&mut self.without_point, &mut self.without_point_lines),
        };
        count_line(count, lines, line);
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "rows read: {}, rows enriched: {}, rows without coordinates: {}{}",
            self.read,
            self.enriched,
            self.without_point,
            listed_lines(&self.without_point_lines)
        );
        if self.invalid_time > 0 {
            text.push_str(&format!(
                ", rows with an invalid time: {}{}",
                self.invalid_time,
                listed_lines(&self.invalid_time_lines)
            ));
        }
        if self.other_length > 0 {
            text.push_str(&format!(
                ", rows with another number of fields than the header: {}{}",
                self.other_length,
                listed_lines(&self.other_length_lines)
            ));
        }
        if self.not_utf8 > 0 {
            text.push_str(&format!(
                ", rows not in UTF-8: {}{}, copied unchanged; the input may be in another \
                 encoding such as Windows-1252",
                self.not_utf8,
                listed_lines(&self.not_utf8_lines)
            ));
        }
        text
    }
}

fn count_line(count: &mut u64, lines: &mut Vec<u64>, line: u64) {
    *count += 1;
    if lines.len() < LISTED_LINES {
        lines.push(line);
    }
}

fn listed_lines(lines: &[u64]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let numbers: Vec<String> = lines.iter().map(u64::to_string).collect();
    let noun = if lines.len() == 1 { "line" } else { "lines" };
    format!(" (first at {noun} {})", numbers.join(", "))
}

/// Opens the input and returns its size in bytes when it is a file.
fn open_input(path: &Path) -> Result<(Box<dyn Read>, Option<u64>), CliError> {
    if path == Path::new("-") {
        return Ok((Box::new(io::stdin().lock()), None));
    }
    let file = File::open(path).map_err(|e| input_error(path, e))?;
    let len = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(BufReader::new(file)), len))
}

fn write_row<W: Write>(
    writer: &mut csv::Writer<W>,
    record: &ByteRecord,
    cells: &[String],
    output: Option<&Path>,
) -> Result<(), CliError> {
    let fields = record.iter().chain(cells.iter().map(String::as_bytes));
    writer
        .write_record(fields)
        .map_err(|e| output_error(output, e))?;
    writer.flush().map_err(|e| output_error(output, e))
}

/// Creates a progress bar on stderr when stderr is a terminal, else a hidden one.
fn progress_bar(input_len: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match input_len {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    }
}

fn input_error(path: &Path, error: impl std::fmt::Display) -> CliError {
    let path = if path == Path::new("-") {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    };
    CliError::Input {
        path,
        message: error.to_string(),
    }
}

fn output_error(path: Option<&Path>, error: impl std::fmt::Display) -> CliError {
    CliError::Output {
        path: path.map_or("stdout".to_owned(), |p| p.display().to_string()),
        message: error.to_string(),
    }
}
