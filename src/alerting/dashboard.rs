//! `trailwatch dashboard`: the Grafana dashboard for the configured filters and alarms — a panel
//! per filter (its metric per 5 minutes), the alarms' states, and trailwatch's own health.

use serde_json::{Value, json};

use super::Alarm;
use crate::config::FilterPlan;

const PROMETHEUS: &str = "prometheus";

/// trailwatch's own health: the stat row.
fn health_stats() -> Value {
    json!([
      {
        "type": "stat",
        "title": "Events/s",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum(rate(trailwatch_events_received_total[5m]))"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "ops"
          },
          "overrides": []
        },
        "options": {
          "reduceOptions": {
            "calcs": [
              "lastNotNull"
            ]
          }
        }
      },
      {
        "type": "stat",
        "title": "Filter matches (range)",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum(increase(trailwatch_filter_matches_total[$__range]))"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "short"
          },
          "overrides": []
        },
        "options": {
          "reduceOptions": {
            "calcs": [
              "lastNotNull"
            ]
          }
        }
      },
      {
        "type": "stat",
        "title": "Rejected events (range)",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum(increase(trailwatch_events_rejected_total[$__range]))"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "short"
          },
          "overrides": []
        },
        "options": {
          "reduceOptions": {
            "calcs": [
              "lastNotNull"
            ]
          }
        }
      },
      {
        "type": "stat",
        "title": "Events waiting in sinks",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum(trailwatch_sink_buffered{unit=\"events\"})"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "short"
          },
          "overrides": []
        },
        "options": {
          "reduceOptions": {
            "calcs": [
              "lastNotNull"
            ]
          }
        }
      }
    ])
}

/// trailwatch's own health: time series.
fn health_series() -> Value {
    json!([
      {
        "type": "timeseries",
        "title": "Events received by source",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum by (source) (rate(trailwatch_events_received_total[5m]))",
            "legendFormat": "{{source}}"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "ops",
            "custom": {
              "stacking": {
                "mode": "none"
              }
            }
          },
          "overrides": []
        },
        "options": {
          "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": [
              "sum"
            ]
          }
        }
      },
      {
        "type": "timeseries",
        "title": "Rejected events by reason",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum by (reason) (rate(trailwatch_events_rejected_total[5m]))",
            "legendFormat": "{{reason}}"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "ops",
            "custom": {
              "stacking": {
                "mode": "none"
              }
            }
          },
          "overrides": []
        },
        "options": {
          "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": [
              "sum"
            ]
          }
        }
      },
      {
        "type": "timeseries",
        "title": "Sink deliveries",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum by (sink, outcome) (rate(trailwatch_sink_events_total[5m]))",
            "legendFormat": "{{sink}} {{outcome}}"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "ops",
            "custom": {
              "stacking": {
                "mode": "none"
              }
            }
          },
          "overrides": []
        },
        "options": {
          "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": [
              "sum"
            ]
          }
        }
      },
      {
        "type": "timeseries",
        "title": "Pipeline and sink buffers",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "trailwatch_pipeline_queue_bytes or sum by (sink) (trailwatch_sink_buffered{unit=\"bytes\"})",
            "legendFormat": "{{sink}}"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "bytes",
            "custom": {
              "stacking": {
                "mode": "none"
              }
            }
          },
          "overrides": []
        },
        "options": {
          "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": [
              "sum"
            ]
          }
        }
      },
      {
        "type": "timeseries",
        "title": "Sink request latency (p99)",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "histogram_quantile(0.99, sum by (le, sink) (rate(trailwatch_sink_request_duration_seconds_bucket[5m])))",
            "legendFormat": "{{sink}}"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "s",
            "custom": {
              "stacking": {
                "mode": "none"
              }
            }
          },
          "overrides": []
        },
        "options": {
          "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": [
              "sum"
            ]
          }
        }
      },
      {
        "type": "timeseries",
        "title": "Label sets dropped by the series cap",
        "datasource": {
          "type": "prometheus",
          "uid": "prometheus"
        },
        "targets": [
          {
            "refId": "A",
            "datasource": {
              "type": "prometheus",
              "uid": "prometheus"
            },
            "expr": "sum by (metric) (increase(trailwatch_series_dropped_total[5m]))",
            "legendFormat": "{{metric}}"
          }
        ],
        "fieldConfig": {
          "defaults": {
            "unit": "short",
            "custom": {
              "stacking": {
                "mode": "none"
              }
            }
          },
          "overrides": []
        },
        "options": {
          "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": [
              "sum"
            ]
          }
        }
      }
    ])
}

/// Forwarded events that matched, from Loki.
fn logs_panel() -> Value {
    json!({
      "type": "logs",
      "title": "Events that matched a filter (Loki)",
      "datasource": {
        "type": "loki",
        "uid": "loki"
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "loki",
            "uid": "loki"
          },
          "expr": "{job=\"cloudtrail\"} |= `\"filters\":[\"`"
        }
      ],
      "options": {
        "showTime": true,
        "wrapLogMessage": true
      }
    })
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": PROMETHEUS})
}

fn series_panel(title: &str, expr: &str, legend: &str, unit: &str) -> Value {
    json!({
        "type": "timeseries",
        "title": title,
        "datasource": datasource(),
        "targets": [{"refId": "A", "datasource": datasource(), "expr": expr, "legendFormat": legend}],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
    })
}

/// One panel per filter: the values it published per 5 minutes, by dimension.
fn filter_panels(plan: &FilterPlan) -> Vec<Value> {
    plan.set
        .filters()
        .iter()
        .zip(&plan.outputs)
        .map(|(filter, out)| {
            let family = &plan.families[out.family];
            let by = if out.dimension_labels.is_empty() {
                "filter".to_owned()
            } else {
                format!("filter, {}", out.dimension_labels.join(", "))
            };
            let legend = if out.dimension_labels.is_empty() {
                "{{filter}}".to_owned()
            } else {
                out.dimension_labels
                    .iter()
                    .map(|l| format!("{{{{{l}}}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let selector = format!(
                "{}{{filter={}}}",
                family.name,
                serde_json::to_string(filter.name()).unwrap_or_default()
            );
            series_panel(
                &format!(
                    "{}: {}/{} per 5 minutes",
                    filter.name(),
                    family.namespace,
                    family.metric_name
                ),
                &format!("sum by ({by}) (increase({selector}[5m]))"),
                &legend,
                "short",
            )
        })
        .collect()
}

/// Trail health per account and region (`[trail_health]`).
fn trail_panels() -> Vec<Value> {
    vec![
        series_panel(
            "Trail: events by account and region",
            &format!(
                "sum by (account, region) (rate({}[5m]))",
                crate::trail::EVENTS
            ),
            "{{account}} {{region}}",
            "ops",
        ),
        series_panel(
            "Trail: age of the newest event by account and region",
            &format!(
                "time() - max by (account, region) ({})",
                crate::trail::NEWEST
            ),
            "{{account}} {{region}}",
            "s",
        ),
        series_panel(
            "Trail: delivery lag p90 by account and region",
            &format!(
                "histogram_quantile(0.9, sum by (account, region, le) (rate({}_bucket[10m])))",
                crate::trail::LAG
            ),
            "{{account}} {{region}}",
            "s",
        ),
    ]
}

/// The alarms' states: firing per alarm over time (Prometheus rules write `ALERTS`), and the
/// list of Grafana-managed alert rules of the `trailwatch` folder.
fn alarm_panels(alarms: &[Alarm]) -> Vec<Value> {
    let names: Vec<String> = alarms.iter().map(|a| regex_escape(&a.name)).collect();
    let selector = format!(
        "ALERTS{{alertstate=\"firing\",alarm=~{}}}",
        serde_json::to_string(&names.join("|")).unwrap_or_default()
    );
    vec![
        json!({
            "type": "state-timeline",
            "title": format!("Alarm states ({} alarms; Prometheus rules)", alarms.len()),
            "datasource": datasource(),
            "targets": [{
                "refId": "A",
                "datasource": datasource(),
                "expr": format!("max by (alarm) ({selector})"),
                "legendFormat": "{{alarm}}"
            }],
            "fieldConfig": {
                "defaults": {
                    "mappings": [{"type": "value", "options": {"1": {"text": "ALARM", "color": "red"}}}],
                    "noValue": "OK"
                },
                "overrides": []
            },
            "options": {"showValue": "never", "mergeValues": true}
        }),
        json!({
            "type": "alertlist",
            "title": "Alarms (Grafana-managed rules)",
            "options": {
                "viewMode": "list",
                "groupMode": "default",
                "maxItems": 50,
                "sortOrder": 1,
                "stateFilter": {"firing": true, "pending": true, "noData": true, "normal": true, "error": true},
                "alertName": "",
                "dashboardAlerts": false,
                "folder": {"title": "trailwatch"}
            }
        }),
        json!({
            "type": "stat",
            "title": "Alarms firing",
            "datasource": datasource(),
            "targets": [{
                "refId": "A",
                "datasource": datasource(),
                "expr": format!("count({selector}) or vector(0)")
            }],
            "fieldConfig": {"defaults": {"unit": "short", "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": null}, {"color": "red", "value": 1}]}}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}
        }),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Lays panels out in rows of `per_row` equal widths from `y`; returns the next free `y`.
fn place(panels: &mut Vec<Value>, items: Vec<Value>, per_row: u64, height: u64, y: u64) -> u64 {
    let w = 24 / per_row;
    let mut next = y;
    for (i, mut p) in items.into_iter().enumerate() {
        let i = i as u64;
        let (px, py) = ((i % per_row) * w, y + (i / per_row) * height);
        p["gridPos"] = json!({"x": px, "y": py, "w": w, "h": height});
        p["id"] = json!(panels.len() + 1);
        next = py + height;
        panels.push(p);
    }
    next
}

fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

/// The dashboard JSON.
pub fn dashboard(plan: &FilterPlan, alarms: &[Alarm], trail: bool) -> String {
    let mut panels = Vec::new();
    let mut y = place(&mut panels, array(health_stats()), 4, 4, 0);
    let mut alarm_row = alarm_panels(alarms);
    let timeline = alarm_row.remove(0);
    y = place(&mut panels, vec![timeline], 1, 8, y);
    y = place(&mut panels, alarm_row, 2, 8, y);
    y = place(&mut panels, filter_panels(plan), 3, 7, y);
    if trail {
        y = place(&mut panels, trail_panels(), 3, 8, y);
    }
    y = place(&mut panels, array(health_series()), 2, 8, y);
    let mut logs = logs_panel();
    logs["gridPos"] = json!({"x": 0, "y": y, "w": 24, "h": 12});
    logs["id"] = json!(panels.len() + 1);
    panels.push(logs);
    let doc = json!({
        "id": null,
        "uid": "trailwatch-cis",
        "title": "trailwatch: CloudTrail metric filters and alarms",
        "tags": ["cloudtrail", "trailwatch"],
        "schemaVersion": 39,
        "version": 1,
        "editable": false,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "annotations": {"list": [{
            "name": "Alerts",
            "datasource": datasource(),
            "enable": true,
            "expr": "ALERTS{alertstate=\"firing\"}",
            "iconColor": "red",
            "titleFormat": "{{alarm}}"
        }]},
        "panels": panels
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}
