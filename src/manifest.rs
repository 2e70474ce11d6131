//! The layer manifest (`data/layers.toml`): which files make up the service's
//! layers and how to read them.

use std::path::{Path, PathBuf};

use chrono::format::{Item, StrftimeItems};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::layer::LayerKind;

/// Time zone of work dates written without an offset, unless a layer sets one.
pub const DEFAULT_TIMEZONE: &str = "America/Toronto";

/// The maximum layer name length: names end up in URLs and SQL identifiers, and
/// PostgreSQL truncates identifiers at 63 bytes.
pub const MAX_LAYER_NAME_LEN: usize = 63;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid manifest {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "manifest {path} has no [[layer]] table: add one for each layer to read, with \
         name, kind, path, id_field and name_field"
    )]
    NoLayers { path: PathBuf },
    #[error("invalid manifest {path}: layer {layer:?}: {message}")]
    Layer {
        path: PathBuf,
        layer: String,
        message: String,
    },
}

/// The settings for reading one layer from its source file.
#[derive(Debug, Clone, Deserialize)]
pub struct LayerSpec {
    /// `[a-z][a-z0-9_]{0,62}`: used in URLs and SQL.
    pub name: String,
    pub kind: LayerKind,
    /// The source file, relative to the manifest (made absolute by [`Manifest::load`]).
    pub path: PathBuf,
    pub id_field: String,
    pub name_field: String,
    /// An attribute filter in a subset of OGR SQL, e.g. `NO_DIS IS NOT NULL`.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// Overrides the CRS of the source, e.g. `EPSG:32188`. Required for
    /// sources that carry none (a Shapefile without .prj, a CSV).
    pub crs: Option<String>,
    /// Character encoding of the attributes, e.g. `CP1252`, for sources
    /// that do not declare it (a Shapefile without .cpg).
    pub encoding: Option<String>,
    /// IANA time zone of work dates without an offset.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    pub attribution: Option<String>,
    pub licence: Option<String>,
    /// Work layers: the attribute holding the start of activity.
    pub start_field: Option<String>,
    /// Work layers: the attribute holding the end of activity.
    pub end_field: Option<String>,
    /// Work layers: a chrono `strftime` pattern for the start and end values.
    pub datetime_format: Option<String>,
    /// CSV sources: the column holding the longitude or easting.
    pub x_field: Option<String>,
    /// CSV sources: the column holding the latitude or northing.
    pub y_field: Option<String>,
}

fn default_timezone() -> String {
    DEFAULT_TIMEZONE.to_owned()
}

impl LayerSpec {
    /// The parsed time zone. [`Manifest::load`] has checked that it parses.
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(chrono_tz::America::Toronto)
    }

    /// Checks the fields that serde cannot: the name pattern, the time zone
    /// and the fields a work layer needs.
    pub fn validate(&self) -> Result<(), String> {
        validate_layer_name(&self.name)?;
        if self.timezone.parse::<Tz>().is_err() {
            return Err(format!(
                "timezone {:?} is not an IANA time zone name such as {DEFAULT_TIMEZONE:?}",
                self.timezone
            ));
        }
        let work_fields = [&self.start_field, &self.end_field];
        if self.kind == LayerKind::Work && work_fields.iter().all(|f| f.is_none()) {
            return Err("a work layer needs start_field, end_field or both".to_owned());
        }
        if self.kind != LayerKind::Work && work_fields.iter().any(|f| f.is_some()) {
            return Err(format!(
                "start_field and end_field apply to work layers, not to kind {:?}",
                self.kind.as_str()
            ));
        }
        if let Some(format) = &self.datetime_format {
            validate_datetime_format(format)?;
        }
        if self.x_field.is_some() != self.y_field.is_some() {
            return Err("x_field and y_field go together".to_owned());
        }
        Ok(())
    }
}

/// Checks that a chrono `strftime` pattern is valid and reads at least one
/// date or time field, so that a wrong pattern fails here and not on every row.
fn validate_datetime_format(format: &str) -> Result<(), String> {
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    let invalid = items.iter().any(|item| *item == Item::Error);
    let has_field = items
        .iter()
        .any(|item| matches!(item, Item::Numeric(..) | Item::Fixed(_)));
    if invalid || !has_field {
        return Err(format!(
            "datetime_format {format:?} is not a valid chrono strftime pattern with a date \
             or time field, e.g. \"%m/%d/%Y %I:%M:%S %p\" or \"%Y-%m-%d %H:%M\""
        ));
    }
    Ok(())
}

/// Prefixes of table names that SQLite (`sqlite_`) and the GeoPackage
/// standard (`gpkg`) reserve: GDAL 3.6 and SQLite refuse to create such
/// tables. The GeoPackage store keeps each version in a table named after
/// its layer, so both stores reject these prefixes, and a manifest works
/// with either store.
const RESERVED_PREFIXES: [&str; 2] = ["gpkg", "sqlite_"];

/// Checks a layer name against `[a-z][a-z0-9_]{0,62}`, without a prefix
/// that SQLite or the GeoPackage standard reserves.
pub fn validate_layer_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !starts_well || !rest_ok || name.len() > MAX_LAYER_NAME_LEN {
        return Err(format!(
            "layer name {name:?} is invalid: expected a lowercase letter, then up to 62 \
             lowercase letters, digits or underscores"
        ));
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(**p)) {
        return Err(format!(
            "layer name {name:?} is invalid: names starting with {prefix:?} are reserved \
             for the tables of SQLite and GeoPackage, in which the store keeps layers: \
             choose another name"
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct ManifestFile {
    #[serde(default)]
    layer: Vec<LayerSpec>,
}

/// A parsed manifest, with paths made absolute.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub layers: Vec<LayerSpec>,
    /// Keys in the manifest that no layer setting reads, such as
    /// `layer[2].id_feild`: reported, not fatal.
    pub unknown_keys: Vec<String>,
}

impl Manifest {
    /// Reads and checks a manifest; layer paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Fails when the manifest has no layer. `serve` accepts such a manifest,
    /// since its layers may come from imports, but the file-only commands do not.
    pub fn require_layers(&self) -> Result<(), ManifestError> {
        if self.layers.is_empty() {
            return Err(ManifestError::NoLayers {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Parses manifest text; `path` locates the layer files and names the manifest in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let mut unknown_keys = Vec::new();
        let deserializer = toml::Deserializer::new(text);
        let file: ManifestFile = serde_ignored::deserialize(deserializer, |key| {
            unknown_keys.push(key.to_string());
        })
        .map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;

        let base = path.parent().unwrap_or(Path::new("."));
        let mut layers = file.layer;
        let mut seen = std::collections::HashSet::new();
        for spec in &mut layers {
            let layer_error = |message: String| ManifestError::Layer {
                path: path.to_owned(),
                layer: spec.name.clone(),
                message,
            };
            spec.validate().map_err(layer_error)?;
            if !seen.insert(spec.name.clone()) {
                return Err(layer_error(
                    "the name is used by an earlier layer".to_owned(),
                ));
            }
            spec.path = base.join(&spec.path);
        }
        Ok(Manifest {
            path: path.to_owned(),
            layers,
            unknown_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_LAYER: &str = r#"
        [[layer]]
        name = "boroughs"
        kind = "district"
        path = "boroughs.geojson"
        id_field = "CODEID"
        name_field = "NOM"
    "#;

    #[test]
    fn paths_relative_to_manifest() {
        let manifest = Manifest::parse(Path::new("/srv/data/layers.toml"), ONE_LAYER).unwrap();
        assert_eq!(
            manifest.layers[0].path,
            Path::new("/srv/data/boroughs.geojson")
        );
        assert_eq!(manifest.layers[0].timezone, DEFAULT_TIMEZONE);
        assert!(manifest.unknown_keys.is_empty());
    }

    #[test]
    fn unknown_key_reported() {
        let text = format!("{ONE_LAYER}\nid_feild = \"x\"\n");
        let manifest = Manifest::parse(Path::new("layers.toml"), &text).unwrap();
        assert_eq!(manifest.unknown_keys, vec!["layer.0.id_feild".to_owned()]);
    }

    #[test]
    fn bad_names_rejected() {
        let reserved = [
            "gpkg",
            "gpkg_contents",
            "gpkgext_points",
            "sqlite_master",
            "sqlite_x",
        ];
        for name in reserved {
            let message = validate_layer_name(name).expect_err(name);
            assert!(message.contains("reserved"), "{message}");
        }
        for name in ["Boroughs", "1st", "a-b", "", &"a".repeat(64)] {
            assert!(
                validate_layer_name(name).is_err(),
                "{name:?} should be rejected"
            );
        }
        for name in [
            "a",
            "stm_stops_2025",
            "gp_kg",
            "sqlite",
            "my_gpkg",
            &"a".repeat(63),
        ] {
            assert!(
                validate_layer_name(name).is_ok(),
                "{name:?} should be accepted"
            );
        }
    }

    #[test]
    fn duplicate_name_rejected() {
        let text = format!("{ONE_LAYER}{ONE_LAYER}");
        let err = Manifest::parse(Path::new("layers.toml"), &text).unwrap_err();
        assert!(err.to_string().contains("earlier layer"), "{err}");
    }

    #[test]
    fn work_without_dates_rejected() {
        let text = ONE_LAYER.replace("district", "work");
        let err = Manifest::parse(Path::new("layers.toml"), &text).unwrap_err();
        assert!(err.to_string().contains("start_field"), "{err}");
    }

    #[test]
    fn no_layers_required() {
        let manifest = Manifest::parse(Path::new("layers.toml"), "# no layers\n").unwrap();
        let err = manifest.require_layers().unwrap_err();
        assert!(err.to_string().contains("no [[layer]] table"), "{err}");
        let one = Manifest::parse(Path::new("layers.toml"), ONE_LAYER).unwrap();
        assert!(one.require_layers().is_ok());
    }

    #[test]
    fn bad_datetime_format_rejected() {
        let work = ONE_LAYER.replace("district", "work");
        let text = format!("{work}start_field = \"DEBUT\"\ndatetime_format = \"%Q%Q\"\n");
        let err = Manifest::parse(Path::new("layers.toml"), &text).unwrap_err();
        assert!(err.to_string().contains("\"%Q%Q\""), "{err}");
        assert!(err.to_string().contains("datetime_format"), "{err}");

        let text = format!("{work}start_field = \"DEBUT\"\ndatetime_format = \"date\"\n");
        let err = Manifest::parse(Path::new("layers.toml"), &text).unwrap_err();
        assert!(err.to_string().contains("\"date\""), "{err}");
    }

    #[test]
    fn us_datetime_format_accepted() {
        let work = ONE_LAYER.replace("district", "work");
        let format = "%m/%d/%Y %I:%M:%S %p";
        let text = format!("{work}start_field = \"DEBUT\"\ndatetime_format = {format:?}\n");
        let manifest = Manifest::parse(Path::new("layers.toml"), &text).unwrap();
        assert_eq!(manifest.layers[0].datetime_format.as_deref(), Some(format));
    }

    #[test]
    fn bad_timezone_rejected() {
        let text = format!("{ONE_LAYER}timezone = \"Mars/Olympus\"\n");
        let err = Manifest::parse(Path::new("layers.toml"), &text).unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }
}
