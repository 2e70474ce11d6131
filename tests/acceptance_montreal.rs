//! Montréal boroughs, places and assets: the default layers of
//! data/layers.toml through the library, checked against PostGIS on the same
//! files loaded with ogr2ogr, and against the borough the city assigned to
//! each place.

mod common;

use repere::catalog::Catalog;
use repere::context::ContextRequest;
use sqlx::PgPool;

use common::{Schema, context_json, default_layer_path, feature_values, fixture, layer_features};

const PLACES_FILE: &str = "montreal-places/lieux-interet.geojson";
const BOROUGHS: &str = "montreal_boroughs";
const STOPS: &str = "montreal_stm_stops";
const FIRE_HALLS: &str = "montreal_fire_halls";

/// Loads the default boroughs, STM stops and fire halls through the library.
fn montreal_catalog() -> Catalog {
    common::default_catalog(&[BOROUGHS, STOPS, FIRE_HALLS])
}

/// Loads the boroughs' file, published in NAD83 / MTM zone 8 (EPSG:32188),
/// into `boroughs` in WGS84, reprojected by PostGIS.
async fn load_boroughs(schema: &Schema) {
    schema
        .load(&default_layer_path(BOROUGHS), "boroughs_mtm8", &[])
        .await;
    schema
        .execute(&format!(
            "CREATE TABLE {wgs84} AS SELECT codeid, nom, ST_Transform(geom, 4326) AS geom FROM {mtm8}; \
             CREATE INDEX ON {wgs84} USING gist (geom)",
            wgs84 = schema.table("boroughs"),
            mtm8 = schema.table("boroughs_mtm8"),
        ))
        .await;
    assert_eq!(
        schema.invalid_count("boroughs").await,
        0,
        "invalid boroughs"
    );
}

fn borough_request(lon: f64, lat: f64) -> ContextRequest {
    ContextRequest {
        lat,
        lon,
        layers: Some(vec![BOROUGHS.to_owned()]),
        ..ContextRequest::default()
    }
}

/// Normalises a borough name so that the places file's `Arrondissement` and
/// the boundary file's `NOM` compare equal when they name the same borough.
/// The files differ in:
/// - the dash between the parts of a merged borough: an en dash in
///   "Rosemont–La Petite-Patrie", a hyphen in the boundary file;
/// - the prefix of linked cities: "Ville de Westmount" and "Ville Mont-Royal"
///   against "Westmount" and "Mont-Royal" (a prefix followed by a space, so
///   "Ville-Marie" keeps its name);
/// - a leading article: "Le Plateau-Mont-Royal" against "Plateau-Mont-Royal";
/// - accents, apostrophes (’ or '), case and spacing.
fn normalise_borough(name: &str) -> String {
    let mut name = name.trim().to_lowercase();
    for prefix in ["ville de ", "ville "] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_owned();
            break;
        }
    }
    let folded: String = name.chars().map(fold_char).collect();
    let mut words: Vec<&str> = folded.split_whitespace().collect();
    if matches!(words.first(), Some(&("le" | "la" | "les" | "l"))) && words.len() > 1 {
        words.remove(0);
    }
    words.join(" ")
}

/// Folds the accented letters of French names to ASCII, and dashes and
/// apostrophes to spaces.
fn fold_char(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' => 'i',
        'ô' | 'ö' => 'o',
        'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        '-' | '–' | '—' | '\'' | '’' => ' ',
        c => c,
    }
}

#[test]
fn borough_names_normalise() {
    let pairs = [
        ("Rosemont–La Petite-Patrie", "Rosemont-La Petite-Patrie"),
        (
            "Côte-des-Neiges–Notre-Dame-de-Grâce",
            "Côte-des-Neiges-Notre-Dame-de-Grâce",
        ),
        (
            "L'Île-Bizard–Sainte-Geneviève",
            "L’Île-Bizard-Sainte-Geneviève",
        ),
        ("Le Plateau-Mont-Royal", "Plateau-Mont-Royal"),
        ("Ville de Westmount", "Westmount"),
        ("Ville Mont-Royal", "Mont-Royal"),
    ];
    for (city, boundary) in pairs {
        assert_eq!(
            normalise_borough(city),
            normalise_borough(boundary),
            "{city} vs {boundary}"
        );
    }
    assert_ne!(normalise_borough("Ville-Marie"), normalise_borough("Marie"));
    assert_ne!(
        normalise_borough("Montréal-Nord"),
        normalise_borough("Montréal-Est")
    );
}

/// One place of interest with the oracle's boroughs.
#[derive(sqlx::FromRow)]
struct Place {
    fid: i64,
    lon: f64,
    lat: f64,
    arrondissement: Option<String>,
    covering_ids: Vec<String>,
}

async fn places_with_boroughs(pool: &PgPool, schema: &Schema) -> Vec<Place> {
    let sql = format!(
        "SELECT p.fid::bigint AS fid, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, \
                p.arrondissement, \
                ARRAY(SELECT b.codeid::text FROM {boroughs} b WHERE {covers}) AS covering_ids \
         FROM {places} p ORDER BY p.fid",
        boroughs = schema.table("boroughs"),
        places = schema.table("places"),
        covers = common::covers_sql("b", "p"),
    );
    sqlx::query_as(&sql)
        .fetch_all(pool)
        .await
        .expect("places query")
}

#[tokio::test]
async fn places_boroughs_match_postgis() {
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "places").await;
    load_boroughs(&schema).await;
    schema.load(&fixture(PLACES_FILE), "places", &[]).await;
    let places = places_with_boroughs(&pool, &schema).await;
    assert_eq!(places.len(), 3231, "places loaded by ogr2ogr");

    let catalog = montreal_catalog();
    let mut differing = Vec::new();
    let mut agreeing = 0;
    let mut outside = 0;
    for place in &places {
        let response = context_json(&catalog, &borough_request(place.lon, place.lat));
        let ids = feature_values(&response, BOROUGHS, "id");
        let mut expected = place.covering_ids.clone();
        expected.sort();
        if ids != expected {
            differing.push(format!(
                "place fid {}: repère {ids:?}, PostGIS {expected:?}",
                place.fid
            ));
        }
        let names = feature_values(&response, BOROUGHS, "name");
        outside += usize::from(names.is_empty());
        let city = place.arrondissement.as_deref().map(normalise_borough);
        if names.iter().any(|n| Some(normalise_borough(n)) == city) {
            agreeing += 1;
        }
    }

    let agreement = agreeing as f64 / places.len() as f64;
    println!(
        "Montréal places: {} places, {outside} outside every borough, \
         {agreeing} agree with the city's Arrondissement ({:.2} %)",
        places.len(),
        agreement * 100.0
    );
    assert!(
        differing.is_empty(),
        "{} places differ from PostGIS:\n{}",
        differing.len(),
        differing.join("\n")
    );
    assert!(
        agreement >= 0.99,
        "agreement with Arrondissement {agreement:.4} is under 0.99"
    );
    schema.drop().await;
}

/// A point on the edge shared by two boroughs, made by PostGIS.
#[derive(sqlx::FromRow)]
struct EdgePoint {
    left_id: String,
    right_id: String,
    lon: f64,
    lat: f64,
    /// Planar distances from the point to each borough, in degrees.
    left_distance: f64,
    right_distance: f64,
}

/// Interpolates 100 points along the edges two boroughs share: the linear
/// parts of the intersection of their boundaries, taken in turn, at fractions
/// from 5 % to 95 % of each part so that no point falls on a part's end,
/// where a third borough may meet them.
async fn shared_edge_points(pool: &PgPool, schema: &Schema) -> Vec<EdgePoint> {
    let sql = format!(
        "WITH pairs AS ( \
             SELECT a.codeid AS left_id, b.codeid AS right_id, \
                    ST_LineMerge(ST_CollectionExtract( \
                        ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)), 2)) AS shared \
             FROM {boroughs} a JOIN {boroughs} b \
               ON a.codeid < b.codeid AND ST_Intersects(a.geom, b.geom)), \
         parts AS ( \
             SELECT left_id, right_id, d.geom AS line, \
                    row_number() OVER (ORDER BY left_id, right_id, d.path) - 1 AS n \
             FROM pairs, ST_Dump(shared) d \
             WHERE ST_GeometryType(d.geom) = 'ST_LineString'), \
         samples AS ( \
             SELECT p.left_id, p.right_id, \
                    ST_LineInterpolatePoint(p.line, 0.05 + 0.9 * ((i * 0.6180339887) % 1)) AS pt \
             FROM generate_series(0, 99) i \
             JOIN parts p ON p.n = i % (SELECT count(*) FROM parts)) \
         SELECT s.left_id::text AS left_id, s.right_id::text AS right_id, \
                ST_X(s.pt) AS lon, ST_Y(s.pt) AS lat, \
                ST_Distance(a.geom, s.pt) AS left_distance, \
                ST_Distance(b.geom, s.pt) AS right_distance \
         FROM samples s \
         JOIN {boroughs} a ON a.codeid = s.left_id \
         JOIN {boroughs} b ON b.codeid = s.right_id",
        boroughs = schema.table("boroughs"),
    );
    sqlx::query_as(&sql)
        .fetch_all(pool)
        .await
        .expect("shared edge query")
}

#[tokio::test]
async fn shared_edge_covered_by_both() {
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "edges").await;
    load_boroughs(&schema).await;
    let points = shared_edge_points(&pool, &schema).await;
    assert_eq!(points.len(), 100, "points interpolated by PostGIS");

    let catalog = montreal_catalog();
    let mut missing = Vec::new();
    for point in &points {
        assert!(
            point.left_distance < 1e-9,
            "{},{} is off borough {}",
            point.lon,
            point.lat,
            point.left_id
        );
        assert!(
            point.right_distance < 1e-9,
            "{},{} is off borough {}",
            point.lon,
            point.lat,
            point.right_id
        );
        let response = context_json(&catalog, &borough_request(point.lon, point.lat));
        let ids = feature_values(&response, BOROUGHS, "id");
        if !ids.contains(&point.left_id) || !ids.contains(&point.right_id) {
            missing.push(format!(
                "({}, {}) on the edge of {} and {}: repère returned {ids:?}",
                point.lon, point.lat, point.left_id, point.right_id
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "{} edge points lack a borough:\n{}",
        missing.len(),
        missing.join("\n")
    );
    schema.drop().await;
}

/// Distance tolerance of the comparison with PostGIS: 0.5 m or 0.1 %,
/// whichever is larger. PostGIS geography joins vertices by great-circle
/// arcs and repère by straight lines in lon/lat, which differ by centimetres
/// along a 1 km edge.
fn distance_tolerance_m(expected_m: f64) -> f64 {
    (expected_m * 0.001).max(0.5)
}

const SEARCH_RADIUS_M: f64 = 3_000.0;
const SEARCH_LIMIT: u32 = 5;

#[derive(sqlx::FromRow)]
struct RandomPoint {
    n: i32,
    lon: f64,
    lat: f64,
}

/// 100 points drawn by PostGIS, with a fixed seed, inside the union of the
/// boroughs.
async fn random_points(pool: &PgPool, schema: &Schema) -> Vec<RandomPoint> {
    let sql = format!(
        "SELECT (d).path[1] AS n, ST_X((d).geom) AS lon, ST_Y((d).geom) AS lat \
         FROM (SELECT ST_Dump(ST_GeneratePoints(ST_Union(geom), 100, 20261204)) AS d \
               FROM {boroughs}) s \
         ORDER BY 1",
        boroughs = schema.table("boroughs"),
    );
    sqlx::query_as(&sql)
        .fetch_all(pool)
        .await
        .expect("random points query")
}

/// Boroughs covering a point, with the geodesic distance to their boundary.
async fn boundary_distances(
    pool: &PgPool,
    schema: &Schema,
    point: &RandomPoint,
) -> Vec<(String, f64)> {
    let sql = format!(
        "SELECT codeid::text, \
                ST_Distance(ST_Boundary(geom)::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography) \
         FROM {boroughs} WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) \
         ORDER BY 1",
        boroughs = schema.table("boroughs"),
    );
    sqlx::query_as(&sql)
        .bind(point.lon)
        .bind(point.lat)
        .fetch_all(pool)
        .await
        .expect("boundary distance query")
}

/// The `limit` features of `table` nearest to a point within `radius_m`, as
/// (name, geodesic distance), nearest first.
async fn nearest_assets(
    pool: &PgPool,
    table: &str,
    name_column: &str,
    point: &RandomPoint,
    limit: i64,
) -> Vec<(Option<String>, f64)> {
    let sql = format!(
        "SELECT {name_column}::text, ST_Distance(geom::geography, q.pt::geography) AS d \
         FROM {table}, (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS pt) q \
         WHERE ST_DWithin(geom, q.pt, 0.1) AND ST_DWithin(geom::geography, q.pt::geography, $3) \
         ORDER BY d LIMIT $4"
    );
    sqlx::query_as(&sql)
        .bind(point.lon)
        .bind(point.lat)
        .bind(SEARCH_RADIUS_M)
        .bind(limit)
        .fetch_all(pool)
        .await
        .expect("nearest assets query")
}

/// Compares the nearest features of one asset layer with PostGIS's, which
/// lists one more feature so that a tie at the cut is visible. Returns the
/// mismatches and the largest distance difference.
fn compare_nearest(
    layer: &str,
    features: &[serde_json::Value],
    expected: &[(Option<String>, f64)],
) -> (Vec<String>, f64) {
    let mut problems = Vec::new();
    let mut worst_m: f64 = 0.0;
    let expected_count = expected.len().min(SEARCH_LIMIT as usize);
    if features.len() != expected_count {
        problems.push(format!(
            "{layer}: {} features, PostGIS {expected_count}",
            features.len()
        ));
    }
    for (feature, (_, expected_m)) in features.iter().zip(expected) {
        let distance_m = feature["distance_m"]
            .as_f64()
            .expect("distance_m is a number");
        let difference = (distance_m - expected_m).abs();
        worst_m = worst_m.max(difference);
        if difference > distance_tolerance_m(*expected_m) {
            problems.push(format!(
                "{layer}: distance {distance_m} m, PostGIS {expected_m} m"
            ));
        }
        let name = feature["name"].as_str();
        let same_name_nearby = expected.iter().any(|(expected_name, other_m)| {
            expected_name.as_deref() == name
                && (other_m - distance_m).abs() <= distance_tolerance_m(*other_m)
        });
        if !same_name_nearby {
            problems.push(format!(
                "{layer}: {name:?} at {distance_m} m is not among PostGIS's nearest"
            ));
        }
    }
    (problems, worst_m)
}

#[tokio::test]
async fn distances_match_postgis() {
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "distances").await;
    load_boroughs(&schema).await;
    schema.load(&default_layer_path(STOPS), "stops", &[]).await;
    schema
        .load(&default_layer_path(FIRE_HALLS), "fire_halls", &[])
        .await;
    let points = random_points(&pool, &schema).await;
    assert_eq!(points.len(), 100, "points drawn by PostGIS");

    let catalog = montreal_catalog();
    let mut problems = Vec::new();
    let mut worst_boundary_m: f64 = 0.0;
    let mut worst_asset_m: f64 = 0.0;
    for point in &points {
        let request = ContextRequest {
            lat: point.lat,
            lon: point.lon,
            radius_m: Some(SEARCH_RADIUS_M),
            limit: Some(SEARCH_LIMIT),
            ..ContextRequest::default()
        };
        let response = context_json(&catalog, &request);
        let at = format!("point {} ({}, {})", point.n, point.lon, point.lat);

        let expected = boundary_distances(&pool, &schema, point).await;
        let boroughs = layer_features(&response, BOROUGHS);
        if boroughs.len() != expected.len() {
            problems.push(format!(
                "{at}: {} covering boroughs, PostGIS {}",
                boroughs.len(),
                expected.len()
            ));
        }
        for (id, expected_m) in &expected {
            let Some(borough) = boroughs.iter().find(|b| b["id"] == id.as_str()) else {
                problems.push(format!("{at}: borough {id} missing"));
                continue;
            };
            let distance_m = borough["boundary_distance_m"].as_f64().expect("a number");
            worst_boundary_m = worst_boundary_m.max((distance_m - expected_m).abs());
            if (distance_m - expected_m).abs() > distance_tolerance_m(*expected_m) {
                problems.push(format!(
                    "{at}: boundary of {id} at {distance_m} m, PostGIS {expected_m} m"
                ));
            }
        }

        let limit = i64::from(SEARCH_LIMIT) + 1;
        for (layer, table, name_column) in [
            (STOPS, schema.table("stops"), "stop_name"),
            (FIRE_HALLS, schema.table("fire_halls"), "name"),
        ] {
            let expected = nearest_assets(&pool, &table, name_column, point, limit).await;
            let (found, worst_m) =
                compare_nearest(layer, layer_features(&response, layer), &expected);
            worst_asset_m = worst_asset_m.max(worst_m);
            problems.extend(found.into_iter().map(|p| format!("{at}: {p}")));
        }
    }

    println!(
        "Montréal distances on 100 points: largest difference from PostGIS \
         {worst_boundary_m:.4} m to borough boundaries, {worst_asset_m:.4} m to assets"
    );
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
    schema.drop().await;
}
