//! Alarms → Grafana alert-rule provisioning (a file Grafana loads from `provisioning/alerting/`):
//! one Grafana-managed rule per alarm over the Prometheus datasource, with the same PromQL as the
//! Prometheus rules, plus contact points and a notification policy routing on `notify`, as an
//! example to fill in. The file is JSON, which Grafana's YAML reader accepts.

use serde_json::{Value, json};

use super::prometheus::{self as rules, alert_name};
use super::trail_rules::{TrailRule, trail_rules};
use super::{Alarm, MissingData};
use crate::trail::TrailSettings;

/// The Prometheus datasource's uid in the provisioned datasources.
pub const DATASOURCE_UID: &str = "prometheus";

/// A Grafana uid (at most 40 characters of `[A-Za-z0-9_-]`) stable for an alarm name.
pub fn rule_uid(name: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("trailwatch-{hash:016x}")
}

fn rule(alarm: &Alarm) -> Value {
    let mut labels = serde_json::Map::new();
    for (k, v) in rules::static_labels(alarm) {
        labels.insert(k, Value::String(v));
    }
    // With no datapoint at all: `ignore` keeps the state, `breaching` counts them (the query
    // already does), the others are not in ALARM.
    let no_data = match alarm.missing {
        MissingData::Ignore => "KeepLast",
        MissingData::Breaching => "Alerting",
        MissingData::Missing | MissingData::NotBreaching => "OK",
    };
    let lookback = u64::from(alarm.evaluation_periods) * alarm.period_secs + alarm.period_secs;
    json!({
        "uid": rule_uid(&alarm.name),
        "title": alarm.name,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": lookback.max(600), "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {
                    "refId": "A",
                    "expr": rules::breach_count(alarm),
                    "instant": true,
                    "range": false,
                    "legendFormat": alert_name(&alarm.name)
                }
            },
            {
                "refId": "C",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "math",
                    "expression": format!("$A >= {}", alarm.datapoints_to_alarm)
                }
            }
        ],
        "noDataState": no_data,
        "execErrState": "Error",
        "for": "0s",
        "labels": labels,
        "annotations": {
            "summary": rules::summary(alarm).replace("{{ $value }}", "{{ $values.A.Value }}"),
            "description": rules::description(alarm)
        },
        "isPaused": false
    })
}

fn trail_rule(r: &TrailRule) -> Value {
    let mut labels = serde_json::Map::new();
    for (k, v) in r.labels() {
        labels.insert(k, Value::String(v));
    }
    json!({
        "uid": rule_uid(r.alert),
        "title": r.alert,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {"refId": "A", "expr": r.query, "instant": true, "range": false}
            },
            {
                "refId": "C",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": {"refId": "C", "type": "math", "expression": format!("$A > {}", r.threshold)}
            }
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": "0s",
        "labels": labels,
        "annotations": {
            "summary": r.summary.replace("VALUE", "$values.A.Value"),
            "description": r.description
        },
        "isPaused": false
    })
}

/// A regex matching `target` as one element of the comma-separated `notify` label.
fn notify_regex(target: &str) -> String {
    let escaped: String = target
        .chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    format!("(.*,)?{escaped}(,.*)?")
}

/// The provisioning document: rule group, contact points and notification policy.
pub fn provisioning(
    alarms: &[Alarm],
    trail: Option<&TrailSettings>,
    anomalies: Option<&crate::anomaly::AnomalySettings>,
    origin: &str,
) -> String {
    let mut targets: Vec<&str> = alarms
        .iter()
        .flat_map(|a| a.notify.iter().map(String::as_str))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let mut contact_points = vec![json!({
        "orgId": 1,
        "name": "trailwatch-default",
        "receivers": [{
            "uid": "trailwatch-default",
            "type": "webhook",
            "settings": {"url": "http://alert-receiver.example.com:8080/trailwatch", "httpMethod": "POST"},
            "disableResolveMessage": false
        }]
    })];
    let mut routes = Vec::new();
    for t in &targets {
        let name = format!("trailwatch-notify-{t}");
        contact_points.push(json!({
            "orgId": 1,
            "name": name,
            "receivers": [{
                "uid": rule_uid(&name),
                "type": "webhook",
                "settings": {"url": format!("http://alert-receiver.example.com:8080/{t}"), "httpMethod": "POST"},
                "disableResolveMessage": false
            }]
        }));
        routes.push(json!({
            "receiver": name,
            "object_matchers": [["notify", "=~", notify_regex(t)]]
        }));
    }
    let doc = json!({
        "apiVersion": 1,
        "groups": [{
            "orgId": 1,
            "name": "trailwatch-alarms",
            "folder": "trailwatch",
            "interval": format!("{}s", rules::evaluation_interval(alarms)),
            "rules": alarms
                .iter()
                .map(rule)
                .chain(trail_rules(trail, anomalies).iter().map(trail_rule))
                .collect::<Vec<_>>()
        }],
        "contactPoints": contact_points,
        "policies": [{
            "orgId": 1,
            "receiver": "trailwatch-default",
            "group_by": ["alarm"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes
        }]
    });
    let body = serde_json::to_string_pretty(&doc).unwrap_or_default();
    format!(
        "# Generated by `trailwatch rules --format grafana{origin}`: Grafana alert rules (one per\n\
         # CloudWatch alarm, same PromQL as the Prometheus rules), contact points and a notification\n\
         # policy routing on `notify`: replace the example.com webhooks with yours. Grafana loads\n\
         # this from provisioning/alerting/ (JSON is YAML). Do not edit; regenerate.\n{body}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_and_short() {
        let u = rule_uid("RootUsage");
        assert_eq!(u, rule_uid("RootUsage"));
        assert_ne!(u, rule_uid("RootUsage2"));
        assert!(u.len() <= 40);
        assert!(u.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn notify_regexes_match_one_element() {
        assert_eq!(notify_regex("on.call"), "(.*,)?on\\.call(,.*)?");
    }
}
