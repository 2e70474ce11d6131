//! Attribute values of source features as JSON, and their plain text.

use std::ffi::{CStr, c_int};

use gdal::vector::{Feature, FieldValue, LayerAccess};
use gdal_sys::OGRFieldType;
use serde_json::{Map, Number, Value};

/// The attribute columns of a layer, in order.
pub(super) struct Columns {
    names: Vec<String>,
    types: Vec<OGRFieldType::Type>,
    /// The column GDAL reads feature ids from (a GeoPackage primary key, a
    /// GeoJSON `id` property), when the driver names one, else `id` for
    /// GeoJSON, whose integer `id` members become feature ids.
    fid_column: Option<String>,
    /// A column left out of the properties: the CSV column of WKT
    /// geometries, which GDAL has already read as the geometry.
    hidden: Option<usize>,
}

/// The `id_field` value that names the GDAL feature id (FID) in any format,
/// unless the layer has a column of that name.
pub(super) const FID: &str = "fid";

/// The origin of feature ids.
#[derive(Debug, Clone, Copy)]
pub(super) enum IdSource {
    Column(usize),
    Fid,
}

impl Columns {
    pub fn of_layer(layer: &impl LayerAccess, driver: &str) -> Columns {
        let (names, types) = layer
            .defn()
            .fields()
            .map(|field| (field.name(), field.field_type()))
            .unzip();
        // SAFETY: OGR_L_GetFIDColumn returns a string owned by the layer, or
        // an empty one.
        let fid_column = unsafe {
            let text = gdal_sys::OGR_L_GetFIDColumn(layer.c_layer());
            (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
        };
        let fid_column = fid_column.filter(|name| !name.is_empty());
        let fid_column = fid_column.or_else(|| (driver == "GeoJSON").then(|| "id".to_owned()));
        Columns {
            names,
            types,
            fid_column,
            hidden: None,
        }
    }

    /// Returns the index of column `name`: an exact match, else the first
    /// match ignoring ASCII case, as GDAL matches field names.
    pub fn index(&self, name: &str) -> Option<usize> {
        let exact = self.names.iter().position(|n| n == name);
        exact.or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(name)))
    }

    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// Returns the name of the layer's FID column, such as `fid` or
    /// `OBJECTID` in a GeoPackage, when the driver has one.
    pub fn fid_column(&self) -> Option<&str> {
        self.fid_column.as_deref()
    }

    /// Returns the origin of ids for `id_field`: a column, else the GDAL
    /// feature id when `id_field` is `fid` or names the layer's FID column.
    /// A column named `fid` wins over the feature id.
    pub fn id_source(&self, id_field: &str) -> Option<IdSource> {
        if let Some(index) = self.index(id_field) {
            return Some(IdSource::Column(index));
        }
        let is_fid = id_field.eq_ignore_ascii_case(FID)
            || self
                .fid_column
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(id_field));
        is_fid.then_some(IdSource::Fid)
    }

    /// Lists the column names and the names of the feature id, for error
    /// messages.
    pub fn describe(&self) -> String {
        let mut names = self.names.clone();
        let fid_column = self
            .fid_column
            .as_deref()
            .filter(|name| !name.eq_ignore_ascii_case(FID));
        if let Some(fid) = fid_column {
            names.push(format!("{fid} (feature id)"));
        }
        if self.index(FID).is_none() {
            names.push(format!("{FID} (feature id)"));
        }
        names.join(", ")
    }

    /// Leaves column `index` out of [`Columns::properties`].
    pub fn hide(&mut self, index: usize) {
        self.hidden = Some(index);
    }

    /// Reads the attributes of `feature` as JSON, in column order, without
    /// the hidden column.
    pub fn properties(&self, feature: &Feature<'_>) -> Map<String, Value> {
        let mut properties = Map::with_capacity(self.names.len());
        for (index, name) in self.names.iter().enumerate() {
            if self.hidden != Some(index) {
                properties.insert(name.clone(), self.value(feature, index));
            }
        }
        properties
    }

    pub fn value(&self, feature: &Feature<'_>, index: usize) -> Value {
        let field = index as c_int;
        // SAFETY: `index` is below the layer's field count, which every
        // feature of the layer shares.
        let set = unsafe { gdal_sys::OGR_F_IsFieldSetAndNotNull(feature.c_feature(), field) };
        if set == 0 {
            return Value::Null;
        }
        match self.types[index] {
            OGRFieldType::OFTDate | OGRFieldType::OFTDateTime | OGRFieldType::OFTTime => {
                iso_datetime(feature, field, self.types[index]).map_or(Value::Null, Value::String)
            }
            _ => match feature.field(index) {
                Ok(Some(value)) => to_json(value),
                Ok(None) => Value::Null,
                Err(_) => field_as_string(feature, field).map_or(Value::Null, Value::String),
            },
        }
    }
}

fn to_json(value: FieldValue) -> Value {
    match value {
        FieldValue::StringValue(s) => Value::String(s),
        FieldValue::IntegerValue(i) => Value::from(i),
        FieldValue::Integer64Value(i) => Value::from(i),
        FieldValue::RealValue(f) => real(f),
        FieldValue::StringListValue(v) => Value::from(v),
        FieldValue::IntegerListValue(v) => Value::from(v),
        FieldValue::Integer64ListValue(v) => Value::from(v),
        FieldValue::RealListValue(v) => Value::Array(v.into_iter().map(real).collect()),
        FieldValue::DateValue(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        FieldValue::DateTimeValue(t) => Value::String(t.to_rfc3339()),
    }
}

/// Converts a real to a JSON number, or to null for NaN and infinities,
/// which JSON cannot represent.
fn real(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn field_as_string(feature: &Feature<'_>, field: c_int) -> Option<String> {
    // SAFETY: the returned string is owned by the feature and copied at once.
    unsafe {
        let text = gdal_sys::OGR_F_GetFieldAsString(feature.c_feature(), field);
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    }
}

/// Formats a date, time or datetime field as ISO 8601 text. A datetime has an
/// offset only when the source stored one (GDAL's time zone flag 100 and
/// above), so that a local time stays local.
fn iso_datetime(feature: &Feature<'_>, field: c_int, kind: OGRFieldType::Type) -> Option<String> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut tz_flag) = (0, 0, 0, 0, 0, 0);
    let mut second: f32 = 0.0;
    // SAFETY: plain out-parameters for a field index of this feature.
    let ok = unsafe {
        gdal_sys::OGR_F_GetFieldAsDateTimeEx(
            feature.c_feature(),
            field,
            &mut year,
            &mut month,
            &mut day,
            &mut hour,
            &mut minute,
            &mut second,
            &mut tz_flag,
        )
    };
    if ok == 0 {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    let time = format!("{hour:02}:{minute:02}:{}", seconds_text(second));
    Some(match kind {
        OGRFieldType::OFTDate => date,
        OGRFieldType::OFTTime => time,
        _ => format!("{date}T{time}{}", offset_text(tz_flag)),
    })
}

fn seconds_text(second: f32) -> String {
    if second.fract() == 0.0 {
        format!("{:02}", second as u32)
    } else {
        format!("{second:06.3}")
    }
}

/// GDAL's time zone flag: 0 unknown, 1 local time, 100 UTC, and 100 ± n
/// for an offset of n quarter hours.
fn offset_text(tz_flag: c_int) -> String {
    if tz_flag <= 1 {
        return String::new();
    }
    let quarters = tz_flag - 100;
    if quarters == 0 {
        return "Z".to_owned();
    }
    let sign = if quarters < 0 { '-' } else { '+' };
    let minutes = quarters.abs() * 15;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Returns the plain text of an attribute value, as ids, names and work
/// dates use it: strings trimmed, integral reals without a fraction (`1.0` → `"1"`),
/// other numbers in their shortest form. Null and blank strings have none.
pub(super) fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => {
            let trimmed = s.trim();
            (!trimmed.is_empty()).then(|| trimmed.to_owned())
        }
        Value::Number(n) => Some(number_text(n)),
        other => Some(other.to_string()),
    }
}

fn number_text(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    // Integral reals below 2^53 print exactly as integers.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_ids_drop_fraction() {
        assert_eq!(value_text(&real(1.0)).as_deref(), Some("1"));
        assert_eq!(value_text(&real(11.2)).as_deref(), Some("11.2"));
        assert_eq!(value_text(&real(-3.0)).as_deref(), Some("-3"));
    }

    #[test]
    fn blank_text_is_none() {
        assert_eq!(value_text(&Value::String("  ".into())), None);
        assert_eq!(value_text(&Value::Null), None);
        assert_eq!(
            value_text(&Value::String(" Vimont ".into())).as_deref(),
            Some("Vimont")
        );
    }

    #[test]
    fn tz_flag_offsets() {
        assert_eq!(offset_text(0), "");
        assert_eq!(offset_text(1), "");
        assert_eq!(offset_text(100), "Z");
        assert_eq!(offset_text(100 - 16), "-04:00");
        assert_eq!(offset_text(100 + 22), "+05:30");
    }
}
