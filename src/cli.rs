//! The command line, as raw flags (clap). `config::check` turns these into checked settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::config::JsonValidation;
use crate::config::Overrides;
use crate::config::units::{parse_duration, parse_size};

/// CloudWatch Logs metric filters for CloudTrail, self-hosted.
///
/// With no subcommand, runs the service: reads events from stdin, TCP, HTTP or files, evaluates
/// metric filters (the built-in CIS AWS Foundations pack unless others are given) and serves the
/// results as Prometheus metrics.
#[derive(Debug, Parser)]
#[command(name = "trailwatch", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A subcommand; without one, the service runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Service options (when no subcommand is given).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process; boxing the variants would only complicate the clap derive.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Test a filter pattern against log events, like CloudWatch's TestMetricFilter.
    TestPattern(TestPatternArgs),
    /// Check a configuration (and its filter patterns) without starting anything.
    Validate(ValidateArgs),
    /// Print the active filters (the built-in pack included) as `aws logs
    /// describe-metric-filters` JSON, to review, edit and load back (`--aws-metric-filters`).
    Filters(ValidateArgs),
    /// Run the service (the default when no subcommand is given).
    Run(RunArgs),
    /// Validate CloudTrail log files against their signed digests, offline (like `aws
    /// cloudtrail validate-logs` on a local copy of the bucket).
    VerifyLogs(VerifyLogsArgs),
    /// Search CloudTrail archives (`.json.gz`, `.json`, NDJSON, folders) with a filter pattern,
    /// like CloudWatch's FilterLogEvents.
    Grep(GrepArgs),
    /// Print the configured CloudWatch alarms as Prometheus (or Grafana) alert rules.
    Rules(crate::alerting::command::RulesArgs),
    /// Print the Grafana dashboard for the configured filters and alarms.
    Dashboard(crate::alerting::command::DashboardArgs),
    /// Build the anomaly detectors' state from archived CloudTrail files, so detection starts
    /// with their history instead of a learning period.
    Learn(LearnArgs),
    /// Sigma detection rules: convert them to CloudWatch filter patterns.
    #[command(subcommand)]
    Sigma(SigmaCommand),
}

/// `trailwatch sigma …`.
#[derive(Debug, Subcommand)]
pub enum SigmaCommand {
    /// Print, per rule, its exact CloudWatch filter pattern, or why it has none.
    Convert(SigmaConvertArgs),
    /// Print Prometheus alerting rules for the high and critical rules.
    Alerts(SigmaAlertsArgs),
}

/// `trailwatch sigma alerts`.
#[derive(Debug, Args)]
pub struct SigmaAlertsArgs {
    /// Sigma rule files or folders (searched recursively for .yml/.yaml).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// Output format of `sigma convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SigmaFormat {
    /// A describe-metric-filters document (loadable with --aws-metric-filters).
    Json,
    /// `aws logs put-metric-filter` commands.
    Commands,
    /// A Markdown table: rule, id, author, level, pattern or reason.
    Table,
}

/// `trailwatch sigma convert`.
#[derive(Debug, Args)]
pub struct SigmaConvertArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = SigmaFormat::Json)]
    pub format: SigmaFormat,
    /// The CloudTrail log group the filters are for.
    #[arg(long, value_name = "NAME", default_value = "CloudTrail/logs")]
    pub log_group: String,
    /// The CloudWatch namespace of the metrics.
    #[arg(long, value_name = "NAMESPACE", default_value = "SigmaRules")]
    pub namespace: String,
    /// Sigma rule files or folders (searched recursively for .yml/.yaml).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// Output format of `test-pattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Matching events with line numbers, then a summary line.
    Text,
    /// One JSON object per input line.
    Json,
}

/// `trailwatch test-pattern`.
#[derive(Debug, Args)]
pub struct TestPatternArgs {
    /// The metric value a match publishes: `1`, a number, `$.selector` or `$field`.
    #[arg(long, value_name = "V", default_value = "1")]
    pub metric_value: String,
    /// The value published for each event that does not match.
    #[arg(long, value_name = "V")]
    pub default_value: Option<f64>,
    /// A dimension, NAME=SELECTOR (`eventType=$.eventType`, `server=$server`); up to three.
    #[arg(long = "dimension", value_name = "NAME=SELECTOR")]
    pub dimensions: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Show, for each event, the clause that decided the result.
    #[arg(long)]
    pub explain: bool,
    /// Test this Sigma rule file instead of a pattern (then FILE… are the events).
    #[arg(long, value_name = "RULE")]
    pub sigma: Option<PathBuf>,
    /// The filter pattern. Use `--` before a pattern that starts with '-'. With --sigma, the
    /// first events file.
    #[arg(value_name = "PATTERN", allow_hyphen_values = false)]
    pub pattern: String,
    /// Files with one log event per line; stdin when none are given.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `trailwatch validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The TOML configuration to check.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `aws logs describe-metric-filters` output to check (repeatable).
    #[arg(long = "aws-metric-filters", value_name = "FILE")]
    pub aws_metric_filters: Vec<PathBuf>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of the service.
#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// trailwatch's TOML configuration (sources, filters, metrics, sinks). Flags override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Metric filters as printed by `aws logs describe-metric-filters` (repeatable).
    #[arg(long = "aws-metric-filters", value_name = "FILE")]
    pub aws_metric_filters: Vec<PathBuf>,
    /// Sigma rule files or folders (recursive; repeatable). Rules for other log sources than
    /// AWS CloudTrail are skipped and counted.
    #[arg(long = "sigma", value_name = "PATH")]
    pub sigma: Vec<PathBuf>,

    /// Read newline-delimited events from stdin (exits at end of input unless a network source
    /// is also configured).
    #[arg(long)]
    pub stdin: bool,
    /// Listen for newline-delimited JSON on TCP (repeatable).
    #[arg(long = "tcp", value_name = "ADDR")]
    pub tcp: Vec<String>,
    /// Listen for HTTP POSTs of events (repeatable).
    #[arg(long = "http", value_name = "ADDR")]
    pub http: Vec<String>,
    /// Listen for the Forward protocol (Fluent Bit's and Fluentd's `forward` output; the usual
    /// port is 24224; repeatable).
    #[arg(long = "fluent", value_name = "ADDR")]
    pub fluent: Vec<String>,
    /// Require the Forward protocol's shared-key handshake with this key (also
    /// TRAILWATCH_FLUENT_SHARED_KEY; Fluent Bit: `Shared_Key`).
    #[arg(
        long,
        value_name = "KEY",
        env = "TRAILWATCH_FLUENT_SHARED_KEY",
        hide_env_values = true
    )]
    pub fluent_shared_key: Option<String>,
    /// CloudTrail delivery files or folders (`.json`, `.json.gz`, recursive) to backfill.
    #[arg(long = "files", value_name = "PATH", num_args = 1..)]
    pub files: Vec<PathBuf>,

    /// Longest accepted event (line), e.g. `1MiB`.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_event_bytes: Option<u64>,
    /// Largest accepted HTTP body held whole (JSON arrays, objects, Records documents,
    /// MessagePack), before and after decompression, e.g. `10MiB`. NDJSON and text bodies stream
    /// and have no limit.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub http_max_body: Option<u64>,
    /// Require `Authorization: Bearer TOKEN` on HTTP ingest (also TRAILWATCH_HTTP_TOKEN).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TRAILWATCH_HTTP_TOKEN",
        hide_env_values = true
    )]
    pub http_token: Option<String>,
    /// Field of a shipper's wrapper that holds the event as a string (repeatable; default
    /// `message` and `log`).
    #[arg(long = "event-field", value_name = "NAME")]
    pub event_field: Vec<String>,
    /// Write rejected events, with the reason, to this file (NDJSON).
    #[arg(long, value_name = "PATH")]
    pub dead_letter: Option<PathBuf>,
    /// How JSON events are validated.
    #[arg(long, value_enum)]
    pub json_validation: Option<JsonValidation>,

    /// Where to serve /metrics, /health and /ready (host:port; `none` serves nothing, e.g. with
    /// --metrics-out for a one-shot run).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Write the final metrics (Prometheus text) to this file at exit.
    #[arg(long, value_name = "PATH")]
    pub metrics_out: Option<PathBuf>,
    /// Most label sets per metric; more are dropped and counted.
    #[arg(long, value_name = "N")]
    pub max_series: Option<usize>,

    /// Memory budget for events queued or being processed, e.g. `64MiB` (at least the largest
    /// HTTP body and the longest event).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub queue_bytes: Option<u64>,
    /// Worker threads for decoding and evaluation (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// How long shutdown may take to finish what was accepted, e.g. `30s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub shutdown_timeout: Option<Duration>,

    /// Forward every event (enriched) to a destination (repeatable): `-`, `file:PATH`,
    /// `tcp://HOST:PORT`, `http(s)://…` (NDJSON), or a URL with a `loki+`, `es+`/`elasticsearch+`
    /// or `splunk+` prefix.
    #[arg(long = "forward", value_name = "URL")]
    pub forward: Vec<String>,
    /// Forward only events that matched some filter.
    #[arg(long)]
    pub forward_matched_only: bool,

    /// Detect anomalies (first-seen addresses, regions, user agents, APIs and keys per
    /// principal; call and error rates; denied-call bursts) and write the records (NDJSON) here;
    /// `-` for stdout. Settings: `[anomalies]` in the configuration.
    #[arg(long, value_name = "PATH")]
    pub anomalies_out: Option<PathBuf>,
    /// Keep the anomaly detectors' learned state in this file (restored at start, snapshotted
    /// periodically and at exit); turns detection on.
    #[arg(long, value_name = "FILE")]
    pub anomaly_state: Option<PathBuf>,

    /// Log format (logs go to stderr; the level comes from TRAILWATCH_LOG, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `trailwatch learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// trailwatch's TOML configuration (its `[anomalies]` settings apply).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The state file to build (extended when it exists).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// CloudTrail archives: delivery files or folders (`.json`, `.json.gz`, recursive).
    #[arg(long = "files", value_name = "PATH", num_args = 1.., required = true)]
    pub files: Vec<PathBuf>,
}

impl RunArgs {
    /// The settings these flags override in the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            aws_metric_filters: self.aws_metric_filters.clone(),
            sigma: self.sigma.clone(),
            stdin: self.stdin,
            tcp: self.tcp.clone(),
            http: self.http.clone(),
            fluent: self.fluent.clone(),
            fluent_shared_key: self.fluent_shared_key.clone(),
            files: self.files.clone(),
            max_event_bytes: self.max_event_bytes,
            http_max_body: self.http_max_body,
            http_token: self.http_token.clone(),
            event_fields: self.event_field.clone(),
            dead_letter: self.dead_letter.clone(),
            json_validation: self.json_validation,
            metrics_addr: self.metrics_addr.clone(),
            metrics_out: self.metrics_out.clone(),
            max_series: self.max_series,
            queue_bytes: self.queue_bytes,
            threads: self.threads,
            shutdown_timeout: self.shutdown_timeout,
            forward: self.forward.clone(),
            forward_matched_only: self.forward_matched_only,
            anomalies: crate::anomaly::settings::AnomalyFlags {
                out: self.anomalies_out.clone(),
                state_file: self.anomaly_state.clone(),
                learn_only: false,
            },
        }
    }
}

/// Output format of `verify-logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Problems, one per line, then a summary.
    Text,
    /// One JSON document with every verdict.
    Json,
}

/// `trailwatch verify-logs`.
#[derive(Debug, Args)]
pub struct VerifyLogsArgs {
    /// The trail's public key: DER, PEM, or the JSON of `aws cloudtrail list-public-keys`
    /// (repeatable; keys are matched by fingerprint).
    #[arg(long = "public-key", value_name = "FILE")]
    pub public_keys: Vec<PathBuf>,
    /// The newest digest's signature (hex), its S3 metadata `x-amz-meta-signature`.
    #[arg(long, value_name = "HEX", conflicts_with = "head_object")]
    pub signature: Option<String>,
    /// `aws s3api head-object` output (JSON) for the newest digest, for its signature.
    #[arg(long, value_name = "FILE")]
    pub head_object: Option<PathBuf>,
    /// Check digests from this time on (RFC 3339, a UTC date, or a duration ago like 7d).
    #[arg(long, value_name = "T")]
    pub start_time: Option<String>,
    /// Check digests up to this time (plus the hour after it that may cover its log files).
    #[arg(long, value_name = "T")]
    pub end_time: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// The local copy of the trail's bucket (the folder holding `AWSLogs/`).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// Output format of `grep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrepFormat {
    /// Each matching event as stored, one per line.
    Ndjson,
    /// Time, identity, event, source IP, region, error.
    Table,
}

/// `trailwatch grep`.
#[derive(Debug, Args)]
#[command(override_usage = "trailwatch grep [OPTIONS] PATTERN PATH...\n       \
    trailwatch grep [OPTIONS] [-e PATTERN] [--user U] [--ip A] [--event E] [--failed] PATH...")]
pub struct GrepArgs {
    /// The filter pattern, as an option: then every argument is a PATH.
    #[arg(short = 'e', long = "pattern", value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Events by this identity: a user name, role session name, access key id, `root`, or an
    /// ARN (repeatable: any of them; `*` wildcards allowed).
    #[arg(long, value_name = "NAME")]
    pub user: Vec<String>,
    /// Events from this source IP address (repeatable; `*` wildcards, e.g. `203.0.113.*`).
    #[arg(long, value_name = "ADDR")]
    pub ip: Vec<String>,
    /// Events with this eventName (repeatable; `*` wildcards, e.g. `Delete*`).
    #[arg(long, value_name = "NAME")]
    pub event: Vec<String>,
    /// Failed calls: an errorCode or errorMessage, or a failed console sign-in.
    #[arg(long)]
    pub failed: bool,
    /// Only events whose eventTime is at or after this (RFC 3339, a UTC date, or a duration
    /// ago like 2h or 7d).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only events whose eventTime is before this.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Print only the number of matching events.
    #[arg(long, short = 'c')]
    pub count: bool,
    /// Output format (default: table on a terminal, NDJSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<GrepFormat>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Reading threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// PATTERN, then the files and folders to search (`-` for stdin). Without -e, the PATTERN
    /// may be left out when a shortcut, --since or --until is given and the first argument is
    /// an existing file or folder.
    #[arg(value_name = "PATTERN|PATH")]
    pub args: Vec<String>,
}
