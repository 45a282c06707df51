//! The configuration file as written: plain serde types with spans, checked by `config::check`.
//!
//! ```toml
//! [sources]
//! tcp = ["127.0.0.1:5170"]
//! http = ["127.0.0.1:9880"]
//! http_token = "${TRAILWATCH_HTTP_TOKEN}"
//!
//! [metrics]
//! addr = "0.0.0.0:9464"
//!
//! [[filters]]
//! name = "console_signin_failures"
//! pattern = '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'
//! metric_namespace = "CloudTrailMetrics"
//! metric_name = "ConsoleSigninFailureCount"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string value with its position in the file.
pub type Str = Spanned<String>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where events come from.
    #[serde(default)]
    pub sources: RawSources,
    /// The Prometheus endpoint and series limits.
    #[serde(default)]
    pub metrics: RawMetrics,
    /// Worker threads, shutdown, dead letters.
    #[serde(default)]
    pub pipeline: RawPipeline,
    /// `aws logs describe-metric-filters` output files to load.
    #[serde(default)]
    pub aws_metric_filters: Vec<Str>,
    /// Whether to include the built-in CIS AWS Foundations pack (default: only when no other
    /// filters are configured).
    pub builtin_filters: Option<bool>,
    /// Metric filters.
    #[serde(default)]
    pub filters: Vec<RawFilter>,
    /// Sigma rule files or folders (recursive).
    #[serde(default)]
    pub sigma: Vec<Str>,
    /// What forwarded events carry.
    #[serde(default)]
    pub enrichment: RawEnrichment,
    /// Where enriched events are forwarded.
    #[serde(default)]
    pub sinks: Vec<super::sinks::RawSink>,
    /// CloudWatch alarms on the filters' metrics (`trailwatch rules` turns them into rules).
    #[serde(default)]
    pub alarms: Vec<crate::alerting::config::RawAlarm>,
    /// `aws cloudwatch describe-alarms` output files to load.
    #[serde(default)]
    pub aws_alarms: Vec<Str>,
    /// Trail health per account and region (and its alerts); off unless present.
    pub trail_health: Option<crate::trail::RawTrailHealth>,
    /// Anomaly detection; off unless present (or `--anomalies-out` is given).
    pub anomalies: Option<crate::anomaly::settings::RawAnomalies>,
}

/// `[sources]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSources {
    /// Read newline-delimited events from stdin.
    pub stdin: Option<bool>,
    /// TCP listen addresses.
    #[serde(default)]
    pub tcp: Vec<Str>,
    /// HTTP listen addresses.
    #[serde(default)]
    pub http: Vec<Str>,
    /// Forward protocol (Fluent Bit / Fluentd `forward` output) listen addresses.
    #[serde(default)]
    pub fluent: Vec<Str>,
    /// Shared key the Forward protocol's handshake requires of clients.
    pub fluent_shared_key: Option<Str>,
    /// The name this server gives in the handshake.
    pub fluent_self_hostname: Option<Str>,
    /// How long a Forward chunk waits to be accepted before the client is told to retry.
    pub fluent_ack_timeout: Option<Str>,
    /// Files and folders to backfill.
    #[serde(default)]
    pub files: Vec<Str>,
    /// Longest accepted event (bytes, or a string such as "1MiB").
    pub max_event_bytes: Option<Spanned<toml::Value>>,
    /// Largest accepted HTTP body.
    pub http_max_body: Option<Spanned<toml::Value>>,
    /// Bearer token required on HTTP ingest.
    pub http_token: Option<Str>,
    /// Fields of a shipper's wrapper that hold the event as a string.
    pub event_fields: Option<Vec<Str>>,
    /// "framing" or "full".
    pub json_validation: Option<Str>,
}

/// `[metrics]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Listen address of /metrics.
    pub addr: Option<Str>,
    /// Final exposition written at exit.
    pub out: Option<Str>,
    /// Most label sets per metric.
    pub max_series: Option<usize>,
}

/// `[pipeline]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Worker threads.
    pub threads: Option<usize>,
    /// e.g. "30s".
    pub shutdown_timeout: Option<Str>,
    /// Dead-letter file.
    pub dead_letter: Option<Str>,
    /// Memory budget of the queue (bytes, or a string such as "64MiB").
    pub queue_bytes: Option<Spanned<toml::Value>>,
}

/// One `[[filters]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    /// The filter name (the `filter` label).
    pub name: Str,
    /// The CloudWatch filter pattern.
    pub pattern: Str,
    /// CloudWatch metric namespace (default "trailwatch").
    pub metric_namespace: Option<Str>,
    /// CloudWatch metric name (default: the filter name).
    pub metric_name: Option<Str>,
    /// "1", a number, "$.selector" or "$field".
    pub metric_value: Option<Str>,
    /// Published for each non-matching event.
    pub default_value: Option<f64>,
    /// Dimension name → field reference.
    #[serde(default)]
    pub dimensions: BTreeMap<String, Str>,
    /// CloudWatch unit.
    pub unit: Option<Str>,
    /// Prometheus family name, instead of `snake(namespace)_snake(name)_total`.
    pub prometheus_name: Option<Str>,
}

/// `[enrichment]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnrichment {
    /// Name of the added object (default "trailwatch").
    pub field: Option<Str>,
    /// Static fields added to every forwarded event.
    #[serde(default)]
    pub static_fields: BTreeMap<String, Str>,
    /// Add CloudTrail-derived fields (actor, account, region, failed, root, mfa).
    pub cloudtrail_fields: Option<bool>,
    /// Forward only events that matched a filter.
    pub matched_only: Option<bool>,
}
