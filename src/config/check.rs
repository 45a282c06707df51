//! Raw settings (file and flags) → the checked [`Config`]. Flags override the file; list flags
//! (`--tcp`, `--http`, `--files`, `--aws-metric-filters`) replace the file's list.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::aws::{self, Origin};
use super::env::interpolate;
use super::error::ConfigError;
use super::filters::{FilterPlan, FilterSpec};
use super::raw::{RawConfig, RawFilter, Str};
use super::sinks::{Resolve, check_sink};
use super::units::{parse_duration, parse_size};
use super::{
    BUILTIN_FILTERS, Config, FluentSettings, ForwardSettings, Ingest, JsonValidation,
    MetricsSettings, Overrides, PipelineSettings, SourceFile, Sources, defaults,
};
use crate::sink::spec::{SinkKind, parse_forward};

/// Reads the configuration `file` (if any) and the filter files, applies the flags, and checks
/// everything. No source configured is left empty (start-up picks the defaults).
pub fn load(file: Option<&Path>, args: &Overrides) -> Result<Config, ConfigError> {
    let (raw, file) = match file {
        Some(path) => {
            let file = Arc::new(read(path)?);
            let raw: RawConfig = toml::from_str(&file.text).map_err(|e| toml_error(&file, &e))?;
            (raw, Some(file))
        }
        None => (RawConfig::default(), None),
    };
    let ctx = Ctx { file: file.clone() };
    let ingest = ingest(&ctx, &raw, args)?;
    let config = Config {
        sources: sources(&ctx, &raw, args)?,
        metrics: metrics(&ctx, &raw, args)?,
        pipeline: pipeline(&ctx, &raw, args, &ingest)?,
        filters: {
            let mut plan = filters(&ctx, &raw, args)?;
            plan.sigma = Arc::new(crate::sigma::SigmaPlan::load(&sigma_paths(
                &ctx, &raw, args,
            )?)?);
            plan
        },
        forward: forward(&ctx, &raw, args)?,
        ingest,
        alarms: Vec::new(),
        trail_health: None,
        anomalies: crate::anomaly::settings::check(raw.anomalies.as_ref(), &args.anomalies, &ctx)?,
    };
    let config = crate::alerting::attach(config, &raw, args, file.as_ref())?;
    let stdout_sink = config
        .forward
        .sinks
        .iter()
        .any(|s| s.kind == SinkKind::Stdout);
    if stdout_sink && config.metrics.out.as_deref() == Some(Path::new("-")) {
        return Err(ConfigError::flag(
            "--forward - and --metrics-out - cannot both write to stdout",
        ));
    }
    let anomalies_stdout = config
        .anomalies
        .as_ref()
        .is_some_and(|a| a.sinks.iter().any(|s| s.kind == SinkKind::Stdout));
    if anomalies_stdout && (stdout_sink || config.metrics.out.as_deref() == Some(Path::new("-"))) {
        return Err(ConfigError::flag(
            "anomaly records to stdout cannot share it with --forward - or --metrics-out -",
        ));
    }
    Ok(config)
}

/// `--sigma` replaces the file's `sigma` list (relative to the file).
fn sigma_paths(ctx: &Ctx, raw: &RawConfig, args: &Overrides) -> Result<Vec<PathBuf>, ConfigError> {
    if !args.sigma.is_empty() {
        return Ok(args.sigma.clone());
    }
    raw.sigma.iter().map(|p| ctx.path(p)).collect()
}

fn read(path: &Path) -> Result<SourceFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::in_file(path, format!("cannot read: {e}")))?;
    Ok(SourceFile {
        path: path.to_owned(),
        text,
    })
}

fn toml_error(file: &SourceFile, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_owned();
    match e.span() {
        Some(span) => ConfigError::at(&file.path, &file.text, span.start, message),
        None => ConfigError::in_file(&file.path, message),
    }
}

/// Locates errors in the configuration file.
struct Ctx {
    file: Option<Arc<SourceFile>>,
}

impl Ctx {
    fn error_at(&self, span: &std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
        match &self.file {
            Some(f) => ConfigError::at(&f.path, &f.text, span.start, message),
            None => ConfigError::flag(message),
        }
    }

    /// A string value with `${ENV}` expanded; errors point at the variable.
    fn string(&self, value: &Str) -> Result<String, ConfigError> {
        interpolate(value.get_ref(), |name| std::env::var(name).ok()).map_err(|e| {
            // +1 skips the opening quote (exact for strings without escapes before the variable).
            let span = value.span();
            let at = span.start + 1 + e.offset;
            self.error_at(&(at..at), e.message)
        })
    }

    fn path(&self, value: &Str) -> Result<PathBuf, ConfigError> {
        let s = self.string(value)?;
        let p = PathBuf::from(&s);
        // Relative paths in a file are relative to the file.
        Ok(match &self.file {
            Some(f) if p.is_relative() && s != "-" => {
                f.path.parent().map_or(p.clone(), |dir| dir.join(&p))
            }
            _ => p,
        })
    }
}

fn addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    if let Ok(a) = full.parse() {
        return Ok(a);
    }
    full.to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| {
            format!("'{text}' is not a listen address (expected HOST:PORT, e.g. 127.0.0.1:5170)")
        })
}

fn file_addrs(ctx: &Ctx, list: &[Str]) -> Result<Vec<SocketAddr>, ConfigError> {
    list.iter()
        .map(|v| addr(&ctx.string(v)?).map_err(|m| ctx.error_at(&v.span(), m)))
        .collect()
}

fn flag_addrs(flag: &str, list: &[String]) -> Result<Vec<SocketAddr>, ConfigError> {
    list.iter()
        .map(|v| addr(v).map_err(|m| ConfigError::flag(format!("--{flag}: {m}"))))
        .collect()
}

fn sources(ctx: &Ctx, raw: &RawConfig, args: &Overrides) -> Result<Sources, ConfigError> {
    let flags_given = args.stdin
        || !args.tcp.is_empty()
        || !args.http.is_empty()
        || !args.fluent.is_empty()
        || !args.files.is_empty();
    let s = if flags_given {
        Sources {
            stdin: args.stdin,
            tcp: flag_addrs("tcp", &args.tcp)?,
            http: flag_addrs("http", &args.http)?,
            fluent: flag_addrs("fluent", &args.fluent)?,
            files: args.files.clone(),
        }
    } else {
        let r = &raw.sources;
        Sources {
            stdin: r.stdin.unwrap_or(false),
            tcp: file_addrs(ctx, &r.tcp)?,
            http: file_addrs(ctx, &r.http)?,
            fluent: file_addrs(ctx, &r.fluent)?,
            files: r
                .files
                .iter()
                .map(|f| ctx.path(f))
                .collect::<Result<_, _>>()?,
        }
    };
    Ok(s)
}

fn size(
    ctx: &Ctx,
    flag: Option<u64>,
    file: Option<&Spanned<toml::Value>>,
    default: usize,
) -> Result<usize, ConfigError> {
    if let Some(n) = flag {
        return Ok(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let Some(v) = file else {
        return Ok(default);
    };
    match v.get_ref() {
        toml::Value::Integer(i) if *i > 0 => Ok(usize::try_from(*i).unwrap_or(usize::MAX)),
        toml::Value::String(s) => parse_size(s)
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
            .map_err(|m| ctx.error_at(&v.span(), m.to_string())),
        _ => Err(ctx.error_at(
            &v.span(),
            "expected a size: a positive integer or a string such as \"1MiB\"",
        )),
    }
}

fn ingest(ctx: &Ctx, raw: &RawConfig, args: &Overrides) -> Result<Ingest, ConfigError> {
    let r = &raw.sources;
    let max_event_bytes = size(
        ctx,
        args.max_event_bytes,
        r.max_event_bytes.as_ref(),
        defaults::MAX_EVENT_BYTES,
    )?;
    let http_max_body = size(
        ctx,
        args.http_max_body,
        r.http_max_body.as_ref(),
        defaults::HTTP_MAX_BODY,
    )?;
    let http_token = match (&args.http_token, &r.http_token) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(t)) => Some(ctx.string(t)?),
        (None, None) => None,
    }
    .filter(|t| !t.is_empty());
    let fluent = FluentSettings {
        shared_key: match (&args.fluent_shared_key, &r.fluent_shared_key) {
            (Some(k), _) => Some(k.clone()),
            (None, Some(k)) => Some(ctx.string(k)?),
            (None, None) => None,
        }
        .filter(|k| !k.is_empty()),
        self_hostname: match &r.fluent_self_hostname {
            Some(h) => ctx.string(h)?,
            None => "trailwatch".to_owned(),
        },
        ack_timeout: match &r.fluent_ack_timeout {
            Some(t) => parse_duration(&ctx.string(t)?)
                .map_err(|m| ctx.error_at(&t.span(), m.to_string()))?,
            None => Duration::from_secs(defaults::FLUENT_ACK_TIMEOUT_SECS),
        },
    };
    let event_fields = if !args.event_fields.is_empty() {
        args.event_fields.clone()
    } else if let Some(list) = &r.event_fields {
        list.iter()
            .map(|f| ctx.string(f))
            .collect::<Result<_, _>>()?
    } else {
        defaults::EVENT_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let json_validation = match (args.json_validation, &r.json_validation) {
        (Some(v), _) => v,
        (None, Some(v)) => match ctx.string(v)?.as_str() {
            "framing" => JsonValidation::Framing,
            "full" => JsonValidation::Full,
            other => {
                return Err(ctx.error_at(
                    &v.span(),
                    format!("json_validation '{other}': expected \"framing\" or \"full\""),
                ));
            }
        },
        (None, None) => JsonValidation::Framing,
    };
    Ok(Ingest {
        max_event_bytes,
        http_max_body,
        http_token,
        fluent,
        event_fields,
        json_validation,
    })
}

fn metrics(ctx: &Ctx, raw: &RawConfig, args: &Overrides) -> Result<MetricsSettings, ConfigError> {
    let r = &raw.metrics;
    let addr = match (&args.metrics_addr, &r.addr) {
        (Some(a), _) => Some(a.clone()),
        (None, Some(a)) => Some(ctx.string(a)?),
        (None, None) => Some(defaults::METRICS_ADDR.to_owned()),
    };
    // "none" (or an empty value) turns the endpoint off: batch runs only write --metrics-out.
    let addr = match addr.as_deref().map(str::trim) {
        None | Some("" | "none") => None,
        Some(a) => Some(super::check::addr(a).map_err(|m| match &r.addr {
            Some(v) if args.metrics_addr.is_none() => ctx.error_at(&v.span(), m),
            _ => ConfigError::flag(format!("--metrics-addr: {m}")),
        })?),
    };
    let out = match (&args.metrics_out, &r.out) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) => Some(ctx.path(p)?),
        (None, None) => None,
    };
    let max_series = args
        .max_series
        .or(r.max_series)
        .unwrap_or(defaults::MAX_SERIES);
    if max_series == 0 {
        return Err(ConfigError::flag("max_series must be at least 1"));
    }
    Ok(MetricsSettings {
        addr,
        out,
        max_series,
    })
}

fn pipeline(
    ctx: &Ctx,
    raw: &RawConfig,
    args: &Overrides,
    ingest: &Ingest,
) -> Result<PipelineSettings, ConfigError> {
    let r = &raw.pipeline;
    let threads = args
        .threads
        .or(r.threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 || threads > 1024 {
        return Err(ConfigError::flag(format!(
            "threads must be between 1 and 1024, not {threads}"
        )));
    }
    let shutdown_timeout = match (&args.shutdown_timeout, &r.shutdown_timeout) {
        (Some(t), _) => *t,
        (None, Some(t)) => {
            parse_duration(&ctx.string(t)?).map_err(|m| ctx.error_at(&t.span(), m.to_string()))?
        }
        (None, None) => Duration::from_secs(defaults::SHUTDOWN_TIMEOUT_SECS),
    };
    let dead_letter = match (&args.dead_letter, &r.dead_letter) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) => Some(ctx.path(p)?),
        (None, None) => None,
    };
    // Enough for a few full HTTP bodies or long lines in flight by default, and no more.
    let default_budget = (16 << 20)
        .max(2 * ingest.http_max_body)
        .max(4 * ingest.max_event_bytes);
    let queue_bytes = size(
        ctx,
        args.queue_bytes,
        r.queue_bytes.as_ref(),
        default_budget,
    )?;
    let least = ingest.http_max_body.max(ingest.max_event_bytes);
    if queue_bytes < least {
        return Err(ConfigError::flag(format!(
            "queue_bytes ({queue_bytes}) must be at least the largest HTTP body and event ({least} bytes)"
        )));
    }
    Ok(PipelineSettings {
        threads,
        shutdown_timeout,
        dead_letter,
        queue_bytes,
    })
}

fn filters(ctx: &Ctx, raw: &RawConfig, args: &Overrides) -> Result<FilterPlan, ConfigError> {
    let mut specs = Vec::new();
    for f in &raw.filters {
        specs.push(toml_filter(ctx, f)?);
    }
    let aws_files: Vec<PathBuf> = if !args.aws_metric_filters.is_empty() {
        args.aws_metric_filters.clone()
    } else {
        raw.aws_metric_filters
            .iter()
            .map(|p| ctx.path(p))
            .collect::<Result<_, _>>()?
    };
    for path in &aws_files {
        specs.extend(aws::load(&Arc::new(read(path)?))?);
    }
    let builtin = raw.builtin_filters.unwrap_or(specs.is_empty());
    if builtin {
        let file = Arc::new(SourceFile {
            path: "(built-in CIS pack)".into(),
            text: BUILTIN_FILTERS.to_owned(),
        });
        specs.extend(aws::load(&file)?);
    }
    FilterPlan::compile(&specs)
}

fn toml_filter(ctx: &Ctx, f: &RawFilter) -> Result<FilterSpec, ConfigError> {
    let opt = |v: &Option<Str>| -> Result<Option<String>, ConfigError> {
        v.as_ref().map(|s| ctx.string(s)).transpose()
    };
    let name = ctx.string(&f.name)?;
    Ok(FilterSpec {
        metric_name: opt(&f.metric_name)?.unwrap_or_else(|| name.clone()),
        namespace: opt(&f.metric_namespace)?.unwrap_or_else(|| "LogMetrics".into()),
        value: opt(&f.metric_value)?.unwrap_or_else(|| "1".into()),
        default_value: f.default_value,
        dimensions: f
            .dimensions
            .iter()
            .map(|(k, v)| Ok((k.clone(), ctx.string(v)?)))
            .collect::<Result<_, ConfigError>>()?,
        unit: opt(&f.unit)?,
        prometheus_name: opt(&f.prometheus_name)?,
        // Patterns are taken literally: `$` is part of the language.
        pattern: f.pattern.get_ref().clone(),
        pattern_origin: Origin::Toml {
            span: f.pattern.span(),
        },
        file: ctx.file.clone(),
        name,
    })
}

impl Resolve for Ctx {
    fn string(&self, v: &Str) -> Result<String, ConfigError> {
        Ctx::string(self, v)
    }
    fn path(&self, v: &Str) -> Result<PathBuf, ConfigError> {
        Ctx::path(self, v)
    }
    fn error(&self, span: &std::ops::Range<usize>, message: String) -> ConfigError {
        self.error_at(span, message)
    }
}

fn forward(ctx: &Ctx, raw: &RawConfig, args: &Overrides) -> Result<ForwardSettings, ConfigError> {
    let sinks = if !args.forward.is_empty() {
        args.forward
            .iter()
            .enumerate()
            .map(|(i, f)| parse_forward(f, i).map_err(|e| ConfigError::flag(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        raw.sinks
            .iter()
            .enumerate()
            .map(|(i, s)| check_sink(s, i, ctx))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut names = std::collections::HashSet::new();
    for s in &sinks {
        if !names.insert(s.name.clone()) {
            return Err(ConfigError::flag(format!(
                "two sinks are named '{}'",
                s.name
            )));
        }
    }
    if sinks.iter().filter(|s| s.kind == SinkKind::Stdout).count() > 1 {
        return Err(ConfigError::flag("only one sink can write to stdout"));
    }
    let e = &raw.enrichment;
    let field = match &e.field {
        Some(f) => ctx.string(f)?,
        None => defaults::ENRICHMENT_FIELD.to_owned(),
    };
    if field.is_empty() {
        return Err(ConfigError::flag("enrichment.field must not be empty"));
    }
    let static_fields = e
        .static_fields
        .iter()
        .map(|(k, v)| Ok((k.clone(), ctx.string(v)?)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(ForwardSettings {
        sinks,
        matched_only: args.forward_matched_only || e.matched_only.unwrap_or(false),
        field,
        static_fields,
        cloudtrail_fields: e.cloudtrail_fields.unwrap_or(false),
    })
}
