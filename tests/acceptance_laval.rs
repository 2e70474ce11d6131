//! The Laval electoral districts of 2013, the default layer `laval_districts`.
//! They are read from a Shapefile in NAD83 / MTQ Lambert (EPSG:3798) whose
//! Laval-les-Îles polygon intersects itself. PostGIS, the oracle, loads the
//! same file with ogr2ogr without reprojection, repairs it with ST_MakeValid
//! and then reprojects it.

mod common;

use repere::catalog::Catalog;
use repere::context::ContextRequest;
use sqlx::PgPool;

use common::{Schema, context_json, default_layer_path, feature_values};

const DISTRICTS: &str = "laval_districts";
const SELF_INTERSECTING: &str = "Laval-les-Îles";
const GRID_COLUMNS: i32 = 40;
const GRID_ROWS: i32 = 25;

/// The districts repaired in their CRS, then in WGS84: ST_MakeValid keeps
/// both sides of a self-intersection as separate polygons.
const VALID_DISTRICTS_SQL: &str =
    "SELECT nm_dis, ST_Transform(ST_MakeValid(geom), 4326) AS geom FROM {table}";

fn valid_districts(schema: &Schema) -> String {
    VALID_DISTRICTS_SQL.replace("{table}", &schema.table("districts"))
}

/// A point with the names of the districts PostGIS finds covering it.
#[derive(Debug, sqlx::FromRow)]
struct Covered {
    lon: f64,
    lat: f64,
    names: Vec<String>,
}

/// Builds a grid of 40 × 25 cell centres over the bbox of Laval-les-Îles in WGS84.
async fn grid_over_district(pool: &PgPool, schema: &Schema) -> Vec<Covered> {
    let sql = format!(
        "WITH valid AS MATERIALIZED ({valid}), \
         box AS (SELECT ST_Extent(geom) AS e FROM valid WHERE nm_dis = $1), \
         grid AS ( \
             SELECT ST_SetSRID(ST_MakePoint( \
                        ST_XMin(e) + (i + 0.5) * (ST_XMax(e) - ST_XMin(e)) / $2, \
                        ST_YMin(e) + (j + 0.5) * (ST_YMax(e) - ST_YMin(e)) / $3), 4326) AS pt \
             FROM box, generate_series(0, $2 - 1) i, generate_series(0, $3 - 1) j) \
         SELECT ST_X(pt) AS lon, ST_Y(pt) AS lat, \
                ARRAY(SELECT v.nm_dis::text FROM valid v WHERE ST_Covers(v.geom, g.pt) ORDER BY 1) AS names \
         FROM grid g",
        valid = valid_districts(schema),
    );
    sqlx::query_as(&sql)
        .bind(SELF_INTERSECTING)
        .bind(GRID_COLUMNS)
        .bind(GRID_ROWS)
        .fetch_all(pool)
        .await
        .expect("grid query")
}

/// The tiny polygon that ST_MakeValid splits off Laval-les-Îles at its
/// self-intersection, with a point inside it.
#[derive(Debug, sqlx::FromRow)]
struct Lobe {
    lon: f64,
    lat: f64,
    /// Polygons of the repaired district.
    part_count: i64,
    area_m2: f64,
    /// Geodesic distance from the point to the district's main polygon.
    from_main_m: f64,
    names: Vec<String>,
}

async fn self_intersection_lobe(pool: &PgPool, schema: &Schema) -> Lobe {
    let sql = format!(
        "WITH valid AS MATERIALIZED ({valid}), \
         parts AS (SELECT d.geom AS part FROM valid, ST_Dump(valid.geom) d WHERE nm_dis = $1), \
         lobe AS (SELECT part FROM parts ORDER BY ST_Area(part) LIMIT 1), \
         main AS (SELECT part FROM parts ORDER BY ST_Area(part) DESC LIMIT 1) \
         SELECT ST_X(pt) AS lon, ST_Y(pt) AS lat, \
                (SELECT count(*) FROM parts) AS part_count, \
                ST_Area(lobe.part::geography) AS area_m2, \
                ST_Distance(main.part::geography, pt::geography) AS from_main_m, \
                ARRAY(SELECT v.nm_dis::text FROM valid v WHERE ST_Covers(v.geom, pt) ORDER BY 1) AS names \
         FROM lobe, main, ST_PointOnSurface(lobe.part) AS pt",
        valid = valid_districts(schema),
    );
    sqlx::query_as(&sql)
        .bind(SELF_INTERSECTING)
        .fetch_one(pool)
        .await
        .expect("lobe query")
}

fn district_names(catalog: &Catalog, lon: f64, lat: f64) -> Vec<String> {
    let request = ContextRequest {
        lat,
        lon,
        ..ContextRequest::default()
    };
    feature_values(&context_json(catalog, &request), DISTRICTS, "name")
}

#[tokio::test]
async fn grid_matches_postgis() {
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "laval_grid").await;
    schema
        .load(&default_layer_path(DISTRICTS), "districts", &[])
        .await;
    let grid = grid_over_district(&pool, &schema).await;
    assert_eq!(
        grid.len(),
        (GRID_COLUMNS * GRID_ROWS) as usize,
        "grid points"
    );
    let inside = grid
        .iter()
        .filter(|p| p.names.iter().any(|n| n == SELF_INTERSECTING))
        .count();
    assert!(
        inside > 100,
        "only {inside} grid points in {SELF_INTERSECTING}"
    );

    let catalog = common::default_catalog(&[DISTRICTS]);
    let differing: Vec<String> = grid
        .iter()
        .filter_map(|point| {
            let names = district_names(&catalog, point.lon, point.lat);
            (names != point.names).then(|| format!("{point:?}: repère {names:?}"))
        })
        .collect();
    println!(
        "Laval grid: {} points, {inside} in {SELF_INTERSECTING}",
        grid.len()
    );
    assert!(
        differing.is_empty(),
        "{} grid points differ from PostGIS:\n{}",
        differing.len(),
        differing.join("\n")
    );
    schema.drop().await;
}

#[tokio::test]
async fn self_intersection_lobe_covered() {
    let pool = common::connect().await;
    let schema = Schema::create(&pool, "laval_lobe").await;
    schema
        .load(&default_layer_path(DISTRICTS), "districts", &[])
        .await;
    let lobe = self_intersection_lobe(&pool, &schema).await;
    println!("Laval-les-Îles lobe: {lobe:?}");
    assert_eq!(lobe.part_count, 2, "polygons of the repaired district");
    assert!(
        lobe.area_m2 < 1.0,
        "the lobe is {} m², expected a sliver",
        lobe.area_m2
    );
    assert!(
        lobe.from_main_m > 0.01,
        "the point is {} m from the main polygon",
        lobe.from_main_m
    );
    // The lobe crosses into the neighbouring district, which covers the point too.
    assert!(
        lobe.names.contains(&SELF_INTERSECTING.to_owned()),
        "PostGIS covering districts {:?}",
        lobe.names
    );

    let catalog = common::default_catalog(&[DISTRICTS]);
    assert_eq!(district_names(&catalog, lobe.lon, lobe.lat), lobe.names);
    schema.drop().await;
}
