//! Anomaly records as NDJSON: `{"detector","principal","account","region","eventTime",
//! "eventID","detail",…}`; rate anomalies are at the same time CloudTrail Insights events
//! (`eventType: AwsCloudTrailInsight`, `insightDetails`), so tools that read Insights read them.
//! Each record also yields the short object the triggering event's enrichment lists.

use super::fields::{Observation, Observations, format_time};
use super::settings::DetectorKind;
use crate::sink::enrich::json_str;

/// One anomaly found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Which detector.
    pub detector: DetectorKind,
    /// The triggering event's forwarded index, when its enrichment should list this.
    pub forwarded: Option<u32>,
    /// The record (one JSON object, no newline).
    pub record: Vec<u8>,
    /// `{"detector":…,"detail":…}` for the enrichment.
    pub summary: Vec<u8>,
}

fn member(out: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    json_str(out, key);
    out.push(b':');
}

/// The `detail` object's members, written by the caller.
pub struct Detail(pub Vec<u8>);

impl Detail {
    /// An empty detail.
    pub fn new() -> Detail {
        Detail(vec![b'{'])
    }

    /// Adds a string member.
    pub fn str(mut self, k: &str, v: &str) -> Detail {
        self.sep();
        json_str(&mut self.0, k);
        self.0.push(b':');
        json_str(&mut self.0, v);
        self
    }

    /// Adds a number member.
    pub fn num(mut self, k: &str, v: f64) -> Detail {
        self.sep();
        json_str(&mut self.0, k);
        self.0.push(b':');
        write_num(&mut self.0, v);
        self
    }

    fn sep(&mut self) {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(b'}');
        self.0
    }
}

impl Default for Detail {
    fn default() -> Self {
        Detail::new()
    }
}

/// A finite number as JSON (integers without a fraction), non-finite as 0.
pub fn write_num(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.push(b'0');
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        let rounded = (v * 1e6).round() / 1e6;
        out.extend_from_slice(ryu::Buffer::new().format(rounded).as_bytes());
    }
}

/// A record about the principal of event `o` (first-seen detectors and bursts).
pub fn principal_record(
    detector: DetectorKind,
    obs: &Observations,
    o: &Observation,
    detail: Detail,
) -> Found {
    let detail = detail.finish();
    let mut r = Vec::with_capacity(256 + detail.len());
    r.push(b'{');
    let mut first = true;
    member(&mut r, &mut first, "detector");
    json_str(&mut r, detector.as_str());
    for (k, span) in [
        ("principal", &o.principal),
        ("account", &o.account),
        ("region", &o.region),
        ("eventTime", &o.time),
        ("eventID", &o.event_id),
        ("eventSource", &o.event_source),
        ("eventName", &o.event_name),
        ("sourceIPAddress", &o.source_ip),
        ("userAgent", &o.user_agent),
    ] {
        member(&mut r, &mut first, k);
        json_str(&mut r, obs.text(span));
    }
    if !o.error_code.is_empty() {
        member(&mut r, &mut first, "errorCode");
        json_str(&mut r, obs.text(&o.error_code));
    }
    member(&mut r, &mut first, "detail");
    r.extend_from_slice(&detail);
    r.push(b'}');
    Found {
        detector,
        forwarded: o.forwarded,
        summary: summary(detector, &detail),
        record: r,
    }
}

fn summary(detector: DetectorKind, detail: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(32 + detail.len());
    s.extend_from_slice(b"{\"detector\":");
    json_str(&mut s, detector.as_str());
    s.extend_from_slice(b",\"detail\":");
    s.extend_from_slice(detail);
    s.push(b'}');
    s
}

/// What names a rate key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateLabels {
    /// Account.
    pub account: String,
    /// `eventSource`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// Region of the event that started it.
    pub region: String,
}

/// A rate anomaly's start or end, as an anomaly record and a CloudTrail Insights event.
pub struct RateRecord<'a> {
    /// The event.
    pub event: &'a super::rate::RateEvent,
    /// Its key's names.
    pub labels: &'a RateLabels,
    /// The record's eventTime, ms.
    pub time_ms: i64,
    /// The eventID of the event that caused it.
    pub event_id: &'a str,
    /// Whether that event's enrichment lists it (only when it is one of the calls counted).
    pub forwarded: Option<u32>,
}

impl RateRecord<'_> {
    /// Renders it.
    pub fn render(&self) -> Found {
        let e = self.event;
        let detector = match e.quantity {
            super::rate::Quantity::Calls => DetectorKind::ApiCallRate,
            super::rate::Quantity::Errors => DetectorKind::ApiErrorRate,
        };
        let l = self.labels;
        let state = if e.start { "Start" } else { "End" };
        let detail = Detail::new()
            .str("state", state)
            .str("api", &format!("{}:{}", l.event_source, l.event_name))
            .num("per_minute", e.rate)
            .num("baseline_per_minute", e.baseline)
            .num("minutes", e.minutes as f64)
            .str("since", &format_time(e.since_minute * 60_000))
            .finish();
        let time = format_time(self.time_ms);
        let mut r = Vec::with_capacity(640);
        r.push(b'{');
        let mut first = true;
        member(&mut r, &mut first, "detector");
        json_str(&mut r, detector.as_str());
        member(&mut r, &mut first, "principal");
        r.extend_from_slice(b"null");
        for (k, v) in [
            ("account", l.account.as_str()),
            ("region", l.region.as_str()),
            ("eventTime", time.as_str()),
            ("eventID", self.event_id),
        ] {
            member(&mut r, &mut first, k);
            json_str(&mut r, v);
        }
        member(&mut r, &mut first, "detail");
        r.extend_from_slice(&detail);
        // The CloudTrail Insights shape.
        let shared = format!(
            "{:016x}{:016x}",
            e.key,
            e.since_minute as u64 ^ ((e.quantity as u64) << 63)
        );
        let shared_id = format!(
            "{}-{}-{}-{}-{}",
            &shared[0..8],
            &shared[8..12],
            &shared[12..16],
            &shared[16..20],
            &shared[20..32]
        );
        for (k, v) in [
            ("eventVersion", "1.08"),
            ("eventType", "AwsCloudTrailInsight"),
            ("eventCategory", "Insight"),
            ("recipientAccountId", l.account.as_str()),
            ("awsRegion", l.region.as_str()),
            ("sharedEventID", shared_id.as_str()),
        ] {
            member(&mut r, &mut first, k);
            json_str(&mut r, v);
        }
        member(&mut r, &mut first, "insightDetails");
        r.extend_from_slice(b"{\"state\":");
        json_str(&mut r, state);
        r.extend_from_slice(b",\"eventSource\":");
        json_str(&mut r, &l.event_source);
        r.extend_from_slice(b",\"eventName\":");
        json_str(&mut r, &l.event_name);
        r.extend_from_slice(b",\"insightType\":");
        json_str(&mut r, e.quantity.insight_type());
        r.extend_from_slice(b",\"insightContext\":{\"statistics\":{\"baseline\":{\"average\":");
        write_num(&mut r, e.baseline);
        r.extend_from_slice(b"},\"insight\":{\"average\":");
        write_num(&mut r, e.rate);
        r.push(b'}');
        if !e.start {
            r.extend_from_slice(b",\"insightDuration\":");
            write_num(&mut r, e.minutes as f64);
        }
        r.extend_from_slice(b",\"baselineDuration\":");
        write_num(&mut r, e.baseline_minutes as f64);
        r.extend_from_slice(b"}}}}");
        Found {
            detector,
            forwarded: self.forwarded,
            summary: summary(detector, &detail),
            record: r,
        }
    }
}
