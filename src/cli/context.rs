//! `repere context`: the context of one point, as pretty JSON on stdout.

use std::io::Write;

use chrono::Utc;
use clap::Args;

use super::{CliError, load_catalog};
use crate::config::Config;
use crate::context::{self, ContextRequest};

#[derive(Debug, Args)]
pub struct ContextArgs {
    /// Latitude, WGS84 degrees.
    #[arg(long, allow_negative_numbers = true)]
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    #[arg(long, allow_negative_numbers = true)]
    pub lon: f64,
    /// Instant works must be active at, RFC 3339 with an offset [default: now].
    #[arg(long)]
    pub at: Option<String>,
    /// Radius of the asset and work search, metres [default: 100].
    #[arg(long)]
    pub radius_m: Option<f64>,
    /// Features per asset layer [default: 3].
    #[arg(long)]
    pub limit: Option<u32>,
    /// Distance within which other districts are listed as neighbours, metres [default: 25].
    #[arg(long)]
    pub near_m: Option<f64>,
    /// Layers to query, comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<String>>,
}

pub fn run(args: &ContextArgs, config: &Config) -> Result<(), CliError> {
    let catalog = load_catalog(&config.manifest, args.layers.as_deref())?;
    let request = ContextRequest {
        lat: args.lat,
        lon: args.lon,
        at: args.at.clone(),
        as_of: None,
        radius_m: args.radius_m,
        limit: args.limit,
        near_m: args.near_m,
        layers: args.layers.clone(),
    };
    let query = request
        .validate(&catalog, Utc::now())
        .map_err(CliError::flag)?;
    let response = context::context(&catalog, &query);

    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut stdout, &response)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(stdout));
    written.map_err(|e| CliError::Output {
        path: "stdout".to_owned(),
        message: e.to_string(),
    })
}
