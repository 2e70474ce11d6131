//! Feature geometries: checked and repaired in their source CRS with GEOS
//! (through GDAL), then reprojected to WGS84 with PROJ.

use gdal::cpl::CslStringList;
use gdal::vector::Geometry as OgrGeometry;
use geo::{Coord, Geometry, MultiPolygon, Polygon};

use super::crs::{AreaOfUse, CrsError, Transformer};
use super::error::SourceError;
use super::srs::SourceCrs;
use super::{checks, cpl};
use crate::layer::{GeometryProblem, LayerKind};

/// How far (degrees) a WGS84 coordinate may lie outside its source CRS's
/// area of use. EPSG areas follow administrative borders, and data a few
/// kilometres across one is still read correctly. A wrong CRS puts the
/// data hundreds of kilometres away or more.
pub(super) const AREA_OF_USE_MARGIN_DEG: f64 = 0.5;

/// The action [`crate::layer::InvalidGeometry::action`] records for a repaired geometry.
pub(super) const REPAIR_ACTION: &str = "repaired with GEOS MakeValid in the source CRS";

/// The action recorded for each problem of a feature that is not kept.
pub(super) const REJECT_ACTION: &str = "rejected";

/// A geometry ready for a layer, or why the feature is rejected, with the
/// problems found on the way.
pub(super) struct Shaped {
    /// In WGS84 lon/lat; a MultiPolygon for a district layer.
    pub geometry: Result<Geometry<f64>, Problem>,
    /// The problems found in the source geometry, in the order found.
    pub findings: Vec<Finding>,
}

/// One problem of a feature's geometry, before the feature's id is known.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Finding {
    pub problem: GeometryProblem,
    /// The description and location of the problem, in the source CRS.
    pub reason: String,
    /// The action taken.
    pub action: String,
}

impl Finding {
    pub fn rejected(problem: GeometryProblem, reason: String) -> Finding {
        Finding {
            problem,
            reason,
            action: REJECT_ACTION.to_owned(),
        }
    }

    /// Classifies a GEOS validity reason by its prefix, keeping its text.
    /// GEOS gives "Too few points in geometry component" for a polygon ring,
    /// but also for a line of one distinct point, hence `polygonal`.
    fn geos(reason: String, polygonal: bool) -> Finding {
        let problem = if reason.starts_with("Self-intersection")
            || reason.starts_with("Ring Self-intersection")
        {
            GeometryProblem::SelfIntersection
        } else if polygonal && reason.starts_with("Too few points in geometry component") {
            GeometryProblem::RingUnder4Points
        } else {
            GeometryProblem::Other
        };
        Finding {
            problem,
            reason,
            action: REPAIR_ACTION.to_owned(),
        }
    }
}

/// A reason a feature's geometry cannot be used.
pub(super) enum Problem {
    /// The feature is left out, with this reason in the load report.
    Reject(String),
    /// The whole file is rejected: its coordinates do not fit its CRS.
    Fatal(Box<SourceError>),
}

impl From<SourceError> for Problem {
    fn from(error: SourceError) -> Self {
        Problem::Fatal(Box::new(error))
    }
}

/// The context of one feature, for error messages.
pub(super) struct Site<'a> {
    pub path: &'a str,
    pub fid: i64,
    pub crs: &'a SourceCrs,
    /// The reason reported when the feature has no geometry.
    pub null_reason: &'a str,
}

/// Checks, repairs and reprojects the geometry of one feature.
pub(super) fn shape(
    source: Option<&OgrGeometry>,
    kind: LayerKind,
    site: &Site<'_>,
    transformer: Option<&Transformer>,
) -> Shaped {
    let mut findings = Vec::new();
    let geometry = shape_into(source, kind, site, transformer, &mut findings);
    Shaped { geometry, findings }
}

fn shape_into(
    source: Option<&OgrGeometry>,
    kind: LayerKind,
    site: &Site<'_>,
    transformer: Option<&Transformer>,
    findings: &mut Vec<Finding>,
) -> Result<Geometry<f64>, Problem> {
    let source = checks::check(source, site.null_reason, findings)?;
    let mut geometry = to_geo(&source)?;
    if site.crs.geographic {
        check_lon_lat(&geometry, site)?;
    }
    // A point with finite coordinates is always valid: skip the GEOS call.
    let is_points = matches!(geometry, Geometry::Point(_) | Geometry::MultiPoint(_));
    let (valid, messages) = cpl::capture(|| is_points || source.is_valid());
    if !valid {
        let polygonal = matches!(geometry, Geometry::Polygon(_) | Geometry::MultiPolygon(_));
        findings.push(Finding::geos(invalid_reason(&messages), polygonal));
        geometry = repair(&source)?;
    }
    if kind == LayerKind::District {
        geometry = polygonal(geometry)?;
    }
    if let Some(transformer) = transformer {
        reproject(&mut geometry, transformer, site)?;
    }
    Ok(geometry)
}

fn to_geo(source: &OgrGeometry) -> Result<Geometry<f64>, Problem> {
    source.to_geo().map_err(|e| {
        let name = source.geometry_name();
        Problem::Reject(format!("unsupported geometry type {name}: {e}"))
    })
}

/// Joins the GEOS messages into a reason, e.g. "Self-intersection at or near
/// point 496749.2 181018.4".
fn invalid_reason(messages: &[cpl::CplMessage]) -> String {
    cpl::join(messages)
        .unwrap_or_else(|| "invalid according to GEOS, which gave no reason".to_owned())
}

/// Repairs with GEOS MakeValid (`OGR_G_MakeValidEx`, default LINEWORK
/// method), the algorithm PostGIS 3.3 `ST_MakeValid` uses.
fn repair(source: &OgrGeometry) -> Result<Geometry<f64>, Problem> {
    let (repaired, messages) = cpl::capture(|| source.make_valid(&CslStringList::new()));
    match repaired {
        Ok(repaired) if !repaired.is_empty() => to_geo(&repaired),
        Ok(_) => Err(Problem::Reject(
            "invalid, and empty once repaired with GEOS MakeValid".to_owned(),
        )),
        Err(e) => Err(Problem::Reject(format!(
            "invalid, and GEOS MakeValid failed: {}",
            cpl::join(&messages).unwrap_or_else(|| e.to_string())
        ))),
    }
}

/// Keeps the polygonal part of a district geometry, as a MultiPolygon.
fn polygonal(geometry: Geometry<f64>) -> Result<Geometry<f64>, Problem> {
    let kind = geometry_kind(&geometry);
    let mut polygons = Vec::new();
    collect_polygons(geometry, &mut polygons);
    polygons.retain(|p| p.exterior().0.len() >= 4);
    if polygons.is_empty() {
        return Err(Problem::Reject(format!(
            "a district must be a Polygon or MultiPolygon, found {kind} with no polygonal part"
        )));
    }
    Ok(Geometry::MultiPolygon(MultiPolygon(polygons)))
}

fn collect_polygons(geometry: Geometry<f64>, out: &mut Vec<Polygon<f64>>) {
    match geometry {
        Geometry::Polygon(p) => out.push(p),
        Geometry::MultiPolygon(mp) => out.extend(mp.0),
        Geometry::Rect(r) => out.push(r.to_polygon()),
        Geometry::Triangle(t) => out.push(t.to_polygon()),
        Geometry::GeometryCollection(gc) => {
            for g in gc.0 {
                collect_polygons(g, out);
            }
        }
        _ => {}
    }
}

fn geometry_kind(geometry: &Geometry<f64>) -> &'static str {
    match geometry {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// Rejects the file when a coordinate of a geographic CRS is no longitude
/// or latitude, as when projected metres sit in a GeoJSON read as WGS84.
fn check_lon_lat(geometry: &Geometry<f64>, site: &Site<'_>) -> Result<(), Problem> {
    use geo::CoordsIter;

    let bad = geometry.coords_iter().find(|c| !is_lon_lat(c.x, c.y));
    match bad {
        None => Ok(()),
        Some(c) => Err(SourceError::OutOfRange {
            path: site.path.to_owned(),
            fid: site.fid,
            x: c.x,
            y: c.y,
            crs: site.crs.label.clone(),
            hint: projected_hint(c, site.crs),
        }
        .into()),
    }
}

fn is_lon_lat(x: f64, y: f64) -> bool {
    (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y)
}

/// Explains the range error: what the values look like, where the CRS
/// came from, and the setting to fix.
fn projected_hint(c: Coord<f64>, crs: &SourceCrs) -> String {
    let looks_projected = c.x.abs() > 1000.0 || c.y.abs() > 1000.0;
    let finding = if looks_projected {
        "The values look like projected metres or feet"
    } else {
        "The values are no longitude/latitude"
    };
    let settings = crs.settings;
    format!(
        "{finding}, but {}. If the coordinates are in another CRS, set {} to it, \
         e.g. {} for UTM zone 18N or {} for MTM zone 8",
        crs.origin,
        settings.name("crs"),
        settings.with_value("crs", "EPSG:32618"),
        settings.with_value("crs", "EPSG:32188")
    )
}

/// Transforms every coordinate in one PROJ call, then checks that each
/// lands in range and in the source CRS's area of use.
fn reproject(
    geometry: &mut Geometry<f64>,
    transformer: &Transformer,
    site: &Site<'_>,
) -> Result<(), Problem> {
    let mut source = Vec::new();
    visit_coords(geometry, &mut |c| source.push(*c));
    let mut target = source.clone();
    transformer
        .transform_coords(&mut target)
        .map_err(|e| not_transformed(e, site))?;
    for (from, to) in source.iter().zip(&target) {
        check_target(*from, *to, site)?;
    }
    let mut transformed = target.into_iter();
    visit_coords(geometry, &mut |c| {
        if let Some(to) = transformed.next() {
            *c = to;
        }
    });
    Ok(())
}

fn not_transformed(error: CrsError, site: &Site<'_>) -> Problem {
    let (x, y, message) = match error {
        CrsError::Transform { x, y, message, .. } => (x, y, message),
        other => (f64::NAN, f64::NAN, other.to_string()),
    };
    SourceError::NotTransformed {
        path: site.path.to_owned(),
        fid: site.fid,
        x,
        y,
        crs: site.crs.label.clone(),
        message,
        settings: site.crs.settings,
    }
    .into()
}

/// Rejects the file when a reprojected coordinate is no longitude/latitude
/// or lies outside the source CRS's area of use widened by
/// [`AREA_OF_USE_MARGIN_DEG`]. Every coordinate must fit, which is stricter
/// than an overlap of the layer's bbox with the area.
fn check_target(from: Coord<f64>, to: Coord<f64>, site: &Site<'_>) -> Result<(), Problem> {
    let area = site.crs.area.unwrap_or(AreaOfUse {
        west: -180.0,
        south: -90.0,
        east: 180.0,
        north: 90.0,
    });
    if is_lon_lat(to.x, to.y) && area.contains(to.x, to.y, AREA_OF_USE_MARGIN_DEG) {
        return Ok(());
    }
    Err(SourceError::OutsideAreaOfUse {
        path: site.path.to_owned(),
        fid: site.fid,
        x: from.x,
        y: from.y,
        crs: site.crs.label.clone(),
        lon: to.x,
        lat: to.y,
        area: area.to_string(),
        settings: site.crs.settings,
    }
    .into())
}

/// Calls `f` on every coordinate of `geometry`, always in the same order,
/// so that a second pass can write back what a first pass read.
fn visit_coords(geometry: &mut Geometry<f64>, f: &mut impl FnMut(&mut Coord<f64>)) {
    match geometry {
        Geometry::Point(p) => f(&mut p.0),
        Geometry::Line(l) => {
            f(&mut l.start);
            f(&mut l.end);
        }
        Geometry::LineString(ls) => ls.0.iter_mut().for_each(f),
        Geometry::Polygon(p) => visit_polygon(p, f),
        Geometry::MultiPoint(mp) => mp.0.iter_mut().for_each(|p| f(&mut p.0)),
        Geometry::MultiLineString(mls) => {
            for ls in mls.0.iter_mut() {
                ls.0.iter_mut().for_each(&mut *f);
            }
        }
        Geometry::MultiPolygon(mp) => mp.0.iter_mut().for_each(|p| visit_polygon(p, f)),
        Geometry::GeometryCollection(gc) => gc.0.iter_mut().for_each(|g| visit_coords(g, f)),
        // GDAL's conversion yields neither; as polygons, each corner is reprojected.
        Geometry::Rect(r) => {
            *geometry = Geometry::Polygon(r.to_polygon());
            visit_coords(geometry, f);
        }
        Geometry::Triangle(t) => {
            *geometry = Geometry::Polygon(t.to_polygon());
            visit_coords(geometry, f);
        }
    }
}

fn visit_polygon(polygon: &mut Polygon<f64>, f: &mut impl FnMut(&mut Coord<f64>)) {
    polygon.exterior_mut(|ring| ring.0.iter_mut().for_each(&mut *f));
    polygon.interiors_mut(|rings| {
        for ring in rings {
            ring.0.iter_mut().for_each(&mut *f);
        }
    });
}
