//! A sink's checked settings ([`SinkSpec`]), from a `[[sinks]]` table (`config::sinks`) or a
//! `--forward URL`.
//!
//! `--forward` takes `-`, `file:PATH`, `tcp://HOST:PORT`, `http(s)://…` (NDJSON), and the same
//! with a `loki+`, `es+` (or `elasticsearch+`) or `splunk+` prefix for those APIs.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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
pub(crate) fn with_path(url: &str, path: &str) -> String {
    let base = strip_slash(url);
    if base.ends_with(path) {
        base.to_owned()
    } else {
        format!("{base}{path}")
    }
}

/// A `--forward` value that names no destination.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "--forward '{0}': expected -, file:PATH, tcp://HOST:PORT, http(s)://URL, or loki+/es+/splunk+ followed by an http(s) URL"
)]
pub struct ForwardUrlError(pub String);

/// Parses one `--forward` value.
pub fn parse_forward(value: &str, index: usize) -> Result<SinkSpec, ForwardUrlError> {
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
        return Err(ForwardUrlError(v.to_owned()));
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
