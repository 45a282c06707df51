//! Alarms → a Prometheus rule file (one alerting rule per alarm) with CloudWatch's semantics:
//! a datapoint is the statistic over one period on period boundaries (multiples of the period
//! since the epoch, as CloudWatch aligns them), computed exactly from trailwatch's counters; the
//! alarm fires when at least M of the last N complete datapoints breach, missing datapoints (no
//! scrape in the period) counted as `TreatMissingData` says.

use std::fmt::Write as _;

use super::{Alarm, MissingData, Statistic};
use crate::trail::TrailSettings;

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

/// The alarm's datapoints over the last N periods: (breaching, present) counts.
fn counts(alarm: &Alarm) -> (String, String) {
    let x = datapoint(alarm);
    let p = alarm.period_secs;
    let n = alarm.evaluation_periods;
    // A subquery evaluates at multiples of its step since the epoch: the period ends. N·P minus
    // 1ms holds exactly N of them whether the range is closed (Prometheus 2) or left-open (3).
    let range = format!("[{}ms:{p}s]", u64::from(n) * p * 1000 - 1);
    let breach = format!(
        "({x} {} bool {})",
        alarm.comparison.promql(),
        number(alarm.threshold)
    );
    (
        format!("sum_over_time({breach}{range})"),
        format!("count_over_time({x}{range})"),
    )
}

/// How many of the last N datapoints breach, missing ones counted as `breaching` says (for the
/// other treatments they do not breach). No series when no datapoint exists, except for
/// `breaching` (then all N breach).
pub fn breach_count(alarm: &Alarm) -> String {
    let (breaches, present) = counts(alarm);
    let n = alarm.evaluation_periods;
    match alarm.missing {
        MissingData::Breaching => format!(
            "(({breaches} + ({n} - {present})) or on() {})",
            constant(alarm, n)
        ),
        MissingData::NotBreaching | MissingData::Missing | MissingData::Ignore => breaches,
    }
}

/// The alerting rule's expression: the number of breaching datapoints among the last N, kept
/// when it reaches M.
pub fn expression(alarm: &Alarm) -> String {
    let m = alarm.datapoints_to_alarm;
    let count = breach_count(alarm);
    match alarm.missing {
        // Missing datapoints are not breaching; with none at all there are no breaches either.
        MissingData::NotBreaching | MissingData::Missing | MissingData::Breaching => {
            format!("{count} >= {m}")
        }
        // With no datapoint among the N, a firing alert goes on firing.
        MissingData::Ignore => format!(
            "({count} >= {m}) or on() (max{} (ALERTS{{alertname={},alarm={},alertstate=\"firing\"}}) unless on() {})",
            by_clause(alarm),
            quote(&alert_name(&alarm.name)),
            quote(&alarm.name),
            counts(alarm).1,
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

/// The whole rule file: the alarms, then the trail-health alerts of `trail` and the anomaly
/// alert.
pub fn rule_file(
    alarms: &[Alarm],
    trail: Option<&TrailSettings>,
    anomalies: Option<&crate::anomaly::AnomalySettings>,
    origin: &str,
) -> String {
    let trail_rules = super::trail_rules::trail_rules(trail, anomalies);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `trailwatch rules{origin}`: one alerting rule per CloudWatch alarm.\n\
         # Do not edit; change the alarms and regenerate. See README \"Alarms\" for the semantics."
    );
    out.push_str("groups:\n  - name: trailwatch-alarms\n");
    let _ = writeln!(out, "    interval: {}s", evaluation_interval(alarms));
    if alarms.is_empty() && trail_rules.is_empty() {
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
    for r in &trail_rules {
        let _ = writeln!(out, "      - alert: {}", r.alert);
        let _ = writeln!(out, "        expr: |-\n          {}", r.expression());
        out.push_str("        labels:\n");
        for (k, v) in r.labels() {
            let _ = writeln!(out, "          {k}: {}", quote(&v));
        }
        out.push_str("        annotations:\n");
        let summary = r.summary.replace("VALUE", "$value");
        let _ = writeln!(out, "          summary: {}", quote(&summary));
        let _ = writeln!(out, "          description: {}", quote(&r.description));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::{Comparison, Target};

    fn alarm() -> Alarm {
        Alarm {
            name: "a b".into(),
            description: None,
            namespace: "NS".into(),
            metric: "M".into(),
            dimensions: vec![],
            statistic: Statistic::Sum,
            period_secs: 60,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            comparison: Comparison::GreaterOrEqual,
            threshold: 1.0,
            missing: MissingData::NotBreaching,
            labels: vec![("severity".into(), "warning".into())],
            notify: vec![],
            target: Target {
                family: "ns_m_total".into(),
                samples_family: "trailwatch_sample_count_ns_m_total".into(),
                matchers: vec![],
                dimension_labels: vec![],
            },
        }
    }

    const SUM: &str = "sum (((last_over_time(ns_m_total[59999ms]) - last_over_time(ns_m_total[3600s] offset 60s)) >= 0) or last_over_time(ns_m_total[59999ms]))";
    const COUNT: &str = "sum (((last_over_time(trailwatch_sample_count_ns_m_total[59999ms]) - last_over_time(trailwatch_sample_count_ns_m_total[3600s] offset 60s)) >= 0) or last_over_time(trailwatch_sample_count_ns_m_total[59999ms]))";

    #[test]
    fn statistics() {
        let mut a = alarm();
        assert_eq!(datapoint(&a), SUM);
        a.statistic = Statistic::SampleCount;
        assert_eq!(datapoint(&a), COUNT);
        a.statistic = Statistic::Average;
        assert_eq!(datapoint(&a), format!("({SUM} / ({COUNT} > 0))"));
    }

    #[test]
    fn operators_and_thresholds() {
        let mut a = alarm();
        for (c, op) in [
            (Comparison::GreaterOrEqual, ">="),
            (Comparison::Greater, ">"),
            (Comparison::Less, "<"),
            (Comparison::LessOrEqual, "<="),
        ] {
            a.comparison = c;
            a.threshold = 2.5;
            assert_eq!(
                expression(&a),
                format!("sum_over_time(({SUM} {op} bool 2.5)[59999ms:60s]) >= 1")
            );
        }
        a.threshold = -3.0;
        assert!(expression(&a).contains("<= bool -3)"));
    }

    #[test]
    fn m_of_n_uses_n_aligned_periods() {
        let mut a = alarm();
        a.period_secs = 300;
        a.evaluation_periods = 5;
        a.datapoints_to_alarm = 3;
        let e = expression(&a);
        assert!(e.ends_with("[1499999ms:300s]) >= 3"), "{e}");
        assert!(e.contains("[299999ms]"), "{e}");
        assert!(e.contains("offset 300s"), "{e}");
    }

    #[test]
    fn missing_data_treatments() {
        let mut a = alarm();
        a.evaluation_periods = 2;
        a.datapoints_to_alarm = 2;
        a.missing = MissingData::Missing;
        let plain = format!("sum_over_time(({SUM} >= bool 1)[119999ms:60s]) >= 2");
        assert_eq!(expression(&a), plain);
        a.missing = MissingData::NotBreaching;
        assert_eq!(expression(&a), plain);
        a.missing = MissingData::Breaching;
        assert_eq!(
            expression(&a),
            format!(
                "((sum_over_time(({SUM} >= bool 1)[119999ms:60s]) + (2 - count_over_time({SUM}[119999ms:60s]))) or on() vector(2)) >= 2"
            )
        );
        a.missing = MissingData::Ignore;
        assert_eq!(
            expression(&a),
            format!(
                "(sum_over_time(({SUM} >= bool 1)[119999ms:60s]) >= 2) or on() (max (ALERTS{{alertname=\"a_b\",alarm=\"a b\",alertstate=\"firing\"}}) unless on() count_over_time({SUM}[119999ms:60s]))"
            )
        );
    }

    #[test]
    fn dimensions_select_and_label() {
        let mut a = alarm();
        a.target.matchers = vec![
            ("event_type".into(), "AwsApiCall".into()),
            ("region".into(), String::new()),
        ];
        a.target.dimension_labels = vec![("event_type".into(), "AwsApiCall".into())];
        a.missing = MissingData::Breaching;
        let e = expression(&a);
        assert!(
            e.contains("ns_m_total{event_type=\"AwsApiCall\",region=\"\"}[59999ms]"),
            "{e}"
        );
        assert!(e.contains("sum by (event_type) ("), "{e}");
        assert!(
            e.contains("label_replace(vector(1), \"event_type\", \"AwsApiCall\", \"\", \"\")"),
            "{e}"
        );
    }

    #[test]
    fn names_labels_and_annotations() {
        let mut a = alarm();
        a.name = "9 lives/{{x}}".into();
        a.notify = vec!["oncall".into(), "sec".into()];
        a.description = Some("see {{ here".into());
        assert_eq!(alert_name(&a.name), "_9_lives___x__");
        let labels = static_labels(&a);
        assert!(labels.contains(&("alarm".into(), "9 lives/{{x}}".into())));
        assert!(labels.contains(&("notify".into(), "oncall,sec".into())));
        assert_eq!(description(&a), "see {{ \"{{\" }} here");
        assert!(summary(&a).starts_with("9 lives/{{ \"{{\" }}x}}: {{ $value }} of the last 1"));
        assert_eq!(period_text(300), "5m");
        assert_eq!(period_text(3600), "1h");
        assert_eq!(period_text(10), "10s");
        let file = rule_file(&[a], None, None, "");
        assert!(file.contains("    interval: 60s\n"), "{file}");
    }
}
