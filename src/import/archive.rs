//! Unpacking an uploaded zip archive, such as a zipped Shapefile, into a
//! temporary folder after checking every entry.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::ImportError;

/// The maximum number of entries in an archive. A Shapefile has 3 to 8
/// files, so this leaves room for several layers and their metadata.
pub const MAX_ENTRIES: usize = 64;

/// The maximum total uncompressed size of an archive, bytes (2 GiB, the
/// largest size a DBF or SHP file can have).
pub const MAX_UNPACKED_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Checks every entry of the zip archive `archive`, then extracts its files
/// into `target` and returns their paths, writing at most
/// [`MAX_UNPACKED_BYTES`] in all.
pub fn unpack(archive: &Path, target: &Path) -> Result<Vec<PathBuf>, ImportError> {
    unpack_with_limit(archive, target, MAX_UNPACKED_BYTES)
}

/// Unpacks as [`unpack`] does, writing at most `max_bytes` across all
/// entries. The bytes written are counted, not the sizes the headers
/// declare, which an archive can understate. Nothing is written when an
/// entry is rejected before extraction, and the files and folders written
/// are removed when extraction fails.
pub fn unpack_with_limit(
    archive: &Path,
    target: &Path,
    max_bytes: u64,
) -> Result<Vec<PathBuf>, ImportError> {
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
    let entries = check_entries(&mut zip, &file_name, max_bytes)?;
    check_repeated_names(archive, &zip, &file_name)?;
    let mut extraction = Extraction {
        zip,
        file_name,
        remaining_bytes: max_bytes,
        max_bytes,
        files: Vec::new(),
        created_dirs: Vec::new(),
    };
    match extraction.extract_all(&entries, target) {
        Ok(()) => Ok(extraction.files),
        Err(error) => {
            extraction.remove_written();
            Err(error)
        }
    }
}

/// Returns the safe relative path of every file entry (`None` for folders),
/// after checking the number of entries, their declared sizes, their paths
/// and that no two entries claim the same path.
fn check_entries(
    zip: &mut zip::ZipArchive<File>,
    file_name: &str,
    max_bytes: u64,
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
    let mut names = EntryNames::default();
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(|e| ImportError::Archive {
            file: file_name.to_owned(),
            entry: None,
            message: format!("entry {index} cannot be read: {e}"),
        })?;
        let name = entry.name().to_owned();
        total = total.saturating_add(entry.size());
        if total > max_bytes {
            return Err(unpacked_too_large(file_name, &name, max_bytes));
        }
        if is_macos_metadata(&name) {
            paths.push(None);
            continue;
        }
        let path = safe_relative_path(&name).map_err(|message| ImportError::Archive {
            file: file_name.to_owned(),
            entry: Some(name.clone()),
            message: message.to_owned(),
        })?;
        let is_dir = entry.is_dir();
        names
            .add(&path, is_dir)
            .map_err(|message| ImportError::Archive {
                file: file_name.to_owned(),
                entry: Some(name.clone()),
                message,
            })?;
        paths.push((!is_dir).then_some(path));
    }
    Ok(paths)
}

const REPEATED_ENTRY: &str = "the archive has two entries with this path: zip each file once";

/// Rejects an archive in which two file entries have the same name. The
/// zip crate keeps one entry per name, the later one's data at the earlier
/// one's index, so repeated names are looked for in the central directory
/// records themselves.
fn check_repeated_names(
    archive: &Path,
    zip: &zip::ZipArchive<File>,
    file_name: &str,
) -> Result<(), ImportError> {
    let io_error = |source: io::Error| ImportError::Io {
        path: file_name.to_owned(),
        source,
    };
    let mut reader = BufReader::new(File::open(archive).map_err(io_error)?);
    reader
        .seek(SeekFrom::Start(zip.central_directory_start()))
        .map_err(io_error)?;
    let mut seen = HashSet::new();
    // Among len + 1 records at least two share a name when any do, because
    // the zip crate counts distinct names.
    for _ in 0..=zip.len() {
        let Some(name) = next_record_name(&mut reader).map_err(io_error)? else {
            break;
        };
        if !name.ends_with('/') && !seen.insert(name.clone()) {
            return Err(ImportError::Archive {
                file: file_name.to_owned(),
                entry: Some(name),
                message: REPEATED_ENTRY.to_owned(),
            });
        }
    }
    Ok(())
}

/// Reads the central directory file header at the reader's position and
/// returns its file name, or `None` past the last one.
fn next_record_name(reader: &mut BufReader<File>) -> io::Result<Option<String>> {
    let mut header = [0u8; 46];
    match reader.read_exact(&mut header) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        result => result?,
    }
    if header[..4] != *b"PK\x01\x02" {
        return Ok(None);
    }
    let field = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
    let mut name = vec![0u8; usize::from(field(28))];
    reader.read_exact(&mut name)?;
    let skipped = i64::from(field(30)) + i64::from(field(32));
    reader.seek_relative(skipped)?;
    Ok(Some(String::from_utf8_lossy(&name).into_owned()))
}

/// The paths the entries seen so far claim: files, and folders (those of
/// folder entries and every parent of an entry).
#[derive(Default)]
struct EntryNames {
    files: HashSet<PathBuf>,
    folders: HashSet<PathBuf>,
}

impl EntryNames {
    /// Adds an entry, or returns why its path clashes with an earlier one.
    fn add(&mut self, path: &Path, is_dir: bool) -> Result<(), String> {
        if !is_dir && self.files.contains(path) {
            return Err(REPEATED_ENTRY.to_owned());
        }
        let conflict = if is_dir {
            self.files.contains(path)
        } else {
            self.folders.contains(path)
        };
        let parents: Vec<&Path> = path.ancestors().skip(1).collect();
        if conflict || parents.iter().any(|parent| self.files.contains(*parent)) {
            return Err("this path is both a file and a folder in the archive: \
                        rename the file or the folder"
                .to_owned());
        }
        for parent in parents {
            self.folders.insert(parent.to_owned());
        }
        if is_dir {
            self.folders.insert(path.to_owned());
        } else {
            self.files.insert(path.to_owned());
        }
        Ok(())
    }
}

fn unpacked_too_large(file_name: &str, entry: &str, max_bytes: u64) -> ImportError {
    ImportError::Archive {
        file: file_name.to_owned(),
        entry: Some(entry.to_owned()),
        message: format!(
            "the uncompressed entries reach more than the maximum of {max_bytes} bytes at \
             this entry: import a smaller file"
        ),
    }
}

/// Returns whether entry `name` is metadata that the macOS Finder adds to
/// the archives it makes: the `__MACOSX/` folder and AppleDouble `._` files
/// (resource forks and extended attributes), which are not layer files.
fn is_macos_metadata(name: &str) -> bool {
    let file_name = name
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(name);
    name == "__MACOSX" || name.starts_with("__MACOSX/") || file_name.starts_with("._")
}

/// Returns `name` as a relative path made only of normal components, or
/// the reason it is not one.
fn safe_relative_path(name: &str) -> Result<PathBuf, &'static str> {
    if name.contains('\\') {
        return Err(
            "the entry path contains a backslash, as some Windows tools write \
                    folders: zip the files again with a tool that separates folders with `/`",
        );
    }
    let path = Path::new(name);
    if path.is_absolute() {
        return Err(
            "the entry path is absolute: zip the files without leading folders or \
                    with relative ones",
        );
    }
    let normal = path
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if !normal || path.components().next().is_none() {
        return Err(
            "the entry path contains `..` or `.`, or is empty: zip the files \
                    without leading folders or with relative ones",
        );
    }
    Ok(path.to_owned())
}

/// The extraction of a checked archive: the bytes it may still write, and
/// what it wrote, to remove when it fails.
struct Extraction {
    zip: zip::ZipArchive<File>,
    file_name: String,
    remaining_bytes: u64,
    max_bytes: u64,
    files: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
}

impl Extraction {
    fn extract_all(
        &mut self,
        entries: &[Option<PathBuf>],
        target: &Path,
    ) -> Result<(), ImportError> {
        self.create_dirs(target)?;
        for (index, relative) in entries.iter().enumerate() {
            if let Some(relative) = relative {
                self.extract(index, &target.join(relative))?;
            }
        }
        Ok(())
    }

    /// Creates `path` and its missing parents, recording each one created.
    fn create_dirs(&mut self, path: &Path) -> Result<(), ImportError> {
        let missing: Vec<&Path> = path.ancestors().take_while(|p| !p.exists()).collect();
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(dir).map_err(|source| ImportError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            self.created_dirs.push(dir.to_owned());
        }
        Ok(())
    }

    /// Extracts entry `index` to `path`, reading one byte more than the
    /// bytes left so that an entry whose header understates its size is
    /// still caught.
    fn extract(&mut self, index: usize, path: &Path) -> Result<(), ImportError> {
        let io_error = |source: io::Error| ImportError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            self.create_dirs(parent)?;
        }
        let entry = self.zip.by_index(index).map_err(|e| ImportError::Archive {
            file: self.file_name.clone(),
            entry: None,
            message: format!("entry {index} cannot be decompressed: {e}"),
        })?;
        let name = entry.name().to_owned();
        self.files.push(path.to_owned());
        let mut output = File::create(path).map_err(io_error)?;
        let mut bounded = entry.take(self.remaining_bytes.saturating_add(1));
        let copied = io::copy(&mut bounded, &mut output).map_err(io_error)?;
        if copied > self.remaining_bytes {
            return Err(unpacked_too_large(&self.file_name, &name, self.max_bytes));
        }
        self.remaining_bytes -= copied;
        Ok(())
    }

    /// Removes the files and then the folders written, newest first.
    fn remove_written(&self) {
        for file in &self.files {
            if let Err(error) = std::fs::remove_file(file)
                && error.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %file.display(), %error, "cannot remove an unpacked file");
            }
        }
        for dir in self.created_dirs.iter().rev() {
            if let Err(error) = std::fs::remove_dir(dir) {
                tracing::warn!(path = %dir.display(), %error, "cannot remove an unpacked folder");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_kept() {
        assert_eq!(safe_relative_path("a/b.shp"), Ok(PathBuf::from("a/b.shp")));
        assert_eq!(safe_relative_path("b.shp"), Ok(PathBuf::from("b.shp")));
    }

    #[test]
    fn escaping_paths_rejected() {
        let cases = [
            ("/etc/passwd", "absolute"),
            ("../x.shp", "`..`"),
            ("a/../../x", "`..`"),
            ("./", "`..`"),
            ("", "empty"),
            ("a\\..\\x", "backslash"),
            ("laval\\x.shp", "backslash"),
        ];
        for (name, reason) in cases {
            let message = safe_relative_path(name).expect_err(name);
            assert!(message.contains(reason), "{name}: {message}");
        }
    }

    #[test]
    fn macos_metadata_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [
            folder("laval/"),
            file("laval/x.shp", b"shape"),
            file("laval/x.dbf", b"table"),
            folder("__MACOSX/"),
            folder("__MACOSX/laval/"),
            file("__MACOSX/laval/._x.shp", b"resource fork"),
            file("laval/._x.dbf", b"attributes"),
        ];
        let archive = write_zip(dir.path(), "finder.zip", &entries);
        let target = dir.path().join("unpacked");

        let written = unpack(&archive, &target).unwrap();

        let expected = [target.join("laval/x.shp"), target.join("laval/x.dbf")];
        assert_eq!(written, expected);
        assert!(!target.join("__MACOSX").exists());
    }

    const MIB: u64 = 1024 * 1024;

    /// One entry of a test archive: a folder when `data` is `None`.
    struct Entry {
        name: &'static str,
        data: Option<Vec<u8>>,
    }

    fn file(name: &'static str, data: &[u8]) -> Entry {
        Entry {
            name,
            data: Some(data.to_vec()),
        }
    }

    fn folder(name: &'static str) -> Entry {
        Entry { name, data: None }
    }

    /// Writes `entries` deflated into `dir/name` with the zip crate and
    /// returns the archive's path.
    fn write_zip(dir: &Path, name: &str, entries: &[Entry]) -> PathBuf {
        let path = dir.join(name);
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for entry in entries {
            match &entry.data {
                Some(data) => {
                    zip.start_file(entry.name, options).unwrap();
                    std::io::Write::write_all(&mut zip, data).unwrap();
                }
                None => zip.add_directory(entry.name, options).unwrap(),
            }
        }
        zip.finish().unwrap();
        path
    }

    fn read_u16(bytes: &[u8], at: usize) -> usize {
        usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
    }

    fn read_u32(bytes: &[u8], at: usize) -> usize {
        let word = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        usize::try_from(word).unwrap()
    }

    /// Rewrites the uncompressed size of every entry of the archive at
    /// `path` to `declared`, in the local headers and in the central
    /// directory, leaving the data alone.
    fn understate_sizes(path: &Path, declared: u32) {
        let mut bytes = std::fs::read(path).unwrap();
        let mut at = 0;
        let mut patched = 0;
        while bytes[at..].starts_with(b"PK\x03\x04") {
            let flags = read_u16(&bytes, at + 6);
            assert_eq!(flags & 0x8, 0, "entry at {at} has a data descriptor");
            bytes[at + 22..at + 26].copy_from_slice(&declared.to_le_bytes());
            let name = read_u16(&bytes, at + 26);
            let extra = read_u16(&bytes, at + 28);
            at += 30 + name + extra + read_u32(&bytes, at + 18);
            patched += 1;
        }
        while bytes[at..].starts_with(b"PK\x01\x02") {
            bytes[at + 24..at + 28].copy_from_slice(&declared.to_le_bytes());
            let name = read_u16(&bytes, at + 28);
            let extra = read_u16(&bytes, at + 30);
            let comment = read_u16(&bytes, at + 32);
            at += 46 + name + extra + comment;
            patched += 1;
        }
        assert!(patched >= 2, "no entry was patched in {}", path.display());
        std::fs::write(path, bytes).unwrap();
    }

    /// Returns `bytes` with every occurrence of `from` replaced by `to`, of
    /// the same length.
    fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let mut count = 0;
        for at in 0..=bytes.len() - from.len() {
            if &bytes[at..at + from.len()] == from {
                out[at..at + from.len()].copy_from_slice(to);
                count += 1;
            }
        }
        assert_eq!(
            count, 2,
            "the name is in one local header and the central directory"
        );
        out
    }

    fn archive_message(error: ImportError) -> (Option<String>, String) {
        match error {
            ImportError::Archive { entry, message, .. } => (entry, message),
            other => panic!("expected an archive error, got {other:?}"),
        }
    }

    #[test]
    fn understated_sizes_stop_at_total_limit() {
        let dir = tempfile::tempdir().unwrap();
        let half = vec![0u8; usize::try_from(MIB / 2).unwrap()];
        let entries = [
            file("a.dbf", &half),
            file("b.dbf", &half),
            file("c.dbf", &half),
        ];
        let archive = write_zip(dir.path(), "lying.zip", &entries);
        understate_sizes(&archive, 10);
        let target = dir.path().join("unpacked");

        let error = unpack_with_limit(&archive, &target, MIB).unwrap_err();

        let text = error.to_string();
        assert!(text.contains("lying.zip"), "{text}");
        let (entry, message) = archive_message(error);
        assert_eq!(entry.as_deref(), Some("c.dbf"));
        assert!(message.contains(&MIB.to_string()), "{message}");
        assert!(!target.exists(), "the unpacked files were not removed");
    }

    #[test]
    fn sizes_up_to_limit_unpack() {
        let dir = tempfile::tempdir().unwrap();
        let half = vec![7u8; usize::try_from(MIB / 2).unwrap()];
        let entries = [
            folder("layer/"),
            file("layer/a.dbf", &half),
            file("b.dbf", &half),
        ];
        let archive = write_zip(dir.path(), "exact.zip", &entries);
        understate_sizes(&archive, 10);
        let target = dir.path().join("unpacked");

        let written = unpack_with_limit(&archive, &target, MIB).unwrap();

        assert_eq!(written, [target.join("layer/a.dbf"), target.join("b.dbf")]);
        for path in &written {
            assert_eq!(std::fs::read(path).unwrap(), half, "{}", path.display());
        }
    }

    #[test]
    fn repeated_entry_rejected() {
        let dir = tempfile::tempdir().unwrap();
        // The zip crate refuses to write a name twice, so the second name is
        // rewritten in the archive's bytes, in its local header and in the
        // central directory.
        let entries = [file("roads.shp", b"first"), file("roads.shx", b"second")];
        let archive = write_zip(dir.path(), "repeated.zip", &entries);
        let bytes = std::fs::read(&archive).unwrap();
        let renamed = replace_all(&bytes, b"roads.shx", b"roads.shp");
        std::fs::write(&archive, renamed).unwrap();
        let target = dir.path().join("unpacked");

        let error = unpack(&archive, &target).unwrap_err();

        let (entry, message) = archive_message(error);
        assert_eq!(entry.as_deref(), Some("roads.shp"));
        assert!(message.contains("two entries"), "{message}");
        assert!(!target.exists(), "files were written");
    }

    #[test]
    fn file_and_folder_rejected() {
        let cases = [
            [file("x", b"text"), file("x/roads.shp", b"shape")],
            [file("x/roads.shp", b"shape"), file("x", b"text")],
        ];
        for (index, entries) in cases.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let archive = write_zip(dir.path(), "clash.zip", entries);
            let target = dir.path().join("unpacked");

            let error = unpack(&archive, &target).unwrap_err();

            let (entry, message) = archive_message(error);
            assert_eq!(entry.as_deref(), Some(entries[1].name), "case {index}");
            assert!(message.contains("both a file and a folder"), "{message}");
            assert!(!target.exists(), "case {index}: files were written");
        }
    }

    #[test]
    fn folder_entry_over_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [file("x", b"text"), folder("x/")];
        let archive = write_zip(dir.path(), "clash.zip", &entries);

        let error = unpack(&archive, &dir.path().join("unpacked")).unwrap_err();

        let (entry, _) = archive_message(error);
        assert_eq!(entry.as_deref(), Some("x/"));
    }
}
