//! Configuration: the raw forms (TOML file, describe-metric-filters JSON, flags) and the one
//! function, [`load`], that checks them into a [`Config`]. Start-up, `trailwatch validate` and
//! SIGHUP reload all go through it.

pub mod aws;
mod check;
pub mod env;
mod error;
pub mod filters;
pub mod raw;
pub mod units;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use check::load;
pub use error::{ConfigError, line_col};
pub use filters::{Family, FilterPlan, FilterSpec, MetricOutput};

use crate::cli::JsonValidation;
use crate::sink::spec::SinkSpec;

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
    /// Files and folders to backfill.
    pub files: Vec<PathBuf>,
}

impl Sources {
    /// Whether some source keeps running until shut down (so end of stdin/files is not the end).
    pub fn has_network(&self) -> bool {
        !self.tcp.is_empty() || !self.http.is_empty()
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
    /// Fields of a shipper's wrapper holding the event as a string.
    pub event_fields: Vec<String>,
    /// How JSON events are validated.
    pub json_validation: JsonValidation,
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
    /// Shipper wrapper fields (Vector, Fluent Bit).
    pub const EVENT_FIELDS: &[&str] = &["message", "log"];
    /// The enrichment object's field name.
    pub const ENRICHMENT_FIELD: &str = "trailwatch";
}
