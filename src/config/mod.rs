//! Configuration: the raw forms (TOML file, describe-metric-filters JSON, flags) and the one
//! function, [`load`], that checks them into a [`Config`]. Start-up, `trailwatch validate` and
//! SIGHUP reload all go through it.

pub mod aws;
mod check;
pub mod describe;
pub mod env;
mod error;
pub mod filters;
pub mod raw;
pub mod sinks;
pub mod units;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use check::load;
pub use error::{ConfigError, line_col};
pub use filters::{Family, FilterPlan, FilterSpec, MetricOutput};

use crate::sink::spec::SinkSpec;

/// Settings given as flags: each overrides the file's value; a non-empty list replaces the
/// file's list. The command line fills it (see `cli`); `load` needs nothing else from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `aws logs describe-metric-filters` files.
    pub aws_metric_filters: Vec<PathBuf>,
    /// Sigma rule files and folders.
    pub sigma: Vec<PathBuf>,
    /// Read stdin.
    pub stdin: bool,
    /// TCP listen addresses, as given.
    pub tcp: Vec<String>,
    /// HTTP listen addresses, as given.
    pub http: Vec<String>,
    /// Forward protocol listen addresses, as given.
    pub fluent: Vec<String>,
    /// Forward protocol shared key.
    pub fluent_shared_key: Option<String>,
    /// Files and folders to backfill.
    pub files: Vec<PathBuf>,
    /// Longest event.
    pub max_event_bytes: Option<u64>,
    /// Largest HTTP body.
    pub http_max_body: Option<u64>,
    /// Bearer token for HTTP ingest.
    pub http_token: Option<String>,
    /// Shipper wrapper fields.
    pub event_fields: Vec<String>,
    /// Dead-letter file.
    pub dead_letter: Option<PathBuf>,
    /// JSON validation.
    pub json_validation: Option<JsonValidation>,
    /// Metrics listen address (`none` for none).
    pub metrics_addr: Option<String>,
    /// Final metrics file.
    pub metrics_out: Option<PathBuf>,
    /// Label sets per metric.
    pub max_series: Option<usize>,
    /// Queue memory budget.
    pub queue_bytes: Option<u64>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Shutdown deadline.
    pub shutdown_timeout: Option<Duration>,
    /// `--forward` URLs.
    pub forward: Vec<String>,
    /// Forward only matched events.
    pub forward_matched_only: bool,
    /// `--anomalies-out`, `--anomaly-state`.
    pub anomalies: crate::anomaly::settings::AnomalyFlags,
}

/// How JSON events are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsonValidation {
    /// Check UTF-8 and the outer braces of every event; parse only events some filter could
    /// match (fast: the prefilter skips most events without parsing).
    Framing,
    /// Parse every JSON event, so any malformed one is rejected (slower).
    Full,
}

/// A file that settings came from, kept to locate errors.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    /// Its path.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// The built-in filters: the CIS AWS Foundations metric-filter pack, in describe-metric-filters
/// form (the same file users can pass with `--aws-metric-filters`).
pub const BUILTIN_FILTERS: &str = include_str!("../../configs/filters/cis-aws-foundations.json");

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where events come from.
    pub sources: Sources,
    /// Limits and decoding settings for ingest.
    pub ingest: Ingest,
    /// The Prometheus endpoint.
    pub metrics: MetricsSettings,
    /// Threads, shutdown and dead letters.
    pub pipeline: PipelineSettings,
    /// The compiled filters.
    pub filters: FilterPlan,
    /// Forwarding of enriched events.
    pub forward: ForwardSettings,
    /// The alarms on the filters' metrics, checked against them.
    pub alarms: Vec<crate::alerting::Alarm>,
    /// Trail health (`[trail_health]`), off when `None`.
    pub trail_health: Option<crate::trail::TrailSettings>,
    /// Anomaly detection (`[anomalies]`), off when `None`.
    pub anomalies: Option<crate::anomaly::AnomalySettings>,
}

/// What forwarded events carry and where they go.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardSettings {
    /// Destinations (empty: no forwarding).
    pub sinks: Vec<SinkSpec>,
    /// Forward only events that matched a filter.
    pub matched_only: bool,
    /// The added object's field name.
    pub field: String,
    /// Static fields, in order.
    pub static_fields: Vec<(String, String)>,
    /// Add CloudTrail-derived fields.
    pub cloudtrail_fields: bool,
}

/// Event sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Sources {
    /// Read stdin.
    pub stdin: bool,
    /// TCP listen addresses.
    pub tcp: Vec<SocketAddr>,
    /// HTTP listen addresses.
    pub http: Vec<SocketAddr>,
    /// Forward protocol listen addresses.
    pub fluent: Vec<SocketAddr>,
    /// Files and folders to backfill.
    pub files: Vec<PathBuf>,
}

impl Sources {
    /// Whether some source keeps running until shut down (so end of stdin/files is not the end).
    pub fn has_network(&self) -> bool {
        !self.tcp.is_empty() || !self.http.is_empty() || !self.fluent.is_empty()
    }

    /// Whether no source is configured.
    pub fn is_empty(&self) -> bool {
        !self.stdin && self.files.is_empty() && !self.has_network()
    }

    /// What runs when nothing is configured: a sidecar's TCP and HTTP listeners when stdin is a
    /// terminal, else stdin (`… | trailwatch`).
    pub fn defaults(stdin_is_terminal: bool) -> Sources {
        let local = |a: &str| a.parse().ok().into_iter().collect();
        if stdin_is_terminal {
            Sources {
                stdin: false,
                tcp: local(defaults::TCP_ADDR),
                http: local(defaults::HTTP_ADDR),
                fluent: Vec::new(),
                files: Vec::new(),
            }
        } else {
            Sources {
                stdin: true,
                tcp: Vec::new(),
                http: Vec::new(),
                fluent: Vec::new(),
                files: Vec::new(),
            }
        }
    }
}

/// Ingest limits and decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingest {
    /// Longest event (line) accepted.
    pub max_event_bytes: usize,
    /// Largest HTTP body accepted, before and after decompression.
    pub http_max_body: usize,
    /// Bearer token required on HTTP ingest.
    pub http_token: Option<String>,
    /// The Forward protocol server's handshake and acknowledgements.
    pub fluent: FluentSettings,
    /// Fields of a shipper's wrapper holding the event as a string.
    pub event_fields: Vec<String>,
    /// How JSON events are validated.
    pub json_validation: JsonValidation,
}

/// The Forward protocol server's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FluentSettings {
    /// When set, clients must pass the shared-key handshake (`HELO`/`PING`/`PONG`).
    pub shared_key: Option<String>,
    /// The name given in `PONG`.
    pub self_hostname: String,
    /// How long a chunk that asks for an acknowledgement may wait to be accepted (by the
    /// pipeline and every sink) before the connection is closed without one, so the client
    /// retries.
    pub ack_timeout: Duration,
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSettings {
    /// Listen address (`None` when metrics are only written at exit).
    pub addr: Option<SocketAddr>,
    /// Where to write the final exposition (`-` = stdout).
    pub out: Option<PathBuf>,
    /// Most label sets per family.
    pub max_series: usize,
}

/// Threads, shutdown and dead letters.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSettings {
    /// Worker threads.
    pub threads: usize,
    /// How long shutdown may take.
    pub shutdown_timeout: Duration,
    /// Where rejected events go.
    pub dead_letter: Option<PathBuf>,
    /// Memory budget for queued and in-flight batches.
    pub queue_bytes: usize,
}

/// Defaults, shared by flags and file.
pub mod defaults {
    /// `--max-event-bytes`
    pub const MAX_EVENT_BYTES: usize = 1 << 20;
    /// `--http-max-body`
    pub const HTTP_MAX_BODY: usize = 10 << 20;
    /// `--metrics-addr`
    pub const METRICS_ADDR: &str = "0.0.0.0:9464";
    /// `--max-series`
    pub const MAX_SERIES: usize = 1000;
    /// `--shutdown-timeout`
    pub const SHUTDOWN_TIMEOUT_SECS: u64 = 30;
    /// TCP when no source is configured and stdin is a terminal.
    pub const TCP_ADDR: &str = "127.0.0.1:5170";
    /// HTTP when no source is configured and stdin is a terminal.
    pub const HTTP_ADDR: &str = "127.0.0.1:9880";
    /// The Forward protocol's usual port (Fluentd's `in_forward`).
    pub const FLUENT_PORT: u16 = 24224;
    /// How long a Forward chunk waits for acceptance.
    pub const FLUENT_ACK_TIMEOUT_SECS: u64 = 30;
    /// Shipper wrapper fields (Vector, Fluent Bit).
    pub const EVENT_FIELDS: &[&str] = &["message", "log"];
    /// The enrichment object's field name.
    pub const ENRICHMENT_FIELD: &str = "trailwatch";
}
