//! `[anomalies]` as written (plain serde with spans) and its checked form, [`AnomalySettings`].
//!
//! ```toml
//! [anomalies]
//! state_file = "/var/lib/trailwatch/anomalies.state"
//! out = "/var/log/trailwatch/anomalies.ndjson"     # or "-" (stdout); also --anomalies-out
//! ignore_principals = ["arn:aws:iam::111122223333:role/scanner*"]
//! ignore_source_ips = ["203.0.113.0/24"]
//! [[anomalies.sinks]]                              # same tables as [[sinks]]
//! type = "loki"
//! url = "http://loki:3100"
//! ```

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::config::raw::Str;
use crate::config::sinks::{RawSink, Resolve, check_sink};
use crate::config::units::{parse_duration, parse_size};
use crate::sink::spec::SinkSpec;

/// The detectors, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// A principal's first call from a source address (prefix).
    NewSourceIp,
    /// A principal's first call in a region.
    NewRegion,
    /// A principal's first call with a user-agent family.
    NewUserAgent,
    /// A principal's first call of an `eventSource:eventName`.
    NewApi,
    /// A root or IAM user's first call with a long-term access key.
    NewAccessKey,
    /// An account's calls of one API per minute, far above its baseline.
    ApiCallRate,
    /// An account's errors of one API per minute, far above its baseline.
    ApiErrorRate,
    /// One principal's access-denied errors across many APIs in a short window.
    ErrorBurst,
}

impl DetectorKind {
    /// Every detector.
    pub const ALL: [DetectorKind; 8] = [
        DetectorKind::NewSourceIp,
        DetectorKind::NewRegion,
        DetectorKind::NewUserAgent,
        DetectorKind::NewApi,
        DetectorKind::NewAccessKey,
        DetectorKind::ApiCallRate,
        DetectorKind::ApiErrorRate,
        DetectorKind::ErrorBurst,
    ];

    /// The name (the `detector` label and record field).
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::NewSourceIp => "new_source_ip",
            DetectorKind::NewRegion => "new_region",
            DetectorKind::NewUserAgent => "new_user_agent",
            DetectorKind::NewApi => "new_api",
            DetectorKind::NewAccessKey => "new_access_key",
            DetectorKind::ApiCallRate => "api_call_rate",
            DetectorKind::ApiErrorRate => "api_error_rate",
            DetectorKind::ErrorBurst => "error_burst",
        }
    }
}

/// `[anomalies]` as written: its presence (or `--anomalies-out`) turns detection on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomalies {
    /// Which detectors run (default: all).
    pub detectors: Option<Vec<Spanned<DetectorKind>>>,
    /// Anomaly records, NDJSON (`-`: stdout).
    pub out: Option<Str>,
    /// Sinks for anomaly records (same tables as `[[sinks]]`).
    #[serde(default)]
    pub sinks: Vec<RawSink>,
    /// The state file (restored at start, snapshotted on `snapshot_interval` and at exit).
    pub state_file: Option<Str>,
    /// How often the state is snapshotted (default "1m").
    pub snapshot_interval: Option<Str>,
    /// Memory cap of the first-seen state (default "64MiB").
    pub max_memory: Option<Spanned<toml::Value>>,
    /// A principal is learning until it has been seen this long… (default "7d")
    pub learning_period: Option<Str>,
    /// …or for `learning_min_period` and `learning_events` events (defaults "2d", 500).
    pub learning_min_period: Option<Str>,
    /// See `learning_min_period`.
    pub learning_events: Option<u32>,
    /// `new_api` also reports read-only calls (default false: reads are learned, not reported).
    pub new_api_reads: Option<bool>,
    /// `new_api` reports only when the principal's API set has not grown for this long
    /// (default "7d"): a principal still exploring its repertoire is not alarming.
    pub new_api_settle: Option<Str>,
    /// IPv4 addresses are compared by this prefix length (default 32).
    pub ipv4_prefix: Option<u8>,
    /// IPv6 addresses are compared by this prefix length (default 64).
    pub ipv6_prefix: Option<u8>,
    /// A minute's rate starts an anomaly at this multiple of its baseline (default 10).
    pub rate_factor: Option<f64>,
    /// …and only from this many events in the minute (default 30).
    pub rate_min_per_minute: Option<u32>,
    /// The baseline's averaging horizon (default "7d", as CloudTrail Insights).
    pub rate_baseline: Option<Str>,
    /// How long an account's API must have been seen before its rate is judged (default "1d").
    pub rate_warmup: Option<Str>,
    /// The error burst's window (default "5m").
    pub burst_window: Option<Str>,
    /// Access-denied errors in the window (default 20).
    pub burst_errors: Option<u32>,
    /// Distinct APIs among them (default 8).
    pub burst_apis: Option<u32>,
    /// Principals never reported: exact ARNs/ids, or a prefix ending in `*`.
    #[serde(default)]
    pub ignore_principals: Vec<Str>,
    /// Source addresses never reported as new (CIDR or single address).
    #[serde(default)]
    pub ignore_source_ips: Vec<Str>,
    /// Generate the alert rule on `trailwatch_anomalies_total` (default true).
    pub alerts: Option<bool>,
}

/// A principal pattern: exact, or a prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum PrincipalMatch {
    /// Exactly this.
    Exact(String),
    /// Starts with this.
    Prefix(String),
}

impl PrincipalMatch {
    /// Whether `p` matches.
    pub fn matches(&self, p: &[u8]) -> bool {
        match self {
            PrincipalMatch::Exact(s) => s.as_bytes() == p,
            PrincipalMatch::Prefix(s) => p.starts_with(s.as_bytes()),
        }
    }
}

/// An address range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cidr {
    /// The network.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::/n` or a single address.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Cidr { addr, len })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                mask(u128::from(u32::from(n)), 32, self.len)
                    == mask(u128::from(u32::from(a)), 32, self.len)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                mask(u128::from(n), 128, self.len) == mask(u128::from(a), 128, self.len)
            }
            _ => false,
        }
    }
}

/// `v` (of `bits` bits) with only its first `len` bits kept.
pub fn mask(v: u128, bits: u8, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let drop = u32::from(bits.saturating_sub(len.min(bits)));
        (v >> drop) << drop
    }
}

/// Checked `[anomalies]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalySettings {
    /// Detectors that run.
    pub detectors: Vec<DetectorKind>,
    /// Where anomaly records go (`--anomalies-out` / `out` as a file or stdout sink, plus
    /// `[[anomalies.sinks]]`).
    pub sinks: Vec<SinkSpec>,
    /// The state file.
    pub state_file: Option<PathBuf>,
    /// Snapshot interval.
    pub snapshot_interval: Duration,
    /// Memory cap of the principals' first-seen state, bytes.
    pub max_memory: usize,
    /// Longest learning period, seconds.
    pub learning_secs: u32,
    /// Shorter learning period for busy principals, seconds…
    pub learning_min_secs: u32,
    /// …once they have this many events.
    pub learning_events: u32,
    /// `new_api` reports read-only calls too.
    pub new_api_reads: bool,
    /// `new_api` settle period, seconds.
    pub new_api_settle_secs: u32,
    /// IPv4 prefix length.
    pub ipv4_prefix: u8,
    /// IPv6 prefix length.
    pub ipv6_prefix: u8,
    /// Rate factor that starts an anomaly.
    pub rate_factor: f64,
    /// Fewest events in a minute that can start one.
    pub rate_min_per_minute: u32,
    /// Baseline horizon, minutes.
    pub rate_baseline_minutes: u32,
    /// Warm-up, minutes.
    pub rate_warmup_minutes: u32,
    /// Error-burst window, milliseconds.
    pub burst_window_ms: i64,
    /// Access-denied errors in the window.
    pub burst_errors: u32,
    /// Distinct APIs among them.
    pub burst_apis: u32,
    /// Principals never reported.
    pub ignore_principals: Vec<PrincipalMatch>,
    /// Addresses never reported as new.
    pub ignore_source_ips: Vec<Cidr>,
    /// Generate the alert rule.
    pub alerts: bool,
    /// `trailwatch learn`: update the state, report nothing.
    pub learn_only: bool,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        AnomalySettings {
            detectors: DetectorKind::ALL.to_vec(),
            sinks: Vec::new(),
            state_file: None,
            snapshot_interval: Duration::from_secs(60),
            max_memory: 64 << 20,
            learning_secs: 7 * 86_400,
            learning_min_secs: 2 * 86_400,
            learning_events: 500,
            new_api_reads: false,
            new_api_settle_secs: 7 * 86_400,
            ipv4_prefix: 32,
            ipv6_prefix: 64,
            rate_factor: 10.0,
            rate_min_per_minute: 30,
            rate_baseline_minutes: 7 * 1440,
            rate_warmup_minutes: 1440,
            burst_window_ms: 5 * 60_000,
            burst_errors: 20,
            burst_apis: 8,
            ignore_principals: Vec::new(),
            ignore_source_ips: Vec::new(),
            alerts: true,
            learn_only: false,
        }
    }
}

impl AnomalySettings {
    /// Whether `d` runs.
    pub fn enabled(&self, d: DetectorKind) -> bool {
        self.detectors.contains(&d)
    }
}

/// Flags that turn detection on or override the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnomalyFlags {
    /// `--anomalies-out PATH` (`-` for stdout).
    pub out: Option<PathBuf>,
    /// `--anomaly-state FILE`.
    pub state_file: Option<PathBuf>,
    /// `trailwatch learn`: only learn (needs a state file; sinks are not opened).
    pub learn_only: bool,
}

/// Checks `[anomalies]` and the flags; `None` when detection is off (neither is given).
pub fn check(
    raw: Option<&RawAnomalies>,
    flags: &AnomalyFlags,
    r: &dyn Resolve,
) -> Result<Option<AnomalySettings>, ConfigError> {
    if raw.is_none() && flags.out.is_none() && flags.state_file.is_none() && !flags.learn_only {
        return Ok(None);
    }
    let empty = RawAnomalies::default();
    let raw = raw.unwrap_or(&empty);
    let d = AnomalySettings::default();
    let duration = |v: &Option<Str>, default: Duration| -> Result<Duration, ConfigError> {
        let Some(v) = v else { return Ok(default) };
        let t = r.string(v)?;
        match parse_duration(&t) {
            Ok(x) if !x.is_zero() => Ok(x),
            Ok(_) => Err(r.error(&v.span(), "must be longer than zero".into())),
            Err(e) => Err(r.error(&v.span(), e.to_string())),
        }
    };
    let secs_u32 = |v: &Option<Str>, default: u32| -> Result<u32, ConfigError> {
        let x = duration(v, Duration::from_secs(u64::from(default)))?;
        Ok(u32::try_from(x.as_secs()).unwrap_or(u32::MAX))
    };
    let detectors = match &raw.detectors {
        Some(list) => {
            let mut v: Vec<DetectorKind> = list.iter().map(|s| *s.get_ref()).collect();
            v.sort();
            v.dedup();
            v
        }
        None => d.detectors.clone(),
    };
    let max_memory = match &raw.max_memory {
        None => d.max_memory,
        Some(v) => {
            let bytes = match v.get_ref() {
                toml::Value::Integer(i) => {
                    u64::try_from(*i).map_err(|_| "must not be negative".to_owned())
                }
                toml::Value::String(s) => parse_size(s).map_err(|e| e.to_string()),
                _ => Err("expected a size such as \"64MiB\"".to_owned()),
            }
            .and_then(|b| {
                if b < 1 << 20 {
                    Err("max_memory must be at least 1MiB".to_owned())
                } else {
                    Ok(b)
                }
            })
            .map_err(|m| r.error(&v.span(), m))?;
            usize::try_from(bytes).unwrap_or(usize::MAX)
        }
    };
    let prefix = |v: Option<u8>, default: u8, max: u8, what: &str| -> Result<u8, ConfigError> {
        match v {
            None => Ok(default),
            Some(p) if (1..=max).contains(&p) => Ok(p),
            Some(p) => Err(ConfigError::flag(format!(
                "anomalies.{what} = {p}: must be 1 to {max}"
            ))),
        }
    };
    let mut sinks = Vec::new();
    let out = match &flags.out {
        _ if flags.learn_only => None,
        Some(p) => Some(p.clone()),
        None => raw.out.as_ref().map(|o| r.path(o)).transpose()?,
    };
    if let Some(p) = out {
        let url = if p.as_os_str() == "-" {
            "-".to_owned()
        } else {
            format!("file:{}", p.display())
        };
        let mut spec = crate::sink::parse_forward(&url, 0)
            .map_err(|e| ConfigError::flag(format!("anomalies out: {e}")))?;
        spec.name = "anomalies_out".into();
        sinks.push(spec);
    }
    for (i, s) in raw.sinks.iter().enumerate().filter(|_| !flags.learn_only) {
        let mut spec = check_sink(s, i, r)?;
        spec.name = format!("anomalies_{}", spec.name);
        if sinks.iter().any(|o: &SinkSpec| o.name == spec.name) {
            return Err(ConfigError::flag(format!(
                "two anomaly sinks are named '{}'",
                spec.name
            )));
        }
        sinks.push(spec);
    }
    let factor = raw.rate_factor.unwrap_or(d.rate_factor);
    if !(factor > 1.0 && factor.is_finite()) {
        return Err(ConfigError::flag(format!(
            "anomalies.rate_factor = {factor}: must be a number above 1"
        )));
    }
    let positive = |v: Option<u32>, default: u32, what: &str| -> Result<u32, ConfigError> {
        match v.unwrap_or(default) {
            0 => Err(ConfigError::flag(format!(
                "anomalies.{what} must be at least 1"
            ))),
            n => Ok(n),
        }
    };
    let minutes = |v: &Option<Str>, default: u32| -> Result<u32, ConfigError> {
        let x = duration(v, Duration::from_secs(u64::from(default) * 60))?;
        Ok(u32::try_from(x.as_secs() / 60).unwrap_or(u32::MAX).max(1))
    };
    let ignore_principals = raw
        .ignore_principals
        .iter()
        .map(|p| {
            let s = r.string(p)?;
            Ok(match s.strip_suffix('*') {
                Some(prefix) => PrincipalMatch::Prefix(prefix.to_owned()),
                None => PrincipalMatch::Exact(s),
            })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let ignore_source_ips = raw
        .ignore_source_ips
        .iter()
        .map(|c| {
            let s = r.string(c)?;
            Cidr::parse(&s).map_err(|m| r.error(&c.span(), m))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let learning_secs = secs_u32(&raw.learning_period, d.learning_secs)?;
    let learning_min_secs = secs_u32(&raw.learning_min_period, d.learning_min_secs)?;
    Ok(Some(AnomalySettings {
        detectors,
        sinks,
        state_file: match &flags.state_file {
            Some(p) => Some(p.clone()),
            None => raw.state_file.as_ref().map(|p| r.path(p)).transpose()?,
        },
        snapshot_interval: duration(&raw.snapshot_interval, d.snapshot_interval)?,
        max_memory,
        learning_secs,
        learning_min_secs: learning_min_secs.min(learning_secs),
        learning_events: raw.learning_events.unwrap_or(d.learning_events),
        new_api_reads: raw.new_api_reads.unwrap_or(d.new_api_reads),
        new_api_settle_secs: secs_u32(&raw.new_api_settle, d.new_api_settle_secs)?,
        ipv4_prefix: prefix(raw.ipv4_prefix, d.ipv4_prefix, 32, "ipv4_prefix")?,
        ipv6_prefix: prefix(raw.ipv6_prefix, d.ipv6_prefix, 128, "ipv6_prefix")?,
        rate_factor: factor,
        rate_min_per_minute: positive(
            raw.rate_min_per_minute,
            d.rate_min_per_minute,
            "rate_min_per_minute",
        )?,
        rate_baseline_minutes: minutes(&raw.rate_baseline, d.rate_baseline_minutes)?,
        rate_warmup_minutes: minutes(&raw.rate_warmup, d.rate_warmup_minutes)?,
        burst_window_ms: i64::try_from(
            duration(&raw.burst_window, Duration::from_millis(5 * 60_000))?.as_millis(),
        )
        .unwrap_or(i64::MAX),
        burst_errors: positive(raw.burst_errors, d.burst_errors, "burst_errors")?,
        burst_apis: positive(raw.burst_apis, d.burst_apis, "burst_apis")?,
        ignore_principals,
        ignore_source_ips,
        alerts: raw.alerts.unwrap_or(true),
        learn_only: flags.learn_only,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_containment() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.77".parse().unwrap()));
        assert!(!c.contains("203.0.114.1".parse().unwrap()));
        let six = Cidr::parse("2001:db8::/32").unwrap();
        assert!(six.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!six.contains("203.0.113.77".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("ec2.amazonaws.com").is_err());
    }

    #[test]
    fn principal_patterns() {
        assert!(
            PrincipalMatch::Prefix("arn:aws:iam::1:role/scan".into())
                .matches(b"arn:aws:iam::1:role/scanner")
        );
        assert!(!PrincipalMatch::Exact("a".into()).matches(b"ab"));
    }
}
