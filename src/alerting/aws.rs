//! The JSON printed by `aws cloudwatch describe-alarms`, loaded as-is: `MetricAlarms[]` become
//! alarm definitions; what the rules cannot express (metric math, composite alarms, percentiles)
//! is kept and refused with a message when checked. Fields we do not use are ignored.

use std::sync::Arc;

use serde::Deserialize;

use super::config::{AlarmDef, Locator};
use crate::config::{ConfigError, SourceFile};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    #[serde(default)]
    metric_alarms: Vec<MetricAlarm>,
    #[serde(default)]
    composite_alarms: Vec<CompositeAlarm>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompositeAlarm {
    alarm_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricAlarm {
    alarm_name: String,
    alarm_description: Option<String>,
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    period: Option<u64>,
    evaluation_periods: u32,
    datapoints_to_alarm: Option<u32>,
    threshold: Option<f64>,
    threshold_metric_id: Option<String>,
    comparison_operator: String,
    treat_missing_data: Option<String>,
    #[serde(default)]
    dimensions: Vec<Dimension>,
    #[serde(default)]
    alarm_actions: Vec<String>,
    #[serde(default)]
    metrics: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Dimension {
    name: String,
    value: String,
}

/// Reads the alarms of one describe-alarms document.
pub(crate) fn load(file: &Arc<SourceFile>) -> Result<Vec<AlarmDef>, ConfigError> {
    let doc: Document = serde_json::from_str(&file.text).map_err(|e| ConfigError {
        file: Some(file.path.clone()),
        position: (e.line() > 0).then(|| (e.line(), e.column().max(1))),
        message: format!("not a describe-alarms document: {e}"),
    })?;
    let at = Locator {
        file: Some(file.clone()),
    };
    if let Some(c) = doc.composite_alarms.first() {
        return Err(at.error(
            locate(&file.text, &c.alarm_name),
            format!(
                "composite alarm '{}' combines other alarms' states, which cannot be expressed \
                 as a rule over trailwatch's metrics; remove it from CompositeAlarms",
                c.alarm_name
            ),
        ));
    }
    Ok(doc
        .metric_alarms
        .into_iter()
        .map(|a| {
            let unsupported = if !a.metrics.is_empty() {
                Some(
                    "metric math (Metrics[]) cannot be expressed; alarm on a single metric"
                        .to_owned(),
                )
            } else if a.threshold_metric_id.is_some() {
                Some("a threshold from a metric (ThresholdMetricId, anomaly detection) cannot be expressed".to_owned())
            } else if a.metric_name.is_none() || a.namespace.is_none() {
                Some("it has no MetricName and Namespace".to_owned())
            } else if a.threshold.is_none() {
                Some("it has no Threshold".to_owned())
            } else if a.period.is_none() {
                Some("it has no Period".to_owned())
            } else {
                None
            };
            let offset = locate(&file.text, &a.alarm_name);
            AlarmDef {
                name: a.alarm_name,
                description: a.alarm_description,
                filter: None,
                namespace: a.namespace,
                metric: a.metric_name,
                dimensions: a.dimensions.into_iter().map(|d| (d.name, d.value)).collect(),
                // A percentile comes as ExtendedStatistic (p99) instead of Statistic.
                statistic: a
                    .statistic
                    .or(a.extended_statistic)
                    .unwrap_or_else(|| "Sum".into()),
                period_secs: Ok(a.period.unwrap_or(0)),
                evaluation_periods: a.evaluation_periods,
                datapoints_to_alarm: a.datapoints_to_alarm,
                comparison: a.comparison_operator,
                threshold: a.threshold.unwrap_or(0.0),
                missing: a.treat_missing_data,
                labels: Vec::new(),
                notify: a.alarm_actions,
                unsupported,
                at: at.clone(),
                offset,
                statistic_offset: None,
                comparison_offset: None,
                period_offset: None,
            }
        })
        .collect())
}

/// The byte offset of `"AlarmName": "<name>"`'s value in `text` (best effort, for errors).
fn locate(text: &str, name: &str) -> Option<usize> {
    let encoded = serde_json::to_string(name).ok()?;
    let mut from = 0;
    while let Some(i) = text[from..].find(&encoded) {
        let at = from + i;
        let before = text[..at].trim_end();
        if before.ends_with(':')
            && before[..before.len() - 1]
                .trim_end()
                .ends_with("\"AlarmName\"")
        {
            return Some(at);
        }
        from = at + encoded.len();
    }
    text.find(&encoded)
}
