//! Layer names with a prefix that SQLite (`sqlite_`) or the GeoPackage
//! standard (`gpkg`) reserves: `ogr2ogr -f GPKG -nln gpkg_x__v0001` fails
//! with "The layer name may not begin with 'gpkg'", and `-nln
//! sqlite_x__v0001` with SQLite's "object name reserved for internal use".
//! Both stores reject them before writing, and so does the manifest.

mod store_support;

use std::path::Path;

use repere::manifest::Manifest;
use repere::store::{Origin, Page, StoreError};
use store_support::{backends, mixed_layer};

const HASH: &str = "0000000000000000000000000000000000000000000000000000000000000e0e";

const RESERVED: [&str; 3] = ["gpkg_points", "gpkgext_points", "sqlite_points"];

#[tokio::test]
async fn reserved_names_store_nothing() {
    for backend in backends("reserved_names").await {
        let label = backend.label();
        let store = backend.open().await;
        for name in RESERVED {
            let error = store
                .put_version(&mixed_layer(name), Origin::Import, HASH, "gis-team")
                .await
                .expect_err(name);
            assert!(
                matches!(error, StoreError::InvalidLayerName { .. }),
                "{label}: {name}: {error:?}"
            );
            assert!(error.to_string().contains("reserved"), "{label}: {error}");

            let versions = store.versions(name, Page::first(5)).await;
            let stored = versions.as_ref().map(Vec::len).unwrap_or(0);
            assert_eq!(stored, 0, "{label}: {name}: {versions:?}");
        }
    }
}

#[test]
fn reserved_names_rejected_in_manifest() {
    for name in RESERVED {
        let text = format!(
            "[[layer]]\nname = \"{name}\"\nkind = \"district\"\npath = \"d.geojson\"\n\
             id_field = \"id\"\nname_field = \"name\"\n"
        );
        let error = Manifest::parse(Path::new("layers.toml"), &text).expect_err(name);
        let message = format!("{error:#}");
        assert!(message.contains(name), "{message}");
        assert!(message.contains("reserved"), "{message}");
    }
}
