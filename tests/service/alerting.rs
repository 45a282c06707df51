//! `trailwatch rules`: the generated Prometheus rules pass promtool's checks and unit tests
//! (tests/alerting/*.test.yml: each rule fires exactly when CloudWatch's alarm would), the
//! checked-in configs/prometheus/rules.yml is what the command prints, describe-alarms JSON is
//! imported, and what cannot be expressed is refused with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// The compose stack's trailwatch configuration, relative to the package.
const STACK: &str = "configs/trailwatch/trailwatch.toml";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn tool(name: &str, args: &[&str]) {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!(
            "{name} is not runnable ({e}); install it: apt-get install -y prometheus \
             prometheus-alertmanager"
        )
    });
    assert!(
        out.status.success(),
        "{name} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `trailwatch rules ARGS` (must succeed): the printed file.
fn rules(args: &[&str]) -> String {
    let mut all = vec!["rules"];
    all.extend_from_slice(args);
    let (status, out, err) = run_to_end(&all, b"");
    assert!(status.success(), "trailwatch {all:?} failed: {err}");
    out
}

/// `trailwatch rules ARGS` (must fail with exit 2): stderr.
fn rules_error(args: &[&str]) -> String {
    let mut all = vec!["rules"];
    all.extend_from_slice(args);
    let (status, out, err) = run_to_end(&all, b"");
    assert_eq!(status.code(), Some(2), "trailwatch {all:?}: {out}{err}");
    err
}

#[test]
fn generated_rules_fire_when_cloudwatch_alarms_would() {
    let dir = TempDir::new("alarm-rules");
    let text = rules(&[
        "--config",
        repo("tests/alerting/trailwatch.toml").to_str().unwrap(),
    ]);
    assert_eq!(text.matches("- alert: ").count(), 8, "{text}");
    std::fs::write(dir.path("rules.yml"), &text).unwrap();
    let test = dir.path("alarms.test.yml");
    std::fs::copy(repo("tests/alerting/alarms.test.yml"), &test).unwrap();
    tool(
        "promtool",
        &["check", "rules", dir.path("rules.yml").to_str().unwrap()],
    );
    tool("promtool", &["test", "rules", test.to_str().unwrap()]);
}

#[test]
fn checked_in_rules_are_what_trailwatch_rules_prints() {
    // Tests run in the package's directory: the generated header names the relative path.
    let printed = rules(&["--config", STACK]);
    let checked_in = read(&repo("configs/prometheus/rules.yml"));
    assert!(
        printed == checked_in,
        "configs/prometheus/rules.yml differs from `trailwatch rules --config {STACK}`; \
         regenerate it with `cargo run -- rules --config {STACK} > configs/prometheus/rules.yml`"
    );
    // The 15 CIS alarms and the two trail-health alerts.
    assert_eq!(printed.matches("- alert: ").count(), 17);
    assert!(printed.contains("- alert: TrailSilent\n"));
    // Without [trail_health], only the alarms.
    assert_eq!(rules(&[]).matches("- alert: ").count(), 15);
    tool(
        "promtool",
        &[
            "check",
            "rules",
            repo("configs/prometheus/rules.yml").to_str().unwrap(),
        ],
    );
    tool(
        "promtool",
        &[
            "test",
            "rules",
            repo("configs/prometheus/rules.test.yml").to_str().unwrap(),
        ],
    );
}

#[test]
fn describe_alarms_json_is_imported_as_is() {
    let text = rules(&[
        "--aws-metric-filters",
        repo("configs/filters/cis-aws-foundations.json")
            .to_str()
            .unwrap(),
        "--aws-alarms",
        repo("tests/alerting/describe-alarms.json")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(text.matches("- alert: ").count(), 1, "{text}");
    assert!(
        text.contains("- alert: Console_sign_in_failures\n"),
        "{text}"
    );
    assert!(
        text.contains("alarm: \"Console sign-in failures\"\n"),
        "{text}"
    );
    assert!(text.contains("notify: \"oncall\"\n"), "{text}");
    assert!(
        text.contains("[299999ms:60s]) >= 3\n"),
        "3 of 5 one-minute periods: {text}"
    );
    assert!(text.contains(">= bool 3)"), "{text}");
    assert!(
        text.contains("description: \"3 or more failed console sign-ins in 3 of 5 minutes\""),
        "{text}"
    );
}

fn alarm_json(fields: &str) -> String {
    format!(
        "{{\"MetricAlarms\": [{{\"AlarmName\": \"a1\", \"Namespace\": \"CISBenchmark\", \
         \"MetricName\": \"root_usage_metric\", \"Statistic\": \"Sum\", \"Period\": 300, \
         \"EvaluationPeriods\": 1, \"Threshold\": 1, \
         \"ComparisonOperator\": \"GreaterThanOrEqualToThreshold\"{fields}}}]}}"
    )
}

#[test]
fn what_cannot_be_expressed_is_refused_with_a_message() {
    let dir = TempDir::new("alarm-errors");
    let cases = [
        (
            alarm_json(", \"MetricName\": \"nope\"")
                .replace("\"MetricName\": \"root_usage_metric\", ", ""),
            "alarm 'a1' reads metric CISBenchmark/nope, which no configured filter produces",
        ),
        (
            alarm_json(", \"Metrics\": [{\"Id\": \"m1\", \"Expression\": \"m2 * 2\"}]"),
            "metric math",
        ),
        (
            alarm_json("").replace("\"Statistic\": \"Sum\"", "\"ExtendedStatistic\": \"p99\""),
            "percentile statistic 'p99' is not supported",
        ),
        (
            alarm_json("").replace(
                "GreaterThanOrEqualToThreshold",
                "LessThanLowerOrGreaterThanUpperThreshold",
            ),
            "anomaly-detection band",
        ),
        (
            alarm_json("").replace("\"Statistic\": \"Sum\"", "\"Statistic\": \"Maximum\""),
            "statistic Maximum cannot be computed",
        ),
        (
            alarm_json(", \"Dimensions\": [{\"Name\": \"eventType\", \"Value\": \"x\"}]"),
            "with dimensions [eventType], but the filters publish it only with no dimensions",
        ),
        (
            alarm_json("").replace("300", "45"),
            "period 45s is not one CloudWatch allows",
        ),
        (
            alarm_json(", \"DatapointsToAlarm\": 2"),
            "needs 1 <= datapoints_to_alarm (2) <= evaluation_periods (1)",
        ),
    ];
    for (i, (json, expected)) in cases.iter().enumerate() {
        let path = dir.path(&format!("alarms{i}.json"));
        std::fs::write(&path, json).unwrap();
        let err = rules_error(&[
            "--aws-metric-filters",
            repo("configs/filters/cis-aws-foundations.json")
                .to_str()
                .unwrap(),
            "--aws-alarms",
            path.to_str().unwrap(),
        ]);
        assert!(
            err.contains(expected),
            "case {i}: expected {expected:?} in: {err}"
        );
        // Errors point into the file, at the alarm.
        assert!(
            err.contains(&format!("alarms{i}.json:1:")),
            "case {i}: {err}"
        );
    }
    // TOML: the position of the offending value.
    let toml = dir.path("t.toml");
    std::fs::write(
        &toml,
        "[[alarms]]\nname = \"x\"\nfilter = \"root_usage_metric\"\nstatistic = \"p90\"\nthreshold = 1\n",
    )
    .unwrap();
    let err = rules_error(&["--config", toml.to_str().unwrap()]);
    assert!(
        err.contains("t.toml:4:13: alarm 'x': percentile statistic 'p90'"),
        "{err}"
    );
    std::fs::write(
        &toml,
        "[[filters]]\nname = \"f\"\npattern = \"ERROR\"\n[[alarms]]\nname = \"x\"\nfilter = \"g\"\nthreshold = 1\n",
    )
    .unwrap();
    let err = rules_error(&["--config", toml.to_str().unwrap()]);
    assert!(
        err.contains(
            "t.toml:5:8: alarm 'x' reads filter 'g', which is not configured (filters: f)"
        ),
        "{err}"
    );
    // `validate` checks alarms too.
    let (status, _, err) = run_to_end(&["validate", "--config", toml.to_str().unwrap()], b"");
    assert_eq!(status.code(), Some(2), "{err}");
}

#[test]
fn sample_counts_are_exposed_per_series() {
    let dir = TempDir::new("sample-count");
    let config = dir.path("t.toml");
    std::fs::write(
        &config,
        "[[filters]]\nname = \"uploads\"\npattern = '{ $.eventName = PutObject }'\n\
         metric_namespace = \"Test\"\nmetric_name = \"UploadBytes\"\n\
         metric_value = \"$.additionalEventData.bytesTransferredIn\"\n\
         [[filters]]\nname = \"by_type\"\npattern = '{ $.eventName = PutObject }'\n\
         metric_namespace = \"Test\"\nmetric_name = \"Uploads\"\n\
         dimensions = { region = \"$.awsRegion\" }\n",
    )
    .unwrap();
    let svc = Service::start(&[
        "--config",
        config.to_str().unwrap(),
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let upload = |bytes: i64| {
        record(
            "PutObject",
            serde_json::json!({"additionalEventData": {"bytesTransferredIn": bytes}}),
        )
    };
    let before = svc.scrape();
    assert_eq!(
        before.get(
            "trailwatch_sample_count_test_upload_bytes_total",
            &filter("uploads")
        ),
        Some(0.0),
        "dimensionless sample counts exist at 0 from start-up"
    );
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    std::io::Write::write_all(
        &mut conn,
        &ndjson(&[upload(100), routine(), upload(50), upload(-5)]),
    )
    .unwrap();
    drop(conn);
    let s = svc.wait_for(
        "trailwatch_sample_count_test_upload_bytes_total",
        &filter("uploads"),
        2.0,
    );
    // The negative value is dropped (counted elsewhere), so it is no sample either.
    assert_eq!(
        s.get("test_upload_bytes_total", &filter("uploads")),
        Some(150.0)
    );
    let s = svc.wait_for(
        "trailwatch_sample_count_test_uploads_total",
        &[("filter", "by_type"), ("region", "eu-west-1")],
        3.0,
    );
    assert_eq!(
        s.get(
            "test_uploads_total",
            &[("filter", "by_type"), ("region", "eu-west-1")]
        ),
        Some(3.0)
    );
}

/// A generated JSON document after its `#` comment header.
fn json_after_comments(text: &str) -> serde_json::Value {
    let body: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&body).expect("generated JSON parses")
}

#[test]
fn checked_in_grafana_files_are_what_the_commands_print() {
    let provisioning = rules(&["--format", "grafana", "--config", STACK]);
    assert!(
        provisioning
            == read(&repo(
                "configs/grafana/provisioning/alerting/trailwatch.yml"
            )),
        "configs/grafana/provisioning/alerting/trailwatch.yml differs from `trailwatch rules \
         --format grafana`; regenerate it"
    );
    let (status, dashboard, err) = run_to_end(&["dashboard", "--config", STACK], b"");
    assert!(status.success(), "{err}");
    assert!(
        dashboard == read(&repo("configs/grafana/dashboards/trailwatch.json")),
        "configs/grafana/dashboards/trailwatch.json differs from `trailwatch dashboard`; \
         regenerate it"
    );

    // The alert rules: one per alarm, with the contract's labels, valid PromQL, and a policy
    // routing on `notify`.
    let doc = json_after_comments(&provisioning);
    assert_eq!(doc["apiVersion"], 1);
    let group = &doc["groups"][0];
    let grafana_rules = group["rules"].as_array().unwrap();
    assert_eq!(grafana_rules.len(), 17);
    let mut check = String::from("groups:\n  - name: grafana-queries\n    rules:\n");
    for (i, r) in grafana_rules.iter().enumerate() {
        assert_eq!(r["title"], r["labels"]["alarm"], "{r}");
        assert!(
            r["annotations"]["summary"]
                .as_str()
                .unwrap()
                .contains("$values.A.Value")
        );
        assert_eq!(r["noDataState"], "OK", "notBreaching: {r}");
        if i < 15 {
            assert_eq!(r["labels"]["namespace"], "CISBenchmark", "{r}");
            assert_eq!(r["data"][1]["model"]["expression"], "$A >= 1", "{r}");
        } else {
            assert_eq!(r["labels"]["namespace"], "trailwatch", "{r}");
        }
        let expr = r["data"][0]["model"]["expr"].as_str().unwrap();
        check.push_str(&format!(
            "      - record: grafana_query_{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let dir = TempDir::new("grafana-queries");
    std::fs::write(dir.path("q.yml"), check).unwrap();
    tool(
        "promtool",
        &["check", "rules", dir.path("q.yml").to_str().unwrap()],
    );
    assert_eq!(doc["policies"][0]["receiver"], "trailwatch-default");

    // Alarm actions become contact points and routes; ignore keeps the last state.
    let text = rules(&[
        "--format",
        "grafana",
        "--config",
        repo("tests/alerting/trailwatch.toml").to_str().unwrap(),
    ]);
    let doc = json_after_comments(&text);
    assert_eq!(
        doc["policies"][0]["routes"][0]["object_matchers"][0],
        serde_json::json!(["notify", "=~", "(.*,)?oncall(,.*)?"])
    );
    let by_title = |t: &str| {
        doc["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["title"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_title("sum ignore")["noDataState"], "KeepLast");
    assert_eq!(by_title("sum le breaching")["noDataState"], "Alerting");
    assert_eq!(
        by_title("sum gt 2 of 3")["data"][1]["model"]["expression"],
        "$A >= 2"
    );

    // The dashboard: a panel per filter, the alarms' states, trailwatch's health.
    let d: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let titles: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    let filters = [
        "root_usage_metric",
        "console_signin_failure_metric",
        "organizations_changes",
    ];
    for f in filters {
        assert!(
            titles
                .iter()
                .any(|t| t.starts_with(&format!("{f}: CISBenchmark/"))),
            "no panel for {f}: {titles:?}"
        );
    }
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Alarm states (15 alarms")),
        "{titles:?}"
    );
    assert!(titles.contains(&"Events received by source"), "{titles:?}");
    assert!(
        titles.contains(&"Trail: delivery lag p90 by account and region"),
        "{titles:?}"
    );
}

#[test]
fn aws_alarms_in_the_config_and_overriding_a_builtin_alarm() {
    let dir = TempDir::new("aws-alarms-config");
    std::fs::copy(
        repo("tests/alerting/describe-alarms.json"),
        dir.path("alarms.json"),
    )
    .unwrap();
    let config = dir.path("t.toml");
    // `aws_alarms` paths are relative to the configuration file.
    std::fs::write(
        &config,
        format!(
            "aws_metric_filters = [{:?}]\naws_alarms = [\"alarms.json\"]\n",
            repo("configs/filters/cis-aws-foundations.json").display()
        ),
    )
    .unwrap();
    let text = rules(&["--config", config.to_str().unwrap()]);
    assert_eq!(text.matches("- alert: ").count(), 1, "{text}");
    assert!(
        text.contains("alarm: \"Console sign-in failures\""),
        "{text}"
    );

    // With the built-in pack, an alarm of the same name replaces the built-in one.
    std::fs::write(
        &config,
        "[[alarms]]\nname = \"RootUsage\"\nfilter = \"root_usage_metric\"\nperiod = \"1m\"\n\
         threshold = 2\nlabels = { severity = \"critical\" }\n",
    )
    .unwrap();
    let text = rules(&["--config", config.to_str().unwrap()]);
    assert_eq!(text.matches("- alert: ").count(), 15, "{text}");
    assert_eq!(text.matches("- alert: RootUsage\n").count(), 1, "{text}");
    assert!(text.contains("Sum >= 2 for 1 of 1 periods of 1m"), "{text}");
}
