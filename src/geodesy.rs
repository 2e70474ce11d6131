//! Distances on the WGS84 ellipsoid.
//!
//! Reported distances are geodesic (Karney's algorithm, through
//! `geo::Geodesic`), as PostGIS `ST_Distance` on geography computes them.
//! A [`LocalPlane`] around the query point finds the closest point of a
//! segment. Its error grows with distance (about 0.1 % at 5 km), but it only
//! moves the closest point, never the reported distance to it.
//!
//! Segments are straight in lon/lat, as GEOS and PostGIS geometry read them.
//! PostGIS geography reads them as great-circle arcs; the two differ by the
//! arc's sag, about 2 cm for a 1 km edge at 45°N.
//!
//! NOTE: longitudes are not wrapped, so features across the antimeridian
//! are measured the long way round.

use geo::{Coord, Distance, Geodesic, Point};

/// WGS84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Geodesic distance in metres between two lon/lat coordinates.
pub fn distance_m(a: Coord<f64>, b: Coord<f64>) -> f64 {
    Geodesic.distance(Point(a), Point(b))
}

/// A plane tangent to the ellipsoid at a point, in metres east and north,
/// scaled by the ellipsoid's radii of curvature at that latitude.
#[derive(Debug, Clone, Copy)]
pub struct LocalPlane {
    origin: Coord<f64>,
    /// Metres per degree of longitude at the origin.
    pub m_per_deg_lon: f64,
    /// Metres per degree of latitude at the origin.
    pub m_per_deg_lat: f64,
}

impl LocalPlane {
    pub fn at(origin: Coord<f64>) -> Self {
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let phi = origin.y.to_radians();
        let w = 1.0 - e2 * phi.sin().powi(2);
        let prime_vertical = WGS84_A / w.sqrt();
        let meridional = WGS84_A * (1.0 - e2) / (w * w.sqrt());
        let rad = std::f64::consts::PI / 180.0;
        LocalPlane {
            origin,
            m_per_deg_lon: prime_vertical * phi.cos() * rad,
            m_per_deg_lat: meridional * rad,
        }
    }

    /// Metres east and north of the origin.
    pub fn project(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.origin.x) * self.m_per_deg_lon,
            y: (c.y - self.origin.y) * self.m_per_deg_lat,
        }
    }

    pub fn unproject(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: self.origin.x + c.x / self.m_per_deg_lon,
            y: self.origin.y + c.y / self.m_per_deg_lat,
        }
    }

    /// Returns the point of segment `a`–`b` closest to the origin, and its
    /// distance in the plane (metres, approximate).
    pub fn closest_on_segment(&self, a: Coord<f64>, b: Coord<f64>) -> (Coord<f64>, f64) {
        let pa = self.project(a);
        let pb = self.project(b);
        let d = pb - pa;
        let len2 = d.x * d.x + d.y * d.y;
        let t = if len2 > 0.0 {
            (-(pa.x * d.x + pa.y * d.y) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let closest = Coord {
            x: pa.x + t * d.x,
            y: pa.y + t * d.y,
        };
        let distance = closest.x.hypot(closest.y);
        let lonlat = if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            self.unproject(closest)
        };
        (lonlat, distance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_agrees_with_geodesic_nearby() {
        let origin = Coord { x: -73.7, y: 45.55 };
        let plane = LocalPlane::at(origin);
        for (dx, dy) in [(0.01, 0.0), (0.0, 0.01), (0.03, -0.02), (-0.05, 0.04)] {
            let c = Coord { x: origin.x + dx, y: origin.y + dy };
            let p = plane.project(c);
            let planar = p.x.hypot(p.y);
            let geodesic = distance_m(origin, c);
            let relative = (planar - geodesic).abs() / geodesic;
            assert!(relative < 1e-3, "{dx},{dy}: {planar} vs {geodesic}");
        }
    }

    #[test]
    fn closest_point_is_foot_of_perpendicular() {
        let origin = Coord { x: -73.7, y: 45.55 };
        let plane = LocalPlane::at(origin);
        // A north-south segment 0.001° east of the origin.
        let a = Coord { x: -73.699, y: 45.54 };
        let b = Coord { x: -73.699, y: 45.56 };
        let (closest, planar) = plane.closest_on_segment(a, b);
        assert!((closest.y - origin.y).abs() < 1e-9);
        assert!((planar - distance_m(origin, closest)).abs() < 0.01);
    }

    #[test]
    fn closest_point_clamps_to_end() {
        let origin = Coord { x: 0.0, y: 0.0 };
        let plane = LocalPlane::at(origin);
        let a = Coord { x: 0.001, y: 0.001 };
        let b = Coord { x: 0.002, y: 0.001 };
        let (closest, _) = plane.closest_on_segment(a, b);
        assert_eq!(closest, a);
    }
}
