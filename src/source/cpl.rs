//! Capture of the messages GDAL emits through its CPL error handler.
//!
//! GDAL reports why a call failed (an SQL syntax error, a GEOS validity
//! reason) only through that handler. The handler stack is per thread in
//! GDAL, so pushing one here captures only the messages of the calling
//! thread and leaves any process-wide handler alone.

use std::ffi::{CStr, c_char, c_void};

use gdal_sys::{CPLErr, CPLErrorNum};

/// Runs `f` and returns its result with the messages GDAL emitted meanwhile,
/// warnings and errors alike, in order.
pub(super) fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let mut messages: Vec<String> = Vec::new();
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
    fn push(messages: &mut Vec<String>) -> HandlerGuard {
        let user_data = messages as *mut Vec<String> as *mut c_void;
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

unsafe extern "C" fn collect(class: CPLErr::Type, _number: CPLErrorNum, message: *const c_char) {
    if class == CPLErr::CE_Debug || message.is_null() {
        return;
    }
    // SAFETY: GDAL passes back the pointer given to CPLPushErrorHandlerEx,
    // on the thread that pushed it, and a NUL-terminated message.
    unsafe {
        let messages = gdal_sys::CPLGetErrorHandlerUserData() as *mut Vec<String>;
        if let Some(messages) = messages.as_mut() {
            let text = CStr::from_ptr(message).to_string_lossy();
            messages.push(text.trim().to_owned());
        }
    }
}
