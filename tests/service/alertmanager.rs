//! The whole alerting path with real components: trailwatch ingests failed sign-ins that breach
//! an alarm; a real Prometheus (Debian's `prometheus`) scrapes it and evaluates the rules
//! `trailwatch rules` generated; a real Alertmanager (`prometheus-alertmanager`) delivers the alert
//! to this test's webhook receiver, which checks its labels and annotations; then, with no more
//! events, the resolution arrives. Periods are 10 seconds so the test takes about a minute.
//! Also: `amtool check-config` on the stack's Alertmanager configuration.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;
use crate::receiver::{Receiver, Request, ok};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const INSTALL: &str = "apt-get install -y prometheus prometheus-alertmanager";

fn check(tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is not runnable ({e}); install it: {INSTALL}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_stack_alertmanager_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/alertmanager/alertmanager.yml");
    check("amtool", &["check-config", path.to_str().unwrap()]);
}

const CONFIG: &str = r#"
[[filters]]
name = "console_signin_failures"
pattern = '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'
metric_namespace = "CloudTrailMetrics"
metric_name = "ConsoleSigninFailureCount"

[[alarms]]
name = "Console sign-in failures"
filter = "console_signin_failures"
statistic = "Sum"
period = "10s"
evaluation_periods = 1
comparison = "GreaterThanOrEqualToThreshold"
threshold = 3
treat_missing_data = "notBreaching"
description = "3 or more failed console sign-ins in 10 seconds"
notify = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
labels = { severity = "critical" }
"#;

/// The alerts of the webhook notifications received so far, with their notification's status.
fn alerts(requests: &[Request]) -> Vec<(String, serde_json::Value)> {
    requests
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .flat_map(|n| {
            let status = n["status"].as_str().unwrap_or("").to_owned();
            n["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |a| (status.clone(), a))
        })
        .collect()
}

#[test]
fn an_alarm_is_delivered_by_a_real_alertmanager_and_then_resolved() {
    let dir = TempDir::new("alertmanager");
    let config = dir.path("trailwatch.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (status, rules, err) = run_to_end(&["rules", "--config", config.to_str().unwrap()], b"");
    assert!(status.success(), "{err}");
    let rules_path = dir.path("rules.yml");
    std::fs::write(&rules_path, &rules).unwrap();
    check(
        "promtool",
        &["check", "rules", rules_path.to_str().unwrap()],
    );

    let webhook = Receiver::start(|_, _| ok(200));
    let am_port = free_addr().port();
    let am_config = dir.path("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: devnull\n  group_by: [alarm]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n    - matchers: ['notify=~\"(.*,)?oncall(,.*)?\"', 'severity=\"critical\"']\n      receiver: test\nreceivers:\n  - name: devnull\n  - name: test\n    webhook_configs:\n      - url: '{}'\n        send_resolved: true\n",
            webhook.url("/alerts")
        ),
    )
    .unwrap();
    check("amtool", &["check-config", am_config.to_str().unwrap()]);
    let _am = Killed(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!("--storage.path={}", dir.path("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus-alertmanager: {e}; install it: {INSTALL}")),
    );

    let svc = Service::start(&[
        "--config",
        config.to_str().unwrap(),
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let target = svc.metrics.unwrap();
    let prom_config = dir.path("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\nscrape_configs:\n  - job_name: trailwatch\n    static_configs:\n      - targets: ['{target}']\n",
            rules_path.display()
        ),
    )
    .unwrap();
    check(
        "promtool",
        &["check", "config", prom_config.to_str().unwrap()],
    );
    let prom_port = free_addr().port();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus: {e}; install it: {INSTALL}")),
    );
    // Let Prometheus scrape the counter at 0 first, so the failures are an increase it sees.
    std::thread::sleep(Duration::from_secs(3));
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    conn.write_all(&ndjson(&[
        failed_login(),
        routine(),
        failed_login(),
        failed_login(),
        failed_login(),
    ]))
    .unwrap();
    drop(conn);
    svc.wait_for(
        "cloud_trail_metrics_console_signin_failure_count_total",
        &filter("console_signin_failures"),
        4.0,
    );

    // The period holding the failures closes within 10s, the group evaluates every 10s, and
    // Alertmanager waits 1s: well within 60s.
    webhook.wait_until("the firing alert", Duration::from_secs(60), |r| {
        alerts(r).iter().any(|(s, _)| s == "firing")
    });
    let got = alerts(&webhook.requests());
    let (_, alert) = got.iter().find(|(s, _)| s == "firing").unwrap();
    let labels = &alert["labels"];
    assert_eq!(labels["alarm"], "Console sign-in failures", "{alert}");
    assert_eq!(labels["alertname"], "Console_sign_in_failures", "{alert}");
    assert_eq!(labels["notify"], "oncall", "{alert}");
    assert_eq!(labels["severity"], "critical", "{alert}");
    assert_eq!(labels["namespace"], "CloudTrailMetrics", "{alert}");
    assert_eq!(labels["metric"], "ConsoleSigninFailureCount", "{alert}");
    let annotations = &alert["annotations"];
    assert_eq!(
        annotations["summary"],
        "Console sign-in failures: 1 of the last 1 datapoints breached \
         (CloudTrailMetrics/ConsoleSigninFailureCount Sum >= 3 for 1 of 1 periods of 10s)",
        "{alert}"
    );
    assert_eq!(
        annotations["description"], "3 or more failed console sign-ins in 10 seconds",
        "{alert}"
    );

    // No more events: the next period's datapoint is 0 and the resolution arrives.
    webhook.wait_until("the resolution", Duration::from_secs(60), |r| {
        alerts(r)
            .iter()
            .any(|(s, a)| s == "resolved" && a["labels"]["alarm"] == "Console sign-in failures")
    });
}
