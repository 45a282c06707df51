//! Byte sizes (`10MiB`, `512KB`, `1048576`) and durations (`30s`, `500ms`, `2m`) in settings.

use std::time::Duration;

/// Parses a size: a number with an optional unit (B, KB, MB, GB = powers of 1000; KiB, MiB, GiB
/// = powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (num, unit) = number_and_unit(text);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size (expected e.g. 1048576, 512KiB or 10MiB)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{text}' (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("size '{text}' is out of range"));
    }
    Ok(bytes as u64)
}

/// Parses a duration: a number followed by ms, s, m or h (a bare number means seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (num, unit) = number_and_unit(text);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (expected e.g. 30s, 500ms or 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit '{other}' in '{text}' (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration '{text}' is out of range"))
}

/// Splits `12.5 MiB` into `("12.5", "MiB")`; the unit is trimmed, the number may be empty.
fn number_and_unit(text: &str) -> (&str, &str) {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    (num, unit.trim())
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
        assert!(parse_size("0").is_err());
        assert!(parse_size("1XB").is_err());
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
    }
}
