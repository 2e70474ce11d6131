//! The command line: `repere serve`, `context`, `layers`, `enrich`, `import` and `token`.
//!
//! Exit status: 0 on success, 2 for invalid arguments (including a CSV
//! column that is not in the header), 1 for any other failure.

mod columns;
mod context;
mod enrich;
mod import;
mod layers;
mod token;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::catalog::Catalog;
use crate::config::{Config, ConfigError, ConfigLayer};
use crate::context::InvalidField;
use crate::http::ServeError;
use crate::manifest::{Manifest, ManifestError};
use crate::source::SourceError;

#[derive(Debug, Parser)]
#[command(
    name = "repere",
    version,
    about = "Geographic context of citizen requests: districts, nearest assets, active works, H3 cell",
    after_help = "Exit status: 0 on success, 2 for invalid arguments, 1 for other failures."
)]
pub struct Cli {
    /// TOML config file; its settings yield to REPERE_* variables and flags.
    #[arg(long, global = true, env = "REPERE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Layer manifest [default: data/layers.toml, or REPERE_MANIFEST].
    #[arg(long, global = true, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP interface until SIGTERM or Ctrl-C.
    Serve {
        /// Socket address to listen on [default: 127.0.0.1:8080, or REPERE_LISTEN].
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Folder of the GeoPackage layer store [default: state, or REPERE_STATE_DIR].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// PostgreSQL URL of a PostGIS layer store, used instead of the
        /// GeoPackage [default: DATABASE_URL].
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Largest response of one POST /v1/context/batch, in bytes; a larger
        /// one fails with 413 [default: 33554432 (32 MiB), or
        /// REPERE_MAX_BATCH_RESPONSE_BYTES].
        #[arg(long, value_name = "BYTES")]
        max_batch_response_bytes: Option<usize>,
    },
    /// Print the context of one point as JSON.
    Context(context::ContextArgs),
    /// Print the layers of the manifest with their load report.
    Layers,
    /// Add context columns to every row of a CSV file.
    Enrich(enrich::EnrichArgs),
    /// Import a layer file into the store and print the import report.
    Import(Box<import::ImportArgs>),
    /// Produce the values of a [[token]] entry of the config file.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that do not fit: exit status 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Boxed, as `Serve` is, because both errors take 128 bytes or more and
    /// would make every `Result<_, CliError>` that large (clippy's
    /// `result_large_err`).
    #[error(transparent)]
    Import(Box<crate::import::ImportError>),
    #[error(transparent)]
    Serve(Box<ServeError>),
    #[error("cannot read {path}: {message}")]
    Input { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Output { path: String, message: String },
}

impl From<crate::import::ImportError> for CliError {
    fn from(error: crate::import::ImportError) -> Self {
        CliError::Import(Box::new(error))
    }
}

impl From<ServeError> for CliError {
    fn from(error: ServeError) -> Self {
        CliError::Serve(Box::new(error))
    }
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    /// Converts a request field rejected by validation into a usage error
    /// that names its flag (`--radius-m`).
    fn flag(invalid: InvalidField) -> Self {
        let flag = invalid.field.replace('_', "-");
        CliError::Usage(format!("--{flag}: {}", invalid.message))
    }
}

/// Runs the program and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let flags = ConfigLayer {
        manifest: cli.manifest.clone(),
        ..serve_flags(&cli.command)
    };
    let config = Config::load(
        cli.config.as_deref(),
        |name| std::env::var(name).ok(),
        flags,
    )?;
    init_logging(&config)?;
    crate::source::lock_down_gdal();
    match cli.command {
        Command::Serve { .. } => serve(&config),
        Command::Context(args) => context::run(&args, &config),
        Command::Layers => layers::run(&config),
        Command::Enrich(args) => enrich::run(&args, &config),
        Command::Import(args) => import::run(&args, &config),
        Command::Token { command } => token::run(&command),
    }
}

/// Returns the settings that the flags of `command` set: only `serve` has
/// such flags.
fn serve_flags(command: &Command) -> ConfigLayer {
    match command {
        Command::Serve {
            listen,
            state_dir,
            database_url,
            max_batch_response_bytes,
        } => ConfigLayer {
            listen: *listen,
            state_dir: state_dir.clone(),
            database_url: database_url.clone(),
            max_batch_response_bytes: *max_batch_response_bytes,
            ..ConfigLayer::default()
        },
        _ => ConfigLayer::default(),
    }
}

/// Logs to stderr, so that stdout holds only the command's output.
fn init_logging(config: &Config) -> Result<(), CliError> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter).map_err(|e| {
        ConfigError::Value {
            key: "log_filter",
            value: format!("{:?}", config.log_filter),
            message: format!("{e}: write directives such as info,repere=debug"),
        }
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if !config.unknown_keys.is_empty() {
        tracing::warn!(keys = ?config.unknown_keys, "unknown config keys ignored");
    }
    Ok(())
}

fn serve(config: &Config) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(ServeError::Io)?;
    let manifest = load_manifest(&config.manifest)?;
    let served = runtime.block_on(crate::http::serve(config, manifest));
    // A signal during loading leaves the loading thread running: exit
    // without waiting for it.
    runtime.shutdown_background();
    Ok(served?)
}

/// Loads the manifest's layers, or only those named in `only`.
fn load_catalog(manifest_path: &Path, only: Option<&[String]>) -> Result<Catalog, CliError> {
    let mut manifest = load_manifest(manifest_path)?;
    manifest.require_layers()?;
    if let Some(names) = only {
        check_layer_names(&manifest, names)?;
        manifest.layers.retain(|spec| names.contains(&spec.name));
    }
    Ok(Catalog::load(&manifest)?)
}

/// Reads a manifest and warns about the keys that no layer setting reads.
fn load_manifest(path: &Path) -> Result<Manifest, CliError> {
    let manifest = Manifest::load(path)?;
    if !manifest.unknown_keys.is_empty() {
        let keys = &manifest.unknown_keys;
        let path = manifest.path.display();
        tracing::warn!(manifest = %path, ?keys, "unknown manifest keys ignored");
    }
    Ok(manifest)
}

fn check_layer_names(manifest: &Manifest, names: &[String]) -> Result<(), CliError> {
    if names.iter().all(|name| name.trim().is_empty()) {
        return Err(CliError::Usage(
            "--layers: the list is empty: omit --layers for all layers, or name at least one"
                .to_owned(),
        ));
    }
    let known: Vec<&str> = manifest
        .layers
        .iter()
        .map(|spec| spec.name.as_str())
        .collect();
    match names.iter().find(|name| !known.contains(&name.as_str())) {
        Some(unknown) => Err(CliError::Usage(format!(
            "--layers: unknown layer {unknown:?} in {}: known layers are {}",
            manifest.path.display(),
            known.join(", ")
        ))),
        None => Ok(()),
    }
}
