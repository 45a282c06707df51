//! Alarms → a Prometheus rule file (one alerting rule per alarm) with CloudWatch's semantics:
//! a datapoint is the statistic over one period on period boundaries (multiples of the period
//! since the epoch, as CloudWatch aligns them), computed exactly from trailwatch's counters; the
//! alarm fires when at least M of the last N complete datapoints breach, missing datapoints (no
//! scrape in the period) counted as `TreatMissingData` says.

use std::fmt::Write as _;

use super::{Alarm, MissingData, Statistic};

/// How far back a period's datapoint looks for the counter's value at the previous boundary
/// (at least one period). Longer scrape gaps than this make the first period after the gap count
/// everything since the series started.
const PREVIOUS_VALUE_LOOKBACK_SECS: u64 = 3600;

/// The PromQL of one alarm's datapoint (its statistic over the period ending at the evaluation
/// time, summed over every trailwatch instance), labelled by the alarm's dimensions.
pub fn datapoint(alarm: &Alarm) -> String {
    let sum = |family: &str| -> String {
        let sel = selector(family, &alarm.target.matchers);
        let p = alarm.period_secs;
        // The last sample in the period (range end-inclusive, minus 1ms so a sample exactly on
        // the previous boundary belongs to the previous period in Prometheus 2 and 3 alike)...
        let cur = format!("last_over_time({sel}[{}ms])", p * 1000 - 1);
        // ...minus the last sample at or before the previous boundary. A counter that went down
        // (a restart) or has no previous value (a new series) counts from zero.
        let prev = format!(
            "last_over_time({sel}[{}s] offset {p}s)",
            p.max(PREVIOUS_VALUE_LOOKBACK_SECS)
        );
        format!("sum{} ((({cur} - {prev}) >= 0) or {cur})", by_clause(alarm))
    };
    match alarm.statistic {
        Statistic::Sum => sum(&alarm.target.family),
        Statistic::SampleCount => sum(&alarm.target.samples_family),
        // A period in which nothing was published has no average: a missing datapoint.
        Statistic::Average => format!(
            "({} / ({} > 0))",
            sum(&alarm.target.family),
            sum(&alarm.target.samples_family)
        ),
    }
}

/// The alerting rule's expression: the number of breaching datapoints among the last N, kept
/// when it reaches M.
pub fn expression(alarm: &Alarm) -> String {
    let x = datapoint(alarm);
    let p = alarm.period_secs;
    let n = alarm.evaluation_periods;
    let m = alarm.datapoints_to_alarm;
    // A subquery evaluates at multiples of its step since the epoch: the period ends. N·P minus
    // 1ms holds exactly N of them whether the range is closed (Prometheus 2) or left-open (3).
    let range = format!("[{}ms:{p}s]", u64::from(n) * p * 1000 - 1);
    let breach = format!(
        "({x} {} bool {})",
        alarm.comparison.promql(),
        number(alarm.threshold)
    );
    let breaches = format!("sum_over_time({breach}{range})");
    let present = format!("count_over_time({x}{range})");
    match alarm.missing {
        // Missing datapoints are not breaching; with none at all there are no breaches either.
        MissingData::NotBreaching | MissingData::Missing => format!("{breaches} >= {m}"),
        MissingData::Breaching => format!(
            "(({breaches} + ({n} - {present})) or on() {}) >= {m}",
            constant(alarm, n)
        ),
        MissingData::Ignore => format!(
            "({breaches} >= {m}) or on() (max{} (ALERTS{{alertname={},alarm={},alertstate=\"firing\"}}) unless on() {present})",
            by_clause(alarm),
            quote(&alert_name(&alarm.name)),
            quote(&alarm.name),
        ),
    }
}

/// `vector(v)` with the alarm's dimension labels (the series when no datapoint exists at all).
fn constant(alarm: &Alarm, v: u32) -> String {
    let mut e = format!("vector({v})");
    for (label, value) in &alarm.target.dimension_labels {
        e = format!(
            "label_replace({e}, {}, {}, \"\", \"\")",
            quote(label),
            quote(&value.replace('$', "$$"))
        );
    }
    e
}

fn by_clause(alarm: &Alarm) -> String {
    if alarm.target.dimension_labels.is_empty() {
        String::new()
    } else {
        let labels: Vec<&str> = alarm
            .target
            .dimension_labels
            .iter()
            .map(|(l, _)| l.as_str())
            .collect();
        format!(" by ({})", labels.join(", "))
    }
}

fn selector(family: &str, matchers: &[(String, String)]) -> String {
    if matchers.is_empty() {
        return family.to_owned();
    }
    let m: Vec<String> = matchers
        .iter()
        .map(|(l, v)| format!("{l}={}", quote(v)))
        .collect();
    format!("{family}{{{}}}", m.join(","))
}

/// A PromQL (and YAML) double-quoted string.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A threshold as PromQL reads it.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A Prometheus 2 alert name (a metric name) from an AlarmName: other characters become `_`.
/// The exact name is the `alarm` label.
pub fn alert_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert(0, '_');
    }
    s
}

/// Text taken literally by Prometheus' templates (`{{` would start an action).
fn literal(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

/// The period as a short duration: 300 → "5m".
pub fn period_text(secs: u64) -> String {
    if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// The condition in words: `Sum >= 1 for 1 of 1 periods of 5m`.
pub fn condition(alarm: &Alarm) -> String {
    format!(
        "{} {} {} for {} of {} periods of {}",
        alarm.statistic.as_str(),
        alarm.comparison.promql(),
        number(alarm.threshold),
        alarm.datapoints_to_alarm,
        alarm.evaluation_periods,
        period_text(alarm.period_secs)
    )
}

/// The labels every generated alert carries (besides the dimension labels from the expression).
pub fn static_labels(alarm: &Alarm) -> Vec<(String, String)> {
    let mut labels = vec![
        ("alarm".to_owned(), alarm.name.clone()),
        ("namespace".to_owned(), alarm.namespace.clone()),
        ("metric".to_owned(), alarm.metric.clone()),
    ];
    if !alarm.notify.is_empty() {
        labels.push(("notify".into(), alarm.notify.join(",")));
    }
    labels.extend(alarm.labels.iter().cloned());
    labels
}

/// The `summary` annotation (a Prometheus template).
pub fn summary(alarm: &Alarm) -> String {
    format!(
        "{}: {{{{ $value }}}} of the last {} datapoints breached ({}/{} {})",
        literal(&alarm.name),
        alarm.evaluation_periods,
        literal(&alarm.namespace),
        literal(&alarm.metric),
        condition(alarm)
    )
}

/// The `description` annotation.
pub fn description(alarm: &Alarm) -> String {
    match &alarm.description {
        Some(d) if !d.is_empty() => literal(d),
        _ => format!(
            "CloudWatch alarm on {}/{}: {}",
            literal(&alarm.namespace),
            literal(&alarm.metric),
            condition(alarm)
        ),
    }
}

/// How often the group is evaluated: every minute, or every period when shorter.
pub fn evaluation_interval(alarms: &[Alarm]) -> u64 {
    alarms
        .iter()
        .map(|a| a.period_secs)
        .min()
        .unwrap_or(60)
        .min(60)
}

/// The whole rule file.
pub fn rule_file(alarms: &[Alarm], origin: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `trailwatch rules{origin}`: one alerting rule per CloudWatch alarm.\n\
         # Do not edit; change the alarms and regenerate. See README \"Alarms\" for the semantics."
    );
    out.push_str("groups:\n  - name: trailwatch-alarms\n");
    let _ = writeln!(out, "    interval: {}s", evaluation_interval(alarms));
    if alarms.is_empty() {
        out.push_str("    rules: []\n");
        return out;
    }
    out.push_str("    rules:\n");
    for a in alarms {
        let _ = writeln!(out, "      - alert: {}", alert_name(&a.name));
        let _ = writeln!(out, "        expr: |-\n          {}", expression(a));
        out.push_str("        labels:\n");
        for (k, v) in static_labels(a) {
            let _ = writeln!(out, "          {k}: {}", quote(&v));
        }
        out.push_str("        annotations:\n");
        let _ = writeln!(out, "          summary: {}", quote(&summary(a)));
        let _ = writeln!(out, "          description: {}", quote(&description(a)));
    }
    out
}
