//! Anomaly detection on the stream: first-seen source addresses, regions, user-agent families,
//! APIs and access keys per principal; per-minute call and error rates per account and API
//! against a rolling baseline (CloudTrail Insights' two insight types); and bursts of
//! access-denied errors across APIs.
//!
//! Workers extract a dozen fields of every event without parsing it ([`fields`]), then hand the
//! batch's observations to the shared [`Detector`] under one lock per batch. What it finds goes
//! to the anomaly sinks (NDJSON records), into `trailwatch_anomalies_total{detector}`, and into
//! the triggering event's enrichment (`trailwatch.anomalies`). The learned state has a memory
//! cap and survives restarts through the state file ([`snapshot`]).

pub mod burst;
pub mod detector;
pub mod fields;
pub mod order;
pub mod principals;
pub mod rate;
pub mod record;
pub mod settings;
pub mod snapshot;

use std::sync::{Arc, Mutex, MutexGuard};

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

pub use detector::Detector;
pub use fields::Observations;
pub use record::Found;
pub use settings::{AnomalySettings, DetectorKind};
pub use snapshot::StateError;

use crate::metrics::Telemetry;
use crate::sink::{OutBatch, OutEvent, Sinks};

/// The metrics of detection.
#[derive(Clone)]
pub struct AnomalyMetrics {
    /// `trailwatch_anomalies_total{detector}`.
    pub found: IntCounterVec,
    /// `trailwatch_anomaly_principals`.
    pub principals: IntGauge,
    /// `trailwatch_anomaly_state_bytes`.
    pub state_bytes: IntGauge,
    /// `trailwatch_anomaly_principals_evicted_total`.
    pub evicted: IntCounter,
    /// `trailwatch_anomaly_snapshots_total{result}`.
    pub snapshots: IntCounterVec,
    /// `trailwatch_anomaly_records_dropped_total`: records a sink did not take.
    pub dropped: IntCounter,
}

impl AnomalyMetrics {
    /// Registers them with `telemetry`'s registry (every detector's series starts at 0).
    pub fn register(telemetry: &Telemetry) -> AnomalyMetrics {
        let r = &telemetry.registry;
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| panic!("metric {name}: {e}"));
            let _ = r.register(Box::new(c.clone()));
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            let _ = r.register(Box::new(g.clone()));
            g
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            let _ = r.register(Box::new(c.clone()));
            c
        };
        let m = AnomalyMetrics {
            found: counter_vec(
                "trailwatch_anomalies_total",
                "Anomalies found, by detector",
                &["detector"],
            ),
            principals: gauge(
                "trailwatch_anomaly_principals",
                "Principals whose first-seen state is held",
            ),
            state_bytes: gauge(
                "trailwatch_anomaly_state_bytes",
                "Bytes of first-seen state held (capped by max_memory)",
            ),
            evicted: counter(
                "trailwatch_anomaly_principals_evicted_total",
                "Principals forgotten (least recently seen first) to stay within max_memory",
            ),
            snapshots: counter_vec(
                "trailwatch_anomaly_snapshots_total",
                "State-file snapshots, by result",
                &["result"],
            ),
            dropped: counter(
                "trailwatch_anomaly_records_dropped_total",
                "Anomaly records an anomaly sink dropped (its buffer was full)",
            ),
        };
        for d in DetectorKind::ALL {
            m.found.with_label_values(&[d.as_str()]);
        }
        for result in ["success", "failure"] {
            m.snapshots.with_label_values(&[result]);
        }
        m
    }
}

/// The shared detector, its outputs and metrics.
pub struct Anomalies {
    /// Batches' turns at the detector.
    pub order: order::Order,
    detector: Mutex<Detector>,
    sinks: Option<Arc<Sinks>>,
    metrics: AnomalyMetrics,
    evicted_reported: Mutex<u64>,
}

impl Anomalies {
    /// Detection with `detector`'s state (restored or new), writing records to `sinks`.
    pub fn new(
        detector: Detector,
        sinks: Option<Arc<Sinks>>,
        metrics: AnomalyMetrics,
    ) -> Anomalies {
        Anomalies {
            order: order::Order::default(),
            detector: Mutex::new(detector),
            sinks,
            metrics,
            evicted_reported: Mutex::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Detector> {
        // A worker that panicked mid-batch leaves consistent-enough state: keep detecting.
        self.detector.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a batch's observations (one lock for the batch) — at its `turn`, when it has one,
    /// so batches reach the detectors in queue order; adds what was found to `found`.
    pub fn process(
        &self,
        obs: &Observations,
        turn: Option<order::Turn<'_>>,
        found: &mut Vec<Found>,
    ) {
        let _in_turn = turn.map(order::Turn::wait);
        if obs.items.is_empty() {
            return;
        }
        let (principals, bytes, evicted) = {
            let mut d = self.lock();
            d.observe_all(obs, found);
            d.principal_stats()
        };
        self.metrics.principals.set(principals as i64);
        self.metrics.state_bytes.set(bytes as i64);
        let mut reported = self
            .evicted_reported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if evicted > *reported {
            self.metrics.evicted.inc_by(evicted - *reported);
            *reported = evicted;
        }
    }

    /// Counts `found` and sends the records to the anomaly sinks.
    pub fn emit(&self, found: &[Found]) {
        if found.is_empty() {
            return;
        }
        for f in found {
            self.metrics
                .found
                .with_label_values(&[f.detector.as_str()])
                .inc();
        }
        if let Some(sinks) = &self.sinks {
            let batch = records_batch(found, sinks);
            if !sinks.send(batch) {
                self.metrics.dropped.inc_by(found.len() as u64);
            }
        }
    }

    /// Snapshots to the state file, if one is configured (counted either way).
    pub fn save(&self) -> Result<(), StateError> {
        let (path, bytes) = {
            let d = self.lock();
            let Some(path) = d.settings().state_file.clone() else {
                return Ok(());
            };
            (path, snapshot::encode(&d))
        };
        let r = snapshot::write_atomic(&path, &bytes);
        let result = if r.is_ok() { "success" } else { "failure" };
        self.metrics.snapshots.with_label_values(&[result]).inc();
        r
    }

    /// The anomaly sinks.
    pub fn sinks(&self) -> Option<&Arc<Sinks>> {
        self.sinks.as_ref()
    }
}

/// A detector for `settings`, restored from its state file when there is one.
pub fn restore(settings: AnomalySettings) -> Result<Detector, StateError> {
    let mut d = Detector::new(settings);
    if let Some(path) = d.settings().state_file.clone() {
        if snapshot::load(&path, &mut d)? {
            let (p, bytes, _) = d.principal_stats();
            tracing::info!(path = %path.display(), principals = p, bytes, "restored anomaly state");
        }
    }
    Ok(d)
}

/// The records as a batch for the anomaly sinks (time, id and Loki labels read from each record
/// as for forwarded events).
fn records_batch(found: &[Found], sinks: &Sinks) -> OutBatch {
    use crate::sink::enrich::string_field;
    let mut b = OutBatch::default();
    for f in found {
        let start = b.data.len() as u32;
        b.data.extend_from_slice(&f.record);
        let line = start..b.data.len() as u32;
        b.data.push(b'\n');
        let time_ns = string_field(&f.record, &["eventTime"])
            .and_then(|t| fields::parse_time_ms(t.as_bytes()))
            .map_or(0, |ms| ms.saturating_mul(1_000_000));
        let id = match string_field(&f.record, &["eventID"]) {
            Some(v) if sinks.needs_id => {
                let s = b.aux.len() as u32;
                // A distinct id per record: the triggering event's id may carry several.
                b.aux.extend_from_slice(v.as_bytes());
                b.aux.push(b'-');
                b.aux.extend_from_slice(f.detector.as_str().as_bytes());
                s..b.aux.len() as u32
            }
            _ => 0..0,
        };
        let labels = b.label_values.len() as u32;
        for path in &sinks.label_paths {
            let value = string_field(&f.record, path).unwrap_or_default();
            let s = b.aux.len() as u32;
            b.aux.extend_from_slice(value.as_bytes());
            b.label_values.push(s..b.aux.len() as u32);
        }
        b.events.push(OutEvent {
            line,
            time_ns,
            id,
            labels,
        });
    }
    b
}

/// Adds `"anomalies":[…]` to the enrichment object of each forwarded event some of `found` is
/// about, rebuilding `out.data` once (anomalies are rare; a batch without any is untouched).
pub fn enrich(out: &mut OutBatch, found: &[Found]) {
    let mut by_event: Vec<(u32, &Found)> = found
        .iter()
        .filter_map(|f| f.forwarded.map(|i| (i, f)))
        .filter(|(i, _)| (*i as usize) < out.events.len())
        .collect();
    if by_event.is_empty() {
        return;
    }
    by_event.sort_by_key(|(i, _)| *i);
    let mut data = Vec::with_capacity(
        out.data.len()
            + by_event
                .iter()
                .map(|(_, f)| f.summary.len() + 16)
                .sum::<usize>(),
    );
    let mut copied = 0usize;
    let mut shift = 0u32;
    let mut k = 0;
    for (i, e) in out.events.iter_mut().enumerate() {
        let (start, end) = (e.line.start as usize, e.line.end as usize);
        e.line = e.line.start + shift..e.line.end + shift;
        let mine = by_event[k..]
            .iter()
            .take_while(|(j, _)| *j as usize == i)
            .count();
        // The enriched line ends `…}}`: the added object's brace, then the event's.
        if mine == 0 || end < start + 2 {
            k += mine;
            continue;
        }
        let at = end - 2;
        data.extend_from_slice(&out.data[copied..at]);
        let before = data.len();
        data.extend_from_slice(b",\"anomalies\":[");
        for (n, (_, f)) in by_event[k..k + mine].iter().enumerate() {
            if n > 0 {
                data.push(b',');
            }
            data.extend_from_slice(&f.summary);
        }
        data.push(b']');
        let added = (data.len() - before) as u32;
        copied = at;
        e.line.end += added;
        shift += added;
        k += mine;
    }
    data.extend_from_slice(&out.data[copied..]);
    out.data = data;
}

#[cfg(test)]
mod tests;
