//! Geometry checks that come before GEOS: null or empty geometries,
//! non-finite coordinates, unclosed rings and rings too short to be rings.
//! GEOS cannot build a ring from an unclosed sequence or from fewer than 4
//! points, so these are found and fixed here, where each can be named.

use std::ops::Deref;

use gdal::vector::Geometry as OgrGeometry;
use gdal_sys::OGRwkbGeometryType as Wkb;

use super::error::Coordinate;
use super::geometry::{Finding, Problem};
use crate::layer::GeometryProblem;

/// The minimum number of points of a closed ring, first point repeated last.
const MIN_RING_POINTS: usize = 4;

/// The action recorded for a ring closed here.
pub(super) const CLOSE_ACTION: &str = "closed the ring by repeating its first point";

/// The source geometry, or a copy with its rings closed or removed.
pub(super) enum Checked<'a> {
    Source(&'a OgrGeometry),
    Fixed(OgrGeometry),
}

impl Deref for Checked<'_> {
    type Target = OgrGeometry;

    fn deref(&self) -> &OgrGeometry {
        match self {
            Checked::Source(geometry) => geometry,
            Checked::Fixed(geometry) => geometry,
        }
    }
}

/// Checks `source` and fixes its rings, adding a finding per problem.
/// `null_reason` explains a null geometry.
///
/// # Errors
/// [`Problem::Reject`] for a null or empty geometry, a non-finite
/// coordinate, or polygons left without any ring of 4 points or more.
pub(super) fn check<'a>(
    source: Option<&'a OgrGeometry>,
    null_reason: &str,
    findings: &mut Vec<Finding>,
) -> Result<Checked<'a>, Problem> {
    // For a null geometry, the gdal crate hands out a wrapper of a null pointer.
    // SAFETY: reads the pointer without dereferencing it.
    let Some(source) = source.filter(|g| !unsafe { g.c_geometry() }.is_null()) else {
        return Err(reject(findings, GeometryProblem::Empty, null_reason));
    };
    if let Some((x, y)) = first_non_finite(source) {
        let (x, y) = (Coordinate(x), Coordinate(y));
        let reason = format!("coordinate ({x} {y}) is not a finite number");
        return Err(reject(
            findings,
            GeometryProblem::NonFiniteCoordinate,
            &reason,
        ));
    }
    if source.is_empty() {
        return Err(reject(findings, GeometryProblem::Empty, "empty geometry"));
    }
    let mut checked = Checked::Source(source);
    if close_rings(source, findings) {
        let closed = source.clone();
        // SAFETY: `closed` is an owned, valid geometry handle.
        unsafe { gdal_sys::OGR_G_CloseRings(closed.c_geometry()) };
        checked = Checked::Fixed(closed);
    }
    if has_short_ring(&checked) {
        // The findings of the removed rings explain why nothing is left.
        let Some(kept) = without_short_rings(&checked, Place::TOP, findings) else {
            let reason = "no polygon with an exterior ring of 4 points or more is left";
            return Err(Problem::Reject(reason.to_owned()));
        };
        checked = Checked::Fixed(kept);
    }
    Ok(checked)
}

/// Records a problem that rejects the feature and returns the rejection.
fn reject(findings: &mut Vec<Finding>, problem: GeometryProblem, reason: &str) -> Problem {
    findings.push(Finding::rejected(problem, reason.to_owned()));
    Problem::Reject(reason.to_owned())
}

/// Returns the first coordinate with a NaN or infinite x or y. GDAL reads
/// a GeoJSON point whose x or y is NaN as an empty point, but keeps the
/// NaN in it.
fn first_non_finite(geometry: &OgrGeometry) -> Option<(f64, f64)> {
    let count = geometry.geometry_count();
    if count > 0 {
        return (0..count).find_map(|i| first_non_finite(&geometry.get_geometry(i)));
    }
    let points = if flat_type(geometry) == Wkb::wkbPoint {
        1
    } else {
        geometry.point_count()
    };
    (0..points)
        .map(|i| geometry.get_point(i32::try_from(i).unwrap_or(i32::MAX)))
        .find(|(x, y, _)| !x.is_finite() || !y.is_finite())
        .map(|(x, y, _)| (x, y))
}

fn flat_type(geometry: &OgrGeometry) -> u32 {
    // SAFETY: OGR_GT_Flatten only computes on the type code.
    unsafe { gdal_sys::OGR_GT_Flatten(geometry.geometry_type()) }
}

/// The position of a polygon in a multi-geometry, for the reasons in the
/// report.
#[derive(Clone, Copy)]
struct Place {
    /// None for a lone Polygon.
    polygon: Option<usize>,
}

impl Place {
    const TOP: Place = Place { polygon: None };

    /// Names ring `ring` (0 for the exterior) of the polygon at this place.
    fn ring_name(self, ring: usize) -> String {
        let ring_text = if ring == 0 {
            "exterior ring".to_owned()
        } else {
            format!("interior ring {ring}")
        };
        match self.polygon {
            None => ring_text,
            Some(polygon) => format!("{ring_text} of polygon {polygon}"),
        }
    }
}

/// Calls `f` on each ring of each polygon of `geometry` with its place.
fn for_each_ring(
    geometry: &OgrGeometry,
    place: Place,
    f: &mut impl FnMut(Place, usize, &OgrGeometry),
) {
    match flat_type(geometry) {
        Wkb::wkbPolygon => {
            for ring in 0..geometry.geometry_count() {
                f(place, ring, &geometry.get_geometry(ring));
            }
        }
        Wkb::wkbMultiPolygon | Wkb::wkbGeometryCollection => {
            for member in 0..geometry.geometry_count() {
                let inner = Place {
                    polygon: Some(member + 1),
                };
                for_each_ring(&geometry.get_geometry(member), inner, f);
            }
        }
        _ => {}
    }
}

/// Adds a finding for each ring whose last point is not its first, and
/// returns whether there was one.
fn close_rings(geometry: &OgrGeometry, findings: &mut Vec<Finding>) -> bool {
    let mut found = false;
    for_each_ring(geometry, Place::TOP, &mut |place, index, ring| {
        let count = ring.point_count();
        if count == 0 {
            return;
        }
        let (x0, y0, _) = ring.get_point(0);
        let (xn, yn, _) = ring.get_point(i32::try_from(count - 1).unwrap_or(i32::MAX));
        if x0 == xn && y0 == yn {
            return;
        }
        found = true;
        findings.push(Finding {
            problem: GeometryProblem::UnclosedRing,
            reason: format!(
                "{} is not closed: it starts at ({x0} {y0}) and ends at ({xn} {yn})",
                place.ring_name(index)
            ),
            action: CLOSE_ACTION.to_owned(),
        });
    });
    found
}

fn has_short_ring(geometry: &OgrGeometry) -> bool {
    let mut found = false;
    for_each_ring(geometry, Place::TOP, &mut |_, _, ring| {
        found |= ring.point_count() < MIN_RING_POINTS;
    });
    found
}

/// Returns a copy of `geometry` without its rings of fewer than 4 points:
/// a short interior ring is removed, and so is a polygon whose exterior
/// ring is short. Returns None when no polygon is left.
fn without_short_rings(
    geometry: &OgrGeometry,
    place: Place,
    findings: &mut Vec<Finding>,
) -> Option<OgrGeometry> {
    match flat_type(geometry) {
        Wkb::wkbPolygon => polygon_without_short_rings(geometry, place, findings),
        Wkb::wkbMultiPolygon | Wkb::wkbGeometryCollection => {
            let mut kept = OgrGeometry::empty(geometry.geometry_type()).ok()?;
            for member in 0..geometry.geometry_count() {
                let inner = Place {
                    polygon: Some(member + 1),
                };
                let part = without_short_rings(&geometry.get_geometry(member), inner, findings);
                if let Some(part) = part {
                    kept.add_geometry(part).ok()?;
                }
            }
            (kept.geometry_count() > 0).then_some(kept)
        }
        _ => Some(geometry.clone()),
    }
}

fn polygon_without_short_rings(
    polygon: &OgrGeometry,
    place: Place,
    findings: &mut Vec<Finding>,
) -> Option<OgrGeometry> {
    let ring_count = polygon.geometry_count();
    if ring_count == 0 {
        return Some(polygon.clone());
    }
    let exterior = polygon.get_geometry(0);
    if exterior.point_count() < MIN_RING_POINTS {
        findings.push(short_ring(place, 0, &exterior, "removed the polygon"));
        return None;
    }
    let mut kept = OgrGeometry::empty(polygon.geometry_type()).ok()?;
    kept.add_geometry(exterior.clone()).ok()?;
    for index in 1..ring_count {
        let ring = polygon.get_geometry(index);
        if ring.point_count() < MIN_RING_POINTS {
            findings.push(short_ring(place, index, &ring, "removed the ring"));
        } else {
            kept.add_geometry(ring.clone()).ok()?;
        }
    }
    Some(kept)
}

fn short_ring(place: Place, index: usize, ring: &OgrGeometry, removed: &str) -> Finding {
    let count = ring.point_count();
    let start = match count {
        0 => String::new(),
        _ => {
            let (x, y, _) = ring.get_point(0);
            let (x, y) = (Coordinate(x), Coordinate(y));
            format!(", starting at ({x} {y})")
        }
    };
    Finding {
        problem: GeometryProblem::RingUnder4Points,
        reason: format!(
            "{} has {count} points once closed, under the 4 of a ring{start}",
            place.ring_name(index)
        ),
        action: format!("{removed} of {count} points"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NULL: &str = "no geometry (null)";

    fn geojson(text: &str) -> OgrGeometry {
        OgrGeometry::from_geojson(text).unwrap()
    }

    fn problems(findings: &[Finding]) -> Vec<GeometryProblem> {
        findings.iter().map(|f| f.problem).collect()
    }

    /// GDAL 3.6 reads `[NaN, 45.5]` as an empty point; the NaN is still
    /// found, so the feature is reported as non-finite, not empty.
    #[test]
    fn nan_point_is_non_finite() {
        let point = geojson(r#"{"type":"Point","coordinates":[NaN,45.5]}"#);
        let mut findings = Vec::new();
        assert!(check(Some(&point), NULL, &mut findings).is_err());
        assert_eq!(problems(&findings), [GeometryProblem::NonFiniteCoordinate]);
    }

    #[test]
    fn empty_point_is_empty() {
        let point = OgrGeometry::from_wkt("POINT EMPTY").unwrap();
        let mut findings = Vec::new();
        assert!(check(Some(&point), NULL, &mut findings).is_err());
        assert_eq!(problems(&findings), [GeometryProblem::Empty]);
    }

    #[test]
    fn infinite_vertex_is_non_finite() {
        let line = geojson(r#"{"type":"LineString","coordinates":[[0,0],[Infinity,1]]}"#);
        let mut findings = Vec::new();
        assert!(check(Some(&line), NULL, &mut findings).is_err());
        assert_eq!(
            findings[0].reason,
            "coordinate (inf 1) is not a finite number"
        );
    }

    /// Closing the square's ring gives 5 points: (0 0) is repeated last.
    #[test]
    fn unclosed_ring_closed() {
        let square = geojson(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#);
        let mut findings = Vec::new();
        let checked = check(Some(&square), NULL, &mut findings).ok().unwrap();
        assert_eq!(problems(&findings), [GeometryProblem::UnclosedRing]);
        assert_eq!(checked.get_geometry(0).point_count(), 5);
        assert_eq!(checked.get_geometry(0).get_point(4), (0.0, 0.0, 0.0));
    }

    /// The hole (2 2, 3 2) becomes 3 points once closed and is removed.
    #[test]
    fn short_hole_removed() {
        let text = r#"{"type":"Polygon","coordinates":[
            [[0,0],[10,0],[10,10],[0,10],[0,0]], [[2,2],[3,2]]]}"#;
        let polygon = geojson(text);
        let mut findings = Vec::new();
        let checked = check(Some(&polygon), NULL, &mut findings).ok().unwrap();
        let found = problems(&findings);
        assert_eq!(
            found,
            [
                GeometryProblem::UnclosedRing,
                GeometryProblem::RingUnder4Points
            ]
        );
        assert_eq!(findings[1].action, "removed the ring of 3 points");
        assert_eq!(checked.geometry_count(), 1);
    }

    #[test]
    fn only_short_shell_rejected() {
        let polygon = geojson(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#);
        let mut findings = Vec::new();
        assert!(check(Some(&polygon), NULL, &mut findings).is_err());
        assert_eq!(problems(&findings), [GeometryProblem::RingUnder4Points]);
        assert_eq!(findings[0].action, "removed the polygon of 3 points");
    }
}
