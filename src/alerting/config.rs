//! Alarm definitions as written (`[[alarms]]` in TOML, the built-in pack) and the checks that bind
//! every definition, whatever its origin, to the filter metric it reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::{Alarm, BUILTIN_ALARMS, Comparison, MissingData, Statistic, Target};
use crate::config::Overrides;
use crate::config::raw::{RawConfig, Str};
use crate::config::{Config, ConfigError, FilterPlan, SourceFile};
use crate::metrics::store::sample_count_family;

/// One `[[alarms]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlarm {
    /// `AlarmName` (the `alarm` label).
    pub name: Str,
    /// `AlarmDescription`.
    pub description: Option<String>,
    /// The filter whose metric the alarm reads (instead of `namespace` and `metric`).
    pub filter: Option<Str>,
    /// CloudWatch metric namespace.
    pub namespace: Option<Str>,
    /// CloudWatch metric name.
    pub metric: Option<Str>,
    /// Dimension name → value.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// "Sum" (default), "SampleCount" or "Average".
    pub statistic: Option<Str>,
    /// Period: "5m", "60s" or seconds (default 5 minutes).
    pub period: Option<Spanned<toml::Value>>,
    /// N (default 1).
    pub evaluation_periods: Option<u32>,
    /// M (default N).
    pub datapoints_to_alarm: Option<u32>,
    /// A threshold ComparisonOperator, or `>=`, `>`, `<`, `<=` (default `>=`).
    pub comparison: Option<Str>,
    /// The threshold.
    pub threshold: Spanned<f64>,
    /// "missing" (default), "notBreaching", "breaching" or "ignore".
    pub treat_missing_data: Option<Str>,
    /// Extra alert labels (`severity` defaults to "warning").
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Notification targets (like AlarmActions; the `notify` label).
    #[serde(default)]
    pub notify: Vec<String>,
}

/// The built-in pack's file: only alarms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmFile {
    alarms: Vec<RawAlarm>,
}

/// Where a definition's text is, to locate errors.
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    pub file: Option<Arc<SourceFile>>,
}

impl Locator {
    pub fn error(&self, offset: Option<usize>, message: String) -> ConfigError {
        match (&self.file, offset) {
            (Some(f), Some(o)) => ConfigError::at(&f.path, &f.text, o, message),
            (Some(f), None) => ConfigError::in_file(&f.path, message),
            (None, _) => ConfigError::flag(message),
        }
    }
}

/// An alarm as defined, from any origin, before it is checked.
#[derive(Debug, Clone)]
pub(crate) struct AlarmDef {
    pub name: String,
    pub description: Option<String>,
    pub filter: Option<String>,
    pub namespace: Option<String>,
    pub metric: Option<String>,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
    pub period_secs: Result<u64, String>,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: Option<u32>,
    pub comparison: String,
    pub threshold: f64,
    pub missing: Option<String>,
    pub labels: Vec<(String, String)>,
    pub notify: Vec<String>,
    /// Something CloudWatch has that the rules cannot express, refused at check time.
    pub unsupported: Option<String>,
    pub at: Locator,
    /// Offsets of the entry and of some fields in the file.
    pub offset: Option<usize>,
    pub statistic_offset: Option<usize>,
    pub comparison_offset: Option<usize>,
    pub period_offset: Option<usize>,
}

/// Reads `[[alarms]]` entries of a TOML file.
fn toml_defs(alarms: &[RawAlarm], at: &Locator) -> Vec<AlarmDef> {
    alarms
        .iter()
        .map(|a| AlarmDef {
            name: a.name.get_ref().clone(),
            description: a.description.clone(),
            filter: a.filter.as_ref().map(|f| f.get_ref().clone()),
            namespace: a.namespace.as_ref().map(|f| f.get_ref().clone()),
            metric: a.metric.as_ref().map(|f| f.get_ref().clone()),
            dimensions: a
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            statistic: a
                .statistic
                .as_ref()
                .map_or_else(|| "Sum".to_owned(), |s| s.get_ref().clone()),
            period_secs: match a.period.as_ref().map(|p| p.get_ref()) {
                None => Ok(300),
                Some(toml::Value::Integer(i)) if *i > 0 => Ok(*i as u64),
                Some(toml::Value::String(s)) => crate::config::units::parse_duration(s)
                    .map_err(|e| e.to_string())
                    .and_then(|d| {
                        if d.subsec_nanos() == 0 {
                            Ok(d.as_secs())
                        } else {
                            Err(format!("period '{s}' is not a whole number of seconds"))
                        }
                    }),
                Some(_) => Err("period: expected seconds or a duration such as \"5m\"".into()),
            },
            evaluation_periods: a.evaluation_periods.unwrap_or(1),
            datapoints_to_alarm: a.datapoints_to_alarm,
            comparison: a
                .comparison
                .as_ref()
                .map_or_else(|| ">=".to_owned(), |s| s.get_ref().clone()),
            threshold: *a.threshold.get_ref(),
            missing: a.treat_missing_data.as_ref().map(|s| s.get_ref().clone()),
            labels: a
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            notify: a.notify.clone(),
            unsupported: None,
            at: at.clone(),
            offset: Some(a.name.span().start),
            statistic_offset: a.statistic.as_ref().map(|s| s.span().start),
            comparison_offset: a.comparison.as_ref().map(|s| s.span().start),
            period_offset: a.period.as_ref().map(|s| s.span().start),
        })
        .collect()
}

/// Adds the configured alarms to `config`, checked against its filters: `[[alarms]]`,
/// `aws_alarms` files (relative to the configuration file) and, when the built-in filters are in
/// use, the built-in CIS alarms (an alarm of the same name defined by the user replaces one).
pub fn attach(
    mut config: Config,
    raw: &RawConfig,
    args: &Overrides,
    file: Option<&Arc<SourceFile>>,
) -> Result<Config, ConfigError> {
    let at = Locator {
        file: file.cloned(),
    };
    let mut defs = toml_defs(&raw.alarms, &at);
    for p in &raw.aws_alarms {
        let path = PathBuf::from(p.get_ref());
        let path = match file {
            Some(f) if path.is_relative() => {
                f.path.parent().map_or(path.clone(), |d| d.join(&path))
            }
            _ => path,
        };
        defs.extend(super::aws::load(&Arc::new(read(&path)?))?);
    }
    // The same rule as the filters: the built-in pack is in unless other filters are given.
    let builtin_filters = raw.builtin_filters.unwrap_or(
        raw.filters.is_empty()
            && raw.aws_metric_filters.is_empty()
            && args.aws_metric_filters.is_empty(),
    );
    let mut all = if builtin_filters {
        builtin_defs()?
    } else {
        Vec::new()
    };
    all.retain(|b| !defs.iter().any(|d| d.name == b.name));
    all.extend(defs);
    config.alarms = check_all(&all, &config.filters)?;
    config.trail_health = raw
        .trail_health
        .as_ref()
        .map(|t| trail_settings(t, &at))
        .transpose()?;
    Ok(config)
}

fn trail_settings(
    raw: &crate::trail::RawTrailHealth,
    at: &Locator,
) -> Result<crate::trail::TrailSettings, ConfigError> {
    let secs = |v: &Option<Str>, default: u64| -> Result<u64, ConfigError> {
        let Some(v) = v else {
            return Ok(default);
        };
        crate::config::units::parse_duration(v.get_ref())
            .map_err(|e| e.to_string())
            .map(|d| d.as_secs())
            .and_then(|s| {
                if s == 0 {
                    Err("trail_health durations must be at least 1s".into())
                } else {
                    Ok(s)
                }
            })
            .map_err(|m| at.error(Some(v.span().start), m))
    };
    Ok(crate::trail::TrailSettings {
        silence_secs: secs(&raw.silence, 3600)?,
        delivery_lag_secs: secs(&raw.delivery_lag, 900)?,
        alerts: raw.alerts.unwrap_or(true),
    })
}

/// Adds the alarms of `aws cloudwatch describe-alarms` files to checked ones.
pub fn add_aws_files(
    alarms: &mut Vec<Alarm>,
    files: &[PathBuf],
    plan: &FilterPlan,
) -> Result<(), ConfigError> {
    let mut defs = Vec::new();
    for path in files {
        defs.extend(super::aws::load(&Arc::new(read(path)?))?);
    }
    for d in &defs {
        if alarms.iter().any(|a| a.name == d.name) {
            return Err(d
                .at
                .error(d.offset, format!("two alarms are named '{}'", d.name)));
        }
    }
    let checked = check_all(&defs, plan)?;
    alarms.extend(checked);
    Ok(())
}

fn read(path: &Path) -> Result<SourceFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::in_file(path, format!("cannot read: {e}")))?;
    Ok(SourceFile {
        path: path.to_owned(),
        text,
    })
}

fn builtin_defs() -> Result<Vec<AlarmDef>, ConfigError> {
    let file = Arc::new(SourceFile {
        path: "(built-in CIS alarms)".into(),
        text: BUILTIN_ALARMS.to_owned(),
    });
    let parsed: AlarmFile = toml::from_str(&file.text)
        .map_err(|e| ConfigError::in_file(&file.path, e.message().trim().to_owned()))?;
    Ok(toml_defs(&parsed.alarms, &Locator { file: Some(file) }))
}

fn check_all(defs: &[AlarmDef], plan: &FilterPlan) -> Result<Vec<Alarm>, ConfigError> {
    let mut out: Vec<Alarm> = Vec::with_capacity(defs.len());
    for d in defs {
        if out.iter().any(|a| a.name == d.name) {
            return Err(d
                .at
                .error(d.offset, format!("two alarms are named '{}'", d.name)));
        }
        out.push(check(d, plan)?);
    }
    Ok(out)
}

/// Labels the generated rules set themselves.
const RESERVED_LABELS: &[&str] = &["alarm", "namespace", "metric", "notify", "alertname"];

/// Checks one definition and binds it to the family that carries its metric.
pub(crate) fn check(d: &AlarmDef, plan: &FilterPlan) -> Result<Alarm, ConfigError> {
    let err = |offset: Option<usize>, m: String| d.at.error(offset.or(d.offset), m);
    let name = &d.name;
    if name.is_empty() {
        return Err(err(None, "an alarm needs a non-empty name".into()));
    }
    if let Some(why) = &d.unsupported {
        return Err(err(None, format!("alarm '{name}': {why}")));
    }
    let statistic = match d.statistic.as_str() {
        "Sum" => Statistic::Sum,
        "SampleCount" => Statistic::SampleCount,
        "Average" => Statistic::Average,
        "Minimum" | "Maximum" => {
            return Err(err(
                d.statistic_offset,
                format!(
                    "alarm '{name}': statistic {} cannot be computed from trailwatch's counters \
                     (they keep each period's sum and count, not its values); use Sum, \
                     SampleCount or Average",
                    d.statistic
                ),
            ));
        }
        s if is_percentile(s) => {
            return Err(err(
                d.statistic_offset,
                format!(
                    "alarm '{name}': percentile statistic '{s}' is not supported (trailwatch's \
                     counters keep sums and counts, not distributions); use Sum, SampleCount or \
                     Average"
                ),
            ));
        }
        s => {
            return Err(err(
                d.statistic_offset,
                format!(
                    "alarm '{name}': unknown statistic '{s}' (expected Sum, SampleCount or Average)"
                ),
            ));
        }
    };
    let comparison = match d.comparison.as_str() {
        "GreaterThanOrEqualToThreshold" | ">=" => Comparison::GreaterOrEqual,
        "GreaterThanThreshold" | ">" => Comparison::Greater,
        "LessThanThreshold" | "<" => Comparison::Less,
        "LessThanOrEqualToThreshold" | "<=" => Comparison::LessOrEqual,
        s @ ("LessThanLowerOrGreaterThanUpperThreshold"
        | "LessThanLowerThreshold"
        | "GreaterThanUpperThreshold") => {
            return Err(err(
                d.comparison_offset,
                format!(
                    "alarm '{name}': {s} compares against an anomaly-detection band, which \
                     cannot be expressed as a rule; use a threshold operator"
                ),
            ));
        }
        s => {
            return Err(err(
                d.comparison_offset,
                format!(
                    "alarm '{name}': unknown comparison '{s}' (expected \
                     GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, \
                     LessThanOrEqualToThreshold, or >=, >, <, <=)"
                ),
            ));
        }
    };
    let period_secs = d
        .period_secs
        .clone()
        .map_err(|m| err(d.period_offset, format!("alarm '{name}': {m}")))?;
    if !(matches!(period_secs, 10 | 20 | 30) || (period_secs >= 60 && period_secs % 60 == 0)) {
        return Err(err(
            d.period_offset,
            format!(
                "alarm '{name}': period {period_secs}s is not one CloudWatch allows (10, 20, 30 \
                 seconds or a multiple of 60)"
            ),
        ));
    }
    let n = d.evaluation_periods;
    let m = d.datapoints_to_alarm.unwrap_or(n);
    if n == 0 || m == 0 || m > n {
        return Err(err(
            None,
            format!(
                "alarm '{name}': needs 1 <= datapoints_to_alarm ({m}) <= evaluation_periods ({n})"
            ),
        ));
    }
    if u64::from(n) * period_secs > 7 * 86_400 {
        return Err(err(
            None,
            format!("alarm '{name}': evaluation_periods x period exceeds 7 days"),
        ));
    }
    if !d.threshold.is_finite() {
        return Err(err(
            None,
            format!("alarm '{name}': the threshold must be a number"),
        ));
    }
    let missing = match d.missing.as_deref() {
        None | Some("missing") => MissingData::Missing,
        Some("notBreaching") => MissingData::NotBreaching,
        Some("breaching") => MissingData::Breaching,
        Some("ignore") => MissingData::Ignore,
        Some(s) => {
            return Err(err(
                None,
                format!(
                    "alarm '{name}': TreatMissingData '{s}' (expected missing, notBreaching, \
                     breaching or ignore)"
                ),
            ));
        }
    };
    let (namespace, metric, target) = bind(d, plan)?;
    let mut labels: Vec<(String, String)> = d.labels.clone();
    for (k, _) in &labels {
        let taken = RESERVED_LABELS.contains(&k.as_str())
            || target.dimension_labels.iter().any(|(l, _)| l == k);
        if !valid_label(k) || k.starts_with("__") || taken {
            return Err(err(
                None,
                format!("alarm '{name}': '{k}' cannot be a label (invalid, or set by trailwatch)"),
            ));
        }
    }
    if !labels.iter().any(|(k, _)| k == "severity") {
        labels.push(("severity".into(), "warning".into()));
    }
    labels.sort();
    Ok(Alarm {
        name: name.clone(),
        description: d.description.clone(),
        namespace,
        metric,
        dimensions: d.dimensions.clone(),
        statistic,
        period_secs,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        comparison,
        threshold: d.threshold,
        missing,
        labels,
        notify: d.notify.iter().map(|a| notify_target(a)).collect(),
        target,
    })
}

/// Finds the family carrying the alarm's metric with exactly its dimensions.
fn bind(d: &AlarmDef, plan: &FilterPlan) -> Result<(String, String, Target), ConfigError> {
    let name = &d.name;
    let err = |m: String| d.at.error(d.offset, m);
    let family = match (&d.filter, &d.namespace, &d.metric) {
        (Some(f), None, None) => {
            let id = plan
                .set
                .filters()
                .iter()
                .position(|x| x.name() == f)
                .ok_or_else(|| {
                    err(format!(
                        "alarm '{name}' reads filter '{f}', which is not configured (filters: {})",
                        list(plan.set.filters().iter().map(|x| x.name().to_owned()))
                    ))
                })?;
            plan.outputs[id].family
        }
        (None, Some(ns), Some(metric)) => plan
            .families
            .iter()
            .position(|fam| &fam.namespace == ns && &fam.metric_name == metric)
            .ok_or_else(|| {
                err(format!(
                    "alarm '{name}' reads metric {ns}/{metric}, which no configured filter \
                     produces (filters produce: {})",
                    list(
                        plan.families
                            .iter()
                            .map(|f| format!("{}/{}", f.namespace, f.metric_name))
                    )
                ))
            })?,
        _ => {
            return Err(err(format!(
                "alarm '{name}': give either `filter`, or `namespace` and `metric`"
            )));
        }
    };
    let fam = &plan.families[family];
    let feeding: Vec<_> = plan.outputs.iter().filter(|o| o.family == family).collect();
    let mut wanted: Vec<&str> = d.dimensions.iter().map(|(k, _)| k.as_str()).collect();
    wanted.sort_unstable();
    let exact = feeding.iter().find(|o| {
        let mut names: Vec<&str> = o.dimension_names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names == wanted
    });
    let Some(exact) = exact else {
        let published = list(feeding.iter().map(|o| {
            if o.dimension_names.is_empty() {
                "no dimensions".to_owned()
            } else {
                format!("dimensions [{}]", o.dimension_names.join(", "))
            }
        }));
        return Err(err(format!(
            "alarm '{name}' reads {}/{} with dimensions [{}], but the filters publish it only \
             with {published}; CloudWatch treats each set of dimensions as its own metric",
            fam.namespace,
            fam.metric_name,
            wanted.join(", ")
        )));
    };
    let label_of = |dim: &str| -> String {
        exact
            .dimension_names
            .iter()
            .zip(&exact.dimension_labels)
            .find(|(n, _)| n.as_str() == dim)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    };
    let dimension_labels: Vec<(String, String)> = d
        .dimensions
        .iter()
        .map(|(k, v)| (label_of(k), v.clone()))
        .collect();
    let mut all_labels: Vec<&String> = feeding.iter().flat_map(|o| &o.dimension_labels).collect();
    all_labels.sort();
    all_labels.dedup();
    let matchers = all_labels
        .into_iter()
        .map(|l| {
            let v = dimension_labels
                .iter()
                .find(|(dl, _)| dl == l)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (l.clone(), v)
        })
        .collect();
    Ok((
        fam.namespace.clone(),
        fam.metric_name.clone(),
        Target {
            family: fam.name.clone(),
            samples_family: sample_count_family(&fam.name),
            matchers,
            dimension_labels,
        },
    ))
}

fn list(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn is_percentile(s: &str) -> bool {
    // p99, p99.9, tm90, wm(10%:90%), PR(…), TC(…), TS(…), IQM …
    let lower = s.to_ascii_lowercase();
    ["p", "tm", "wm", "pr", "tc", "ts"].iter().any(|pre| {
        lower
            .strip_prefix(pre)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '('))
    }) || lower == "iqm"
}

fn valid_label(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `arn:aws:sns:us-east-1:123456789012:oncall` → `oncall`; other actions stay as given.
pub fn notify_target(action: &str) -> String {
    if action.starts_with("arn:") {
        if let Some(topic) = action.strip_prefix("arn:").and_then(|r| {
            let parts: Vec<&str> = r.splitn(5, ':').collect();
            (parts.len() == 5 && parts[1] == "sns").then(|| parts[4])
        }) {
            return topic.to_owned();
        }
    }
    action.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sns_topics_become_notify_targets() {
        assert_eq!(
            notify_target("arn:aws:sns:us-east-1:123456789012:oncall"),
            "oncall"
        );
        assert_eq!(
            notify_target("arn:aws:automate:us-east-1:ec2:stop"),
            "arn:aws:automate:us-east-1:ec2:stop"
        );
        assert_eq!(notify_target("pager"), "pager");
    }

    #[test]
    fn percentiles_are_recognised() {
        for s in [
            "p99",
            "p99.9",
            "tm90",
            "wm(10%:90%)",
            "PR(10:)",
            "TC(1:2)",
            "TS(5%:)",
            "IQM",
        ] {
            assert!(is_percentile(s), "{s}");
        }
        for s in ["Sum", "SampleCount", "pizza"] {
            assert!(!is_percentile(s), "{s}");
        }
    }

    #[test]
    fn the_builtin_pack_has_the_15_cis_alarms() {
        let defs = builtin_defs().unwrap();
        assert_eq!(defs.len(), 15);
        for d in &defs {
            assert_eq!(d.statistic, "Sum");
            assert_eq!(d.period_secs, Ok(300));
            assert_eq!(d.evaluation_periods, 1);
            assert_eq!(d.threshold, 1.0);
            assert!(d.labels.iter().any(|(k, _)| k == "severity"), "{}", d.name);
        }
    }
}
