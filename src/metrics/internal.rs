//! trailwatch's own metrics: everything the service does, counted under fixed labels.
//!
//! Label values come from the enums in [`crate::event`] (never from error text), and handles are
//! resolved once here, so counting on a hot path is an atomic add.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::event::{EnvelopeKind, RejectReason, SourceKind};

/// The internal metrics and their registry.
pub struct Telemetry {
    /// All internal metrics (filter metrics are added at scrape time).
    pub registry: Registry,
    events_received: Vec<IntCounter>,
    bytes_received: Vec<IntCounter>,
    rejected: Vec<IntCounter>,
    envelopes: Vec<IntCounter>,
    skipped: Vec<IntCounter>,
    /// Matches per Sigma rule (`trailwatch_sigma_matches_total{rule,id,level}`).
    pub sigma_matches: IntCounterVec,
    /// Sigma rules loaded and skipped (`trailwatch_sigma_rules{status}`).
    pub sigma_rules: IntGaugeVec,
    /// Events evaluated by the filters.
    pub events_evaluated: IntCounter,
    /// HTTP ingest responses, by status code.
    pub http_responses: IntCounterVec,
    /// Open TCP connections.
    pub tcp_connections: IntGauge,
    /// TCP connections accepted.
    pub tcp_connections_total: IntCounter,
    /// Configuration reloads, by result.
    pub reloads: IntCounterVec,
    /// When the last successful (re)load happened.
    pub last_reload_success: Gauge,
    /// Events written to the dead-letter file.
    pub dead_lettered: IntCounter,
    /// Dead-letter writes that failed.
    pub dead_letter_errors: IntCounter,
    /// Rejected events not written because the dead-letter writer was behind.
    pub dead_letter_dropped: IntCounter,
    /// Label sets dropped by the cardinality cap, by metric.
    pub series_dropped: IntCounterVec,
    /// Values a counter cannot take (negative), by metric.
    pub values_dropped: IntCounterVec,
    /// Batches waiting for a worker.
    pub queue_batches: IntGauge,
    /// Bytes held by queued and in-flight batches.
    pub queue_bytes: IntGauge,
    /// The memory budget for queued batches.
    pub queue_capacity_bytes: IntGauge,
    /// Per sink: events sent, failed, retried, dropped, buffered (set by the sinks).
    pub sink_events: IntCounterVec,
    /// Per sink: events and bytes waiting.
    pub sink_buffered: IntGaugeVec,
    /// Per sink: request latency sum and count.
    pub sink_request_seconds: prometheus::HistogramVec,
    /// For rate-limiting warnings.
    last_warning: std::sync::Mutex<Option<Instant>>,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(g.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    g
}

impl Telemetry {
    /// Registers every internal metric (all label values of fixed enums start at 0, so
    /// `increase()` works from the first scrape).
    pub fn new() -> Telemetry {
        let r = Registry::new();
        let received = counter_vec(
            &r,
            "trailwatch_events_received_total",
            "Events received (after unwrapping envelopes), by source",
            &["source"],
        );
        let bytes = counter_vec(
            &r,
            "trailwatch_bytes_received_total",
            "Bytes received on the wire, by source",
            &["source"],
        );
        let rejected = counter_vec(
            &r,
            "trailwatch_events_rejected_total",
            "Events rejected as undecodable, by reason",
            &["reason"],
        );
        let envelopes = counter_vec(
            &r,
            "trailwatch_events_unwrapped_total",
            "Events by the envelope they arrived in",
            &["envelope"],
        );
        let skipped = counter_vec(
            &r,
            "trailwatch_envelopes_skipped_total",
            "Envelopes that carried no events (CloudWatch Logs control messages)",
            &["envelope"],
        );
        let build = IntGaugeVec::new(
            Opts::new("trailwatch_build_info", "Build information (always 1)"),
            &["version"],
        )
        .unwrap_or_else(|e| panic!("build_info: {e}"));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        r.register(Box::new(build))
            .unwrap_or_else(|e| panic!("build_info: {e}"));
        let last_reload_success = Gauge::new(
            "trailwatch_config_last_reload_success_timestamp_seconds",
            "When filters were last loaded successfully (Unix time)",
        )
        .unwrap_or_else(|e| panic!("reload gauge: {e}"));
        r.register(Box::new(last_reload_success.clone()))
            .unwrap_or_else(|e| panic!("reload gauge: {e}"));
        let sink_buffered = IntGaugeVec::new(
            Opts::new(
                "trailwatch_sink_buffered",
                "Events and bytes waiting in each sink's buffer",
            ),
            &["sink", "unit"],
        )
        .unwrap_or_else(|e| panic!("sink gauge: {e}"));
        r.register(Box::new(sink_buffered.clone()))
            .unwrap_or_else(|e| panic!("sink gauge: {e}"));
        let sink_request_seconds = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "trailwatch_sink_request_duration_seconds",
                "Sink request latency",
            ),
            &["sink"],
        )
        .unwrap_or_else(|e| panic!("sink histogram: {e}"));
        r.register(Box::new(sink_request_seconds.clone()))
            .unwrap_or_else(|e| panic!("sink histogram: {e}"));
        let t = Telemetry {
            events_received: SourceKind::ALL
                .iter()
                .map(|s| received.with_label_values(&[s.as_str()]))
                .collect(),
            bytes_received: SourceKind::ALL
                .iter()
                .map(|s| bytes.with_label_values(&[s.as_str()]))
                .collect(),
            rejected: RejectReason::ALL
                .iter()
                .map(|x| rejected.with_label_values(&[x.as_str()]))
                .collect(),
            envelopes: EnvelopeKind::ALL
                .iter()
                .map(|e| envelopes.with_label_values(&[e.as_str()]))
                .collect(),
            skipped: EnvelopeKind::ALL
                .iter()
                .map(|e| skipped.with_label_values(&[e.as_str()]))
                .collect(),
            sigma_matches: counter_vec(
                &r,
                "trailwatch_sigma_matches_total",
                "Events each Sigma rule matched (rule = its title)",
                &["rule", "id", "level"],
            ),
            sigma_rules: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "trailwatch_sigma_rules",
                        "Sigma rules loaded, and skipped because their logsource is not AWS CloudTrail",
                    ),
                    &["status"],
                )
                .unwrap_or_else(|e| panic!("sigma rules gauge: {e}"));
                r.register(Box::new(g.clone()))
                    .unwrap_or_else(|e| panic!("sigma rules gauge: {e}"));
                g
            },
            events_evaluated: counter(
                &r,
                "trailwatch_events_evaluated_total",
                "Events evaluated by the metric filters",
            ),
            http_responses: counter_vec(
                &r,
                "trailwatch_http_responses_total",
                "HTTP ingest responses, by status code",
                &["code"],
            ),
            tcp_connections: gauge(
                &r,
                "trailwatch_tcp_connections",
                "Open TCP ingest connections",
            ),
            tcp_connections_total: counter(
                &r,
                "trailwatch_tcp_connections_total",
                "TCP ingest connections accepted",
            ),
            reloads: counter_vec(
                &r,
                "trailwatch_config_reloads_total",
                "Filter (re)loads, by result",
                &["result"],
            ),
            last_reload_success,
            dead_lettered: counter(
                &r,
                "trailwatch_dead_letter_events_total",
                "Rejected events written to the dead-letter file",
            ),
            dead_letter_errors: counter(
                &r,
                "trailwatch_dead_letter_errors_total",
                "Dead-letter writes that failed",
            ),
            dead_letter_dropped: counter(
                &r,
                "trailwatch_dead_letter_dropped_total",
                "Rejected events not written to the dead-letter file because its writer was behind (they are still counted as rejected)",
            ),
            series_dropped: counter_vec(
                &r,
                "trailwatch_series_dropped_total",
                "Label sets not created because the metric reached its series limit",
                &["metric"],
            ),
            values_dropped: counter_vec(
                &r,
                "trailwatch_metric_values_dropped_total",
                "Published values a counter cannot add (negative), by metric",
                &["metric", "reason"],
            ),
            queue_batches: gauge(
                &r,
                "trailwatch_pipeline_queue_batches",
                "Batches waiting for a worker",
            ),
            queue_bytes: gauge(
                &r,
                "trailwatch_pipeline_queue_bytes",
                "Bytes of batches queued or being processed",
            ),
            queue_capacity_bytes: gauge(
                &r,
                "trailwatch_pipeline_queue_capacity_bytes",
                "Memory budget of the pipeline queue",
            ),
            sink_events: counter_vec(
                &r,
                "trailwatch_sink_events_total",
                "Events per sink, by outcome (sent, failed, retried, dropped, dead_lettered)",
                &["sink", "outcome"],
            ),
            sink_buffered,
            sink_request_seconds,
            registry: r,
            last_warning: std::sync::Mutex::new(None),
        };
        for code in ["200", "400", "401", "404", "405", "413", "415", "503"] {
            t.http_responses.with_label_values(&[code]);
        }
        for result in ["success", "failure"] {
            t.reloads.with_label_values(&[result]);
        }
        t
    }

    /// Counts events and wire bytes received from `source`.
    pub fn received(&self, source: SourceKind, events: u64, bytes: u64) {
        let i = source as usize;
        self.events_received[i].inc_by(events);
        self.bytes_received[i].inc_by(bytes);
    }

    /// Creates the per-metric series (at 0) for a filter plan's families, so they exist before
    /// anything is dropped.
    pub fn register_families(&self, families: &[crate::config::Family]) {
        for f in families {
            self.series_dropped.with_label_values(&[&f.name]);
            self.values_dropped
                .with_label_values(&[&f.name, "negative"]);
        }
    }

    /// Creates the match series (at 0) of every loaded Sigma rule.
    pub fn register_sigma(&self, plan: &crate::sigma::SigmaPlan) {
        plan.register(&self.sigma_matches);
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.sigma_rules
            .with_label_values(&["loaded"])
            .set(count(plan.rules.len()));
        self.sigma_rules
            .with_label_values(&["skipped"])
            .set(count(plan.skipped.len()));
    }

    /// Counts wire bytes only (events are counted after unwrapping, by the workers).
    pub fn bytes(&self, source: SourceKind, bytes: u64) {
        self.bytes_received[source as usize].inc_by(bytes);
    }

    /// Counts events only.
    pub fn events(&self, source: SourceKind, events: u64) {
        self.events_received[source as usize].inc_by(events);
    }

    /// Counts rejected events and logs (at most every 10 seconds) why.
    pub fn rejected(&self, reason: RejectReason, count: u64, source: SourceKind, detail: &str) {
        self.rejected[reason as usize].inc_by(count);
        self.warn_rate_limited(|| {
            tracing::warn!(
                reason = reason.as_str(),
                source = source.as_str(),
                detail,
                "rejected an event (logged at most every 10s; see trailwatch_events_rejected_total)"
            );
        });
    }

    /// Counts events by envelope.
    pub fn unwrapped(&self, kind: EnvelopeKind, count: u64) {
        self.envelopes[kind as usize].inc_by(count);
    }

    /// Counts envelopes without events.
    pub fn skipped(&self, kind: EnvelopeKind, count: u64) {
        self.skipped[kind as usize].inc_by(count);
    }

    /// Records a (re)load outcome.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .with_label_values(&[if ok { "success" } else { "failure" }])
            .inc();
        if ok {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.last_reload_success.set(now);
        }
    }

    /// Runs `log` unless a warning was logged in the last 10 seconds.
    pub fn warn_rate_limited(&self, log: impl FnOnce()) {
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_none_or(|t| now.duration_since(t).as_secs() >= 10) {
            *last = Some(now);
            drop(last);
            log();
        }
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}
