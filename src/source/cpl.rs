//! Capture of the messages GDAL emits through its CPL error handler, and
//! the process-wide handler that logs the messages no call captured.
//!
//! GDAL reports why a call failed (an SQL syntax error, a GEOS validity
//! reason) only through that handler. The handler stack is per thread in
//! GDAL, so pushing one here captures only the messages of the calling
//! thread and leaves the process-wide handler alone.
//!
//! GDAL quotes attribute values in some messages, e.g. "Value '12 rue X' of
//! field F parsed incompletely", and a layer can hold citizens' data, so
//! the text between quotes is removed before a message is logged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use std::sync::Mutex;

use gdal_sys::{CPLErr, CPLErrorNum};

/// One message that GDAL emitted through its CPL error handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CplMessage {
    class: CPLErr::Type,
    number: CPLErrorNum,
    text: String,
}

impl CplMessage {
    /// Tells whether GDAL reported a failure (`CE_Failure` or `CE_Fatal`)
    /// rather than a warning.
    pub(super) fn is_failure(&self) -> bool {
        self.class == CPLErr::CE_Failure || self.class == CPLErr::CE_Fatal
    }
}

/// Joins the texts of `messages` with "; ", or returns `None` when there
/// are none. The texts keep any quoted values, for error messages sent to
/// the user who sent the file.
pub(super) fn join(messages: &[CplMessage]) -> Option<String> {
    if messages.is_empty() {
        return None;
    }
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    Some(texts.join("; "))
}

/// Runs `f` and returns its result with the messages GDAL emitted meanwhile,
/// warnings and errors alike, in order.
pub(super) fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<CplMessage>) {
    let mut messages: Vec<CplMessage> = Vec::new();
    let result = {
        let _guard = HandlerGuard::push(&mut messages);
        f()
    };
    (result, messages)
}

/// Pops the pushed handler when dropped, also when `f` panics, so that GDAL
/// never keeps a pointer to a dropped `Vec`.
struct HandlerGuard;

impl HandlerGuard {
    fn push(messages: &mut Vec<CplMessage>) -> HandlerGuard {
        let user_data = messages as *mut Vec<CplMessage> as *mut c_void;
        // SAFETY: `collect` reads `user_data` as the `Vec` it points to,
        // which outlives the guard that pops the handler.
        unsafe { gdal_sys::CPLPushErrorHandlerEx(Some(collect), user_data) };
        HandlerGuard
    }
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        // SAFETY: pops the handler pushed by `HandlerGuard::push` on this thread.
        unsafe { gdal_sys::CPLPopErrorHandler() };
    }
}

unsafe extern "C" fn collect(class: CPLErr::Type, number: CPLErrorNum, message: *const c_char) {
    if class == CPLErr::CE_Debug || message.is_null() {
        return;
    }
    // SAFETY: GDAL passes back the pointer given to CPLPushErrorHandlerEx,
    // on the thread that pushed it, and a NUL-terminated message.
    unsafe {
        let messages = gdal_sys::CPLGetErrorHandlerUserData() as *mut Vec<CplMessage>;
        if let Some(messages) = messages.as_mut() {
            let text = CStr::from_ptr(message).to_string_lossy();
            messages.push(CplMessage {
                class,
                number,
                text: text.trim().to_owned(),
            });
        }
    }
}

/// The maximum number of distinct messages whose repeats are counted. The
/// counts start again from zero when a new message would exceed it.
const MAX_COUNTED_MESSAGES: usize = 1024;

/// How many times each message reached the process-wide handler.
static REPEATS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

/// Installs the process-wide GDAL error handler, which logs every message
/// not captured by [`capture`] through `tracing`, instead of GDAL's default
/// of printing it to stderr.
pub(super) fn forward_uncaptured() {
    // SAFETY: `forward` has the CPLErrorHandler signature and no user data.
    unsafe { gdal_sys::CPLSetErrorHandler(Some(forward)) };
}

/// Logs `messages`, captured during a call that succeeded.
pub(super) fn log_captured(messages: &[CplMessage]) {
    for message in messages {
        log(message.class, message.number, &message.text);
    }
}

unsafe extern "C" fn forward(class: CPLErr::Type, number: CPLErrorNum, message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: GDAL passes a NUL-terminated message.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    log(class, number, text.trim());
}

/// Logs one GDAL message with its quoted values removed, debug output at
/// debug level and anything else as a warning. A message seen before is
/// logged again only at its 2nd, 4th, 8th… occurrence, with the count,
/// because GDAL repeats some warnings for every feature of a file. Messages
/// that differ only in their quoted values count as one.
fn log(class: CPLErr::Type, number: CPLErrorNum, text: &str) {
    let text = remove_quoted(text);
    let text = remove_after_colon(&text);
    let Some(repeats) = count_repeat(&text) else {
        return;
    };
    if class == CPLErr::CE_Debug {
        tracing::debug!(gdal_message = %text, repeats, "GDAL debug message");
    } else {
        let class = class_name(class);
        tracing::warn!(gdal_message = %text, class, number, repeats, "GDAL message");
    }
}

/// The text that replaces what a message quotes.
const REMOVED: &str = "…";

/// Replaces the text between the first and the last quote (`'` or `"`) of
/// `text` with [`REMOVED`]. A quoted value may itself contain quotes, as in
/// 'rue de l'Église', so the span runs to the last quote rather than to the
/// next one. Text between two quoted values goes too, and so does an
/// apostrophe's word before the first value ("Couldn't").
///
/// A value that GDAL writes without quotes goes with [`remove_after_colon`]
/// when it follows a colon.
///
/// NOTE: a value GDAL writes without quotes and without a colon before it
/// stays in the text.
fn remove_quoted(text: &str) -> Cow<'_, str> {
    let is_quote = |c: char| c == '\'' || c == '"';
    let (Some(first), Some(last)) = (text.find(is_quote), text.rfind(is_quote)) else {
        return Cow::Borrowed(text);
    };
    if first == last {
        return Cow::Borrowed(text);
    }
    // Both quotes are one byte long, so `first + 1` and `last` are char
    // boundaries.
    Cow::Owned(format!("{}{REMOVED}{}", &text[..=first], &text[last..]))
}

/// Replaces what follows the first ": " of `text` with [`REMOVED`]. GDAL
/// writes a cell's content there without quotes, as in the GeoPackage
/// driver's "Invalid content for record 1 in column when: VALUE", and
/// SQL, paths and SQLite's reasons too.
///
/// NOTE: so the log keeps only the head of such messages; the error
/// returned to the person importing keeps GDAL's whole text.
fn remove_after_colon(text: &str) -> Cow<'_, str> {
    match text.find(": ") {
        Some(colon) if colon + 2 < text.len() => {
            Cow::Owned(format!("{}{REMOVED}", &text[..colon + 2]))
        }
        _ => Cow::Borrowed(text),
    }
}

/// Counts one more occurrence of `text` and returns the count when it is a
/// power of two, else `None`.
fn count_repeat(text: &str) -> Option<u64> {
    let mut guard = REPEATS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let counts = guard.get_or_insert_with(HashMap::new);
    if counts.len() >= MAX_COUNTED_MESSAGES && !counts.contains_key(text) {
        counts.clear();
    }
    let count = counts.entry(text.to_owned()).or_insert(0);
    *count += 1;
    count.is_power_of_two().then_some(*count)
}

fn class_name(class: CPLErr::Type) -> &'static str {
    match class {
        CPLErr::CE_None => "none",
        CPLErr::CE_Warning => "warning",
        CPLErr::CE_Failure => "failure",
        CPLErr::CE_Fatal => "fatal",
        _ => "debug",
    }
}

#[cfg(test)]
mod tests {
    use super::{remove_after_colon, remove_quoted};

    #[test]
    fn text_after_colon_removed() {
        let cases = [
            (
                "Invalid content for record 1 in column when: Jane Roe, 2111 W BELLEVUE AVE",
                "Invalid content for record 1 in column when: …",
            ),
            (
                "sqlite3_step(): database disk image is malformed",
                "sqlite3_step(): …",
            ),
            (
                "fread(403) failed on DBF file.",
                "fread(403) failed on DBF file.",
            ),
            ("trailing colon: ", "trailing colon: "),
            ("time 12:30 stays", "time 12:30 stays"),
        ];
        for (text, expected) in cases {
            assert_eq!(remove_after_colon(text), expected, "for {text:?}");
        }
    }

    #[test]
    fn quoted_values_removed() {
        let cases = [
            (
                "Value '34 rue de l'Eglise' of field b.note parsed incompletely to real 34.",
                "Value '…' of field b.note parsed incompletely to real 34.",
            ),
            ("Field \"desc\" has value \"x\"", "Field \"…\""),
            ("mixed 'a\" quotes\" end", "mixed '…\" end"),
            ("empty '' value", "empty '…' value"),
            ("no quote at all", "no quote at all"),
            ("Couldn't open", "Couldn't open"),
            ("'É' at start", "'…' at start"),
        ];
        for (text, expected) in cases {
            assert_eq!(remove_quoted(text), expected, "for {text:?}");
        }
    }
}
