//! The CRS a source is read in: the manifest's `crs`, else the file's own,
//! identified to an EPSG code when GDAL can match one.

use std::ffi::c_int;
use std::path::Path;
use std::ptr;

use gdal::spatial_ref::SpatialRef;

use super::cpl;
use super::crs::{AreaOfUse, CrsError, Transformer, WGS84};
use super::error::SourceError;
use super::options::SettingSource;

/// The lowest `OSRFindMatches` confidence (percent) accepted as an
/// identification. A .prj that differs from the EPSG definition only by
/// its names, as the Laval districts' `_MI_0` does from EPSG:3798, scores 70;
/// pyproj's `to_epsg` uses the same threshold by default.
const MIN_MATCH_CONFIDENCE: c_int = 70;

/// The resolved CRS of a source.
#[derive(Debug)]
pub(super) struct SourceCrs {
    /// `EPSG:NNNN` when identified, else the CRS name.
    pub label: String,
    pub geographic: bool,
    /// From the CRS itself or, for an unnamed CRS, from its EPSG match.
    pub area: Option<AreaOfUse>,
    /// Where the CRS comes from, for error messages: "the manifest sets crs
    /// = …", "the file declares …".
    pub origin: String,
    /// The origin of the setting that overrides the file's CRS, named in
    /// error messages.
    pub settings: SettingSource,
    /// The definition handed to PROJ: PROJJSON exported by GDAL, or the
    /// authority code of a CRS that carries one.
    definition: String,
}

/// Returns the error for a file without a CRS. GDAL 3.6 reads a Shapefile
/// whose .prj it cannot parse as one without a CRS, so a .prj beside the
/// file gets its own message.
fn missing_crs(path: &str, driver: &str, settings: SettingSource) -> SourceError {
    let shapefile = Path::new(path);
    let prj = ["prj", "PRJ"]
        .iter()
        .map(|extension| shapefile.with_extension(extension))
        .find(|candidate| candidate.is_file());
    match prj {
        Some(prj) if driver == "ESRI Shapefile" => SourceError::UnparsablePrj {
            path: path.to_owned(),
            prj: prj
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            settings,
        },
        _ => SourceError::MissingCrs {
            path: path.to_owned(),
            settings,
        },
    }
}

impl SourceCrs {
    /// Resolves the CRS of `path`, read by GDAL driver `driver`: `spec_crs`
    /// (given through `settings`) when set, else `file_srs`.
    ///
    /// # Errors
    /// [`SourceError::MissingCrs`] when neither is set,
    /// [`SourceError::Crs`] when `spec_crs` does not parse.
    pub fn resolve(
        path: &str,
        driver: &str,
        spec_crs: Option<&str>,
        settings: SettingSource,
        file_srs: Option<SpatialRef>,
    ) -> Result<SourceCrs, SourceError> {
        let srs = match (spec_crs, file_srs) {
            (Some(definition), _) => parse(definition).map_err(|source| SourceError::Crs {
                path: path.to_owned(),
                source,
            })?,
            (None, Some(srs)) => srs,
            (None, None) => {
                return Err(missing_crs(path, driver, settings));
            }
        };
        let mut crs = Self::from_srs(&srs);
        crs.settings = settings;
        crs.origin = match spec_crs {
            Some(definition) => format!("{} is {definition:?}", settings.name("crs")),
            None if driver == "GeoJSON" => format!(
                "the file is GeoJSON, read as {} from its `crs` member or, without one, \
                 as WGS84 (RFC 7946)",
                crs.label
            ),
            None => format!("the file declares {}", crs.label),
        };
        Ok(crs)
    }

    fn from_srs(srs: &SpatialRef) -> SourceCrs {
        let own_code = epsg_code(srs);
        let definition = own_code
            .clone()
            .or_else(|| srs.to_projjson().ok())
            .unwrap_or_else(|| srs.to_wkt().unwrap_or_default());
        let matched = own_code.is_none().then(|| best_match(srs)).flatten();
        let area = area_of_use(srs).or_else(|| matched.as_ref().and_then(|(m, _)| area_of_use(m)));
        let code = own_code.or(matched.map(|(_, code)| code));
        let name = srs.name().unwrap_or_else(|| "unnamed CRS".to_owned());
        SourceCrs {
            label: code.unwrap_or(name),
            geographic: srs.is_geographic(),
            area,
            origin: String::new(),
            settings: SettingSource::default(),
            definition,
        }
    }

    /// Builds the transformation from this CRS to WGS84 longitude/latitude.
    pub fn to_wgs84(&self) -> Result<Transformer, CrsError> {
        Transformer::labelled(&self.definition, &self.label, WGS84)
    }

    pub fn is_wgs84(&self) -> bool {
        self.label == WGS84
    }
}

/// Parses a manifest `crs` value through GDAL (`OSRSetFromUserInput`).
fn parse(definition: &str) -> Result<SpatialRef, CrsError> {
    let (parsed, messages) = cpl::capture(|| SpatialRef::from_definition(definition));
    parsed.map_err(|e| CrsError::Invalid {
        crs: definition.to_owned(),
        message: cpl::join(&messages).unwrap_or_else(|| e.to_string()),
    })
}

/// Returns the CRS's own `EPSG:NNNN` code, when its root has one.
fn epsg_code(srs: &SpatialRef) -> Option<String> {
    let authority = srs.authority().ok()?;
    authority.starts_with("EPSG:").then_some(authority)
}

/// Finds the EPSG CRS that `OSRFindMatches` rates the closest match of
/// `srs`, at [`MIN_MATCH_CONFIDENCE`] or above.
fn best_match(srs: &SpatialRef) -> Option<(SpatialRef, String)> {
    let mut count: c_int = 0;
    let mut confidences: *mut c_int = ptr::null_mut();
    // SAFETY: OSRFindMatches returns null or an array of `count` handles
    // and an array of `count` confidences. Both are freed below, after the
    // chosen handle has been cloned.
    unsafe {
        let matches = gdal_sys::OSRFindMatches(
            srs.to_c_hsrs(),
            ptr::null_mut(),
            &mut count,
            &mut confidences,
        );
        if matches.is_null() {
            return None;
        }
        let mut best: Option<(c_int, SpatialRef, String)> = None;
        for i in 0..usize::try_from(count).unwrap_or(0) {
            let confidence = *confidences.add(i);
            let handle = *matches.add(i);
            let beaten = best.as_ref().is_some_and(|(top, ..)| confidence <= *top);
            if confidence < MIN_MATCH_CONFIDENCE || handle.is_null() || beaten {
                continue;
            }
            let Ok(candidate) = SpatialRef::from_c_obj(handle) else {
                continue;
            };
            if let Some(code) = epsg_code(&candidate) {
                best = Some((confidence, candidate, code));
            }
        }
        gdal_sys::OSRFreeSRSArray(matches);
        gdal_sys::VSIFree(confidences.cast());
        best.map(|(_, candidate, code)| (candidate, code))
    }
}

fn area_of_use(srs: &SpatialRef) -> Option<AreaOfUse> {
    let area = srs.area_of_use()?;
    Some(AreaOfUse {
        west: area.west_lon_degree,
        south: area.south_lat_degree,
        east: area.east_lon_degree,
        north: area.north_lat_degree,
    })
}
