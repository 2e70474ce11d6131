//! SQLite statements through GDAL's `execute_sql`, and reading their rows.

use std::path::Path;

use gdal::Dataset;
use gdal::errors::GdalError;
use gdal::vector::sql::Dialect;
use gdal::vector::{Feature, LayerAccess};

use super::gdal_error;
use crate::store::StoreError;

/// The failure of reading one row: a GDAL call, or a stored value.
pub(super) enum RowError {
    Gdal(GdalError),
    Store(StoreError),
}

impl From<GdalError> for RowError {
    fn from(error: GdalError) -> Self {
        RowError::Gdal(error)
    }
}

impl From<StoreError> for RowError {
    fn from(error: StoreError) -> Self {
        RowError::Store(error)
    }
}

pub(super) fn text(f: &Feature, name: &str) -> Result<Option<String>, GdalError> {
    f.field_as_string(f.field_index(name)?)
}

pub(super) fn int(f: &Feature, name: &str) -> Result<Option<i64>, GdalError> {
    f.field_as_integer64(f.field_index(name)?)
}

/// Runs a SELECT and maps each row.
pub(super) fn query_rows<T, E>(
    ds: &Dataset,
    path: &Path,
    sql: &str,
    mut map: impl FnMut(&Feature) -> Result<T, E>,
) -> Result<Vec<T>, StoreError>
where
    RowError: From<E>,
{
    let read_error = gdal_error(path, format!("run {sql:?}"));
    let result = ds.execute_sql(sql, None, Dialect::DEFAULT);
    let Some(mut rows) = result.map_err(read_error)? else {
        return Ok(Vec::new());
    };
    let mut mapped = Vec::new();
    for row in rows.features() {
        match map(&row).map_err(RowError::from) {
            Ok(value) => mapped.push(value),
            Err(RowError::Store(error)) => return Err(error),
            Err(RowError::Gdal(error)) => {
                return Err(gdal_error(path, format!("read a row of {sql:?}"))(error));
            }
        }
    }
    Ok(mapped)
}

/// Runs a statement that returns no rows.
pub(super) fn execute(
    ds: &Dataset,
    path: &Path,
    sql: &str,
    operation: &str,
) -> Result<(), StoreError> {
    ds.execute_sql(sql, None, Dialect::DEFAULT)
        .map(|_| ())
        .map_err(gdal_error(path, operation))
}

/// Quotes a string as an SQLite literal. Text containing a NUL byte cannot
/// pass through GDAL's C API, which fails on it.
pub(super) fn sql_text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

pub(super) fn sql_optional_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), sql_text)
}
