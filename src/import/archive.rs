//! Unpacking an uploaded zip archive, such as a zipped Shapefile, into a
//! temporary folder after checking every entry.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::ImportError;

/// The maximum number of entries in an archive. A Shapefile has 3 to 8
/// files, so this leaves room for several layers and their metadata.
pub const MAX_ENTRIES: usize = 64;

/// The maximum total uncompressed size of an archive, bytes (2 GiB, the
/// largest size a DBF or SHP file can have).
pub const MAX_UNPACKED_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Checks every entry of the zip archive `archive`, then extracts its files
/// into `target` and returns their paths. Nothing is written when an entry
/// is rejected.
pub fn unpack(archive: &Path, target: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let file_name = archive.display().to_string();
    let file = File::open(archive).map_err(|source| ImportError::Io {
        path: file_name.clone(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ImportError::Archive {
        file: file_name.clone(),
        entry: None,
        message: format!("not a readable zip archive: {e}"),
    })?;
    let entries = check_entries(&mut zip, &file_name)?;
    let mut written = Vec::new();
    for (index, relative) in entries.iter().enumerate() {
        if let Some(relative) = relative {
            let path = target.join(relative);
            extract(&mut zip, index, &path, &file_name)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Returns the safe relative path of every file entry (`None` for folders).
fn check_entries(
    zip: &mut zip::ZipArchive<File>,
    file_name: &str,
) -> Result<Vec<Option<PathBuf>>, ImportError> {
    if zip.len() > MAX_ENTRIES {
        return Err(ImportError::Archive {
            file: file_name.to_owned(),
            entry: None,
            message: format!(
                "it has {} entries, over the maximum of {MAX_ENTRIES}: zip only the layer's files",
                zip.len()
            ),
        });
    }
    let mut total: u64 = 0;
    let mut paths = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(|e| ImportError::Archive {
            file: file_name.to_owned(),
            entry: None,
            message: format!("entry {index} cannot be read: {e}"),
        })?;
        let name = entry.name().to_owned();
        total = total.saturating_add(entry.size());
        if total > MAX_UNPACKED_BYTES {
            return Err(unpacked_too_large(file_name, &name));
        }
        let path = safe_relative_path(&name).ok_or_else(|| ImportError::Archive {
            file: file_name.to_owned(),
            entry: Some(name.clone()),
            message: "the entry path is absolute or contains `..`: zip the files without \
                      leading folders or with relative ones"
                .to_owned(),
        })?;
        paths.push((!entry.is_dir()).then_some(path));
    }
    Ok(paths)
}

fn unpacked_too_large(file_name: &str, entry: &str) -> ImportError {
    ImportError::Archive {
        file: file_name.to_owned(),
        entry: Some(entry.to_owned()),
        message: format!(
            "the uncompressed entries reach more than {MAX_UNPACKED_BYTES} bytes at this entry: \
             import a smaller file"
        ),
    }
}

/// Returns `name` as a relative path made only of normal components.
fn safe_relative_path(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') || name.starts_with('\\') || name.contains('\\') {
        return None;
    }
    let path = Path::new(name);
    let normal = path
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    (normal && path.components().next().is_some()).then(|| path.to_owned())
}

/// Extracts entry `index` to `path`, reading at most the size limit so that
/// an entry whose header understates its size is still bounded.
fn extract(
    zip: &mut zip::ZipArchive<File>,
    index: usize,
    path: &Path,
    file_name: &str,
) -> Result<(), ImportError> {
    let io_error = |source: io::Error| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let entry = zip.by_index(index).map_err(|e| ImportError::Archive {
        file: file_name.to_owned(),
        entry: None,
        message: format!("entry {index} cannot be decompressed: {e}"),
    })?;
    let name = entry.name().to_owned();
    let mut output = File::create(path).map_err(io_error)?;
    let copied =
        io::copy(&mut entry.take(MAX_UNPACKED_BYTES + 1), &mut output).map_err(io_error)?;
    if copied > MAX_UNPACKED_BYTES {
        return Err(unpacked_too_large(file_name, &name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_kept() {
        assert_eq!(
            safe_relative_path("a/b.shp"),
            Some(PathBuf::from("a/b.shp"))
        );
        assert_eq!(safe_relative_path("b.shp"), Some(PathBuf::from("b.shp")));
    }

    #[test]
    fn escaping_paths_rejected() {
        for name in ["/etc/passwd", "../x.shp", "a/../../x", "a\\..\\x", "./", ""] {
            assert_eq!(safe_relative_path(name), None, "{name}");
        }
    }
}
