//! Times given on the command line (`--start-time`, `--since`, …): RFC 3339 timestamps, a date
//! or date-time without a zone (taken as UTC), or a friendly duration meaning that long ago
//! (`90m`, `2h`, `7 days`).

use jiff::{Span, Timestamp, Zoned, civil, tz::TimeZone};

/// Parses `s`; the error says which forms are accepted.
pub fn parse(flag: &str, s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = s.parse::<civil::DateTime>() {
        if let Ok(z) = dt.to_zoned(TimeZone::UTC) {
            return Ok(z.timestamp());
        }
    }
    if let Ok(d) = s.parse::<civil::Date>() {
        if let Ok(z) = d.to_zoned(TimeZone::UTC) {
            return Ok(z.timestamp());
        }
    }
    if let Ok(span) = s.parse::<Span>() {
        let now = Zoned::now().with_time_zone(TimeZone::UTC);
        if let Ok(then) = now.checked_sub(span.abs()) {
            return Ok(then.timestamp());
        }
    }
    Err(format!(
        "{flag} '{s}': expected a time like 2026-01-31T12:00:00Z, 2026-01-31 (UTC), or a duration ago like 2h or 7d"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = |s| parse("--x", s).unwrap().to_string();
        assert_eq!(t("2026-01-31T12:00:00Z"), "2026-01-31T12:00:00Z");
        assert_eq!(t("2026-01-31T14:00:00+02:00"), "2026-01-31T12:00:00Z");
        assert_eq!(t("2026-01-31T12:00"), "2026-01-31T12:00:00Z");
        assert_eq!(t("2026-01-31"), "2026-01-31T00:00:00Z");
        let ago = parse("--x", "2h").unwrap();
        let delta = Timestamp::now().as_second() - ago.as_second();
        assert!((7190..=7210).contains(&delta), "{delta}");
        let e = parse("--since", "yesterday-ish").unwrap_err();
        assert!(e.contains("--since 'yesterday-ish'"), "{e}");
    }
}
