//! Limits on what GDAL may do while it reads a file that a user sent: the
//! drivers that may open it, no GDAL virtual file system paths, and no
//! network access from this process.
//!
//! A file can make GDAL read other files or URLs: a VRT names its source
//! datasets, and a GeoJSON `crs` member of type `link` names a URL that
//! GDAL 3.6 fetches. Restricting the drivers stops the first, and the
//! fetch callback installed here stops the second.

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::Path;
use std::sync::Once;

use super::cpl;
use super::error::SourceError;

/// The short names of the GDAL drivers that may open a source file, one
/// per supported format (`ogrinfo --formats`, GDAL 3.6.2).
pub(super) const ALLOWED_DRIVERS: [&str; 5] = ["GeoJSON", "ESRI Shapefile", "GPKG", "CSV", "OSM"];

/// The supported formats, as error messages list them.
pub(super) const SUPPORTED_FORMATS: &str = "GeoJSON, ESRI Shapefile, GeoPackage, CSV and \
                                            OpenStreetMap (.osm, .pbf)";

/// The only name that GDAL's `/vsicurl/` file system opens once
/// [`lock_down_gdal`] ran: the empty name, which never reaches it because
/// its names start with `/vsicurl/`.
const NO_CURL_FILENAME: &str = "";

/// The error text GDAL receives for each rejected fetch.
const REJECTED_FETCH: &CStr = c"repere does not access the network while reading a file";

static INSTALL: Once = Once::new();

thread_local! {
    /// The URLs rejected on this thread since the last [`take_rejected_urls`].
    static REJECTED_URLS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Installs, once per process, a GDAL HTTP fetch callback that rejects
/// every request, the `/vsicurl/` restriction and the handler that logs
/// GDAL's messages through `tracing`. The source reader calls it before
/// every open, and the command line calls it at start-up.
pub fn lock_down_gdal() {
    INSTALL.call_once(|| {
        // SAFETY: `reject_fetch` has the signature of
        // CPLHTTPFetchCallbackFunc (cpl_http.h) and uses no user data.
        unsafe { CPLHTTPSetFetchCallback(Some(reject_fetch), std::ptr::null_mut()) };
        // `/vsicurl/` and the cloud file systems built on it call libcurl
        // directly, without the fetch callback. This option makes them
        // treat every other name as missing.
        if let Err(error) =
            gdal::config::set_config_option("CPL_VSIL_CURL_ALLOWED_FILENAME", NO_CURL_FILENAME)
        {
            tracing::error!(%error, "cannot restrict GDAL's /vsicurl/ file system");
        }
        cpl::forward_uncaptured();
    });
}

/// Rejects a path that GDAL would read through one of its virtual file
/// systems (`/vsicurl/`, `/vsizip/`, `/vsis3/`…) instead of from disk.
pub(super) fn check_local_path(path: &Path, path_text: &str) -> Result<(), SourceError> {
    if path.to_string_lossy().starts_with("/vsi") {
        return Err(SourceError::Open {
            path: path_text.to_owned(),
            message: "paths starting with /vsi (GDAL virtual file systems) are not read: \
                      give the path of a file on disk"
                .to_owned(),
        });
    }
    Ok(())
}

/// Returns the URLs GDAL tried to fetch on this thread since the last call,
/// and clears the list.
pub(super) fn take_rejected_urls() -> Vec<String> {
    REJECTED_URLS.with(|urls| std::mem::take(&mut *urls.borrow_mut()))
}

/// The result of a fetch, as declared in GDAL's cpl_http.h (`CPLHTTPResult`).
#[repr(C)]
struct CplHttpResult {
    status: c_int,
    content_type: *mut c_char,
    error_buffer: *mut c_char,
    data_length: c_int,
    data_allocated: c_int,
    data: *mut u8,
    headers: *mut *mut c_char,
    mime_part_count: c_int,
    mime_parts: *mut c_void,
}

type FetchWrite = Option<unsafe extern "C" fn(*mut c_void, usize, usize, *mut c_void) -> usize>;

type FetchCallback = unsafe extern "C" fn(
    url: *const c_char,
    options: gdal_sys::CSLConstList,
    progress: gdal_sys::GDALProgressFunc,
    progress_data: *mut c_void,
    write: FetchWrite,
    write_data: *mut c_void,
    user_data: *mut c_void,
) -> *mut CplHttpResult;

// gdal-sys 0.12 does not bind cpl_http.h. GDAL 3.6.2's libgdal, which
// gdal-sys links, exports this function.
unsafe extern "C" {
    fn CPLHTTPSetFetchCallback(callback: Option<FetchCallback>, user_data: *mut c_void);
}

/// Records the URL and returns a failed result instead of fetching it.
/// GDAL frees the result with CPLHTTPDestroyResult, so it is allocated with
/// CPLCalloc and CPLStrdup.
unsafe extern "C" fn reject_fetch(
    url: *const c_char,
    _options: gdal_sys::CSLConstList,
    _progress: gdal_sys::GDALProgressFunc,
    _progress_data: *mut c_void,
    _write: FetchWrite,
    _write_data: *mut c_void,
    _user_data: *mut c_void,
) -> *mut CplHttpResult {
    if !url.is_null() {
        // SAFETY: GDAL passes a NUL-terminated URL.
        let text = unsafe { CStr::from_ptr(url) }
            .to_string_lossy()
            .into_owned();
        tracing::warn!(url = %text, "GDAL network request rejected");
        REJECTED_URLS.with(|urls| urls.borrow_mut().push(text));
    }
    // SAFETY: CPLCalloc aborts rather than return null, and zeroed memory
    // is a valid empty CPLHTTPResult; CPLStrdup copies a NUL-terminated
    // string.
    unsafe {
        let size = std::mem::size_of::<CplHttpResult>();
        let result = gdal_sys::CPLCalloc(1, size) as *mut CplHttpResult;
        (*result).status = 1;
        (*result).error_buffer = gdal_sys::CPLStrdup(REJECTED_FETCH.as_ptr());
        result
    }
}
