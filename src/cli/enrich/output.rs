//! Where `repere enrich` writes its rows.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::output_error;
use crate::cli::CliError;

/// The output: stdout, or a temporary file beside the `-o` path that
/// replaces it only once every row is written, so that a failed run leaves
/// no half-written file.
pub(super) enum Output<'a> {
    Stdout,
    File {
        temp: tempfile::NamedTempFile,
        path: &'a Path,
    },
}

impl<'a> Output<'a> {
    pub(super) fn create(path: Option<&'a Path>) -> Result<Output<'a>, CliError> {
        let Some(path) = path else {
            return Ok(Output::Stdout);
        };
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".repere-enrich-");
        // The temporary file is created 0600 by default; 0666 less the umask
        // gives the output the mode `File::create` would.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder
            .tempfile_in(folder)
            .map_err(|e| output_error(Some(path), e))?;
        Ok(Output::File { temp, path })
    }

    pub(super) fn writer(&self) -> Result<Box<dyn Write>, CliError> {
        match self {
            Output::Stdout => Ok(Box::new(io::stdout().lock())),
            Output::File { temp, path } => {
                let file = temp.reopen().map_err(|e| output_error(Some(path), e))?;
                Ok(Box::new(BufWriter::new(file)))
            }
        }
    }

    /// Moves the temporary file to the `-o` path.
    pub(super) fn finish(self) -> Result<(), CliError> {
        match self {
            Output::Stdout => Ok(()),
            Output::File { temp, path } => temp
                .persist(path)
                .map(drop)
                .map_err(|e| output_error(Some(path), e.error)),
        }
    }
}
