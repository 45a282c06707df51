//! Byte sizes (`10MiB`, `512KB`, `1048576`) and durations (`30s`, `500ms`, `2m`) in settings and
//! flags, parsed by well-kept crates (`bytesize`, `humantime`) so impossible values are refused.

use std::time::Duration;

/// A size or duration that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Not a size.
    #[error("'{text}' is not a size (expected e.g. 1048576, 512KiB or 10MiB): {reason}")]
    Size {
        /// What was given.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Zero where something must be held.
    #[error("size '{0}' must be at least one byte")]
    ZeroSize(String),
    /// Not a duration.
    #[error("'{text}' is not a duration (expected e.g. 30s, 500ms or 2m): {reason}")]
    Duration {
        /// What was given.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
}

/// Parses a size: a number with an optional unit (B, KB, MB, GB = powers of 1000; KiB, MiB, GiB
/// = powers of 1024). Also the `value_parser` of the size flags.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    let bytes = t
        .parse::<bytesize::ByteSize>()
        .map_err(|reason| UnitError::Size {
            text: text.to_owned(),
            reason: reason.to_string(),
        })?
        .as_u64();
    if bytes == 0 {
        return Err(UnitError::ZeroSize(text.to_owned()));
    }
    Ok(bytes)
}

/// Parses a duration (`30s`, `500ms`, `2m`, `1h 30m`; a bare number means seconds). Also the
/// `value_parser` of the duration flags.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let t = text.trim();
    let error = |reason: String| UnitError::Duration {
        text: text.to_owned(),
        reason,
    };
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|e| error(e.to_string()));
    }
    humantime::parse_duration(t).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("10 MiB"), Ok(10 << 20));
        assert_eq!(parse_size("512KB"), Ok(512_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_size("0"), Err(UnitError::ZeroSize("0".into())));
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("-5MiB").is_err());
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-3s").is_err());
        assert!(parse_duration("").is_err());
    }
}
