//! Context requests as clients send them, and their validation.

use chrono::{DateTime, FixedOffset, Utc};
use geo::Coord;
use serde::Deserialize;

use crate::catalog::Catalog;

/// Defaults and bounds of the request parameters.
pub mod limits {
    pub const DEFAULT_RADIUS_M: f64 = 100.0;
    pub const MAX_RADIUS_M: f64 = 5_000.0;
    pub const DEFAULT_LIMIT: u32 = 3;
    pub const MAX_LIMIT: u32 = 100;
    pub const DEFAULT_NEAR_M: f64 = 25.0;
    pub const MAX_NEAR_M: f64 = 1_000.0;
}

/// A context request: a point and optional parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContextRequest {
    /// Latitude, WGS84 degrees, -90 to 90.
    #[schema(example = 45.5576)]
    pub lat: f64,
    /// Longitude, WGS84 degrees, -180 to 180.
    #[schema(example = -73.7497)]
    pub lon: f64,
    /// The instant works must be active at, RFC 3339 with an offset. Default: now.
    #[schema(example = "2026-12-04T10:30:00-05:00")]
    pub at: Option<String>,
    /// The instant whose active layer versions are used, RFC 3339 with an
    /// offset. Before a layer's first activation, its first version is used
    /// and the layer entry sets `as_of_fallback`. Default: the versions
    /// active now.
    #[schema(example = "2026-11-01T00:00:00-04:00")]
    pub as_of: Option<String>,
    /// Radius of the asset and work search, metres. Default 100, at most 5,000.
    pub radius_m: Option<f64>,
    /// Features per asset layer. Default 3, at most 100.
    pub limit: Option<u32>,
    /// Distance within which other districts are listed as neighbours,
    /// metres. Default 25, at most 1,000.
    pub near_m: Option<f64>,
    /// Names of the layers to query. Default: all, in manifest order.
    #[param(style = Form, explode = false)]
    #[serde(default, deserialize_with = "layer_list")]
    pub layers: Option<Vec<String>>,
}

/// Accepts a list of names as a JSON array or as a comma-separated string
/// (`layers=a,b` in a query string).
fn layer_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    d.deserialize_option(OptionalLayerList)
}

struct OptionalLayerList;

impl<'de> serde::de::Visitor<'de> for OptionalLayerList {
    type Value = Option<Vec<String>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(LAYER_LIST_EXPECTED)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LayerList).map(Some)
    }
}

const LAYER_LIST_EXPECTED: &str = "a list of layer names or a comma-separated string";

struct LayerList;

impl<'de> serde::de::Visitor<'de> for LayerList {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(LAYER_LIST_EXPECTED)
    }

    fn visit_str<E: serde::de::Error>(self, joined: &str) -> Result<Self::Value, E> {
        let names = joined
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(names)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut names = Vec::new();
        while let Some(name) = seq.next_element::<String>()? {
            names.push(name);
        }
        Ok(names)
    }
}

/// A request field whose value is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    /// The field's name as the client wrote it, e.g. `lat` or `layers`.
    pub field: String,
    /// What is wrong with the value and what is expected, naming the value.
    pub message: String,
}

impl InvalidField {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        InvalidField {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct ContextQuery {
    /// WGS84, x = longitude, y = latitude.
    pub point: Coord<f64>,
    pub at: DateTime<FixedOffset>,
    /// The instant whose active layer versions are used, `None` for the current ones.
    pub as_of: Option<DateTime<FixedOffset>>,
    pub radius_m: f64,
    pub limit: usize,
    pub near_m: f64,
    /// Positions of the requested layers in the catalog, in manifest order.
    pub layers: Vec<usize>,
}

impl ContextRequest {
    /// Checks every field against the limits and the catalog's layers.
    /// `now` is the default of `at`.
    pub fn validate(
        &self,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<ContextQuery, InvalidField> {
        let lat = coordinate("lat", self.lat, 90.0)?;
        let lon = coordinate("lon", self.lon, 180.0)?;
        let at = match &self.at {
            None => now.fixed_offset(),
            Some(text) => instant("at", text)?,
        };
        let as_of = self
            .as_of
            .as_deref()
            .map(|text| instant("as_of", text))
            .transpose()?;
        let radius_m = distance(
            "radius_m",
            self.radius_m,
            limits::DEFAULT_RADIUS_M,
            limits::MAX_RADIUS_M,
        )?;
        let near_m = distance(
            "near_m",
            self.near_m,
            limits::DEFAULT_NEAR_M,
            limits::MAX_NEAR_M,
        )?;
        let limit = self.limit.unwrap_or(limits::DEFAULT_LIMIT);
        if limit > limits::MAX_LIMIT {
            return Err(InvalidField::new(
                "limit",
                format!("{limit} is over the maximum of {}", limits::MAX_LIMIT),
            ));
        }
        let layers = match &self.layers {
            None => (0..catalog.layers().len()).collect(),
            Some(names) if names.is_empty() => return Err(empty_layer_list()),
            Some(names) => layer_positions(catalog, names)?,
        };
        Ok(ContextQuery {
            point: Coord { x: lon, y: lat },
            at,
            as_of,
            radius_m,
            limit: limit as usize,
            near_m,
            layers,
        })
    }
}

fn instant(field: &str, text: &str) -> Result<DateTime<FixedOffset>, InvalidField> {
    DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        InvalidField::new(
            field,
            format!(
                "{text:?} is not an RFC 3339 date and time with an offset ({e}): \
                 write e.g. 2026-12-04T10:30:00-05:00"
            ),
        )
    })
}

fn coordinate(field: &str, value: f64, max: f64) -> Result<f64, InvalidField> {
    if !value.is_finite() {
        return Err(InvalidField::new(
            field,
            format!("{value} is not a finite number"),
        ));
    }
    if value.abs() > max {
        return Err(InvalidField::new(
            field,
            format!(
                "{value} is out of range: expected a value from -{max} to {max} (WGS84 degrees)"
            ),
        ));
    }
    Ok(value)
}

fn distance(field: &str, value: Option<f64>, default: f64, max: f64) -> Result<f64, InvalidField> {
    let Some(value) = value else {
        return Ok(default);
    };
    if !value.is_finite() || value < 0.0 {
        return Err(InvalidField::new(
            field,
            format!("{value} is invalid: expected metres from 0 to {max}"),
        ));
    }
    if value > max {
        return Err(InvalidField::new(
            field,
            format!("{value} is over the maximum of {max} metres"),
        ));
    }
    Ok(value)
}

fn empty_layer_list() -> InvalidField {
    InvalidField::new(
        "layers",
        "the list is empty: omit layers for all layers, or name at least one",
    )
}

fn layer_positions(catalog: &Catalog, names: &[String]) -> Result<Vec<usize>, InvalidField> {
    let mut positions = Vec::with_capacity(names.len());
    for name in names {
        let Some(position) = catalog.position(name) else {
            let known: Vec<&str> = catalog
                .layers()
                .iter()
                .map(|l| l.layer().info.name.as_str())
                .collect();
            return Err(InvalidField::new(
                "layers",
                format!(
                    "unknown layer {name:?}: known layers are {}",
                    known.join(", ")
                ),
            ));
        };
        positions.push(position);
    }
    positions.sort_unstable();
    positions.dedup();
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Catalog {
        Catalog::new(Vec::new())
    }

    fn request(lat: f64, lon: f64) -> ContextRequest {
        ContextRequest {
            lat,
            lon,
            ..ContextRequest::default()
        }
    }

    #[test]
    fn defaults_applied() {
        let query = request(45.5, -73.6).validate(&empty(), Utc::now()).unwrap();
        assert_eq!(query.radius_m, 100.0);
        assert_eq!(query.limit, 3);
        assert_eq!(query.near_m, 25.0);
    }

    #[test]
    fn nan_latitude_rejected() {
        let err = request(f64::NAN, -73.6)
            .validate(&empty(), Utc::now())
            .unwrap_err();
        assert_eq!(err.field, "lat");
        assert!(err.message.contains("NaN"), "{err}");
    }

    #[test]
    fn out_of_range_longitude_rejected() {
        let err = request(45.5, 181.0)
            .validate(&empty(), Utc::now())
            .unwrap_err();
        assert_eq!(err.field, "lon");
        assert!(err.message.contains("181"), "{err}");
    }

    #[test]
    fn radius_over_limit_rejected() {
        let mut r = request(45.5, -73.6);
        r.radius_m = Some(5000.5);
        let err = r.validate(&empty(), Utc::now()).unwrap_err();
        assert_eq!(err.field, "radius_m");
        assert!(err.message.contains("5000.5"), "{err}");
    }

    #[test]
    fn at_without_offset_rejected() {
        let mut r = request(45.5, -73.6);
        r.at = Some("2026-12-04T10:30:00".into());
        let err = r.validate(&empty(), Utc::now()).unwrap_err();
        assert_eq!(err.field, "at");
        assert!(err.message.contains("2026-12-04T10:30:00"), "{err}");
    }

    #[test]
    fn as_of_without_offset_rejected() {
        let mut r = request(45.5, -73.6);
        r.as_of = Some("2026-11-01".into());
        let err = r.validate(&empty(), Utc::now()).unwrap_err();
        assert_eq!(err.field, "as_of");
        assert!(err.message.contains("\"2026-11-01\""), "{err}");
    }

    #[test]
    fn unknown_layer_rejected() {
        let mut r = request(45.5, -73.6);
        r.layers = Some(vec!["nope".into()]);
        let err = r.validate(&empty(), Utc::now()).unwrap_err();
        assert_eq!(err.field, "layers");
        assert!(err.message.contains("\"nope\""), "{err}");
    }

    #[test]
    fn layers_from_query_string() {
        let r: ContextRequest = serde_json::from_value(serde_json::json!({
            "lat": 45.5, "lon": -73.6, "layers": "a, b"
        }))
        .unwrap();
        assert_eq!(r.layers, Some(vec!["a".to_owned(), "b".to_owned()]));
    }
}
