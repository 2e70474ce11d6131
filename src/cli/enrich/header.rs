//! Checks of the input header of `repere enrich`: the point and time
//! columns exist once, and no column name repeats or clashes with an
//! appended column.

use std::path::Path;

use csv::StringRecord;

use super::EnrichArgs;
use crate::cli::CliError;

/// Positions of the point and time columns in the input header.
pub(super) struct Columns {
    pub lat: usize,
    pub lon: usize,
    pub at: Option<usize>,
}

pub(super) fn find_columns(header: &StringRecord, args: &EnrichArgs) -> Result<Columns, CliError> {
    if args.lat_column == args.lon_column {
        return Err(CliError::Usage(format!(
            "--lat-column and --lon-column name the same column {:?}: name the latitude \
             column and the longitude column",
            args.lat_column
        )));
    }
    let columns = Columns {
        lat: find_column(header, "--lat-column", &args.lat_column, &args.input)?,
        lon: find_column(header, "--lon-column", &args.lon_column, &args.input)?,
        at: match &args.at_column {
            Some(name) => Some(find_column(header, "--at-column", name, &args.input)?),
            None => None,
        },
    };
    check_unique(header, &args.input)?;
    Ok(columns)
}

/// Returns the position of the one column called `name`.
fn find_column(
    header: &StringRecord,
    flag: &str,
    name: &str,
    input: &Path,
) -> Result<usize, CliError> {
    let mut positions = header.iter().enumerate().filter(|(_, c)| *c == name);
    let Some((position, _)) = positions.next() else {
        let columns: Vec<&str> = header.iter().collect();
        return Err(CliError::Usage(format!(
            "{flag}: column {name:?} is not in the header of {}; the columns are: {}",
            input.display(),
            columns.join(", ")
        )));
    };
    let others = positions.count();
    if others > 0 {
        return Err(CliError::Usage(format!(
            "{flag}: column {name:?} appears {} times in the header of {}: rename all \
             but one",
            others + 1,
            input.display()
        )));
    }
    Ok(position)
}

/// Rejects a header where two columns share a name, since the output would
/// carry both and a reader would pick one of them at random.
fn check_unique(header: &StringRecord, input: &Path) -> Result<(), CliError> {
    for (i, name) in header.iter().enumerate() {
        if header.iter().take(i).any(|earlier| earlier == name) {
            continue;
        }
        let count = header.iter().filter(|c| *c == name).count();
        if count > 1 {
            return Err(CliError::Usage(format!(
                "column {name:?} appears {count} times in the header of {}: rename all \
                 but one",
                input.display()
            )));
        }
    }
    Ok(())
}

/// Rejects an input column named like one of the appended columns.
pub(super) fn check_no_clash(
    header: &StringRecord,
    appended: &[String],
    input: &Path,
) -> Result<(), CliError> {
    let Some(name) = header.iter().find(|c| appended.iter().any(|a| a == c)) else {
        return Ok(());
    };
    Err(CliError::Usage(format!(
        "column {name:?} of the input is also an appended column: rename it in {}, or \
         leave its layer out with --layers",
        input.display()
    )))
}
