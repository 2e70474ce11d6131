//! R-tree indexes of one layer, and the spatial queries a context needs.
//!
//! Trees work in a scaled lon/lat space, x = lon · cos(φ₀), y = lat, with φ₀
//! the latitude at the middle of the layer's bbox: near φ₀ a unit is about as
//! long along x as along y, so planar nearest-neighbour order is close to
//! geodesic order. Candidates are then measured on the ellipsoid
//! ([`crate::geodesy`]) and the search stops once the planar distance, scaled
//! by a lower bound of metres per unit, passes what is still needed.

mod part;

use std::collections::HashMap;

use geo::{BoundingRect, Coord, Geometry, LineString};
use rstar::{AABB, RTree};

use crate::geodesy::{self, LocalPlane};
use crate::layer::Layer;

use part::Part;

/// Slack on the metres-per-unit lower bound: covers the change of scale
/// between the query's latitude and a candidate's within a search radius of
/// a few kilometres, and the local plane's error.
const SCALE_SLACK: f64 = 0.02;

/// A feature found by a query, with its geodesic distance to the query point
/// (0 when a polygon covers the point).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index of the feature in [`Layer::features`].
    pub feature: usize,
    pub distance_m: f64,
}

/// The boundary of a polygonal feature: its ring segments in an R-tree.
struct Boundary {
    segments: RTree<Part>,
    /// Largest x of the feature in tree space: the end of the ray used for
    /// point-in-polygon tests.
    max_x: f64,
}

/// A layer with its R-trees.
pub struct LayerIndex {
    layer: Layer,
    /// cos(φ₀), the x scale of tree space.
    cos_ref: f64,
    /// Segments and points of every feature.
    parts: RTree<Part>,
    /// Envelopes of polygonal features, in tree space.
    areas: RTree<rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>>,
    /// Boundary of each feature, `None` for points and lines.
    boundaries: Vec<Option<Boundary>>,
}

impl LayerIndex {
    /// Builds the trees of a layer.
    pub fn new(layer: Layer) -> Self {
        let cos_ref = layer
            .info
            .bbox
            .map(|[_, min_lat, _, max_lat]| ((min_lat + max_lat) / 2.0).to_radians().cos())
            .unwrap_or(1.0)
            .max(0.01);

        let mut parts = Vec::new();
        let mut areas = Vec::new();
        let mut boundaries = Vec::with_capacity(layer.features.len());
        for (i, feature) in layer.features.iter().enumerate() {
            let before = parts.len();
            collect_parts(&feature.geometry, i, cos_ref, &mut parts);
            let boundary = if is_polygonal(&feature.geometry) {
                let segments = parts[before..].to_vec();
                let envelope = feature.geometry.bounding_rect().map(|r| {
                    let min = [r.min().x * cos_ref, r.min().y];
                    let max = [r.max().x * cos_ref, r.max().y];
                    rstar::primitives::Rectangle::from_corners(min, max)
                });
                let Some(envelope) = envelope else {
                    boundaries.push(None);
                    continue;
                };
                let max_x = envelope.upper()[0];
                areas.push(rstar::primitives::GeomWithData::new(envelope, i));
                Some(Boundary {
                    segments: RTree::bulk_load(segments),
                    max_x,
                })
            } else {
                None
            };
            boundaries.push(boundary);
        }

        LayerIndex {
            layer,
            cos_ref,
            parts: RTree::bulk_load(parts),
            areas: RTree::bulk_load(areas),
            boundaries,
        }
    }

    pub fn layer(&self) -> &Layer {
        &self.layer
    }

    fn to_tree(&self, c: Coord<f64>) -> [f64; 2] {
        [c.x * self.cos_ref, c.y]
    }

    /// Returns a lower bound of the metres in one tree-space unit near `plane`'s origin.
    fn metres_per_unit(&self, plane: &LocalPlane) -> f64 {
        let along_x = plane.m_per_deg_lon / self.cos_ref;
        along_x.min(plane.m_per_deg_lat) * (1.0 - SCALE_SLACK)
    }

    /// Polygonal features that cover `p`: those that contain it, or whose
    /// boundary lies within `tolerance_m` of it. Indexes ascend.
    pub fn covering(&self, p: Coord<f64>, tolerance_m: f64) -> Vec<usize> {
        let plane = LocalPlane::at(p);
        let q = self.to_tree(p);
        let reach = tolerance_m / self.metres_per_unit(&plane);
        let search = AABB::from_corners([q[0] - reach, q[1] - reach], [q[0] + reach, q[1] + reach]);

        let mut found: Vec<usize> = self
            .areas
            .locate_in_envelope_intersecting(&search)
            .map(|area| area.data)
            .filter(|&i| {
                self.contains(i, q) || self.boundary_distance_m(i, p) <= tolerance_m
            })
            .collect();
        found.sort_unstable();
        found
    }

    /// Crossing-number test of a tree-space point against a polygonal
    /// feature's rings. The result for points on the boundary is arbitrary;
    /// callers add a distance tolerance.
    fn contains(&self, feature: usize, q: [f64; 2]) -> bool {
        let Some(boundary) = &self.boundaries[feature] else {
            return false;
        };
        if q[0] > boundary.max_x {
            return false;
        }
        let ray = AABB::from_corners(q, [boundary.max_x, q[1]]);
        let mut inside = false;
        for segment in boundary.segments.locate_in_envelope_intersecting(&ray) {
            let (a, b) = (segment.a, segment.b);
            if (a[1] > q[1]) != (b[1] > q[1]) {
                let x = a[0] + (q[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                if x > q[0] {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Geodesic distance in metres from `p` to the boundary of a polygonal
    /// feature, or `f64::INFINITY` for a feature without one.
    pub fn boundary_distance_m(&self, feature: usize, p: Coord<f64>) -> f64 {
        let Some(boundary) = &self.boundaries[feature] else {
            return f64::INFINITY;
        };
        let plane = LocalPlane::at(p);
        let per_unit = self.metres_per_unit(&plane);
        let mut best: Option<(Coord<f64>, f64)> = None;
        for (segment, d2) in boundary
            .segments
            .nearest_neighbor_iter_with_distance_2(&self.to_tree(p))
        {
            if let Some((_, best_m)) = best {
                if d2.sqrt() * per_unit > best_m {
                    break;
                }
            }
            let (closest, planar_m) = segment.closest(&plane, self.cos_ref);
            if best.is_none_or(|(_, best_m)| planar_m < best_m) {
                best = Some((closest, planar_m));
            }
        }
        best.map_or(f64::INFINITY, |(closest, _)| geodesy::distance_m(p, closest))
    }

    /// Features within `radius_m` of `p` for which `keep` is true, nearest
    /// first, at most `limit`. Polygons that cover `p` are at distance 0.
    pub fn nearest(
        &self,
        p: Coord<f64>,
        radius_m: f64,
        limit: usize,
        mut keep: impl FnMut(usize) -> bool,
    ) -> Vec<Hit> {
        if limit == 0 {
            return Vec::new();
        }
        let plane = LocalPlane::at(p);
        let per_unit = self.metres_per_unit(&plane);
        let q = self.to_tree(p);
        let mut kept: HashMap<usize, bool> = HashMap::new();
        let mut keep_cached = |i: usize| *kept.entry(i).or_insert_with(|| keep(i));

        // Best planar distance and closest point per feature, then a sorted
        // list of the best distances to know the limit-th one.
        let mut best: HashMap<usize, (f64, Coord<f64>)> = HashMap::new();
        for area in self.areas.locate_all_at_point(&q) {
            let i = area.data;
            if self.contains(i, q) && keep_cached(i) {
                best.insert(i, (0.0, p));
            }
        }
        let mut ranked: Vec<f64> = vec![0.0; best.len()];

        for (part, d2) in self.parts.nearest_neighbor_iter_with_distance_2(&q) {
            let bound_m = d2.sqrt() * per_unit;
            if bound_m > radius_m {
                break;
            }
            if ranked.len() >= limit && bound_m > ranked[limit - 1] {
                break;
            }
            let i = part.feature as usize;
            if !keep_cached(i) {
                continue;
            }
            let (closest, planar_m) = part.closest(&plane, self.cos_ref);
            match best.get(&i) {
                Some(&(previous, _)) if previous <= planar_m => continue,
                Some(&(previous, _)) => {
                    let at = ranked.partition_point(|&d| d < previous);
                    ranked.remove(at);
                }
                None => {}
            }
            best.insert(i, (planar_m, closest));
            let at = ranked.partition_point(|&d| d < planar_m);
            ranked.insert(at, planar_m);
        }

        let mut hits: Vec<Hit> = best
            .into_iter()
            .map(|(feature, (planar_m, closest))| Hit {
                feature,
                distance_m: if planar_m == 0.0 {
                    0.0
                } else {
                    geodesy::distance_m(p, closest)
                },
            })
            .filter(|hit| hit.distance_m <= radius_m)
            .collect();
        hits.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.feature.cmp(&b.feature))
        });
        hits.truncate(limit);
        hits
    }
}

fn is_polygonal(geometry: &Geometry<f64>) -> bool {
    matches!(
        geometry,
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) | Geometry::Rect(_) | Geometry::Triangle(_)
    )
}

/// Appends the segments and points of a geometry, in tree space.
fn collect_parts(geometry: &Geometry<f64>, feature: usize, cos_ref: f64, out: &mut Vec<Part>) {
    let feature = u32::try_from(feature).expect("fewer than 2^32 features in a layer");
    let tree = |c: Coord<f64>| [c.x * cos_ref, c.y];
    let line = |ls: &LineString<f64>, out: &mut Vec<Part>| {
        if ls.0.len() == 1 {
            out.push(Part::point(feature, tree(ls.0[0])));
        }
        for w in ls.0.windows(2) {
            out.push(Part::segment(feature, tree(w[0]), tree(w[1])));
        }
    };
    match geometry {
        Geometry::Point(p) => out.push(Part::point(feature, tree(p.0))),
        Geometry::MultiPoint(mp) => {
            for p in mp {
                out.push(Part::point(feature, tree(p.0)));
            }
        }
        Geometry::Line(l) => out.push(Part::segment(feature, tree(l.start), tree(l.end))),
        Geometry::LineString(ls) => line(ls, out),
        Geometry::MultiLineString(mls) => {
            for ls in mls {
                line(ls, out);
            }
        }
        Geometry::Polygon(polygon) => {
            line(polygon.exterior(), out);
            for ring in polygon.interiors() {
                line(ring, out);
            }
        }
        Geometry::MultiPolygon(mp) => {
            for polygon in mp {
                line(polygon.exterior(), out);
                for ring in polygon.interiors() {
                    line(ring, out);
                }
            }
        }
        Geometry::Rect(r) => line(r.to_polygon().exterior(), out),
        Geometry::Triangle(t) => line(t.to_polygon().exterior(), out),
        Geometry::GeometryCollection(gc) => {
            for g in gc {
                collect_parts(g, feature as usize, cos_ref, out);
            }
        }
    }
}

#[cfg(test)]
mod tests;
