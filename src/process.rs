//! Processes of this host, for the cleanup of work left by a killed
//! process: an abandoned GeoPackage import, an import's temporary folder.

/// Returns whether process `pid` of this host exists, `None` for a value
/// that is no process id or when the check itself fails.
pub(crate) fn process_exists(pid: i64) -> Option<bool> {
    let pid = libc::pid_t::try_from(pid).ok().filter(|&pid| pid > 0)?;
    // SAFETY: signal 0 only checks that the process exists and may be
    // signalled; nothing is sent.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return Some(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Some(false),
        // The process exists but belongs to another user.
        Some(libc::EPERM) => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_exists() {
        assert_eq!(process_exists(i64::from(std::process::id())), Some(true));
        assert_eq!(process_exists(0), None);
        assert_eq!(process_exists(-1), None);
    }
}
