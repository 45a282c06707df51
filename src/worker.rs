//! A CPU worker: takes batches off the queue, unwraps envelopes, evaluates the filter set on
//! every event, and adds what the events published to the metrics once per batch.
//!
//! Each worker owns its decoder, evaluator and sums; nothing is shared per event.

use std::sync::Arc;

use trailwatch_pattern::{EvalOptions, Evaluator, JsonStatus};

use crate::anomaly::{Anomalies, Found, Observations};
use crate::dead_letter::{DeadLetter, Rejected};
use crate::event::envelope::{Decoder, Event, Output};
use crate::event::{Batch, EnvelopeKind, RejectReason, SourceKind};
use crate::metrics::{Deltas, Generation, Store, Telemetry};
use crate::sink::enrich::Enricher;
use crate::sink::recycle::Capacity;
use crate::sink::{OutBatch, Sinks};

/// Settings shared by all workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Longest event accepted.
    pub max_event_bytes: usize,
    /// Shipper wrapper fields.
    pub event_fields: Vec<String>,
    /// Parse every JSON event (full validation).
    pub always_parse: bool,
}

/// Forwarding, shared by all workers.
pub struct Forward {
    /// Builds the forwarded bytes.
    pub enricher: Enricher,
    /// Where they go.
    pub sinks: Arc<Sinks>,
    /// Forward only events that matched a filter.
    pub matched_only: bool,
}

/// One worker's state.
pub struct Worker {
    decoder: Decoder,
    evaluator: Evaluator,
    deltas: Deltas,
    counts: Counts,
    settings: WorkerSettings,
    telemetry: Arc<Telemetry>,
    store: Arc<Store>,
    dead_letter: Option<DeadLetter>,
    forward: Option<Arc<Forward>>,
    out: OutBatch,
    trail: crate::trail::TrailDeltas,
    sigma: SigmaScratch,
    anomalies: Option<Arc<Anomalies>>,
    observations: Observations,
    found: Vec<Found>,
}

/// A worker's Sigma state: its own evaluator (the rules are a separate set), the batch's match
/// counts by rule, and the current event's matches. Untouched when no rule is loaded.
#[derive(Default)]
struct SigmaScratch {
    evaluator: Evaluator,
    counts: Vec<u64>,
    matched: Vec<u32>,
}

/// What a batch did, counted locally and flushed to telemetry once.
#[derive(Debug, Default)]
struct Counts {
    events: u64,
    evaluated: u64,
    envelopes: [u64; EnvelopeKind::ALL.len()],
    skipped: [u64; EnvelopeKind::ALL.len()],
    rejected: [u64; RejectReason::ALL.len()],
    last_detail: String,
}

impl Worker {
    /// A worker.
    pub fn new(
        settings: WorkerSettings,
        telemetry: Arc<Telemetry>,
        store: Arc<Store>,
        dead_letter: Option<DeadLetter>,
        forward: Option<Arc<Forward>>,
    ) -> Worker {
        // A compressed envelope may expand to at most what a whole HTTP body may.
        let max_decoded = settings.max_event_bytes.max(16 << 20);
        Worker {
            decoder: Decoder::new(&settings.event_fields, max_decoded),
            evaluator: Evaluator::new(),
            deltas: Deltas::default(),
            counts: Counts::default(),
            settings,
            telemetry,
            store,
            dead_letter,
            forward,
            out: OutBatch::default(),
            trail: crate::trail::TrailDeltas::default(),
            sigma: SigmaScratch::default(),
            anomalies: None,
            observations: Observations::default(),
            found: Vec::new(),
        }
    }

    /// The worker with anomaly detection: it observes every accepted event for `anomalies`.
    pub fn with_anomalies(mut self, anomalies: Option<Arc<Anomalies>>) -> Worker {
        self.anomalies = anomalies;
        self
    }

    /// Processes batches until the queue is closed and empty.
    pub fn run(mut self, queue: async_channel::Receiver<Batch>) {
        let Some(anomalies) = self.anomalies.clone() else {
            while let Ok(batch) = queue.recv_blocking() {
                self.telemetry.queue_batches.set(queue.len() as i64);
                self.process(&batch);
            }
            return;
        };
        // The detectors see batches in the order they left the queue, whichever worker
        // finishes first (event order is what their windows and first sightings mean).
        while let Some((batch, turn)) = anomalies.order.take(|| queue.recv_blocking().ok()) {
            self.telemetry.queue_batches.set(queue.len() as i64);
            self.process_in_turn(&batch, Some(turn));
        }
    }

    /// Processes one batch.
    pub fn process(&mut self, batch: &Batch) {
        self.process_in_turn(batch, None);
    }

    /// Processes one batch; its observations reach the detectors at `turn` (when given).
    fn process_in_turn(&mut self, batch: &Batch, turn: Option<crate::anomaly::order::Turn<'_>>) {
        let generation = self.store.current();
        self.deltas.reset(&generation);
        let opts = EvalOptions {
            always_parse: self.settings.always_parse,
            explain: false,
        };
        let sigma_rules = generation.plan.sigma.rules.len();
        self.sigma.counts.resize(sigma_rules, 0);
        self.sigma.matched.clear();
        let mut out = Events {
            sigma: &mut self.sigma,
            generation: &generation,
            evaluator: &mut self.evaluator,
            deltas: &mut self.deltas,
            counts: &mut self.counts,
            dead_letter: self.dead_letter.as_ref(),
            source: batch.source,
            opts,
            max_event_bytes: self.settings.max_event_bytes,
            forward: self.forward.as_deref(),
            out: &mut self.out,
            trail: &mut self.trail,
            trail_enabled: self.store.trail.enabled(),
            observations: self.anomalies.is_some().then_some(&mut self.observations),
            // Backfilled files hold old events: their age is no delivery lag.
            arrival: (batch.source != SourceKind::Files).then(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64())
            }),
        };
        // The event limit applies to each event an envelope holds, never to the document (a
        // CloudTrail file POSTed whole is several MB); documents are bounded by their source.
        let decoder = &mut self.decoder;
        batch.for_each_document(|doc| decoder.decode(doc, &mut out));
        if let Some(a) = &self.anomalies {
            a.process(&self.observations, turn, &mut self.found);
            if !self.found.is_empty() {
                crate::anomaly::enrich(&mut self.out, &self.found);
                a.emit(&self.found);
                self.found.clear();
            }
            self.observations.clear();
        }
        generation.flush(&mut self.deltas, &self.telemetry);
        self.store.trail.flush(&mut self.trail, &self.telemetry);
        if let Some(ack) = &batch.ack {
            let rejected: u64 = self.counts.rejected.iter().sum();
            ack.count(self.counts.events - rejected, rejected);
        }
        if sigma_rules > 0 {
            let counter = &self.telemetry.sigma_matches;
            generation.plan.sigma.flush(&mut self.sigma.counts, counter);
        }
        self.flush_counts(batch.source);
        if let Some(f) = &self.forward {
            if !self.out.events.is_empty() {
                // The batch (and the source's acknowledgement it holds) is released only after
                // every sink has taken these events; a sink that dropped them fails it.
                let next = f.sinks.pool.get(&Capacity::of(&self.out));
                let all_taken = f.sinks.send(std::mem::replace(&mut self.out, next));
                if let (false, Some(ack)) = (all_taken, &batch.ack) {
                    ack.fail();
                }
            }
        }
    }

    /// Adds the batch's counts to telemetry. Events received goes last, so a scrape that sees
    /// a batch's events also sees how they were classified.
    fn flush_counts(&mut self, source: SourceKind) {
        let c = &mut self.counts;
        let t = &self.telemetry;
        for (i, reason) in RejectReason::ALL.iter().enumerate() {
            if c.rejected[i] > 0 {
                t.rejected(*reason, c.rejected[i], source, &c.last_detail);
            }
        }
        for (i, kind) in EnvelopeKind::ALL.iter().enumerate() {
            if c.envelopes[i] > 0 {
                t.unwrapped(*kind, c.envelopes[i]);
            }
            if c.skipped[i] > 0 {
                t.skipped(*kind, c.skipped[i]);
            }
        }
        t.events_evaluated.inc_by(c.evaluated);
        t.events(source, c.events);
        c.events = 0;
        c.evaluated = 0;
        c.envelopes = Default::default();
        c.skipped = Default::default();
        c.rejected = Default::default();
        c.last_detail.clear();
    }
}

/// Receives a batch's events from the decoder and evaluates them.
struct Events<'a> {
    generation: &'a Generation,
    evaluator: &'a mut Evaluator,
    deltas: &'a mut Deltas,
    counts: &'a mut Counts,
    dead_letter: Option<&'a DeadLetter>,
    source: SourceKind,
    opts: EvalOptions,
    max_event_bytes: usize,
    forward: Option<&'a Forward>,
    out: &'a mut OutBatch,
    trail: &'a mut crate::trail::TrailDeltas,
    trail_enabled: bool,
    arrival: Option<f64>,
    sigma: &'a mut SigmaScratch,
    /// Where accepted events are observed for anomaly detection (when it is on).
    observations: Option<&'a mut Observations>,
}

impl Output for Events<'_> {
    fn event(&mut self, e: Event<'_>) {
        if e.forward.len() > self.max_event_bytes {
            let max = self.max_event_bytes;
            return self.reject(
                RejectReason::Oversize,
                &e.forward[..e.forward.len().min(1024)],
                &format!(
                    "event of {} bytes exceeds --max-event-bytes {max} (first 1 KiB kept)",
                    e.forward.len()
                ),
            );
        }
        let sigma = &self.generation.plan.sigma;
        if !sigma.is_empty() {
            let s = &mut *self.sigma;
            let so = s.evaluator.evaluate(&sigma.set, e.eval, self.opts);
            let invalid = so.json() == JsonStatus::Invalid;
            s.matched.clear();
            s.matched.extend(so.matches().map(|i| i as u32));
            if invalid {
                s.matched.clear();
                let why = "the event is not valid JSON";
                return self.reject(RejectReason::InvalidJson, e.forward, why);
            }
        }
        let set = &self.generation.plan.set;
        let outcome = self.evaluator.evaluate(set, e.eval, self.opts);
        if outcome.json() == JsonStatus::Invalid {
            // Rejected: nothing it published counts.
            return self.reject(
                RejectReason::InvalidJson,
                e.forward,
                "the event is not valid JSON",
            );
        }
        self.counts.events += 1;
        self.counts.evaluated += 1;
        self.counts.envelopes[e.envelope as usize] += 1;
        if self.trail_enabled {
            self.trail.observe(e.eval, self.arrival);
        }
        let mut any = false;
        for id in 0..set.len() {
            if outcome.matched(id) {
                self.deltas.matched(id);
                any = true;
            }
            if let Some(v) = outcome.value(id) {
                self.deltas
                    .add(id, v, outcome.dimensions(id).map(|(_, v)| v));
            }
        }
        for &rule in &self.sigma.matched {
            self.sigma.counts[rule as usize] += 1;
        }
        let mut forwarded = None;
        if let Some(f) = self.forward {
            if any || !self.sigma.matched.is_empty() || !f.matched_only {
                let names = outcome.matches().map(|id| set.filters()[id].name());
                let (matched, tags) = (&self.sigma.matched[..], &sigma.tags[..]);
                f.enricher
                    .append_with_sigma(&e, names, matched, tags, self.out);
                forwarded = Some(self.out.events.len() as u32 - 1);
            }
        }
        if let Some(obs) = self.observations.as_deref_mut() {
            obs.push(e.eval, forwarded);
        }
    }

    fn reject(&mut self, reason: RejectReason, bytes: &[u8], detail: &str) {
        self.counts.events += 1;
        self.counts.rejected[reason as usize] += 1;
        self.counts.last_detail.clear();
        self.counts.last_detail.push_str(detail);
        if let Some(dl) = self.dead_letter {
            dl.send(Rejected {
                source: self.source,
                reason: reason.as_str(),
                sink: None,
                detail: detail.to_owned(),
                event: bytes.to_vec(),
            });
        }
    }

    fn skipped(&mut self, kind: EnvelopeKind) {
        self.counts.skipped[kind as usize] += 1;
    }
}
