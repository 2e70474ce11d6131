//! The R-tree entry: one segment or point of a feature, in tree space.

use geo::Coord;
use rstar::{AABB, PointDistance, RTreeObject};

use crate::geodesy::LocalPlane;

/// A segment `a`–`b` of a feature, or a point when `a == b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Part {
    pub feature: u32,
    pub a: [f64; 2],
    pub b: [f64; 2],
}

impl Part {
    pub fn point(feature: u32, p: [f64; 2]) -> Self {
        Part { feature, a: p, b: p }
    }

    pub fn segment(feature: u32, a: [f64; 2], b: [f64; 2]) -> Self {
        Part { feature, a, b }
    }

    /// The closest point to `plane`'s origin in lon/lat, and its planar
    /// distance in metres.
    pub fn closest(&self, plane: &LocalPlane, cos_ref: f64) -> (Coord<f64>, f64) {
        let a = Coord { x: self.a[0] / cos_ref, y: self.a[1] };
        let b = Coord { x: self.b[0] / cos_ref, y: self.b[1] };
        plane.closest_on_segment(a, b)
    }
}

impl RTreeObject for Part {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.a, self.b)
    }
}

impl PointDistance for Part {
    fn distance_2(&self, p: &[f64; 2]) -> f64 {
        let d = [self.b[0] - self.a[0], self.b[1] - self.a[1]];
        let len2 = d[0] * d[0] + d[1] * d[1];
        let t = if len2 > 0.0 {
            (((p[0] - self.a[0]) * d[0] + (p[1] - self.a[1]) * d[1]) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let dx = self.a[0] + t * d[0] - p[0];
        let dy = self.a[1] + t * d[1] - p[1];
        dx * dx + dy * dy
    }
}
