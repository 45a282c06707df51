//! Trail health, per account and region (`recipientAccountId`, `awsRegion`): events received, the
//! newest `eventTime` seen and the delivery lag (arrival − `eventTime`) as a histogram — a region
//! whose trail went silent is a blind spot no metric filter shows. Workers add up a batch in
//! [`TrailDeltas`] and [`TrailHealth::flush`] it under one lock; label sets are capped like every
//! family (`--max-series`), excess counted in `trailwatch_series_dropped_total`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus::proto;

use crate::event::json_scan::{skip_ws, string_end, unescape, value_end};
use crate::metrics::Telemetry;

/// `trailwatch_trail_events_total`
pub const EVENTS: &str = "trailwatch_trail_events_total";
/// `trailwatch_trail_newest_event_timestamp_seconds`
pub const NEWEST: &str = "trailwatch_trail_newest_event_timestamp_seconds";
/// `trailwatch_trail_delivery_lag_seconds`
pub const LAG: &str = "trailwatch_trail_delivery_lag_seconds";

/// Delivery-lag bucket bounds, in seconds: CloudTrail delivers within about 5 (CloudWatch Logs,
/// EventBridge) to 15 minutes (S3); longer means a delay worth an alert.
pub const LAG_BUCKETS: [f64; 11] = [
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
];

/// Longest account or region label value kept (longer values are cut: they are not AWS ids).
const MAX_LABEL_BYTES: usize = 64;

/// `[trail_health]` as written: its presence turns trail health on.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrailHealth {
    /// Alert when an account and region sent nothing for this long (default "1h").
    pub silence: Option<crate::config::raw::Str>,
    /// Alert when the 90th percentile of delivery lag exceeds this (default "15m").
    pub delivery_lag: Option<crate::config::raw::Str>,
    /// Generate the two alerts (default true).
    pub alerts: Option<bool>,
}

/// Checked `[trail_health]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailSettings {
    /// Silence threshold, seconds.
    pub silence_secs: u64,
    /// Delivery-lag threshold (p90), seconds.
    pub delivery_lag_secs: u64,
    /// Whether `trailwatch rules` generates the alerts.
    pub alerts: bool,
}

/// Separates account and region in a key.
const SEP: char = '\u{1f}';

#[derive(Debug, Clone)]
struct Counts {
    events: u64,
    /// Newest `eventTime`, seconds since the epoch (`None`: none parsed).
    newest: Option<f64>,
    lag_buckets: [u64; LAG_BUCKETS.len()],
    lag_count: u64,
    lag_sum: f64,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            events: 0,
            newest: None,
            lag_buckets: [0; LAG_BUCKETS.len()],
            lag_count: 0,
            lag_sum: 0.0,
        }
    }
}

impl Counts {
    fn merge(&mut self, o: &Counts) {
        self.events += o.events;
        self.newest = match (self.newest, o.newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (a, b) in self.lag_buckets.iter_mut().zip(&o.lag_buckets) {
            *a += b;
        }
        self.lag_count += o.lag_count;
        self.lag_sum += o.lag_sum;
    }
}

/// A worker's per-batch trail counts.
#[derive(Debug, Default)]
pub struct TrailDeltas {
    by_key: HashMap<String, Counts>,
    key: String,
}

/// The three top-level fields of a CloudTrail record.
#[derive(Debug, Default, PartialEq)]
struct Fields<'a> {
    account: Option<Cow<'a, str>>,
    region: Option<Cow<'a, str>>,
    event_time: Option<Cow<'a, str>>,
}

/// A JSON string value's content, decoded (borrowed unless it has escapes).
fn string_value(b: &[u8]) -> Option<Cow<'_, str>> {
    let raw = b.get(1..b.len().checked_sub(1)?)?;
    if !raw.contains(&b'\\') {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(raw.len());
    unescape(raw, &mut out).ok()?;
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// The key of `recipientAccountId`, with the colon and the value's opening quote.
const ACCOUNT_NEEDLE: &[u8] = b"\"recipientAccountId\":\"";

/// Where the top-level member starting at `at` (its key's opening quote) is followed only by
/// more members and the object's closing brace at the very end of `doc`: then it is a member of
/// the outermost object (a nested one would close before the end). Returns the member's value.
fn top_level_tail(doc: &[u8], at: usize) -> Option<&[u8]> {
    let before = doc[..at]
        .iter()
        .rev()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
    if !matches!(before, Some(b',' | b'{')) {
        return None;
    }
    let mut j = at;
    let mut first = None;
    loop {
        if doc.get(j) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(doc, j).ok()?;
        j = skip_ws(doc, key_end);
        if doc.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(doc, j + 1);
        let end = value_end(doc, j).ok()?;
        first.get_or_insert(&doc[j..end]);
        j = skip_ws(doc, end);
        match doc.get(j) {
            Some(b',') => j = skip_ws(doc, j + 1),
            Some(b'}') => return (skip_ws(doc, j + 1) == doc.len()).then_some(first?),
            _ => return None,
        }
    }
}

/// Finds `recipientAccountId`, `awsRegion` and `eventTime` among the top-level members of `doc`.
/// CloudTrail writes `recipientAccountId` near the end, after the large nested request and
/// response: it is found by a substring search (and proven top-level by what follows it); the other two
/// come early, and the forward scan, which skips nested values whole, stops once it has them.
fn fields(doc: &[u8]) -> Fields<'_> {
    let mut f = Fields::default();
    // The first occurrence (a forward search is the fast one); a nested one before it sends us
    // to the forward scan below.
    if let Some(at) = memchr::memmem::find(doc, ACCOUNT_NEEDLE) {
        if let Some(v) = top_level_tail(doc, at) {
            f.account = string_value(v);
        }
    }
    if f.account.is_none() && memchr::memmem::find(doc, b"\"awsRegion\"").is_none() {
        // Neither field anywhere: not a CloudTrail record.
        return f;
    }
    let account_known = f.account.is_some();
    let mut j = skip_ws(doc, 0);
    if doc.get(j) != Some(&b'{') {
        return Fields::default();
    }
    j = skip_ws(doc, j + 1);
    while doc.get(j) == Some(&b'"') {
        let Ok(key_end) = string_end(doc, j) else {
            return f;
        };
        let key = &doc[j + 1..key_end - 1];
        j = skip_ws(doc, key_end);
        if doc.get(j) != Some(&b':') {
            return f;
        }
        j = skip_ws(doc, j + 1);
        let Ok(end) = value_end(doc, j) else {
            return f;
        };
        let value = &doc[j..end];
        let slot = match key {
            b"recipientAccountId" if !account_known => Some(&mut f.account),
            b"awsRegion" => Some(&mut f.region),
            b"eventTime" => Some(&mut f.event_time),
            _ => None,
        };
        if let Some(slot) = slot {
            if value.first() == Some(&b'"') {
                *slot = string_value(value);
            }
            if f.account.is_some() && f.region.is_some() && f.event_time.is_some() {
                return f;
            }
        }
        j = skip_ws(doc, end);
        match doc.get(j) {
            Some(b',') => j = skip_ws(doc, j + 1),
            _ => return f,
        }
    }
    f
}

fn label(v: Option<Cow<'_, str>>) -> Cow<'_, str> {
    match v {
        None => Cow::Borrowed("unknown"),
        Some(s) if s.len() <= MAX_LABEL_BYTES => s,
        Some(s) => {
            let mut cut = MAX_LABEL_BYTES;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            Cow::Owned(s[..cut].to_owned())
        }
    }
}

impl TrailDeltas {
    /// Counts one accepted event (a CloudTrail record: it has `recipientAccountId` or
    /// `awsRegion`; other events are not trail events). `arrival` is when its batch arrived, in
    /// seconds since the epoch; `None` (backfill of old files) records no lag.
    pub fn observe(&mut self, doc: &[u8], arrival: Option<f64>) {
        let f = fields(doc);
        if f.account.is_none() && f.region.is_none() {
            return;
        }
        let event_time = f
            .event_time
            .as_deref()
            .and_then(crate::time::parse_rfc3339_nanos)
            .map(|n| n as f64 / 1e9);
        self.key.clear();
        self.key.push_str(&label(f.account));
        self.key.push(SEP);
        self.key.push_str(&label(f.region));
        let counts = match self.by_key.get_mut(self.key.as_str()) {
            Some(c) => c,
            None => self.by_key.entry(self.key.clone()).or_default(),
        };
        counts.events += 1;
        if let Some(t) = event_time {
            counts.newest = Some(counts.newest.map_or(t, |n| n.max(t)));
            if let Some(arrival) = arrival {
                let lag = (arrival - t).max(0.0);
                if let Some(i) = LAG_BUCKETS.iter().position(|b| lag <= *b) {
                    counts.lag_buckets[i] += 1;
                }
                counts.lag_count += 1;
                counts.lag_sum += lag;
            }
        }
    }
}

/// Trail counts of every worker, read at scrape time.
#[derive(Debug)]
pub struct TrailHealth {
    max_series: usize,
    series: Mutex<HashMap<String, Counts>>,
    /// Off unless `[trail_health]` is configured: the scan costs CPU on every event.
    enabled: AtomicBool,
}

impl TrailHealth {
    /// Empty, holding at most `max_series` (account, region) pairs.
    pub fn new(max_series: usize) -> TrailHealth {
        TrailHealth {
            max_series,
            series: Mutex::new(HashMap::new()),
            enabled: AtomicBool::new(false),
        }
    }

    /// Turns counting on or off (start-up and reload, from the configuration).
    pub fn enable(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Whether workers count trail events.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Adds a worker's batch counts, then clears them.
    pub fn flush(&self, d: &mut TrailDeltas, telemetry: &Telemetry) {
        if d.by_key.is_empty() {
            return;
        }
        let mut dropped = 0;
        if let Ok(mut map) = self.series.lock() {
            for (key, counts) in d.by_key.drain() {
                if let Some(c) = map.get_mut(&key) {
                    c.merge(&counts);
                } else if map.len() < self.max_series {
                    map.insert(key, counts);
                } else {
                    dropped += 1;
                }
            }
        }
        d.by_key.clear();
        if dropped > 0 {
            telemetry
                .series_dropped
                .with_label_values(&[EVENTS])
                .inc_by(dropped);
        }
    }

    /// The three families (none while no trail event was seen).
    pub fn collect(&self) -> Vec<proto::MetricFamily> {
        let Ok(map) = self.series.lock() else {
            return Vec::new();
        };
        let mut rows: Vec<(&str, &str, &Counts)> = map
            .iter()
            .map(|(k, c)| {
                let (a, r) = k.split_once(SEP).unwrap_or((k.as_str(), ""));
                (a, r, c)
            })
            .collect();
        rows.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
        if rows.is_empty() {
            return Vec::new();
        }
        let labels = |a: &str, r: &str| {
            [("account", a), ("region", r)]
                .iter()
                .map(|(k, v)| {
                    let mut l = proto::LabelPair::default();
                    l.set_name((*k).to_owned());
                    l.set_value((*v).to_owned());
                    l
                })
                .collect::<Vec<_>>()
        };
        let family = |name: &str, help: &str, kind, metrics: Vec<proto::Metric>| {
            let mut mf = proto::MetricFamily::default();
            mf.set_name(name.to_owned());
            mf.set_help(help.to_owned());
            mf.set_field_type(kind);
            mf.set_metric(metrics);
            mf
        };
        let events = rows
            .iter()
            .map(|(a, r, c)| {
                let mut m = proto::Metric::from_label(labels(a, r));
                let mut v = proto::Counter::default();
                v.set_value(c.events as f64);
                m.set_counter(v);
                m
            })
            .collect();
        let newest = rows
            .iter()
            .filter_map(|(a, r, c)| {
                let t = c.newest?;
                let mut m = proto::Metric::from_label(labels(a, r));
                let mut g = proto::Gauge::default();
                g.set_value(t);
                m.set_gauge(g);
                Some(m)
            })
            .collect::<Vec<_>>();
        let lag = rows
            .iter()
            .map(|(a, r, c)| {
                let mut m = proto::Metric::from_label(labels(a, r));
                let mut h = proto::Histogram::default();
                let mut cumulative = 0;
                let buckets = LAG_BUCKETS
                    .iter()
                    .zip(&c.lag_buckets)
                    .map(|(bound, n)| {
                        cumulative += n;
                        let mut b = proto::Bucket::default();
                        b.set_upper_bound(*bound);
                        b.set_cumulative_count(cumulative);
                        b
                    })
                    .collect();
                h.set_bucket(buckets);
                h.set_sample_count(c.lag_count);
                h.set_sample_sum(c.lag_sum);
                m.set_histogram(h);
                m
            })
            .collect();
        let mut out = vec![family(
            EVENTS,
            "CloudTrail events received, by recipient account and region",
            proto::MetricType::COUNTER,
            events,
        )];
        if !newest.is_empty() {
            out.push(family(
                NEWEST,
                "Newest eventTime seen, by recipient account and region (seconds since the epoch)",
                proto::MetricType::GAUGE,
                newest,
            ));
        }
        out.push(family(
            LAG,
            "Delivery lag (arrival - eventTime) of streamed events, by recipient account and region",
            proto::MetricType::HISTOGRAM,
            lag,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_fields_only() {
        let doc = br#"{"eventTime":"2026-12-01T00:00:00Z","userIdentity":{"awsRegion":"nested","recipientAccountId":"no"},"awsRegion":"eu-west-1","requestParameters":{"a":[1,{"b":"}"}]},"recipientAccountId":"123456789012"}"#;
        let f = fields(doc);
        assert_eq!(f.account.as_deref(), Some("123456789012"));
        assert_eq!(f.region.as_deref(), Some("eu-west-1"));
        assert_eq!(f.event_time.as_deref(), Some("2026-12-01T00:00:00Z"));
        assert_eq!(
            fields(br#"{"awsRegion":"us-\u0065ast-1"}"#)
                .region
                .as_deref(),
            Some("us-east-1")
        );
        assert_eq!(fields(b"not json"), Fields::default());
        assert_eq!(fields(br#"{"awsRegion":7}"#), Fields::default());
        // A nested recipientAccountId after the top-level one is not taken for it.
        let doc = br#"{"recipientAccountId":"top","awsRegion":"r","eventTime":"t","x":{"recipientAccountId":"nested"}}"#;
        assert_eq!(fields(doc).account.as_deref(), Some("top"));
        let doc = br#"{"awsRegion":"r","x":[{"recipientAccountId":"nested"}],"eventTime":"t"}"#;
        assert_eq!(fields(doc).account, None);
        let doc = br#"{"awsRegion":"r","x":{"recipientAccountId":"nested"}}"#;
        assert_eq!(fields(doc).account, None);
        // Truncated input stops the scan without a panic.
        assert_eq!(
            fields(br#"{"awsRegion":"eu-west-1","x":{"#)
                .region
                .as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn counts_newest_and_lag_per_account_and_region() {
        let mut d = TrailDeltas::default();
        let t0 = 1_796_083_200.0; // 2026-12-01T00:00:00Z
        let rec = |time: &str, region: &str| {
            format!(r#"{{"eventTime":"{time}","awsRegion":"{region}","recipientAccountId":"1"}}"#)
        };
        d.observe(rec("2026-12-01T00:00:00Z", "a").as_bytes(), Some(t0 + 45.0));
        d.observe(rec("2026-12-01T00:01:00Z", "a").as_bytes(), Some(t0 + 45.0));
        d.observe(rec("2026-12-01T00:00:00Z", "b").as_bytes(), None);
        d.observe(br#"{"eventName":"not a trail event"}"#, Some(t0));
        let a = &d.by_key[&format!("1{SEP}a")];
        assert_eq!(a.events, 2);
        assert_eq!(a.newest, Some(t0 + 60.0));
        // Lags 45s and 0s (an eventTime after arrival counts as no lag).
        assert_eq!(a.lag_count, 2);
        assert_eq!(a.lag_sum, 45.0);
        assert_eq!(a.lag_buckets[0], 1);
        assert_eq!(a.lag_buckets[1], 1);
        let b = &d.by_key[&format!("1{SEP}b")];
        assert_eq!((b.events, b.lag_count), (1, 0));
        assert_eq!(d.by_key.len(), 2);
    }
}
