//! `repere layers`: each layer of the manifest with its load report.

use std::io::Write;

use super::{CliError, load_catalog};
use crate::config::Config;
use crate::layer::Layer;

/// How many entries of each report list are printed.
const LISTED: usize = 5;

pub fn run(config: &Config) -> Result<(), CliError> {
    let catalog = load_catalog(&config.manifest, None)?;
    let mut text = String::new();
    for index in catalog.layers() {
        describe(&mut text, index.layer());
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| CliError::Output {
            path: "stdout".to_owned(),
            message: e.to_string(),
        })
}

fn describe(text: &mut String, layer: &Layer) {
    use std::fmt::Write;

    let info = &layer.info;
    let report = &layer.report;
    let bbox = match info.bbox {
        Some([w, s, e, n]) => format!("[{w}, {s}, {e}, {n}]"),
        None => "none".to_owned(),
    };
    let _ = writeln!(
        text,
        "{} ({}): {} features from {}",
        info.name, info.kind, info.feature_count, info.source
    );
    let _ = writeln!(
        text,
        "  source CRS: {}; bbox (WGS84 lon/lat): {bbox}",
        info.source_crs
    );
    let _ = writeln!(
        text,
        "  read {}, left out by the filter {}, rejected {}, invalid geometries {}, synthetic ids {}",
        report.read_count,
        report.filtered_count,
        report.rejected.len(),
        report.invalid.len(),
        report.synthetic_ids.len()
    );
    for invalid in report.invalid.iter().take(LISTED) {
        let _ = writeln!(
            text,
            "  invalid {}: {} ({})",
            invalid.id, invalid.reason, invalid.action
        );
    }
    more(text, report.invalid.len(), "invalid geometries");
    for synthetic in report.synthetic_ids.iter().take(LISTED) {
        let source = synthetic.source_value.as_deref().unwrap_or("none");
        let _ = writeln!(
            text,
            "  synthetic id {}: source value {source} {}",
            synthetic.id, synthetic.reason
        );
    }
    more(text, report.synthetic_ids.len(), "synthetic ids");
    for rejected in report.rejected.iter().take(LISTED) {
        let _ = writeln!(
            text,
            "  rejected {} (FID {}): {}",
            rejected.id, rejected.fid, rejected.reason
        );
    }
    more(text, report.rejected.len(), "rejected features");
    let attribution = info.attribution.as_deref().unwrap_or("none");
    let licence = info.licence.as_deref().unwrap_or("none");
    let _ = writeln!(text, "  attribution: {attribution}; licence: {licence}");
}

/// Notes how many entries of a report list were not printed.
fn more(text: &mut String, count: usize, what: &str) {
    if count > LISTED {
        text.push_str(&format!("  … and {} more {what}\n", count - LISTED));
    }
}
