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
    /// Picks the format from an `Accept` header (OpenMetrics only when asked for).
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
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
        let _ = writeln!(out, "# HELP {base} {}", escape(mf.help(), false));
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
}
