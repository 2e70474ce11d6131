//! Coordinate reference systems of sources, and reprojection with PROJ.

use geo::Coord;
use proj::Proj;

use super::error::Coordinate;

/// WGS84 longitude/latitude, the CRS of every loaded layer.
pub const WGS84: &str = "EPSG:4326";

#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error(
        "invalid CRS {crs:?}: {message}; expected an authority code such as \"EPSG:32188\", \
         WKT, PROJJSON or a PROJ string"
    )]
    Invalid { crs: String, message: String },
    #[error("PROJ found no transformation from {from} to {to}: {message}")]
    NoTransformation {
        from: String,
        to: String,
        message: String,
    },
    #[error(
        "PROJ cannot transform ({}, {}) from {from} to {to}: {message}",
        Coordinate(*x),
        Coordinate(*y)
    )]
    Transform {
        from: String,
        to: String,
        x: f64,
        y: f64,
        message: String,
    },
}

/// A PROJ transformation between two CRSs.
///
/// Coordinates go in and come out in the order PROJ's
/// `proj_normalize_for_visualization` gives: longitude then latitude for a
/// geographic CRS, easting then northing for a projected one, whatever
/// order the CRS definition declares.
pub struct Transformer {
    proj: Proj,
    from: String,
    to: String,
}

impl Transformer {
    /// Builds the transformation PROJ ranks best between `from` and `to`,
    /// each any definition PROJ reads (`EPSG:32188`, WKT, PROJJSON).
    ///
    /// # Errors
    /// [`CrsError::NoTransformation`] when PROJ cannot read either CRS or
    /// finds no operation between them.
    pub fn new(from: &str, to: &str) -> Result<Self, CrsError> {
        Self::labelled(from, from, to)
    }

    /// Like [`Transformer::new`], with `label` naming `from` in errors (a
    /// WKT definition is too long for a message).
    pub(crate) fn labelled(from: &str, label: &str, to: &str) -> Result<Self, CrsError> {
        let proj = Proj::new_known_crs(from, to, None).map_err(|e| CrsError::NoTransformation {
            from: label.to_owned(),
            to: to.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Transformer {
            proj,
            from: label.to_owned(),
            to: to.to_owned(),
        })
    }

    /// Transforms one coordinate.
    ///
    /// # Errors
    /// [`CrsError::Transform`] when PROJ fails or returns a non-finite value,
    /// as it does for points outside a projection's domain.
    pub fn transform(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let converted = self.proj.convert((x, y));
        match converted {
            Ok((tx, ty)) if tx.is_finite() && ty.is_finite() => Ok((tx, ty)),
            Ok(_) => Err(self.error(x, y, "the result is not a finite number".to_owned())),
            Err(e) => Err(self.error(x, y, e.to_string())),
        }
    }

    /// Transforms coordinates in place, in one PROJ call.
    ///
    /// # Errors
    /// [`CrsError::Transform`] naming the first coordinate that failed; the
    /// slice then contains unspecified values.
    pub fn transform_coords(&self, coords: &mut [Coord<f64>]) -> Result<(), CrsError> {
        let original = coords.to_vec();
        let batch_ok = self.proj.convert_array(coords).is_ok();
        let all_finite = coords.iter().all(|c| c.x.is_finite() && c.y.is_finite());
        if batch_ok && all_finite {
            return Ok(());
        }
        // Redo the batch one coordinate at a time to name the one that fails.
        for (coord, source) in coords.iter_mut().zip(&original) {
            let (x, y) = self.transform(source.x, source.y)?;
            *coord = Coord { x, y };
        }
        Ok(())
    }

    fn error(&self, x: f64, y: f64, message: String) -> CrsError {
        CrsError::Transform {
            from: self.from.clone(),
            to: self.to.clone(),
            x,
            y,
            message,
        }
    }
}

/// A CRS's area of use, in WGS84 degrees. `west > east` when it crosses
/// the antimeridian, as EPSG areas do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaOfUse {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl AreaOfUse {
    /// Returns true when (`lon`, `lat`) lies in the area widened by
    /// `margin_deg` on every side.
    pub fn contains(&self, lon: f64, lat: f64, margin_deg: f64) -> bool {
        let lat_ok = lat >= self.south - margin_deg && lat <= self.north + margin_deg;
        let west = self.west - margin_deg;
        let east = self.east + margin_deg;
        let lon_ok = if self.west <= self.east {
            lon >= west && lon <= east
        } else {
            lon >= west || lon <= east
        };
        lat_ok && lon_ok
    }
}

impl std::fmt::Display for AreaOfUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "longitude {} to {}, latitude {} to {}",
            self.west, self.east, self.south, self.north
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EPSG:4269 (NAD83) is used from longitude 167.65 to -40.73, eastward
    /// across the antimeridian, and from latitude 14.92 to 86.45 (projinfo
    /// EPSG:4269, PROJ 9.1).
    const NORTH_AMERICA: AreaOfUse = AreaOfUse {
        west: 167.65,
        south: 14.92,
        east: -40.73,
        north: 86.45,
    };

    #[test]
    fn area_across_antimeridian() {
        assert!(NORTH_AMERICA.contains(-73.7, 45.5, 0.0));
        assert!(NORTH_AMERICA.contains(170.0, 52.0, 0.0));
        assert!(!NORTH_AMERICA.contains(100.0, 45.0, 0.0));
        assert!(!NORTH_AMERICA.contains(-73.7, 10.0, 0.0));
    }

    #[test]
    fn area_margin_widens() {
        assert!(!NORTH_AMERICA.contains(-40.0, 45.0, 0.0));
        assert!(NORTH_AMERICA.contains(-40.0, 45.0, 1.0));
    }

    /// Latitude 100 does not exist: PROJ fails with "Invalid latitude".
    #[test]
    fn invalid_latitude_fails() {
        let transformer = Transformer::new(WGS84, "EPSG:3857").unwrap();
        let error = transformer.transform(0.0, 100.0).unwrap_err();
        assert!(error.to_string().contains("(0, 100)"), "{error}");
    }

    #[test]
    fn batch_names_failing_coordinate() {
        let transformer = Transformer::new(WGS84, "EPSG:3857").unwrap();
        let mut coords = vec![Coord { x: -73.7, y: 45.5 }, Coord { x: 10.0, y: 100.0 }];
        let error = transformer.transform_coords(&mut coords).unwrap_err();
        let CrsError::Transform { x, y, .. } = error else {
            panic!("{error:?}")
        };
        assert_eq!((x, y), (10.0, 100.0));
    }

    #[test]
    fn unknown_crs_rejected() {
        let error = Transformer::new("EPSG:99999999", WGS84).err().unwrap();
        assert!(
            matches!(error, CrsError::NoTransformation { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("EPSG:99999999"), "{error}");
    }
}
