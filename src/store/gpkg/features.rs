//! The spatial table of one version: `<layer>__v<NNNN>`.

use std::path::Path;

use gdal::Dataset;
use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    Feature as GdalFeature, Geometry as GdalGeometry, LayerAccess, LayerOptions, OGRFieldType,
    OGRwkbGeometryType,
};

use super::{gdal_error, tables};
use crate::layer::{Feature, Layer};
use crate::store::StoreError;
use crate::store::record::{
    decode_wkb, encode_wkb, format_instant, join_interval, parse_instant, split_interval,
};

const FIELDS: &[(&str, OGRFieldType::Type)] = &[
    ("feature_id", OGRFieldType::OFTString),
    ("name", OGRFieldType::OFTString),
    ("synthetic_id", OGRFieldType::OFTInteger),
    // Source attributes as a JSON object.
    ("properties", OGRFieldType::OFTString),
    // 1 when the feature has an activity interval (works only): a work
    // without one is never active, one with both bounds open always is.
    ("has_interval", OGRFieldType::OFTInteger),
    // Half-open bounds, RFC 3339 text in UTC with microseconds; NULL is open.
    ("active_from", OGRFieldType::OFTString),
    ("active_until", OGRFieldType::OFTString),
];

/// The table holding version `version` of `layer`.
pub(super) fn table_name(layer: &str, version: u32) -> String {
    format!("{layer}__v{version:04}")
}

/// Creates the table of version `version` and writes the features in a
/// transaction that also marks the version complete. When writing fails,
/// the table is dropped again.
pub(super) fn write(
    ds: &mut Dataset,
    path: &Path,
    layer: &Layer,
    version: u32,
) -> Result<(), StoreError> {
    let name = layer.info.name.as_str();
    let table = table_name(name, version);
    create_table(ds, path, &table)?;
    let written = write_features(ds, path, layer, version, &table);
    if written.is_err() {
        drop_table(ds, &table);
    }
    written
}

fn write_features(
    ds: &mut Dataset,
    path: &Path,
    layer: &Layer,
    version: u32,
    table: &str,
) -> Result<(), StoreError> {
    let name = layer.info.name.as_str();
    let operation = format!("write the features of {table}");
    let tx = ds
        .start_transaction()
        .map_err(gdal_error(path, operation.clone()))?;
    let target = tx
        .layer_by_name(table)
        .map_err(gdal_error(path, operation.clone()))?;
    for feature in &layer.features {
        write_feature(&target, path, name, feature)?;
    }
    tables::mark_complete(&tx, path, name, version)?;
    tx.commit().map_err(gdal_error(path, operation))
}

/// Drops the table of a failed import, so that QGIS does not list it. The
/// version row stays incomplete, and so unlisted, either way.
fn drop_table(ds: &mut Dataset, table: &str) {
    let index = ds.layers().position(|layer| layer.name() == table);
    let dropped = match index {
        Some(index) => ds.delete_layer(index),
        None => Ok(()),
    };
    if let Err(error) = dropped {
        tracing::warn!(table, %error, "cannot drop the table of a failed import");
    }
}

fn create_table(ds: &mut Dataset, path: &Path, table: &str) -> Result<(), StoreError> {
    let operation = format!("create table {table}");
    let mut srs = SpatialRef::from_epsg(4326).map_err(gdal_error(path, operation.clone()))?;
    // x = longitude, y = latitude, as GeoPackage stores coordinates.
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let options = LayerOptions {
        name: table,
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbUnknown,
        options: Some(&["GEOMETRY_NAME=geom", "FID=fid"]),
    };
    let created = ds
        .create_layer(options)
        .map_err(gdal_error(path, operation.clone()))?;
    created
        .create_defn_fields(FIELDS)
        .map_err(gdal_error(path, operation.clone()))?;
    // GDAL defers the CREATE TABLE of a new GeoPackage layer until it is
    // flushed. Run it now, outside the features' transaction: rolled back
    // inside it, GDAL would still believe the table exists.
    ds.flush_cache().map_err(gdal_error(path, operation))
}

fn write_feature(
    target: &gdal::vector::Layer<'_>,
    path: &Path,
    layer: &str,
    feature: &Feature,
) -> Result<(), StoreError> {
    let operation = || format!("write feature {:?} of layer {layer:?}", feature.id);
    let wkb = encode_wkb(layer, feature)?;
    let mut out = GdalFeature::new(target.defn()).map_err(gdal_error(path, operation()))?;
    set_fields(&mut out, feature).map_err(gdal_error(path, operation()))?;
    let geometry = GdalGeometry::from_wkb(&wkb).map_err(gdal_error(path, operation()))?;
    out.set_geometry(geometry)
        .and_then(|()| out.create(target))
        .map_err(gdal_error(path, operation()))
}

fn set_fields(out: &mut GdalFeature<'_>, feature: &Feature) -> gdal::errors::Result<()> {
    let properties = serde_json::Value::Object(feature.properties.clone()).to_string();
    let (has_interval, start, end) = split_interval(feature.active);
    out.set_field_string(out.field_index("feature_id")?, &feature.id)?;
    if let Some(name) = &feature.name {
        out.set_field_string(out.field_index("name")?, name)?;
    }
    out.set_field_integer(
        out.field_index("synthetic_id")?,
        feature.synthetic_id.into(),
    )?;
    out.set_field_string(out.field_index("properties")?, &properties)?;
    out.set_field_integer(out.field_index("has_interval")?, has_interval.into())?;
    if let Some(start) = start {
        out.set_field_string(out.field_index("active_from")?, &format_instant(start))?;
    }
    if let Some(end) = end {
        out.set_field_string(out.field_index("active_until")?, &format_instant(end))?;
    }
    Ok(())
}

/// Reads the features of a version, in the order they were written.
pub(super) fn read(
    ds: &Dataset,
    path: &Path,
    layer: &str,
    version: u32,
) -> Result<Vec<Feature>, StoreError> {
    let table = table_name(layer, version);
    let operation = format!("read the features of {table}");
    let mut source = ds
        .layer_by_name(&table)
        .map_err(gdal_error(path, operation.clone()))?;
    let mut features = Vec::new();
    for row in source.features() {
        let fid = row.fid().unwrap_or_default();
        features.push((fid, read_feature(&row, path, layer, version)?));
    }
    // The feature ids count up in write order.
    features.sort_by_key(|(fid, _)| *fid);
    Ok(features.into_iter().map(|(_, feature)| feature).collect())
}

fn read_feature(
    row: &GdalFeature<'_>,
    path: &Path,
    layer: &str,
    version: u32,
) -> Result<Feature, StoreError> {
    let fields = read_fields(row).map_err(gdal_error(path, format!("read layer {layer:?}")))?;
    let corrupt = |field: &'static str, message: String| StoreError::Corrupt {
        layer: layer.to_owned(),
        version,
        field,
        message: format!("feature {:?}: {message}", fields.id),
    };
    let instant = |field: &'static str, text: &Option<String>| {
        text.as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(|m| corrupt(field, m))
    };
    let properties = match serde_json::from_str(&fields.properties) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return Err(corrupt("properties", "not a JSON object".into())),
        Err(e) => return Err(corrupt("properties", e.to_string())),
    };
    let wkb = row
        .geometry()
        .ok_or_else(|| corrupt("geom", "missing".into()))?
        .wkb()
        .map_err(gdal_error(path, format!("read layer {layer:?}")))?;
    Ok(Feature {
        geometry: decode_wkb(layer, &fields.id, &wkb)?,
        synthetic_id: fields.synthetic_id,
        name: fields.name,
        properties,
        active: join_interval(
            fields.has_interval,
            instant("active_from", &fields.active_from)?,
            instant("active_until", &fields.active_until)?,
        ),
        id: fields.id,
    })
}

/// The attribute columns of a feature row, before parsing.
struct Fields {
    id: String,
    name: Option<String>,
    synthetic_id: bool,
    properties: String,
    has_interval: bool,
    active_from: Option<String>,
    active_until: Option<String>,
}

fn read_fields(row: &GdalFeature<'_>) -> gdal::errors::Result<Fields> {
    let text = |name: &str| row.field_as_string(row.field_index(name)?);
    let flag = |name: &str| -> gdal::errors::Result<bool> {
        Ok(row.field_as_integer(row.field_index(name)?)?.unwrap_or(0) != 0)
    };
    Ok(Fields {
        id: text("feature_id")?.unwrap_or_default(),
        name: text("name")?,
        synthetic_id: flag("synthetic_id")?,
        properties: text("properties")?.unwrap_or_else(|| "{}".to_owned()),
        has_interval: flag("has_interval")?,
        active_from: text("active_from")?,
        active_until: text("active_until")?,
    })
}
