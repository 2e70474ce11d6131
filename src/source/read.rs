//! The feature loop: attributes, geometry, activity interval and id of
//! each source feature.

use gdal::vector::{Feature as OgrFeature, Layer as OgrLayer, LayerAccess};
use serde_json::{Map, Value};

use super::crs::Transformer;
use super::error::SourceError;
use super::fields::{Columns, IdSource, value_text};
use super::geometry::{self, Problem, REPAIR_ACTION, Site};
use super::ids::IdAssigner;
use super::srs::SourceCrs;
use crate::layer::{
    ActiveInterval, Feature, InvalidGeometry, LayerKind, LoadReport, RejectedFeature,
    TimeParseError, WorkTimeFormat,
};
use crate::manifest::LayerSpec;

/// Reads the features of one source layer as its spec describes them.
pub(super) struct Reader<'a> {
    spec: &'a LayerSpec,
    path: &'a str,
    crs: &'a SourceCrs,
    /// None when the source is already WGS84.
    transformer: Option<Transformer>,
    columns: Columns,
    id: IdSource,
    name: usize,
    start: Option<usize>,
    end: Option<usize>,
    times: WorkTimeFormat,
}

/// A feature kept so far, before its id is settled.
struct Draft {
    fid: i64,
    id_value: Option<String>,
    name: Option<String>,
    properties: Map<String, Value>,
    geometry: geo::Geometry<f64>,
    active: Option<ActiveInterval>,
    invalid_reason: Option<String>,
}

impl<'a> Reader<'a> {
    /// Resolves the columns the spec names in `layer`, read by GDAL driver
    /// `driver` (its short name, such as `GeoJSON`).
    ///
    /// # Errors
    /// [`SourceError::MissingField`] for a column the layer lacks.
    pub fn new(
        spec: &'a LayerSpec,
        path: &'a str,
        crs: &'a SourceCrs,
        transformer: Option<Transformer>,
        layer: &OgrLayer<'_>,
        driver: &str,
    ) -> Result<Self, SourceError> {
        let columns = Columns::of_layer(layer, driver);
        let missing = |setting: &'static str, field: &str| SourceError::MissingField {
            path: path.to_owned(),
            setting,
            field: field.to_owned(),
            layer: layer.name(),
            available: columns.describe(),
        };
        let id = columns
            .id_source(&spec.id_field)
            .ok_or_else(|| missing("id_field", &spec.id_field))?;
        let name = columns
            .index(&spec.name_field)
            .ok_or_else(|| missing("name_field", &spec.name_field))?;
        let optional = |setting, field: &Option<String>| match field {
            Some(f) => columns
                .index(f)
                .map(Some)
                .ok_or_else(|| missing(setting, f)),
            None => Ok(None),
        };
        let start = optional("start_field", &spec.start_field)?;
        let end = optional("end_field", &spec.end_field)?;
        Ok(Reader {
            spec,
            path,
            crs,
            transformer,
            id,
            name,
            start,
            end,
            times: WorkTimeFormat::new(spec.datetime_format.clone(), spec.tz()),
            columns,
        })
    }

    /// Reads every feature the filter lets through, recording repairs,
    /// synthetic ids and rejections in `report`.
    ///
    /// # Errors
    /// A [`SourceError`] when a coordinate does not fit the source CRS.
    pub fn read(
        &self,
        layer: &mut OgrLayer<'_>,
        report: &mut LoadReport,
    ) -> Result<Vec<Feature>, SourceError> {
        let mut ids = IdAssigner::new(&self.spec.name);
        let mut features = Vec::new();
        for source in layer.features() {
            let fid = source
                .fid()
                .and_then(|f| i64::try_from(f).ok())
                .unwrap_or(-1);
            match self.draft(&source, fid) {
                Ok(draft) => features.push(finish(draft, &mut ids, report)),
                Err(Problem::Reject(reason)) => {
                    report.rejected.push(RejectedFeature { fid, reason })
                }
                Err(Problem::Fatal(error)) => return Err(*error),
            }
        }
        report.synthetic_ids = ids.synthetic;
        Ok(features)
    }

    fn draft(&self, source: &OgrFeature<'_>, fid: i64) -> Result<Draft, Problem> {
        let properties = self.columns.properties(source);
        let active = self.active(&properties)?;
        let site = Site {
            path: self.path,
            fid,
            crs: self.crs,
        };
        let shaped = geometry::shape(
            source.geometry(),
            self.spec.kind,
            &site,
            self.transformer.as_ref(),
        )?;
        let id_value = match self.id {
            IdSource::Column(index) => value_text(&properties[self.columns.name(index)]),
            IdSource::Fid => (fid >= 0).then(|| fid.to_string()),
        };
        Ok(Draft {
            fid,
            id_value,
            name: value_text(&properties[self.columns.name(self.name)]),
            properties,
            geometry: shaped.geometry,
            active,
            invalid_reason: shaped.invalid_reason,
        })
    }

    /// Parses the activity interval of a work feature. A null bound is open,
    /// but a work needs at least one bound.
    fn active(&self, properties: &Map<String, Value>) -> Result<Option<ActiveInterval>, Problem> {
        if self.spec.kind != LayerKind::Work {
            return Ok(None);
        }
        let start = self.bound(properties, self.start, "start_field", |v| {
            self.times.parse_start(v)
        })?;
        let end = self.bound(properties, self.end, "end_field", |v| {
            self.times.parse_end(v)
        })?;
        if start.is_none() && end.is_none() {
            return Err(Problem::Reject("no start or end".to_owned()));
        }
        // An interval that ends when it starts is never active, e.g. a start
        // in the hour skipped in spring that is read one hour later.
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            return Err(Problem::Reject(format!(
                "ends at {}, not after it starts at {}",
                end.to_rfc3339(),
                start.to_rfc3339()
            )));
        }
        Ok(Some(ActiveInterval { start, end }))
    }

    fn bound(
        &self,
        properties: &Map<String, Value>,
        column: Option<usize>,
        setting: &str,
        parse: impl Fn(&str) -> Result<chrono::DateTime<chrono::Utc>, TimeParseError>,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, Problem> {
        let Some(column) = column else {
            return Ok(None);
        };
        let name = self.columns.name(column);
        let Some(text) = value_text(&properties[name]) else {
            return Ok(None);
        };
        parse(&text)
            .map(Some)
            .map_err(|e| Problem::Reject(format!("{setting} {name:?}: {e}")))
    }
}

fn finish(draft: Draft, ids: &mut IdAssigner, report: &mut LoadReport) -> Feature {
    let (id, synthetic_id) = ids.assign(draft.fid, draft.id_value);
    if let Some(reason) = draft.invalid_reason {
        report.invalid.push(InvalidGeometry {
            id: id.clone(),
            reason,
            action: REPAIR_ACTION.to_owned(),
        });
    }
    Feature {
        id,
        synthetic_id,
        name: draft.name,
        properties: draft.properties,
        geometry: draft.geometry,
        active: draft.active,
    }
}
