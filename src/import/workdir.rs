//! The temporary folders of imports: the uploaded file and what is
//! unpacked from it, up to [`super::MAX_UNPACKED_BYTES`] a zip. A folder is
//! removed when its import ends, but a process killed during an import
//! leaves its folder behind, so `repere serve` removes, at start-up, the
//! folders whose process no longer runs.

use std::io;
use std::path::Path;

use tempfile::TempDir;

use crate::process::process_exists;

/// The start of every import folder's name, followed by the process id and
/// a random suffix: `repere-import-4242-AbC123`.
const PREFIX: &str = "repere-import-";

/// Creates the temporary folder of an import in the system's temporary
/// folder (`TMPDIR`, else `/tmp`), named after this process.
pub fn new_work_dir() -> io::Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir()
}

/// Removes the import folders in `parent` left by processes that no longer
/// run, and returns how many were removed. A folder whose removal fails is
/// logged and left.
///
/// NOTE: a process id is only meaningful on this host and in this PID
/// namespace. Two hosts or containers sharing one temporary folder would
/// remove each other's folders; give each its own `TMPDIR`.
pub fn remove_abandoned_work_dirs(parent: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        // A folder whose process may still run is left: `None` when the
        // check fails counts as running.
        if process_exists(i64::from(pid)) != Some(false)
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), pid, "abandoned import folder removed");
                removed += 1;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove an abandoned import folder");
            }
        }
    }
    removed
}

/// Returns the process id in an import folder's name, `None` for any other
/// name.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, suffix) = rest.split_once('-')?;
    if suffix.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_read_from_name() {
        assert_eq!(owner_pid("repere-import-4242-AbC123"), Some(4242));
        assert_eq!(owner_pid("repere-import-4242-"), None);
        assert_eq!(owner_pid("repere-import-x1-AbC123"), None);
        assert_eq!(owner_pid("repere-import--AbC123"), None);
        assert_eq!(owner_pid(".tmpAbC123"), None);
    }
}
