//! Encoding gathered metrics: Prometheus text 0.0.4 (the `prometheus` crate's encoder) or
//! OpenMetrics 1.0 text (ours: the crate has none), chosen from the scrape's `Accept` header.

use std::fmt::Write as _;

use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

/// The two formats we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` — what every scraper accepts.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header, honouring `q=` weights (RFC 9110 §12.5.1):
    /// OpenMetrics when the client prefers it to plain text; plain text otherwise (also on a
    /// tie, and when the header is absent), since every scraper reads it.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let (mut q, mut version) = (1.0f32, None);
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
            let q = q.clamp(0.0, 1.0);
            match media.as_str() {
                // We serve OpenMetrics 1.0.0 only.
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    openmetrics = openmetrics.max(q)
                }
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics > text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The exact `Content-Type` (Prometheus 3 rejects scrapes without a valid one).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Encodes `families` in `format`.
pub fn encode(families: &[MetricFamily], format: Format) -> Vec<u8> {
    match format {
        Format::Prometheus => {
            let mut buf = Vec::with_capacity(8192);
            // Encoding into a Vec cannot fail for the families we build.
            if TextEncoder::new().encode(families, &mut buf).is_err() {
                buf.clear();
            }
            buf
        }
        Format::OpenMetrics => openmetrics(families).into_bytes(),
    }
}

fn openmetrics(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(8192);
    for mf in families {
        let name = mf.name();
        let (kind, base) = match mf.get_field_type() {
            MetricType::COUNTER => ("counter", name.strip_suffix("_total").unwrap_or(name)),
            MetricType::GAUGE => ("gauge", name),
            MetricType::HISTOGRAM => ("histogram", name),
            MetricType::SUMMARY => ("summary", name),
            MetricType::UNTYPED => ("unknown", name),
        };
        let _ = writeln!(out, "# TYPE {base} {kind}");
        // OpenMetrics escapes `"` in HELP too (unlike the Prometheus text format).
        let _ = writeln!(out, "# HELP {base} {}", escape(mf.help(), true));
        for m in mf.get_metric() {
            let labels: Vec<(String, String)> = m
                .get_label()
                .iter()
                .map(|l| (l.name().to_owned(), l.value().to_owned()))
                .collect();
            match mf.get_field_type() {
                MetricType::COUNTER => sample(
                    &mut out,
                    &format!("{base}_total"),
                    &labels,
                    None,
                    m.get_counter().get_value(),
                ),
                MetricType::GAUGE => {
                    sample(&mut out, base, &labels, None, m.get_gauge().get_value())
                }
                // We never register untyped metrics.
                MetricType::UNTYPED => {}
                MetricType::HISTOGRAM => {
                    let h = m.get_histogram();
                    for b in h.get_bucket() {
                        let le = format_float(b.upper_bound());
                        sample(
                            &mut out,
                            &format!("{base}_bucket"),
                            &labels,
                            Some(("le", &le)),
                            b.cumulative_count() as f64,
                        );
                    }
                    sample(
                        &mut out,
                        &format!("{base}_bucket"),
                        &labels,
                        Some(("le", "+Inf")),
                        h.get_sample_count() as f64,
                    );
                    sample(
                        &mut out,
                        &format!("{base}_sum"),
                        &labels,
                        None,
                        h.get_sample_sum(),
                    );
                    sample(
                        &mut out,
                        &format!("{base}_count"),
                        &labels,
                        None,
                        h.get_sample_count() as f64,
                    );
                }
                MetricType::SUMMARY => {
                    let s = m.get_summary();
                    for q in s.get_quantile() {
                        let qs = format_float(q.quantile());
                        sample(&mut out, base, &labels, Some(("quantile", &qs)), q.value());
                    }
                    sample(
                        &mut out,
                        &format!("{base}_sum"),
                        &labels,
                        None,
                        s.sample_sum(),
                    );
                    sample(
                        &mut out,
                        &format!("{base}_count"),
                        &labels,
                        None,
                        s.sample_count() as f64,
                    );
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn sample(
    out: &mut String,
    name: &str,
    labels: &[(String, String)],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        for (k, v) in labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra)
        {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{k}=\"{}\"", escape(v, true));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_float(value));
}

fn format_float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

fn escape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_counters_drop_the_suffix_in_metadata() {
        let r = prometheus::Registry::new();
        let c = prometheus::IntCounterVec::new(
            prometheus::Opts::new("x_events_total", "help \"me\""),
            &["k"],
        )
        .unwrap();
        c.with_label_values(&["a\"b"]).inc_by(3);
        r.register(Box::new(c)).unwrap();
        let text = String::from_utf8(encode(&r.gather(), Format::OpenMetrics)).unwrap();
        assert!(text.contains("# TYPE x_events counter\n"), "{text}");
        assert!(text.contains("x_events_total{k=\"a\\\"b\"} 3\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
    }

    /// Regression: a `"` in HELP text was written unescaped, which OpenMetrics forbids.
    #[test]
    fn openmetrics_help_escapes_quotes_backslashes_and_newlines() {
        let r = prometheus::Registry::new();
        let c = prometheus::IntCounter::new("y_total", "say \"hi\" \\ then\nmore").unwrap();
        r.register(Box::new(c)).unwrap();
        let text = String::from_utf8(encode(&r.gather(), Format::OpenMetrics)).unwrap();
        assert!(
            text.contains("# HELP y say \\\"hi\\\" \\\\ then\\nmore\n"),
            "{text}"
        );
    }

    /// Regression: any mention of OpenMetrics chose it, whatever its `q`.
    #[test]
    fn accept_negotiation_honours_q() {
        use Format::*;
        let cases = [
            (None, Prometheus),
            (Some(""), Prometheus),
            (Some("application/openmetrics-text"), OpenMetrics),
            (Some("application/openmetrics-text;q=0"), Prometheus),
            (
                Some("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.6"),
                Prometheus,
            ),
            (
                Some(
                    "text/plain;version=0.0.4;q=0.3,application/openmetrics-text;version=1.0.0;q=0.8",
                ),
                OpenMetrics,
            ),
            // What Prometheus 2.x/3.x sends.
            (
                Some(
                    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                ),
                OpenMetrics,
            ),
            // A version we do not serve.
            (
                Some("application/openmetrics-text;version=0.0.1"),
                Prometheus,
            ),
            (
                Some("application/openmetrics-text;q=0.5,*/*;q=0.5"),
                Prometheus,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }
}
