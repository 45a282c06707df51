//! Metric filters from every origin (TOML, describe-metric-filters JSON, the built-in pack),
//! compiled into one filter set plus the Prometheus families their metrics feed.
//!
//! Each CloudWatch metric (namespace, name) becomes a counter family named
//! `snake(namespace)_snake(name)_total`, labelled `filter` plus one label per dimension. Several
//! filters may feed one family; the `filter` label tells them apart.

use std::collections::HashMap;
use std::sync::Arc;

use trailwatch_pattern::{Filter, FilterError, FilterSet, MetricSpec};

use super::SourceFile;
use super::aws::Origin;
use super::error::ConfigError;

/// A filter as configured, before compilation.
#[derive(Debug, Clone)]
pub struct FilterSpec {
    /// The filter name (`filter` label value).
    pub name: String,
    /// The pattern text.
    pub pattern: String,
    /// Where the pattern text is, for error positions.
    pub pattern_origin: Origin,
    /// CloudWatch metric namespace.
    pub namespace: String,
    /// CloudWatch metric name.
    pub metric_name: String,
    /// The metric value.
    pub value: String,
    /// Published for non-matching events.
    pub default_value: Option<f64>,
    /// (dimension name, field reference).
    pub dimensions: Vec<(String, String)>,
    /// CloudWatch unit.
    pub unit: Option<String>,
    /// An explicit Prometheus family name.
    pub prometheus_name: Option<String>,
    /// The file it came from.
    pub file: Option<Arc<SourceFile>>,
}

/// A Prometheus counter family fed by one or more filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family (and sample) name, ending in `_total`.
    pub name: String,
    /// `# HELP` text.
    pub help: String,
    /// The CloudWatch namespace it stands for (alarms name metrics by namespace and name).
    pub namespace: String,
    /// The CloudWatch metric name it stands for.
    pub metric_name: String,
}

/// Where one filter's published values go.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricOutput {
    /// Index into [`FilterPlan::families`].
    pub family: usize,
    /// Label names after `filter`: the sanitised dimension names, in the filter's order.
    pub dimension_labels: Vec<String>,
    /// The CloudWatch dimension names, in the same order as `dimension_labels`.
    pub dimension_names: Vec<String>,
}

/// The compiled filters and the families they feed. Filter id `i` of `set` publishes into
/// `outputs[i]`.
#[derive(Debug, Clone)]
pub struct FilterPlan {
    /// The filters, evaluated together.
    pub set: Arc<FilterSet>,
    /// Per filter id.
    pub outputs: Vec<MetricOutput>,
    /// Distinct families.
    pub families: Vec<Family>,
    /// The Sigma rules, evaluated beside the filters.
    pub sigma: Arc<crate::sigma::SigmaPlan>,
    /// The filters as configured (for `trailwatch filters`).
    pub specs: Arc<[FilterSpec]>,
}

impl FilterPlan {
    /// Compiles `specs`. Errors name the file, line and column of the offending pattern.
    pub fn compile(specs: &[FilterSpec]) -> Result<FilterPlan, ConfigError> {
        let mut filters = Vec::with_capacity(specs.len());
        let mut outputs = Vec::with_capacity(specs.len());
        let mut families: Vec<Family> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut seen: HashMap<(String, String), ()> = HashMap::new();
        for spec in specs {
            let metric = MetricSpec {
                value: spec.value.clone(),
                default_value: spec.default_value,
                dimensions: spec.dimensions.clone(),
                unit: spec.unit.clone(),
            };
            let filter = Filter::compile(&spec.name, &spec.pattern, &metric)
                .map_err(|e| filter_error(spec, &e))?;
            let family_name = match &spec.prometheus_name {
                Some(n) => {
                    if !valid_metric_name(n) {
                        return Err(spec_error(
                            spec,
                            format!("'{n}' is not a valid Prometheus metric name"),
                        ));
                    }
                    if n.ends_with("_total") {
                        n.clone()
                    } else {
                        format!("{n}_total")
                    }
                }
                None => format!(
                    "{}_{}_total",
                    snake(&spec.namespace),
                    snake(&spec.metric_name)
                ),
            };
            if family_name.starts_with("trailwatch_") {
                return Err(spec_error(
                    spec,
                    format!("metric '{family_name}' would clash with trailwatch's own metrics"),
                ));
            }
            if seen
                .insert((family_name.clone(), spec.name.clone()), ())
                .is_some()
            {
                return Err(spec_error(
                    spec,
                    format!(
                        "filter '{}' is defined twice for metric '{family_name}'",
                        spec.name
                    ),
                ));
            }
            let family =
                *by_name.entry(family_name.clone()).or_insert_with(|| {
                    families.push(Family {
                    name: family_name.clone(),
                    help: format!(
                        "CloudWatch metric {}/{}: sum of the values published by matching events{}",
                        spec.namespace,
                        spec.metric_name,
                        spec.unit.as_ref().map(|u| format!(" (unit: {u})")).unwrap_or_default()
                    ),
                    namespace: spec.namespace.clone(),
                    metric_name: spec.metric_name.clone(),
                });
                    families.len() - 1
                });
            let mut dimension_labels = Vec::new();
            for (d, _) in &spec.dimensions {
                let mut label = snake(d);
                if label == "filter" || label.starts_with("__") {
                    label = format!("dimension_{label}");
                }
                if dimension_labels.contains(&label) {
                    return Err(spec_error(
                        spec,
                        format!(
                            "dimensions of '{}' map to the same label '{label}'",
                            spec.name
                        ),
                    ));
                }
                dimension_labels.push(label);
            }
            filters.push(filter);
            outputs.push(MetricOutput {
                family,
                dimension_labels,
                dimension_names: spec.dimensions.iter().map(|(d, _)| d.clone()).collect(),
            });
        }
        Ok(FilterPlan {
            set: Arc::new(FilterSet::new(filters)),
            outputs,
            families,
            sigma: Arc::default(),
            specs: specs.into(),
        })
    }
}

/// An error about a whole filter entry.
fn spec_error(spec: &FilterSpec, message: String) -> ConfigError {
    let located = match (&spec.file, &spec.pattern_origin) {
        (Some(f), Origin::Toml { span }) => Some((f, span.start)),
        (Some(f), Origin::Json { offset: Some(o) }) => Some((f, *o)),
        _ => None,
    };
    match located {
        Some((f, offset)) => ConfigError::at(&f.path, &f.text, offset, message),
        None => match &spec.file {
            Some(f) => ConfigError::in_file(&f.path, message),
            None => ConfigError::flag(message),
        },
    }
}

/// A compile error, placed at the offending character of the pattern inside its file.
fn filter_error(spec: &FilterSpec, e: &FilterError) -> ConfigError {
    let message = format!("filter '{}': {e}", spec.name);
    let FilterError::Pattern(p) = e else {
        return spec_error(spec, message);
    };
    let prefix = spec.pattern.get(..p.offset).unwrap_or(&spec.pattern);
    // The pattern's characters up to the error, as written in the file: escaped the way JSON and
    // TOML basic strings escape (`\"`, `\\`), or verbatim in TOML literal strings.
    let escaped_len = serde_json::to_string(prefix).map_or(prefix.len(), |s| s.len() - 2);
    let offset = match (&spec.file, &spec.pattern_origin) {
        (Some(f), Origin::Toml { span }) => {
            let token = f.text.get(span.clone()).unwrap_or("");
            let quote = if token.starts_with("'''") || token.starts_with("\"\"\"") {
                3
            } else {
                1
            };
            let inner = if token.starts_with('\'') {
                prefix.len()
            } else {
                escaped_len
            };
            Some((f, span.start + quote + inner))
        }
        (Some(f), Origin::Json { offset: Some(o) }) => Some((f, o + 1 + escaped_len)),
        _ => None,
    };
    match offset {
        Some((f, offset)) => ConfigError::at(&f.path, &f.text, offset, message),
        None => spec_error(spec, message),
    }
}

/// `CISBenchmark` → `cis_benchmark`, `loginFailureCount` → `login_failure_count`,
/// `AWS/EC2` → `aws_ec2`: lower snake case, only `[a-z0-9_]`, never starting with a digit.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let mut s = trimmed.replace("__", "_");
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    if s.is_empty() {
        s.push_str("metric");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake("LogMetrics"), "log_metrics");
        assert_eq!(snake("loginFailureCount"), "login_failure_count");
        assert_eq!(snake("CISBenchmark"), "cis_benchmark");
        assert_eq!(snake("root_usage_metric"), "root_usage_metric");
        assert_eq!(snake("AWS/EC2"), "aws_ec2");
        assert_eq!(snake("HTTPRequests5xx"), "http_requests5xx");
        assert_eq!(snake("9lives"), "_9lives");
        assert_eq!(snake("--"), "metric");
    }

    fn spec(name: &str, pattern: &str) -> FilterSpec {
        FilterSpec {
            name: name.into(),
            pattern: pattern.into(),
            pattern_origin: Origin::None,
            namespace: "LogMetrics".into(),
            metric_name: "loginFailureCount".into(),
            value: "1".into(),
            default_value: None,
            dimensions: vec![],
            unit: None,
            prometheus_name: None,
            file: None,
        }
    }

    #[test]
    fn families_are_shared_and_named() {
        let plan = FilterPlan::compile(&[spec("a", "ERROR"), spec("b", "WARN")]).unwrap();
        assert_eq!(plan.families.len(), 1);
        assert_eq!(
            plan.families[0].name,
            "log_metrics_login_failure_count_total"
        );
        assert!(FilterPlan::compile(&[spec("a", "ERROR"), spec("a", "WARN")]).is_err());
    }

    #[test]
    fn pattern_errors_point_into_the_file() {
        let text = "[[filters]]\nname = \"x\"\npattern = '{ $.a = }'\n".to_owned();
        let start = text.find('\'').unwrap();
        let file = Arc::new(SourceFile {
            path: "t.toml".into(),
            text: text.clone(),
        });
        let mut s = spec("x", "{ $.a = }");
        s.pattern_origin = Origin::Toml {
            span: start..start + 11,
        };
        s.file = Some(file);
        let e = FilterPlan::compile(&[s]).unwrap_err();
        assert_eq!(e.position, Some((3, 20)), "{e}");
        assert!(
            e.to_string().starts_with(
                "t.toml:3:20: filter 'x': invalid filter pattern: expected a value after '='"
            ),
            "{e}"
        );
    }
}
