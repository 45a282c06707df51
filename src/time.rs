//! UTC timestamps: RFC 3339 formatting and parsing (CloudTrail's `eventTime`) through `jiff`,
//! which refuses impossible dates (`2026-02-31`) rather than rolling them over.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Nanoseconds since the Unix epoch of `t` (0 before the epoch).
pub fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(t: SystemTime) -> String {
    let ts = Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses an RFC 3339 timestamp (`2026-12-01T00:02:51Z`, with optional fraction and `+hh:mm`
/// offset) into nanoseconds since the epoch; `None` for anything else, impossible dates included.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i128> {
    s.parse::<Timestamp>().ok().map(|t| t.as_nanosecond())
}

/// The UTC (year, month, day, hour) of `ns` nanoseconds since the epoch.
pub fn utc_date_hour(ns: i64) -> (i16, i8, i8, i8) {
    let ts = Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH);
    let dt = ts.to_zoned(TimeZone::UTC).datetime();
    (dt.year(), dt.month(), dt.day(), dt.hour())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn parses_cloudtrail_times() {
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01Z"),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339_nanos("2026-12-01T00:02:51Z"),
            Some(1_796_083_371_000_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos("yesterday"), None);
        assert!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1500))
                .starts_with("1970-01-01T00:00:01.500Z")
        );
    }

    /// Regression: the hand-written parser accepted days that do not exist.
    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(parse_rfc3339_nanos("2026-02-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos("2026-04-31T12:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos("2026-12-01T24:00:00Z"), None);
        assert!(parse_rfc3339_nanos("2024-02-29T00:00:00Z").is_some());
        assert_eq!(parse_rfc3339_nanos("2025-02-29T00:00:00Z"), None);
    }

    #[test]
    fn dates_of_timestamps() {
        assert_eq!(utc_date_hour(0), (1970, 1, 1, 0));
        assert_eq!(utc_date_hour(1_796_083_371_000_000_000), (2026, 12, 1, 0));
    }
}
