//! `repere token hash` and `repere token new`: the values of a `[[token]]`
//! entry in the config file.

use std::io::{BufRead, Write};

use clap::Subcommand;

use super::CliError;
use crate::auth::{generate_token, hash_token};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print the SHA-256 of a token read from stdin, the `sha256` of its
    /// [[token]] entry. Reading stdin keeps the token out of the shell history.
    Hash,
    /// Print a new random token and its SHA-256, one per line.
    New,
}

pub fn run(command: &TokenCommand) -> Result<(), CliError> {
    let text = match command {
        TokenCommand::Hash => format!("{}\n", hash_token(&read_token()?)),
        TokenCommand::New => {
            let token = generate_token();
            format!("{token}\n{}\n", hash_token(&token))
        }
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| CliError::Output {
            path: "stdout".to_owned(),
            message: e.to_string(),
        })
}

fn read_token() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Input {
            path: "stdin".to_owned(),
            message: e.to_string(),
        })?;
    if line.trim().is_empty() {
        return Err(CliError::Usage(
            "no token on stdin: run `printf %s TOKEN | repere token hash`".to_owned(),
        ));
    }
    Ok(line)
}
