//! Sink settings: the `[[sinks]]` table and `--forward URL`, checked into a [`SinkSpec`].
//!
//! ```toml
//! [[sinks]]
//! type = "loki"                          # stdout, file, tcp, http, loki, elasticsearch, splunk_hec
//! url = "http://loki:3100"
//! labels = { job = "cloudtrail", region = "$.awsRegion" }
//! batch = { max_events = 1000, max_bytes = "1MiB", timeout = "1s" }
//! buffer = { type = "disk", path = "/var/lib/trailwatch/loki", max_bytes = "256MiB", when_full = "block" }
//! ```
//!
//! `--forward` takes `-`, `file:PATH`, `tcp://HOST:PORT`, `http(s)://…` (NDJSON), and the same
//! with a `loki+`, `es+` (or `elasticsearch+`) or `splunk+` prefix for those APIs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::raw::Str;
use crate::config::units::{parse_duration, parse_size};

/// What kind of destination, with its API-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// NDJSON to stdout.
    Stdout,
    /// NDJSON appended to a file.
    File(PathBuf),
    /// NDJSON over TCP (Vector `socket` source, Fluent Bit `tcp` input).
    Tcp(String),
    /// NDJSON or a JSON array per request (Vector `http_server`, Fluent Bit `http` input).
    Http {
        /// Request URL.
        url: String,
        /// Body format.
        format: HttpFormat,
    },
    /// Grafana Loki push API.
    Loki {
        /// The push URL (`…/loki/api/v1/push`).
        url: String,
        /// Stream labels: name → static text or a field of the event.
        labels: Vec<(String, LabelValue)>,
    },
    /// Elasticsearch / OpenSearch `_bulk`.
    Elasticsearch {
        /// The `_bulk` URL.
        url: String,
        /// Index name; `%Y`, `%m`, `%d` are the event's date.
        index: String,
    },
    /// Splunk HTTP Event Collector.
    SplunkHec {
        /// The `/services/collector/event` URL.
        url: String,
        /// `index` of each envelope (Splunk's default when unset).
        index: Option<String>,
        /// `sourcetype` of each envelope.
        sourcetype: String,
        /// `source` of each envelope.
        source: String,
    },
}

/// How a generic HTTP sink lays out a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFormat {
    /// One JSON object per line.
    Ndjson,
    /// One JSON array.
    JsonArray,
}

/// A Loki label value.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelValue {
    /// The same for every event.
    Static(String),
    /// A field of the event (`$.awsRegion` → `["awsRegion"]`).
    Field(Vec<String>),
}

/// What a full buffer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room: backpressure reaches the sources.
    Block,
    /// Drop the new events (counted in `trailwatch_sink_events_total{outcome="dropped"}`).
    DropNewest,
}

/// Where a sink keeps events until they are delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferSettings {
    /// `None`: memory; `Some(dir)`: write-ahead segments in `dir`, surviving a crash.
    pub disk: Option<PathBuf>,
    /// Most events held (memory buffers).
    pub max_events: usize,
    /// Most bytes held.
    pub max_bytes: u64,
    /// What happens when it is full.
    pub when_full: WhenFull,
}

/// Request batching.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSettings {
    /// Most events per request.
    pub max_events: usize,
    /// Most bytes (uncompressed) per request.
    pub max_bytes: usize,
    /// How long to wait for a batch to fill.
    pub timeout: Duration,
}

/// Retry policy: exponential backoff with full jitter, honouring `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySettings {
    /// First delay.
    pub initial_backoff: Duration,
    /// Longest delay.
    pub max_backoff: Duration,
}

/// Authentication added to requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// `Authorization: Bearer …`
    Bearer(String),
    /// `Authorization: Basic …`
    Basic(String, String),
}

/// A checked sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkSpec {
    /// The `sink` label of its metrics.
    pub name: String,
    /// Destination and API.
    pub kind: SinkKind,
    /// Request batching.
    pub batch: BatchSettings,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Retry policy.
    pub retry: RetrySettings,
    /// Buffering.
    pub buffer: BufferSettings,
    /// gzip request bodies.
    pub gzip: bool,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Authentication.
    pub auth: Option<Auth>,
    /// PEM file of extra trusted CA certificates.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (tests only; never in production).
    pub insecure_skip_verify: bool,
}

impl SinkSpec {
    /// A sink with default settings.
    pub fn new(name: String, kind: SinkKind) -> SinkSpec {
        let network = !matches!(kind, SinkKind::Stdout | SinkKind::File(_));
        SinkSpec {
            name,
            batch: BatchSettings {
                max_events: 1000,
                max_bytes: 1 << 20,
                timeout: Duration::from_millis(if network { 1000 } else { 100 }),
            },
            concurrency: if matches!(
                kind,
                SinkKind::Stdout | SinkKind::File(_) | SinkKind::Tcp(_)
            ) {
                1
            } else {
                2
            },
            request_timeout: Duration::from_secs(30),
            retry: RetrySettings {
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(10),
            },
            buffer: BufferSettings {
                disk: None,
                max_events: 10_000,
                max_bytes: 64 << 20,
                when_full: WhenFull::Block,
            },
            gzip: network && !matches!(kind, SinkKind::Tcp(_)),
            headers: Vec::new(),
            auth: None,
            ca_file: None,
            insecure_skip_verify: false,
            kind,
        }
    }

    /// Whether the sink needs each event's time (Loki, HEC, date-patterned indices).
    pub fn needs_time(&self) -> bool {
        matches!(
            self.kind,
            SinkKind::Loki { .. } | SinkKind::SplunkHec { .. } | SinkKind::Elasticsearch { .. }
        )
    }

    /// Whether the sink needs each event's `eventID` (the Elasticsearch `_id`).
    pub fn needs_id(&self) -> bool {
        matches!(self.kind, SinkKind::Elasticsearch { .. })
    }
}

fn strip_slash(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Adds `path` to `url` unless the URL already ends with it.
fn with_path(url: &str, path: &str) -> String {
    let base = strip_slash(url);
    if base.ends_with(path) {
        base.to_owned()
    } else {
        format!("{base}{path}")
    }
}

/// Parses one `--forward` value.
pub fn parse_forward(value: &str, index: usize) -> Result<SinkSpec, String> {
    let v = value.trim();
    let http_url = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    let (name, kind) = if v == "-" {
        ("stdout".to_owned(), SinkKind::Stdout)
    } else if let Some(p) = v.strip_prefix("file:") {
        (format!("file_{index}"), SinkKind::File(PathBuf::from(p)))
    } else if let Some(a) = v.strip_prefix("tcp://") {
        (
            format!("tcp_{index}"),
            SinkKind::Tcp(a.trim_end_matches('/').to_owned()),
        )
    } else if let Some(u) = v.strip_prefix("loki+").filter(|u| http_url(u)) {
        (
            format!("loki_{index}"),
            SinkKind::Loki {
                url: with_path(u, "/loki/api/v1/push"),
                labels: vec![
                    ("job".into(), LabelValue::Static("cloudtrail".into())),
                    ("region".into(), LabelValue::Field(vec!["awsRegion".into()])),
                    (
                        "event_source".into(),
                        LabelValue::Field(vec!["eventSource".into()]),
                    ),
                ],
            },
        )
    } else if let Some(u) = v
        .strip_prefix("es+")
        .or_else(|| v.strip_prefix("elasticsearch+"))
        .or_else(|| v.strip_prefix("opensearch+"))
        .filter(|u| http_url(u))
    {
        (
            format!("elasticsearch_{index}"),
            SinkKind::Elasticsearch {
                url: with_path(u, "/_bulk"),
                index: "cloudtrail-%Y.%m.%d".into(),
            },
        )
    } else if let Some(u) = v.strip_prefix("splunk+").filter(|u| http_url(u)) {
        (
            format!("splunk_{index}"),
            SinkKind::SplunkHec {
                url: with_path(u, "/services/collector/event"),
                index: None,
                sourcetype: "aws:cloudtrail".into(),
                source: "trailwatch".into(),
            },
        )
    } else if http_url(v) {
        (
            format!("http_{index}"),
            SinkKind::Http {
                url: v.to_owned(),
                format: HttpFormat::Ndjson,
            },
        )
    } else {
        return Err(format!(
            "--forward '{v}': expected -, file:PATH, tcp://HOST:PORT, http(s)://URL, or loki+/es+/splunk+ followed by an http(s) URL"
        ));
    };
    let mut spec = SinkSpec::new(name, kind);
    // Splunk needs its token; take it from the environment (never from the command line).
    if let SinkKind::SplunkHec { .. } = spec.kind {
        if let Ok(token) = std::env::var("TRAILWATCH_SPLUNK_TOKEN") {
            spec.headers
                .push(("Authorization".into(), format!("Splunk {token}")));
        }
    }
    Ok(spec)
}

/// One `[[sinks]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    /// stdout, file, tcp, http, loki, elasticsearch, splunk_hec.
    #[serde(rename = "type")]
    pub kind: Str,
    /// Metric label (default: type and position).
    pub name: Option<Str>,
    /// URL (http, loki, elasticsearch, splunk_hec).
    pub url: Option<Str>,
    /// Path (file).
    pub path: Option<Str>,
    /// HOST:PORT (tcp).
    pub address: Option<Str>,
    /// "ndjson" or "json_array" (http).
    pub format: Option<Str>,
    /// Loki stream labels: name → static value or `$.field`.
    #[serde(default)]
    pub labels: BTreeMap<String, Str>,
    /// Elasticsearch index pattern.
    pub index: Option<Str>,
    /// Splunk sourcetype.
    pub sourcetype: Option<Str>,
    /// Splunk source.
    pub source: Option<Str>,
    /// Environment variable holding the Splunk HEC token.
    pub token_env: Option<Str>,
    /// Environment variable holding a bearer token.
    pub bearer_token_env: Option<Str>,
    /// Basic auth user.
    pub user: Option<Str>,
    /// Environment variable holding the basic auth password.
    pub password_env: Option<Str>,
    /// Extra headers (values may use `${ENV}`).
    #[serde(default)]
    pub headers: BTreeMap<String, Str>,
    /// "gzip" or "none".
    pub compression: Option<Str>,
    /// Requests in flight.
    pub concurrency: Option<usize>,
    /// e.g. "30s".
    pub request_timeout: Option<Str>,
    /// Batching.
    pub batch: Option<RawBatch>,
    /// Retries.
    pub retry: Option<RawRetry>,
    /// Buffer.
    pub buffer: Option<RawBuffer>,
    /// TLS.
    pub tls: Option<RawTls>,
}

/// `batch = { … }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    /// Events per request.
    pub max_events: Option<usize>,
    /// Bytes per request.
    pub max_bytes: Option<Spanned<toml::Value>>,
    /// Wait for a batch to fill.
    pub timeout: Option<Str>,
}

/// `retry = { … }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// First delay.
    pub initial_backoff: Option<Str>,
    /// Longest delay.
    pub max_backoff: Option<Str>,
}

/// `buffer = { … }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuffer {
    /// "memory" or "disk".
    #[serde(rename = "type")]
    pub kind: Option<Str>,
    /// Directory of a disk buffer.
    pub path: Option<Str>,
    /// Events held (memory).
    pub max_events: Option<usize>,
    /// Bytes held.
    pub max_bytes: Option<Spanned<toml::Value>>,
    /// "block" or "drop_newest".
    pub when_full: Option<Str>,
}

/// `tls = { … }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM file of CA certificates to trust.
    pub ca_file: Option<Str>,
    /// Accept any certificate (testing only).
    pub insecure_skip_verify: Option<bool>,
}

/// Resolves strings (`${ENV}`) and positions for [`check_sink`].
pub trait Resolve {
    /// The string, interpolated.
    fn string(&self, v: &Str) -> Result<String, crate::config::ConfigError>;
    /// A path, relative to the configuration file.
    fn path(&self, v: &Str) -> Result<PathBuf, crate::config::ConfigError>;
    /// An error at `span`.
    fn error(&self, span: &std::ops::Range<usize>, message: String) -> crate::config::ConfigError;
}

/// Checks one `[[sinks]]` table.
pub fn check_sink(
    raw: &RawSink,
    index: usize,
    r: &dyn Resolve,
) -> Result<SinkSpec, crate::config::ConfigError> {
    let kind_name = r.string(&raw.kind)?;
    let need = |v: &Option<Str>, what: &str| -> Result<String, crate::config::ConfigError> {
        match v {
            Some(s) => r.string(s),
            None => Err(r.error(
                &raw.kind.span(),
                format!("a {kind_name} sink needs `{what}`"),
            )),
        }
    };
    let only =
        |present: bool, field: &str, types: &str| -> Result<(), crate::config::ConfigError> {
            if present {
                Err(r.error(
                    &raw.kind.span(),
                    format!("`{field}` applies only to {types} sinks, not {kind_name}"),
                ))
            } else {
                Ok(())
            }
        };
    only(
        !raw.labels.is_empty() && kind_name != "loki",
        "labels",
        "loki",
    )?;
    only(
        raw.index.is_some() && !matches!(kind_name.as_str(), "elasticsearch" | "splunk_hec"),
        "index",
        "elasticsearch and splunk_hec",
    )?;
    only(
        raw.format.is_some() && kind_name != "http",
        "format",
        "http",
    )?;
    let kind = match kind_name.as_str() {
        "stdout" => SinkKind::Stdout,
        "file" => SinkKind::File(match &raw.path {
            Some(p) => r.path(p)?,
            None => return Err(r.error(&raw.kind.span(), "a file sink needs `path`".into())),
        }),
        "tcp" => SinkKind::Tcp(need(&raw.address, "address")?),
        "http" => SinkKind::Http {
            url: need(&raw.url, "url")?,
            format: match raw
                .format
                .as_ref()
                .map(|f| r.string(f))
                .transpose()?
                .as_deref()
            {
                None | Some("ndjson") => HttpFormat::Ndjson,
                Some("json_array") => HttpFormat::JsonArray,
                Some(other) => {
                    return Err(r.error(
                        &raw.kind.span(),
                        format!("format '{other}': expected \"ndjson\" or \"json_array\""),
                    ));
                }
            },
        },
        "loki" => {
            let mut labels = Vec::new();
            for (k, v) in &raw.labels {
                let text = r.string(v)?;
                let value = match text.strip_prefix("$.") {
                    Some(path) if !path.is_empty() => {
                        LabelValue::Field(path.split('.').map(str::to_owned).collect())
                    }
                    _ => LabelValue::Static(text),
                };
                labels.push((k.clone(), value));
            }
            if labels.is_empty() {
                labels.push(("job".into(), LabelValue::Static("cloudtrail".into())));
            }
            SinkKind::Loki {
                url: with_path(&need(&raw.url, "url")?, "/loki/api/v1/push"),
                labels,
            }
        }
        "elasticsearch" | "opensearch" => SinkKind::Elasticsearch {
            url: with_path(&need(&raw.url, "url")?, "/_bulk"),
            index: raw
                .index
                .as_ref()
                .map(|i| r.string(i))
                .transpose()?
                .unwrap_or_else(|| "cloudtrail-%Y.%m.%d".into()),
        },
        "splunk_hec" | "splunk" => SinkKind::SplunkHec {
            url: with_path(&need(&raw.url, "url")?, "/services/collector/event"),
            index: raw.index.as_ref().map(|i| r.string(i)).transpose()?,
            sourcetype: raw
                .sourcetype
                .as_ref()
                .map(|s| r.string(s))
                .transpose()?
                .unwrap_or_else(|| "aws:cloudtrail".into()),
            source: raw
                .source
                .as_ref()
                .map(|s| r.string(s))
                .transpose()?
                .unwrap_or_else(|| "trailwatch".into()),
        },
        other => {
            return Err(r.error(
                &raw.kind.span(),
                format!("unknown sink type '{other}' (expected stdout, file, tcp, http, loki, elasticsearch or splunk_hec)"),
            ));
        }
    };
    let name = match &raw.name {
        Some(n) => r.string(n)?,
        None => format!("{kind_name}_{index}"),
    };
    let mut spec = SinkSpec::new(name, kind);
    let env = |v: &Str| -> Result<String, crate::config::ConfigError> {
        let var = r.string(v)?;
        std::env::var(&var)
            .map_err(|_| r.error(&v.span(), format!("environment variable {var} is not set")))
    };
    if let Some(t) = &raw.token_env {
        spec.headers
            .push(("Authorization".into(), format!("Splunk {}", env(t)?)));
    }
    if let Some(t) = &raw.bearer_token_env {
        spec.auth = Some(Auth::Bearer(env(t)?));
    }
    if let Some(u) = &raw.user {
        let password = match &raw.password_env {
            Some(p) => env(p)?,
            None => String::new(),
        };
        spec.auth = Some(Auth::Basic(r.string(u)?, password));
    }
    for (k, v) in &raw.headers {
        spec.headers.push((k.clone(), r.string(v)?));
    }
    if let Some(c) = &raw.compression {
        spec.gzip = match r.string(c)?.as_str() {
            "gzip" => true,
            "none" => false,
            other => {
                return Err(r.error(
                    &c.span(),
                    format!("compression '{other}': expected \"gzip\" or \"none\""),
                ));
            }
        };
    }
    if let Some(n) = raw.concurrency {
        if n == 0 || n > 256 {
            return Err(r.error(
                &raw.kind.span(),
                format!("concurrency {n}: expected 1 to 256"),
            ));
        }
        spec.concurrency = n;
    }
    let duration = |v: &Str| -> Result<Duration, crate::config::ConfigError> {
        parse_duration(&r.string(v)?).map_err(|m| r.error(&v.span(), m))
    };
    let size = |v: &Spanned<toml::Value>| -> Result<u64, crate::config::ConfigError> {
        match v.get_ref() {
            toml::Value::Integer(i) if *i > 0 => Ok(*i as u64),
            toml::Value::String(s) => parse_size(s).map_err(|m| r.error(&v.span(), m)),
            _ => Err(r.error(&v.span(), "expected a size such as \"1MiB\"".into())),
        }
    };
    if let Some(t) = &raw.request_timeout {
        spec.request_timeout = duration(t)?;
    }
    if let Some(b) = &raw.batch {
        if let Some(n) = b.max_events {
            spec.batch.max_events = n.max(1);
        }
        if let Some(n) = &b.max_bytes {
            spec.batch.max_bytes = size(n)? as usize;
        }
        if let Some(t) = &b.timeout {
            spec.batch.timeout = duration(t)?;
        }
    }
    if let Some(rt) = &raw.retry {
        if let Some(t) = &rt.initial_backoff {
            spec.retry.initial_backoff = duration(t)?;
        }
        if let Some(t) = &rt.max_backoff {
            spec.retry.max_backoff = duration(t)?;
        }
    }
    if let Some(b) = &raw.buffer {
        match b.kind.as_ref().map(|k| r.string(k)).transpose()?.as_deref() {
            None | Some("memory") => {
                if b.path.is_some() {
                    return Err(r.error(
                        &raw.kind.span(),
                        "`path` applies to disk buffers (buffer.type = \"disk\")".into(),
                    ));
                }
            }
            Some("disk") => {
                spec.buffer.disk = Some(match &b.path {
                    Some(p) => r.path(p)?,
                    None => {
                        return Err(r.error(&raw.kind.span(), "a disk buffer needs `path`".into()));
                    }
                });
                spec.buffer.max_bytes = 256 << 20;
            }
            Some(other) => {
                return Err(r.error(
                    &raw.kind.span(),
                    format!("buffer type '{other}': expected \"memory\" or \"disk\""),
                ));
            }
        }
        if let Some(n) = b.max_events {
            spec.buffer.max_events = n.max(1);
        }
        if let Some(n) = &b.max_bytes {
            spec.buffer.max_bytes = size(n)?;
        }
        if let Some(w) = &b.when_full {
            spec.buffer.when_full = match r.string(w)?.as_str() {
                "block" => WhenFull::Block,
                "drop_newest" => WhenFull::DropNewest,
                other => {
                    return Err(r.error(
                        &w.span(),
                        format!("when_full '{other}': expected \"block\" or \"drop_newest\""),
                    ));
                }
            };
        }
    }
    if let Some(t) = &raw.tls {
        if let Some(p) = &t.ca_file {
            spec.ca_file = Some(r.path(p)?);
        }
        spec.insecure_skip_verify = t.insecure_skip_verify.unwrap_or(false);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_urls() {
        assert_eq!(parse_forward("-", 0).unwrap().kind, SinkKind::Stdout);
        assert_eq!(
            parse_forward("tcp://127.0.0.1:9000", 1).unwrap().kind,
            SinkKind::Tcp("127.0.0.1:9000".into())
        );
        match parse_forward("loki+http://loki:3100", 2).unwrap().kind {
            SinkKind::Loki { url, .. } => assert_eq!(url, "http://loki:3100/loki/api/v1/push"),
            k => panic!("{k:?}"),
        }
        match parse_forward("es+http://es:9200/", 3).unwrap().kind {
            SinkKind::Elasticsearch { url, .. } => assert_eq!(url, "http://es:9200/_bulk"),
            k => panic!("{k:?}"),
        }
        match parse_forward("splunk+https://hec:8088", 4).unwrap().kind {
            SinkKind::SplunkHec { url, .. } => {
                assert_eq!(url, "https://hec:8088/services/collector/event")
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(
            parse_forward("http://x/ingest", 5).unwrap().kind,
            SinkKind::Http { .. }
        ));
        assert!(parse_forward("ftp://nope", 6).is_err());
    }
}
