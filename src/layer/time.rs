//! Activity intervals of works, parsed from the text a source file holds.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// When a work is active: from `start` (inclusive) to `end` (exclusive).
/// A missing bound is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveInterval {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl ActiveInterval {
    /// Returns true when `at` lies in `[start, end)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start.is_none_or(|start| start <= at) && self.end.is_none_or(|end| at < end)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid date or time {value:?}: expected {expected}")]
pub struct TimeParseError {
    pub value: String,
    pub expected: String,
}

/// How the start and end values of a work layer are read.
///
/// Values with an offset (RFC 3339) are taken as they are. Values without
/// one are local times in `timezone`. A date without a time starts at local
/// midnight, and as an end it includes that whole local day.
#[derive(Debug, Clone)]
pub struct WorkTimeFormat {
    /// A chrono `strftime` pattern such as `%m/%d/%Y %I:%M:%S %p`; when
    /// absent, ISO 8601 forms are accepted.
    pub format: Option<String>,
    pub timezone: Tz,
}

/// A parsed value before it becomes an instant.
enum Parsed {
    Instant(DateTime<Utc>),
    Local(NaiveDateTime),
    Date(NaiveDate),
}

impl WorkTimeFormat {
    pub fn new(format: Option<String>, timezone: Tz) -> Self {
        WorkTimeFormat { format, timezone }
    }

    /// Parses the start of an interval: a date starts at local midnight.
    pub fn parse_start(&self, value: &str) -> Result<DateTime<Utc>, TimeParseError> {
        Ok(match self.parse(value)? {
            Parsed::Instant(t) => t,
            Parsed::Local(t) => self.local_to_utc(t),
            Parsed::Date(d) => self.local_to_utc(d.and_hms_opt(0, 0, 0).expect("midnight")),
        })
    }

    /// Parses the end of an interval: a date ends at the next local midnight,
    /// so that the whole day is included.
    pub fn parse_end(&self, value: &str) -> Result<DateTime<Utc>, TimeParseError> {
        Ok(match self.parse(value)? {
            Parsed::Instant(t) => t,
            Parsed::Local(t) => self.local_to_utc(t),
            Parsed::Date(d) => {
                let next = d + Duration::days(1);
                self.local_to_utc(next.and_hms_opt(0, 0, 0).expect("midnight"))
            }
        })
    }

    fn parse(&self, value: &str) -> Result<Parsed, TimeParseError> {
        let value = value.trim();
        if let Some(format) = &self.format {
            return parse_with_format(value, format).ok_or_else(|| TimeParseError {
                value: value.to_owned(),
                expected: format!("the datetime_format {format:?}"),
            });
        }
        parse_iso(value).ok_or_else(|| TimeParseError {
            value: value.to_owned(),
            expected: "RFC 3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD, or set datetime_format"
                .to_owned(),
        })
    }

    /// Converts a local time: in a repeated hour (autumn) the earlier instant
    /// is used, and a time skipped in spring is read one hour later.
    fn local_to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.timezone.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
            LocalResult::None => {
                let later = local + Duration::hours(1);
                self.local_to_utc(later)
            }
        }
    }
}

fn parse_with_format(value: &str, format: &str) -> Option<Parsed> {
    if let Ok(t) = DateTime::parse_from_str(value, format) {
        return Some(Parsed::Instant(t.with_timezone(&Utc)));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
        return Some(Parsed::Local(t));
    }
    NaiveDate::parse_from_str(value, format)
        .ok()
        .map(Parsed::Date)
}

fn parse_iso(value: &str) -> Option<Parsed> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(Parsed::Instant(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y/%m/%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Some(Parsed::Local(t));
        }
    }
    for format in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(value, format) {
            return Some(Parsed::Date(d));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toronto(format: Option<&str>) -> WorkTimeFormat {
        WorkTimeFormat::new(format.map(str::to_owned), chrono_tz::America::Toronto)
    }

    #[test]
    fn us_format_local_time() {
        let parsed = toronto(Some("%m/%d/%Y %I:%M:%S %p"))
            .parse_start("01/03/2018 10:11:23 AM")
            .unwrap();
        // 10:11:23 EST is 15:11:23 UTC.
        assert_eq!(parsed.to_rfc3339(), "2018-01-03T15:11:23+00:00");
    }

    #[test]
    fn date_only_end_includes_day() {
        let format = toronto(None);
        let end = format.parse_end("2024-07-01").unwrap();
        // The next local midnight, in EDT (UTC-4).
        assert_eq!(end.to_rfc3339(), "2024-07-02T04:00:00+00:00");
        let start = format.parse_start("2024-07-01").unwrap();
        assert_eq!(start.to_rfc3339(), "2024-07-01T04:00:00+00:00");
    }

    #[test]
    fn offset_is_kept() {
        let parsed = toronto(None).parse_start("2024-07-01T12:00:00+02:00").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2024-07-01T10:00:00+00:00");
    }

    #[test]
    fn skipped_spring_hour_moves_later() {
        // 02:30 does not exist in Toronto on 2024-03-10; 03:30 EDT is 07:30 UTC.
        let parsed = toronto(None).parse_start("2024-03-10 02:30:00").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2024-03-10T07:30:00+00:00");
    }

    #[test]
    fn garbage_names_value() {
        let err = toronto(None).parse_start("next tuesday").unwrap_err();
        assert_eq!(err.value, "next tuesday");
        assert!(err.to_string().contains("datetime_format"), "{err}");
    }

    #[test]
    fn interval_is_half_open() {
        let format = toronto(None);
        let interval = ActiveInterval {
            start: Some(format.parse_start("2024-07-01").unwrap()),
            end: Some(format.parse_end("2024-07-01").unwrap()),
        };
        assert!(interval.contains(interval.start.unwrap()));
        assert!(!interval.contains(interval.end.unwrap()));
        assert!(!interval.contains(interval.start.unwrap() - Duration::seconds(1)));
    }
}
