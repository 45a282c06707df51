//! The trail-health alerts (`[trail_health]`): an account and region that went silent, and
//! delivery lag above a threshold; and the anomaly alert (`[anomalies]`): any anomaly found.
//! Not CloudWatch alarms (CloudWatch has no such metric), but generated alongside them, with the
//! same labels.

use super::prometheus::period_text;
use crate::trail::{LAG, NEWEST, TrailSettings};

/// One generated rule, for both output formats.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailRule {
    /// The alert name (also the `alarm` label).
    pub alert: &'static str,
    /// The value compared (a Grafana query; the Prometheus rule adds `> threshold`).
    pub query: String,
    /// The threshold in seconds.
    pub threshold: u64,
    /// The `metric` label.
    pub metric: &'static str,
    /// The `summary` annotation (a template over `$labels` and `{{ VALUE }}`).
    pub summary: String,
    /// The `description` annotation.
    pub description: String,
}

impl TrailRule {
    /// The Prometheus expression.
    pub fn expression(&self) -> String {
        format!("{} > {}", self.query, self.threshold)
    }

    /// Static labels.
    pub fn labels(&self) -> Vec<(String, String)> {
        vec![
            ("alarm".into(), self.alert.into()),
            ("namespace".into(), "trailwatch".into()),
            ("metric".into(), self.metric.into()),
            ("severity".into(), "warning".into()),
        ]
    }
}

/// `trailwatch_anomalies_total`
const ANOMALIES: &str = "trailwatch_anomalies_total";

/// The rules for `settings` and `anomalies` (none for either when its alerts are off).
pub fn trail_rules(
    settings: Option<&TrailSettings>,
    anomalies: Option<&crate::anomaly::AnomalySettings>,
) -> Vec<TrailRule> {
    let mut rules = health_rules(settings);
    if anomalies.is_some_and(|a| a.alerts) {
        // Summed over instances (each sees part of the stream), per detector; the records
        // (anomaly sinks) say which principal and what was new.
        rules.push(TrailRule {
            alert: "TrailwatchAnomaly",
            query: format!("sum by (detector) (increase({ANOMALIES}[10m]))"),
            threshold: 0,
            metric: ANOMALIES,
            summary: "{{ VALUE }} {{ $labels.detector }} anomalies in the last 10 minutes".into(),
            description: "trailwatch's anomaly detectors reported activity unlike the \
                          principal's or account's history (see the anomaly records for who \
                          and what). README \"Anomaly detection\" explains each detector and \
                          how to silence a known source."
                .into(),
        });
    }
    rules
}

fn health_rules(settings: Option<&TrailSettings>) -> Vec<TrailRule> {
    let Some(s) = settings.filter(|s| s.alerts) else {
        return Vec::new();
    };
    // How far back the newest eventTime is remembered: a source silent since a restart of every
    // trailwatch instance still alerts for that long.
    let memory = s.silence_secs.saturating_mul(2).max(86_400);
    vec![
        TrailRule {
            alert: "TrailSilent",
            query: format!(
                "time() - max by (account, region) (max_over_time({NEWEST}[{memory}s]))"
            ),
            threshold: s.silence_secs,
            metric: NEWEST,
            summary: "No CloudTrail event from account {{ $labels.account }} in \
                      {{ $labels.region }} for {{ VALUE | humanizeDuration }}"
                .into(),
            description: format!(
                "The newest eventTime seen for this account and region is more than {} old: \
                 the trail may be off in this region, or its delivery stopped (a blind spot).",
                period_text(s.silence_secs)
            ),
        },
        TrailRule {
            alert: "TrailDeliveryLag",
            query: format!(
                "histogram_quantile(0.9, sum by (account, region, le) (rate({LAG}_bucket[10m])))"
            ),
            threshold: s.delivery_lag_secs,
            metric: LAG,
            summary:
                "CloudTrail events from account {{ $labels.account }} in {{ $labels.region }} \
                      arrive {{ VALUE | humanizeDuration }} after their eventTime (p90)"
                    .into(),
            description: format!(
                "The 90th percentile of delivery lag (arrival - eventTime) over 10 minutes is above \
                 {}: alarms on this source fire late.",
                period_text(s.delivery_lag_secs)
            ),
        },
    ]
}
