//! Every layer of data/layers.toml loads through GDAL and PROJ, with the
//! counts, CRS codes and GEOS validity results that independent tools give
//! for the same files.
//!
//! Where the expected numbers come from (GDAL 3.6.2 command-line tools,
//! GEOS 3.11 through SpatiaLite, on the files in data/):
//! - feature counts: `ogrinfo -so -al FILE`, "Feature Count";
//! - the Montréal district filter: `ogrinfo -sql "select count(*) from merge
//!   where NO_DIS IS NOT NULL"` gives 58 of 116;
//! - CRS codes: the `ID["EPSG",…]` that `ogrinfo -so` prints, and for the two
//!   Shapefiles, whose .prj has no code, `gdalsrsinfo -e FILE.prj` (EPSG:3798,
//!   70 % confidence);
//! - invalid geometries: `ogrinfo -dialect sqlite -sql "select … from L where
//!   st_isvalid(geometry) is not 1"`, which lists Laval-les-Îles (NO_DIS 17)
//!   for Laval, 13 police districts, and neighbourhood 23 (Saint-Henri), whose
//!   ring GEOS rejects with "Too few points";
//! - repeated names: `count(*) - count(distinct Nom)` in the same dialect
//!   (409 - 400 taxi stand names, 434 - 401 water supplies, 8869 - 8868 STM stops).

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use geo::{Contains, Geometry, Point};
use repere::layer::{Layer, LayerKind};
use repere::manifest::Manifest;
use repere::source::crs::Transformer;
use repere::source::load_layer;

fn manifest() -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/layers.toml");
    Manifest::load(&path).expect("data/layers.toml parses")
}

/// Loads all default layers, once for the whole file.
fn layers() -> &'static Vec<Layer> {
    static LAYERS: OnceLock<Vec<Layer>> = OnceLock::new();
    LAYERS.get_or_init(|| {
        manifest()
            .layers
            .iter()
            .map(|spec| load_layer(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.name)))
            .collect()
    })
}

fn layer(name: &str) -> &'static Layer {
    layers()
        .iter()
        .find(|l| l.info.name == name)
        .unwrap_or_else(|| panic!("no layer {name}"))
}

#[test]
fn manifest_has_no_unknown_keys() {
    assert_eq!(manifest().unknown_keys, Vec::<String>::new());
}

#[test]
fn feature_counts_match_ogrinfo() {
    let expected = [
        ("laval_districts", 21, 21, 0),
        ("laval_territory", 1, 1, 0),
        ("montreal_boroughs", 34, 34, 0),
        ("montreal_districts", 116, 58, 58),
        ("montreal_neighbourhoods", 32, 32, 0),
        ("montreal_police_districts", 28, 28, 0),
        ("montreal_taxi_stands", 409, 409, 0),
        ("laval_stl_stops", 2886, 2886, 0),
        ("montreal_stm_stops", 8869, 8869, 0),
        ("montreal_bixi_stations", 788, 788, 0),
        ("montreal_fire_halls", 67, 67, 0),
        ("montreal_water_supplies", 434, 434, 0),
    ];
    assert_eq!(layers().len(), expected.len());
    for (name, read, kept, filtered) in expected {
        let layer = layer(name);
        assert_eq!(layer.report.read_count, read, "{name}: read_count");
        assert_eq!(layer.info.feature_count, kept, "{name}: feature_count");
        assert_eq!(layer.features.len(), kept, "{name}: features");
        assert_eq!(
            layer.report.filtered_count, filtered,
            "{name}: filtered_count"
        );
        assert!(
            layer.report.rejected.is_empty(),
            "{name}: {:?}",
            layer.report.rejected
        );
    }
}

#[test]
fn source_crs_codes() {
    let expected = [
        ("laval_districts", "EPSG:3798"),
        ("laval_territory", "EPSG:32188"),
        ("montreal_boroughs", "EPSG:32188"),
        ("montreal_districts", "EPSG:3798"),
        ("montreal_neighbourhoods", "EPSG:4326"),
        ("montreal_police_districts", "EPSG:32188"),
        ("montreal_taxi_stands", "EPSG:4326"),
        ("laval_stl_stops", "EPSG:4326"),
        ("montreal_stm_stops", "EPSG:4326"),
        ("montreal_bixi_stations", "EPSG:4326"),
        ("montreal_fire_halls", "EPSG:4326"),
        ("montreal_water_supplies", "EPSG:4326"),
    ];
    for (name, crs) in expected {
        assert_eq!(layer(name).info.source_crs, crs, "{name}");
    }
}

#[test]
fn invalid_counts_match_geos() {
    let expected = [
        ("laval_districts", 1),
        ("laval_territory", 0),
        ("montreal_boroughs", 0),
        ("montreal_districts", 0),
        ("montreal_neighbourhoods", 1),
        ("montreal_police_districts", 13),
    ];
    for (name, count) in expected {
        let layer = layer(name);
        assert_eq!(
            layer.report.invalid.len(),
            count,
            "{name}: {:?}",
            layer.report.invalid
        );
        assert_eq!(
            layer.info.invalid_count, count,
            "{name}: info.invalid_count"
        );
    }
}

#[test]
fn laval_les_iles_repaired() {
    let layer = layer("laval_districts");
    let invalid = &layer.report.invalid[0];
    assert_eq!(invalid.id, "17");
    // SpatiaLite's st_isvalidreason gives the same point, in EPSG:3798 metres.
    assert!(
        invalid
            .reason
            .starts_with("Self-intersection at or near point 496749.21"),
        "{}",
        invalid.reason
    );
    assert!(invalid.action.contains("MakeValid"), "{}", invalid.action);
    let feature = layer.features.iter().find(|f| f.id == "17").unwrap();
    assert_eq!(feature.name.as_deref(), Some("Laval-les-Îles"));
    assert!(matches!(feature.geometry, Geometry::MultiPolygon(_)));
}

#[test]
fn police_invalid_ids_match_geos() {
    let mut ids: Vec<&str> = layer("montreal_police_districts")
        .report
        .invalid
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    ids.sort_by_key(|id| id.parse::<u32>().unwrap());
    let expected = [
        "1", "3", "4", "10", "12", "15", "16", "20", "21", "27", "38", "39", "49",
    ];
    assert_eq!(ids, expected);
}

#[test]
fn neighbourhood_short_ring_repaired() {
    let layer = layer("montreal_neighbourhoods");
    let invalid = &layer.report.invalid[0];
    assert_eq!(invalid.id, "23");
    assert!(
        invalid.reason.contains("Too few points"),
        "{}",
        invalid.reason
    );
    let feature = layer.features.iter().find(|f| f.id == "23").unwrap();
    assert_eq!(feature.name.as_deref(), Some("Saint-Henri"));
}

#[test]
fn district_geometries_are_multipolygons() {
    for layer in layers()
        .iter()
        .filter(|l| l.info.kind == LayerKind::District)
    {
        for feature in &layer.features {
            assert!(
                matches!(feature.geometry, Geometry::MultiPolygon(_)),
                "{} {}",
                layer.info.name,
                feature.id
            );
        }
    }
}

#[test]
fn cp1252_names_decoded() {
    let names: HashSet<&str> = layer("laval_districts")
        .features
        .iter()
        .filter_map(|f| f.name.as_deref())
        .collect();
    for name in [
        "Laval-les-Îles",
        "Sainte-Dorothée",
        "Abord-à-Plouffe",
        "Orée-des-Bois",
    ] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
}

#[test]
fn real_ids_read_as_integers() {
    let mut ids: Vec<u32> = layer("laval_districts")
        .features
        .iter()
        .map(|f| {
            f.id.parse()
                .unwrap_or_else(|_| panic!("id {:?} is no integer", f.id))
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=21).collect::<Vec<u32>>());
    // NO_DIS 11.20 (Real 6.2) in the Montréal file is DeLorimier.
    let montreal = layer("montreal_districts");
    let delorimier = montreal.features.iter().find(|f| f.id == "11.2").unwrap();
    assert_eq!(delorimier.name.as_deref(), Some("DeLorimier"));
}

#[test]
fn ids_unique_per_layer() {
    for layer in layers() {
        let ids: HashSet<&str> = layer.features.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids.len(), layer.features.len(), "{}", layer.info.name);
    }
}

#[test]
fn repeated_names_get_synthetic_ids() {
    for (name, repeated) in [
        ("montreal_taxi_stands", 9),
        ("montreal_water_supplies", 33),
        ("montreal_stm_stops", 1),
    ] {
        let layer = layer(name);
        assert_eq!(layer.report.synthetic_ids.len(), repeated, "{name}");
        assert_eq!(layer.info.synthetic_id_count, repeated, "{name}");
        for synthetic in &layer.report.synthetic_ids {
            assert_eq!(synthetic.reason, "repeated", "{name}");
            assert!(
                synthetic.id.starts_with(&format!("{name}:")),
                "{}",
                synthetic.id
            );
        }
    }
}

#[test]
fn taxi_first_repeat_keeps_name() {
    let layer = layer("montreal_taxi_stands");
    // The first two features of the file are both named "27-474".
    assert_eq!(layer.features[0].id, "27-474");
    assert!(!layer.features[0].synthetic_id);
    assert_eq!(layer.features[1].id, "montreal_taxi_stands:1");
    assert!(layer.features[1].synthetic_id);
    assert_eq!(layer.features[1].name.as_deref(), Some("27-474"));
}

#[test]
fn gtfs_stops_read_from_csv() {
    let layer = layer("laval_stl_stops");
    let first = &layer.features[0];
    // The first row of stops.txt.
    assert_eq!(first.id, "AOUT19CP40002");
    assert_eq!(
        first.name.as_deref(),
        Some("Terminus Henri-Bourassa Quai:4 [40002]")
    );
    let Geometry::Point(point) = first.geometry else {
        panic!("{:?}", first.geometry)
    };
    assert_eq!((point.x(), point.y()), (-73.6672, 45.555819));
}

#[test]
fn dates_become_iso_strings() {
    let laval = &layer("laval_districts").features[0];
    // DA_EVENM is a DBF Date field: the election of 2013-11-03.
    assert_eq!(laval.properties["DA_EVENM"], "2013-11-03");
    assert_eq!(laval.properties["CO_MUNCP"], 65005);
}

/// The city's own MTM zone 8 coordinates of each taxi stand agree with PROJ.
#[test]
fn taxi_stands_match_mtm8_attributes() {
    let transformer = Transformer::new("EPSG:4326", "EPSG:32188").unwrap();
    let layer = layer("montreal_taxi_stands");
    assert_eq!(layer.features.len(), 409);
    for feature in &layer.features {
        let Geometry::Point(point) = feature.geometry else {
            panic!("{}: {:?}", feature.id, feature.geometry)
        };
        let (x, y) = transformer.transform(point.x(), point.y()).unwrap();
        let expected_x = feature.properties["MTM8_X"].as_f64().unwrap();
        let expected_y = feature.properties["MTM8_Y"].as_f64().unwrap();
        assert!(
            (x - expected_x).abs() < 0.1,
            "{}: x {x} vs {expected_x}",
            feature.id
        );
        assert!(
            (y - expected_y).abs() < 0.1,
            "{}: y {y} vs {expected_y}",
            feature.id
        );
    }
}

/// PROJ, GDAL and cs2cs agree on this point of MTM zone 8.
#[test]
fn transformer_mtm8_reference_point() {
    let transformer = Transformer::new("EPSG:32188", "EPSG:4326").unwrap();
    let (lon, lat) = transformer.transform(285000.0, 5045000.0).unwrap();
    assert!((lon - -73.753559).abs() < 1e-6, "lon {lon}");
    assert!((lat - 45.544633).abs() < 1e-6, "lat {lat}");
}

/// Reprojected boroughs cover what the city's own WGS84 edition of the
/// file covers: SpatiaLite's st_contains on that edition puts the taxi
/// stand at Chabanel and Saint-Urbain in Ahuntsic-Cartierville.
#[test]
fn reprojected_borough_covers_stand() {
    let stand = Point::new(-73.65203717246095, 45.54311180566175);
    let boroughs = layer("montreal_boroughs");
    let covering: Vec<&str> = boroughs
        .features
        .iter()
        .filter(|f| f.geometry.contains(&stand))
        .filter_map(|f| f.name.as_deref())
        .collect();
    assert_eq!(covering, ["Ahuntsic-Cartierville"]);
}
