//! The `[[sinks]]` table as written (plain serde types with spans; every closed set of values a
//! tagged serde enum, so a typo is refused with the list of what is allowed and its position),
//! checked once into a [`SinkSpec`].
//!
//! ```toml
//! [[sinks]]
//! type = "loki"                          # stdout, file, tcp, http, loki, elasticsearch, splunk_hec
//! url = "http://loki:3100"
//! labels = { job = "cloudtrail", region = "$.awsRegion" }
//! batch = { max_events = 1000, max_bytes = "1MiB", timeout = "1s" }
//! buffer = { type = "disk", path = "/var/lib/trailwatch/loki", max_bytes = "256MiB", when_full = "block" }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::raw::Str;
use super::units::{parse_duration, parse_size};
use crate::sink::spec::{Auth, HttpFormat, LabelValue, SinkKind, SinkSpec, WhenFull, with_path};

/// `type` of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkType {
    /// NDJSON to stdout.
    Stdout,
    /// NDJSON appended to a file.
    File,
    /// NDJSON over TCP.
    Tcp,
    /// NDJSON or a JSON array over HTTP.
    Http,
    /// Grafana Loki.
    Loki,
    /// Elasticsearch / OpenSearch `_bulk`.
    #[serde(alias = "opensearch")]
    Elasticsearch,
    /// Splunk HTTP Event Collector.
    #[serde(alias = "splunk")]
    SplunkHec,
}

impl SinkType {
    /// The name as written (and the default sink name's prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            SinkType::Stdout => "stdout",
            SinkType::File => "file",
            SinkType::Tcp => "tcp",
            SinkType::Http => "http",
            SinkType::Loki => "loki",
            SinkType::Elasticsearch => "elasticsearch",
            SinkType::SplunkHec => "splunk_hec",
        }
    }
}

/// `compression` of request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip.
    Gzip,
    /// As they are.
    None,
}

/// `buffer.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferType {
    /// In memory (lost on a crash).
    Memory,
    /// Write-ahead segments on disk.
    Disk,
}

/// One `[[sinks]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    /// stdout, file, tcp, http, loki, elasticsearch, splunk_hec.
    #[serde(rename = "type")]
    pub kind: Spanned<SinkType>,
    /// Metric label (default: type and position).
    pub name: Option<Str>,
    /// URL (http, loki, elasticsearch, splunk_hec).
    pub url: Option<Str>,
    /// Path (file).
    pub path: Option<Str>,
    /// HOST:PORT (tcp).
    pub address: Option<Str>,
    /// "ndjson" or "json_array" (http).
    pub format: Option<HttpFormat>,
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
    pub compression: Option<Compression>,
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
    pub kind: Option<BufferType>,
    /// Directory of a disk buffer.
    pub path: Option<Str>,
    /// Events held (memory).
    pub max_events: Option<usize>,
    /// Bytes held.
    pub max_bytes: Option<Spanned<toml::Value>>,
    /// "block" or "drop_newest".
    pub when_full: Option<WhenFull>,
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
    fn string(&self, v: &Str) -> Result<String, ConfigError>;
    /// A path, relative to the configuration file.
    fn path(&self, v: &Str) -> Result<PathBuf, ConfigError>;
    /// An error at `span`.
    fn error(&self, span: &std::ops::Range<usize>, message: String) -> ConfigError;
}

/// Checks one `[[sinks]]` table.
pub fn check_sink(raw: &RawSink, index: usize, r: &dyn Resolve) -> Result<SinkSpec, ConfigError> {
    let sink_type = *raw.kind.get_ref();
    let kind_name = sink_type.as_str();
    let need = |v: &Option<Str>, what: &str| -> Result<String, ConfigError> {
        match v {
            Some(s) => r.string(s),
            None => Err(r.error(
                &raw.kind.span(),
                format!("a {kind_name} sink needs `{what}`"),
            )),
        }
    };
    let only = |present: bool, field: &str, types: &str| -> Result<(), ConfigError> {
        if present {
            Err(r.error(
                &raw.kind.span(),
                format!("`{field}` applies only to {types} sinks, not {kind_name}"),
            ))
        } else {
            Ok(())
        }
    };
    use SinkType as T;
    only(
        !raw.labels.is_empty() && sink_type != T::Loki,
        "labels",
        "loki",
    )?;
    only(
        raw.index.is_some() && !matches!(sink_type, T::Elasticsearch | T::SplunkHec),
        "index",
        "elasticsearch and splunk_hec",
    )?;
    only(
        raw.format.is_some() && sink_type != T::Http,
        "format",
        "http",
    )?;
    let kind = match sink_type {
        T::Stdout => SinkKind::Stdout,
        T::File => SinkKind::File(match &raw.path {
            Some(p) => r.path(p)?,
            None => return Err(r.error(&raw.kind.span(), "a file sink needs `path`".into())),
        }),
        T::Tcp => SinkKind::Tcp(need(&raw.address, "address")?),
        T::Http => SinkKind::Http {
            url: need(&raw.url, "url")?,
            format: raw.format.unwrap_or(HttpFormat::Ndjson),
        },
        T::Loki => {
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
        T::Elasticsearch => SinkKind::Elasticsearch {
            url: with_path(&need(&raw.url, "url")?, "/_bulk"),
            index: raw
                .index
                .as_ref()
                .map(|i| r.string(i))
                .transpose()?
                .unwrap_or_else(|| "cloudtrail-%Y.%m.%d".into()),
        },
        T::SplunkHec => SinkKind::SplunkHec {
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
    };
    let name = match &raw.name {
        Some(n) => r.string(n)?,
        None => format!("{kind_name}_{index}"),
    };
    let mut spec = SinkSpec::new(name, kind);
    let env = |v: &Str| -> Result<String, ConfigError> {
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
    if let Some(c) = raw.compression {
        spec.gzip = c == Compression::Gzip;
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
    let duration = |v: &Str| -> Result<Duration, ConfigError> {
        parse_duration(&r.string(v)?).map_err(|m| r.error(&v.span(), m.to_string()))
    };
    let size = |v: &Spanned<toml::Value>| -> Result<u64, ConfigError> {
        match v.get_ref() {
            toml::Value::Integer(i) if *i > 0 => Ok(*i as u64),
            toml::Value::String(s) => parse_size(s).map_err(|m| r.error(&v.span(), m.to_string())),
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
        match b.kind.unwrap_or(BufferType::Memory) {
            BufferType::Memory => {
                if b.path.is_some() {
                    return Err(r.error(
                        &raw.kind.span(),
                        "`path` applies to disk buffers (buffer.type = \"disk\")".into(),
                    ));
                }
            }
            BufferType::Disk => {
                spec.buffer.disk = Some(match &b.path {
                    Some(p) => r.path(p)?,
                    None => {
                        return Err(r.error(&raw.kind.span(), "a disk buffer needs `path`".into()));
                    }
                });
                spec.buffer.max_bytes = 256 << 20;
            }
        }
        if let Some(n) = b.max_events {
            spec.buffer.max_events = n.max(1);
        }
        if let Some(n) = &b.max_bytes {
            spec.buffer.max_bytes = size(n)?;
        }
        if let Some(w) = b.when_full {
            spec.buffer.when_full = w;
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
