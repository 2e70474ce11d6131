//! Rows of `layer_features`: one per feature of a version.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Postgres, Row, Transaction};

use super::db;
use crate::layer::Feature;
use crate::store::StoreError;
use crate::store::record::{decode_wkb, encode_wkb, join_interval, split_interval};

/// Features sent in one INSERT: large enough to amortize round trips, small
/// enough to keep each statement's arrays a few megabytes for polygons.
const INSERT_BATCH: usize = 500;

/// Column arrays of one batch, bound to an `INSERT … SELECT FROM unnest(…)`.
#[derive(Default)]
struct Batch {
    ids: Vec<String>,
    positions: Vec<i32>,
    synthetic: Vec<bool>,
    names: Vec<Option<String>>,
    properties: Vec<Value>,
    wkb: Vec<Vec<u8>>,
    has_interval: Vec<bool>,
    starts: Vec<Option<DateTime<Utc>>>,
    ends: Vec<Option<DateTime<Utc>>>,
}

impl Batch {
    fn push(&mut self, layer: &str, position: usize, feature: &Feature) -> Result<(), StoreError> {
        let (has_interval, start, end) = split_interval(feature.active);
        self.wkb.push(encode_wkb(layer, feature)?);
        self.ids.push(feature.id.clone());
        self.positions.push(position as i32);
        self.synthetic.push(feature.synthetic_id);
        self.names.push(feature.name.clone());
        self.properties
            .push(Value::Object(feature.properties.clone()));
        self.has_interval.push(has_interval);
        self.starts.push(start);
        self.ends.push(end);
        Ok(())
    }
}

/// Inserts the features of a version, in order.
pub(super) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    layer: &str,
    version: u32,
    features: &[Feature],
) -> Result<(), StoreError> {
    for (chunk_index, chunk) in features.chunks(INSERT_BATCH).enumerate() {
        let mut batch = Batch::default();
        for (offset, feature) in chunk.iter().enumerate() {
            batch.push(layer, chunk_index * INSERT_BATCH + offset, feature)?;
        }
        insert_batch(tx, layer, version, batch).await?;
    }
    Ok(())
}

async fn insert_batch(
    tx: &mut Transaction<'_, Postgres>,
    layer: &str,
    version: u32,
    batch: Batch,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO layer_features (layer, version, feature_id, position, synthetic_id, name, \
         properties, geom, has_interval, active_from, active_until) \
         SELECT $1, $2, f.id, f.position, f.synthetic, f.name, f.properties, \
             ST_GeomFromWKB(f.wkb, 4326), f.has_interval, f.active_from, f.active_until \
         FROM unnest($3::text[], $4::integer[], $5::boolean[], $6::text[], $7::jsonb[], \
             $8::bytea[], $9::boolean[], $10::timestamptz[], $11::timestamptz[]) \
             AS f(id, position, synthetic, name, properties, wkb, has_interval, \
                  active_from, active_until)",
    )
    .bind(layer)
    .bind(version as i32)
    .bind(batch.ids)
    .bind(batch.positions)
    .bind(batch.synthetic)
    .bind(batch.names)
    .bind(batch.properties)
    .bind(batch.wkb)
    .bind(batch.has_interval)
    .bind(batch.starts)
    .bind(batch.ends)
    .execute(&mut **tx)
    .await
    .map_err(db(layer, "insert the features of"))?;
    Ok(())
}

/// Reads the features of a version, in the order they were stored.
pub(super) async fn select<'e>(
    executor: impl PgExecutor<'e>,
    layer: &str,
    version: u32,
) -> Result<Vec<Feature>, StoreError> {
    let rows = sqlx::query(
        "SELECT feature_id, synthetic_id, name, properties, ST_AsBinary(geom) AS wkb, \
         has_interval, active_from, active_until \
         FROM layer_features WHERE layer = $1 AND version = $2 ORDER BY position",
    )
    .bind(layer)
    .bind(version as i32)
    .fetch_all(executor)
    .await
    .map_err(db(layer, "read the features of"))?;
    rows.iter()
        .map(|row| feature_from_row(layer, version, row))
        .collect()
}

fn feature_from_row(layer: &str, version: u32, row: &PgRow) -> Result<Feature, StoreError> {
    let read = |source| StoreError::Database {
        layer: layer.to_owned(),
        operation: "read a feature of",
        source,
    };
    let id: String = row.try_get("feature_id").map_err(read)?;
    let wkb: Vec<u8> = row.try_get("wkb").map_err(read)?;
    let Value::Object(properties) = row.try_get("properties").map_err(read)? else {
        return Err(StoreError::Corrupt {
            layer: layer.to_owned(),
            version,
            field: "properties",
            message: format!("feature {id:?}: not a JSON object"),
        });
    };
    let active = join_interval(
        row.try_get("has_interval").map_err(read)?,
        row.try_get("active_from").map_err(read)?,
        row.try_get("active_until").map_err(read)?,
    );
    Ok(Feature {
        geometry: decode_wkb(layer, &id, &wkb)?,
        synthetic_id: row.try_get("synthetic_id").map_err(read)?,
        name: row.try_get("name").map_err(read)?,
        properties,
        active,
        id,
    })
}
