//! Feature-level rules on small GeoJSON files written for each case: work
//! intervals, rejected geometries, missing ids.
//!
//! Expected instants are computed by hand: Toronto (the default time zone)
//! is UTC-5 in winter (EST) and UTC-4 in summer (EDT).

use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use geo::CoordsIter;
use repere::layer::{Layer, LayerKind};
use repere::manifest::{LayerSpec, Manifest};
use repere::source::load_layer;
use serde_json::json;

fn spec(dir: &Path, body: &str) -> LayerSpec {
    let text = format!("[[layer]]\n{body}");
    let mut manifest = Manifest::parse(&dir.join("layers.toml"), &text).unwrap();
    manifest.layers.remove(0)
}

fn write_geojson(dir: &Path, name: &str, features: serde_json::Value) {
    let collection = json!({ "type": "FeatureCollection", "features": features });
    fs::write(dir.join(name), collection.to_string()).unwrap();
}

fn point(lon: f64, lat: f64) -> serde_json::Value {
    json!({ "type": "Point", "coordinates": [lon, lat] })
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn feature<'a>(layer: &'a Layer, id: &str) -> &'a repere::layer::Feature {
    layer
        .features
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no feature {id} in {:?}", layer.report))
}

/// Road works near Laval City Hall with the three date styles sources use.
fn works_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let works = json!([
        { "type": "Feature", "geometry": point(-73.7497, 45.5580), "properties": {
            "permit": "P-1", "street": "boulevard Chomedey",
            "from_day": "2024-07-01", "to_day": "2024-07-03",
            "from_us": "01/03/2018 10:11:23 AM", "to_us": "01/03/2018 04:30:00 PM",
            "from_iso": "2024-07-01T12:00:00+02:00" } },
        { "type": "Feature", "geometry": point(-73.7512, 45.5601), "properties": {
            "permit": "P-2", "street": "rue Saint-Martin",
            "from_day": "2024-01-15", "to_day": null,
            "from_us": "12/31/2017 11:59:59 PM", "to_us": null,
            "from_iso": "2024-01-15T08:30:00-05:00" } },
        { "type": "Feature", "geometry": point(-73.7530, 45.5622), "properties": {
            "permit": "P-3", "street": "boulevard de l'Avenir",
            "from_day": "2024-03-10", "to_day": "2024-03-10",
            "from_us": "soon", "to_us": "03/10/2024 03:30:00 AM",
            "from_iso": "2024-03-10T00:00:00Z" } }
    ]);
    write_geojson(dir.path(), "works.geojson", works);
    dir
}

fn works_spec(dir: &Path, start: &str, end: &str, format: Option<&str>) -> LayerSpec {
    let format = format.map_or(String::new(), |f| format!("datetime_format = \"{f}\"\n"));
    let body = format!(
        "name = \"works\"\nkind = \"work\"\npath = \"works.geojson\"\nid_field = \"permit\"\n\
         name_field = \"street\"\nstart_field = \"{start}\"\nend_field = \"{end}\"\n{format}"
    );
    spec(dir, &body)
}

#[test]
fn date_only_bounds_cover_whole_days() {
    let dir = works_dir();
    let layer = load_layer(&works_spec(dir.path(), "from_day", "to_day", None)).unwrap();
    assert_eq!(layer.info.kind, LayerKind::Work);
    assert_eq!(layer.features.len(), 3, "{:?}", layer.report.rejected);

    // 2024-07-01 00:00 EDT to the end of 2024-07-03, i.e. 2024-07-04 00:00 EDT.
    let p1 = feature(&layer, "P-1").active.unwrap();
    assert_eq!(p1.start, Some(utc("2024-07-01T04:00:00Z")));
    assert_eq!(p1.end, Some(utc("2024-07-04T04:00:00Z")));

    // Winter: 2024-01-15 00:00 EST; a null end is open.
    let p2 = feature(&layer, "P-2").active.unwrap();
    assert_eq!(p2.start, Some(utc("2024-01-15T05:00:00Z")));
    assert_eq!(p2.end, None);

    // The day clocks go forward: 00:00 EST, then 2024-03-11 00:00 EDT.
    let p3 = feature(&layer, "P-3").active.unwrap();
    assert_eq!(p3.start, Some(utc("2024-03-10T05:00:00Z")));
    assert_eq!(p3.end, Some(utc("2024-03-11T04:00:00Z")));
}

#[test]
fn us_format_datetimes_parsed() {
    let dir = works_dir();
    let format = "%m/%d/%Y %I:%M:%S %p";
    let layer = load_layer(&works_spec(dir.path(), "from_us", "to_us", Some(format))).unwrap();

    // 10:11:23 EST = 15:11:23 UTC; 16:30 EST = 21:30 UTC.
    let p1 = feature(&layer, "P-1").active.unwrap();
    assert_eq!(p1.start, Some(utc("2018-01-03T15:11:23Z")));
    assert_eq!(p1.end, Some(utc("2018-01-03T21:30:00Z")));

    // 23:59:59 EST on 2017-12-31 is 04:59:59 UTC the next day.
    let p2 = feature(&layer, "P-2").active.unwrap();
    assert_eq!(p2.start, Some(utc("2018-01-01T04:59:59Z")));
    assert_eq!(p2.end, None);

    // "soon" is no date: the feature is rejected with the value.
    assert_eq!(layer.features.len(), 2);
    let rejected = &layer.report.rejected;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].fid, 2);
    assert!(
        rejected[0].reason.contains("\"soon\""),
        "{}",
        rejected[0].reason
    );
    assert!(
        rejected[0].reason.contains("from_us"),
        "{}",
        rejected[0].reason
    );
}

/// GDAL reads these as DateTime fields with a time zone flag; the offset
/// written in the file is kept.
#[test]
fn offsets_in_file_kept() {
    let dir = works_dir();
    let layer = load_layer(&works_spec(dir.path(), "from_iso", "to_day", None)).unwrap();
    let p1 = feature(&layer, "P-1").active.unwrap();
    assert_eq!(p1.start, Some(utc("2024-07-01T10:00:00Z")));
    let p2 = feature(&layer, "P-2").active.unwrap();
    assert_eq!(p2.start, Some(utc("2024-01-15T13:30:00Z")));
    let p3 = feature(&layer, "P-3").active.unwrap();
    assert_eq!(p3.start, Some(utc("2024-03-10T00:00:00Z")));
}

#[test]
fn end_before_start_rejected() {
    // With from_day as start and from_iso as end, P-1 runs from 04:00 to
    // 10:00 UTC on 2024-07-01, but P-3 would end at 2024-03-10 00:00 UTC,
    // before it starts at 05:00 UTC.
    let dir = works_dir();
    let layer = load_layer(&works_spec(dir.path(), "from_day", "from_iso", None)).unwrap();
    let rejected = &layer.report.rejected;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].fid, 2);
    assert!(
        rejected[0].reason.contains("not after it starts"),
        "{}",
        rejected[0].reason
    );
}

#[test]
fn unusable_district_geometries_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let square = json!({ "type": "Polygon", "coordinates": [[
        [-73.76, 45.55], [-73.74, 45.55], [-73.74, 45.57], [-73.76, 45.57], [-73.76, 45.55]
    ]] });
    let line = json!({ "type": "LineString", "coordinates": [[-73.76, 45.55], [-73.74, 45.57]] });
    // GDAL reads an empty Polygon as null, but an empty MultiPolygon as empty.
    let empty = json!({ "type": "MultiPolygon", "coordinates": [] });
    let features = json!([
        { "type": "Feature", "geometry": square, "properties": { "code": "A", "nom": "Square" } },
        { "type": "Feature", "geometry": point(-73.75, 45.56), "properties": { "code": "B", "nom": "Point" } },
        { "type": "Feature", "geometry": line, "properties": { "code": "C", "nom": "Line" } },
        { "type": "Feature", "geometry": null, "properties": { "code": "D", "nom": "Null" } },
        { "type": "Feature", "geometry": empty, "properties": { "code": "E", "nom": "Empty" } }
    ]);
    write_geojson(dir.path(), "districts.geojson", features);
    let body = "name = \"districts\"\nkind = \"district\"\npath = \"districts.geojson\"\n\
                id_field = \"code\"\nname_field = \"nom\"\n";
    let layer = load_layer(&spec(dir.path(), body)).unwrap();

    assert_eq!(layer.features.len(), 1);
    assert_eq!(layer.features[0].id, "A");
    let reasons: Vec<(i64, &str)> = layer
        .report
        .rejected
        .iter()
        .map(|r| (r.fid, r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert_eq!(reasons[0].0, 1);
    assert!(reasons[0].1.contains("found Point"), "{}", reasons[0].1);
    assert_eq!(reasons[1].0, 2);
    assert!(
        reasons[1].1.contains("found LineString"),
        "{}",
        reasons[1].1
    );
    assert_eq!(reasons[2].0, 3);
    assert!(reasons[2].1.contains("null"), "{}", reasons[2].1);
    assert_eq!(reasons[3].0, 4);
    assert!(reasons[3].1.contains("empty"), "{}", reasons[3].1);
}

#[test]
fn missing_ids_made_synthetic() {
    let dir = tempfile::tempdir().unwrap();
    let features = json!([
        { "type": "Feature", "geometry": point(-73.75, 45.56), "properties": { "code": "H-1", "nom": "Hydrant" } },
        { "type": "Feature", "geometry": point(-73.76, 45.56), "properties": { "code": null, "nom": "Hydrant" } },
        { "type": "Feature", "geometry": point(-73.77, 45.56), "properties": { "code": " ", "nom": "Hydrant" } },
        { "type": "Feature", "geometry": point(-73.78, 45.56), "properties": { "code": "H-1", "nom": "Hydrant" } }
    ]);
    write_geojson(dir.path(), "hydrants.geojson", features);
    let body = "name = \"hydrants\"\nkind = \"asset\"\npath = \"hydrants.geojson\"\n\
                id_field = \"code\"\nname_field = \"nom\"\n";
    let layer = load_layer(&spec(dir.path(), body)).unwrap();

    let ids: Vec<&str> = layer.features.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["H-1", "hydrants:1", "hydrants:2", "hydrants:3"]);
    let reasons: Vec<&str> = layer
        .report
        .synthetic_ids
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert_eq!(reasons, ["missing", "missing", "repeated"]);
    assert_eq!(
        layer.report.synthetic_ids[2].source_value.as_deref(),
        Some("H-1")
    );
}

/// GDAL turns integer GeoJSON `id` members into feature ids, not columns.
#[test]
fn geojson_id_members_used() {
    let dir = tempfile::tempdir().unwrap();
    let collection = json!({ "type": "FeatureCollection", "features": [
        { "type": "Feature", "id": 7, "geometry": point(-73.75, 45.56), "properties": { "nom": "Seven" } },
        { "type": "Feature", "id": 9, "geometry": point(-73.76, 45.56), "properties": { "nom": "Nine" } }
    ] });
    fs::write(dir.path().join("members.geojson"), collection.to_string()).unwrap();
    let body = "name = \"members\"\nkind = \"asset\"\npath = \"members.geojson\"\n\
                id_field = \"id\"\nname_field = \"nom\"\n";
    let layer = load_layer(&spec(dir.path(), body)).unwrap();

    let ids: Vec<&str> = layer.features.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["7", "9"]);
    assert!(
        layer.report.synthetic_ids.is_empty(),
        "{:?}",
        layer.report.synthetic_ids
    );
}

/// A self-intersecting bow tie in MTM zone 8 is repaired in metres, then
/// reprojected: GEOS MakeValid splits it into two triangles, as PostGIS
/// `ST_MakeValid('POLYGON((0 0,10 10,0 10,10 0,0 0))')` does.
#[test]
fn bow_tie_repaired_in_source_crs() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (285000.0, 5045000.0);
    let bow_tie = json!({ "type": "Polygon", "coordinates": [[
        [x, y], [x + 100.0, y + 100.0], [x, y + 100.0], [x + 100.0, y], [x, y]
    ]] });
    let collection = json!({
        "type": "FeatureCollection",
        "crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:EPSG::32188" } },
        "features": [{ "type": "Feature", "geometry": bow_tie, "properties": { "code": "X", "nom": "Bow tie" } }]
    });
    fs::write(dir.path().join("bow_tie.geojson"), collection.to_string()).unwrap();
    let body = "name = \"bow_tie\"\nkind = \"district\"\npath = \"bow_tie.geojson\"\n\
                id_field = \"code\"\nname_field = \"nom\"\n";
    let layer = load_layer(&spec(dir.path(), body)).unwrap();

    assert_eq!(layer.info.source_crs, "EPSG:32188");
    let invalid = &layer.report.invalid;
    assert_eq!(invalid.len(), 1);
    // The crossing is at the centre, (x + 50, y + 50).
    assert!(
        invalid[0].reason.contains("285050 5045050"),
        "{}",
        invalid[0].reason
    );
    let geo::Geometry::MultiPolygon(parts) = &layer.features[0].geometry else {
        panic!("{:?}", layer.features[0].geometry)
    };
    assert_eq!(parts.0.len(), 2);
    // (285000, 5045000) in EPSG:32188 is longitude -73.753559, latitude
    // 45.544633 (PROJ, GDAL and cs2cs agree); it is a vertex of the result.
    let found = parts
        .coords_iter()
        .any(|c| (c.x - -73.753559).abs() < 1e-6 && (c.y - 45.544633).abs() < 1e-6);
    assert!(found, "{parts:?}");
}
