//! The feature loop: attributes, geometry, activity interval and id of
//! each source feature.

use gdal::vector::{
    Feature as OgrFeature, FeatureIterator, Geometry as OgrGeometry, Layer as OgrLayer, LayerAccess,
};
use serde_json::{Map, Value};

use super::cpl;
use super::crs::Transformer;
use super::error::SourceError;
use super::fields::{Columns, IdSource, value_text};
use super::geometry::{self, Finding, Problem, REJECT_ACTION, Site};
use super::ids::IdAssigner;
use super::options::ReadProgress;
use super::srs::SourceCrs;
use crate::layer::{
    ActiveInterval, Feature, GeometryProblem, InvalidGeometry, LayerKind, LoadReport,
    RejectedFeature, TimeParseError, UndecodableText, WorkTimeFormat,
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
    /// The CSV column of WKT geometries.
    wkt: Option<usize>,
    times: WorkTimeFormat,
    /// The reason reported for a feature without geometry.
    null_reason: String,
}

/// A feature kept so far, before its id is settled.
struct Draft {
    fid: i64,
    id_value: Option<String>,
    name: Option<String>,
    properties: Map<String, Value>,
    geometry: geo::Geometry<f64>,
    active: Option<ActiveInterval>,
    /// Whether the source geometry had Z or M values, now dropped.
    flattened: bool,
}

impl<'a> Reader<'a> {
    /// Resolves the columns the spec names in `layer`, read by GDAL driver
    /// `driver` (its short name, such as `GeoJSON`), with `wkt_field` the
    /// CSV column of WKT geometries, if any.
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
        wkt_field: Option<&str>,
    ) -> Result<Self, SourceError> {
        let mut columns = Columns::of_layer(layer, driver);
        let missing = |setting: &'static str, field: &str| SourceError::MissingField {
            path: path.to_owned(),
            setting,
            settings: crs.settings,
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
        let wkt = optional("wkt_field", &wkt_field.map(str::to_owned))?;
        if driver == "CSV" && wkt.is_none() {
            optional("x_field", &spec.x_field)?;
            optional("y_field", &spec.y_field)?;
        }
        if let Some(index) = wkt
            && ![Some(name), start, end].contains(&Some(index))
        {
            columns.hide(index);
        }
        Ok(Reader {
            spec,
            path,
            crs,
            transformer,
            id,
            name,
            start,
            end,
            wkt,
            times: WorkTimeFormat::new(spec.datetime_format.clone(), spec.tz()),
            columns,
            null_reason: null_reason(spec, wkt_field),
        })
    }

    /// Reads every feature the filter lets through, recording geometry
    /// problems, synthetic ids, rejections and dropped Z or M values in
    /// `report`, and counting each feature read in `progress`.
    ///
    /// # Errors
    /// A [`SourceError`] when a coordinate does not fit the source CRS, or
    /// [`SourceError::ReadFailed`] when GDAL fails to read a feature.
    pub fn read(
        &self,
        layer: &mut OgrLayer<'_>,
        report: &mut LoadReport,
        progress: Option<&ReadProgress>,
    ) -> Result<Vec<Feature>, SourceError> {
        let mut ids = IdAssigner::new(&self.spec.name);
        let mut features = Vec::new();
        let mut source_features = layer.features();
        let mut read = 0;
        while let Some(source) = next_feature(&mut source_features, self.path, read)? {
            read += 1;
            if let Some(progress) = progress {
                progress.add_read();
            }
            let fid = source
                .fid()
                .and_then(|f| i64::try_from(f).ok())
                .unwrap_or(-1);
            let (drafted, findings) = self.draft(&source, fid);
            match drafted {
                Ok(draft) => {
                    if draft.flattened {
                        report.flattened_count += 1;
                    }
                    let feature = finish(draft, &mut ids);
                    record_findings(report, &feature.id, findings, false);
                    record_undecodable(report, &feature);
                    features.push(feature);
                }
                Err(Problem::Reject(reason)) => {
                    let id = ids.reserve(fid, self.id_value(&source, fid));
                    record_findings(report, &id, findings, true);
                    report.rejected.push(RejectedFeature { id, fid, reason });
                }
                Err(Problem::Fatal(error)) => return Err(*error),
            }
        }
        report.synthetic_ids = ids.synthetic;
        Ok(features)
    }

    /// Builds the feature from `source`, and returns it or why it is
    /// rejected with the problems of its geometry. The geometry is checked
    /// first, so that a feature rejected for its dates still has its
    /// geometry problems reported.
    fn draft(&self, source: &OgrFeature<'_>, fid: i64) -> (Result<Draft, Problem>, Vec<Finding>) {
        if let Some(reason) = self.unparsed_wkt(source) {
            let finding = Finding::rejected(GeometryProblem::Other, reason.clone());
            return (Err(Problem::Reject(reason)), vec![finding]);
        }
        let site = Site {
            path: self.path,
            fid,
            crs: self.crs,
            null_reason: &self.null_reason,
        };
        let geometry = source.geometry();
        let flat = geometry.and_then(without_z_or_m);
        let shaped = geometry::shape(
            flat.as_ref().or(geometry),
            self.spec.kind,
            &site,
            self.transformer.as_ref(),
        );
        let drafted = shaped.geometry.and_then(|geometry| {
            let properties = self.columns.properties(source);
            let active = self.active(&properties)?;
            Ok(Draft {
                fid,
                id_value: self.id_value(source, fid),
                name: value_text(&properties[self.columns.name(self.name)]),
                properties,
                geometry,
                active,
                flattened: flat.is_some(),
            })
        });
        (drafted, shaped.findings)
    }

    /// Explains a null geometry read from a WKT cell that is not empty:
    /// GDAL leaves the geometry null when it cannot parse the text.
    fn unparsed_wkt(&self, source: &OgrFeature<'_>) -> Option<String> {
        let index = self.wkt?;
        // SAFETY: the returned geometry belongs to the feature and is only
        // compared with null.
        let geometry = unsafe { gdal_sys::OGR_F_GetGeometryRef(source.c_feature()) };
        if !geometry.is_null() {
            return None;
        }
        value_text(&self.columns.value(source, index))?;
        let column = self.columns.name(index);
        Some(format!(
            "no geometry: column {column:?} is not WKT that GDAL can parse \
             (GDAL 3.6 also reads WKT with NaN or infinite coordinates this way)"
        ))
    }

    /// Returns the source's id for feature `fid`, if it has one.
    fn id_value(&self, source: &OgrFeature<'_>, fid: i64) -> Option<String> {
        match self.id {
            IdSource::Column(index) => value_text(&self.columns.value(source, index)),
            IdSource::Fid => (fid >= 0).then(|| fid.to_string()),
        }
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

/// Reads the next feature of `features`, after `read` features.
///
/// # Errors
/// [`SourceError::ReadFailed`] when GDAL reports a failure (`CE_Failure`)
/// meanwhile, such as a DBF record cut short or a corrupt SQLite page. GDAL
/// then ends the layer early or returns the feature without its geometry,
/// so the file is rejected rather than imported in part.
pub(super) fn next_feature<'a>(
    features: &mut FeatureIterator<'a>,
    path: &str,
    read: usize,
) -> Result<Option<OgrFeature<'a>>, SourceError> {
    let (next, messages) = cpl::capture(|| features.next());
    let failures: Vec<cpl::CplMessage> = messages
        .iter()
        .filter(|m| m.is_failure())
        .cloned()
        .collect();
    if let Some(message) = cpl::join(&failures) {
        // The error adds its own full stop after GDAL's text.
        let message = message.trim_end_matches('.').to_owned();
        return Err(SourceError::ReadFailed {
            path: path.to_owned(),
            read,
            message,
        });
    }
    cpl::log_captured(&messages);
    Ok(next)
}

/// Returns a 2D copy of `geometry` when it has Z or M values, or `None`
/// when it is 2D. repère works in 2D, and the gdal crate (0.19) converts
/// no geometry with Z or M to a `geo` geometry.
fn without_z_or_m(geometry: &OgrGeometry) -> Option<OgrGeometry> {
    let kind = geometry.geometry_type();
    // SAFETY: OGR_GT_Flatten only maps one type code to another.
    if unsafe { gdal_sys::OGR_GT_Flatten(kind) } == kind {
        return None;
    }
    let mut flat = geometry.clone();
    flat.flatten_to_2d();
    Some(flat)
}

/// Explains a null geometry. GDAL 3.6 reads a CSV coordinate of `nan`,
/// `inf` or text as no value, so such features arrive here without
/// geometry rather than with a non-finite coordinate. A WKT cell that is
/// not empty gets the reason of [`Reader::unparsed_wkt`] instead.
fn null_reason(spec: &LayerSpec, wkt_field: Option<&str>) -> String {
    if let Some(wkt) = wkt_field {
        return format!("no geometry (null): column {wkt:?} is empty");
    }
    match (&spec.x_field, &spec.y_field) {
        (Some(x), Some(y)) => format!(
            "no geometry (null): x_field {x:?} or y_field {y:?} is empty or not a finite number"
        ),
        _ => "no geometry (null)".to_owned(),
    }
}

fn finish(draft: Draft, ids: &mut IdAssigner) -> Feature {
    let (id, synthetic_id) = ids.assign(draft.fid, draft.id_value);
    Feature {
        id,
        synthetic_id,
        name: draft.name,
        properties: draft.properties,
        geometry: draft.geometry,
        active: draft.active,
    }
}

/// Lists `feature` in the report when a text attribute contains U+FFFD,
/// which the gdal crate puts in place of bytes that are not UTF-8.
fn record_undecodable(report: &mut LoadReport, feature: &Feature) {
    let mut fields: Vec<String> = feature
        .properties
        .iter()
        .filter(|(_, value)| value.as_str().is_some_and(|text| text.contains('\u{FFFD}')))
        .map(|(name, _)| name.clone())
        .collect();
    fields.sort();
    if !fields.is_empty() {
        report.undecodable.push(UndecodableText {
            id: feature.id.clone(),
            fields,
        });
    }
}

/// Adds the geometry problems of feature `id` to `report`, each with the
/// reject action when the feature is not kept.
fn record_findings(report: &mut LoadReport, id: &str, findings: Vec<Finding>, rejected: bool) {
    for finding in findings {
        let action = if rejected {
            REJECT_ACTION.to_owned()
        } else {
            finding.action
        };
        report.invalid.push(InvalidGeometry {
            id: id.to_owned(),
            problem: finding.problem,
            reason: finding.reason,
            action,
        });
    }
}
