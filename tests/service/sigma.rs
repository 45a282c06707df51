//! Sigma rules in the running service and on the command line: `--sigma` and `sigma = […]`,
//! the per-rule counter (present at 0 from start-up), the `sigma` member of forwarded events,
//! non-CloudTrail rules skipped, rule errors located, `test-pattern --sigma`, `sigma convert`.

use super::harness::{Scrape, TempDir, bin, ndjson, promtool, record, routine, run_to_end};

const GUARDDUTY: &str = "title: GuardDuty detector deleted
id: 11111111-2222-4333-8444-555555555555
author: trailwatch tests
references:
    - https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteDetector.html
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: guardduty.amazonaws.com
        eventName: DeleteDetector
    ok:
        errorCode: null
    condition: selection and ok
level: high
";

const TRUFFLEHOG: &str = "title: TruffleHog user agent
id: 66666666-7777-4888-9999-000000000000
author: trailwatch tests
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        userAgent|contains: trufflehog
    condition: selection
level: medium
";

const WINDOWS: &str = "title: Not CloudTrail
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
";

fn rules(dir: &TempDir) -> std::path::PathBuf {
    let root = dir.path("rules");
    std::fs::create_dir_all(root.join("nested")).unwrap();
    std::fs::write(root.join("guardduty.yml"), GUARDDUTY).unwrap();
    std::fs::write(root.join("nested/trufflehog.yaml"), TRUFFLEHOG).unwrap();
    std::fs::write(root.join("nested/windows.yml"), WINDOWS).unwrap();
    std::fs::write(root.join("README.md"), "not a rule").unwrap();
    root
}

fn deleted_detector() -> serde_json::Value {
    record(
        "DeleteDetector",
        serde_json::json!({"eventSource": "guardduty.amazonaws.com", "requestParameters": {"detectorId": "12abc34d"}}),
    )
}

#[test]
fn rules_count_matches_and_tag_forwarded_events() {
    let dir = TempDir::new("sigma-service");
    let root = rules(&dir);
    let metrics = dir.path("metrics.prom");
    let forwarded = dir.path("forwarded.ndjson");
    let input = ndjson(&[
        deleted_detector(),
        routine(),
        record(
            "DeleteDetector",
            serde_json::json!({"eventSource": "guardduty.amazonaws.com", "errorCode": "AccessDenied"}),
        ),
        deleted_detector(),
    ]);
    let forward = format!("file:{}", forwarded.display());
    let args = [
        "--stdin",
        "--sigma",
        root.to_str().unwrap(),
        "--metrics-addr",
        "none",
        "--metrics-out",
        metrics.to_str().unwrap(),
        "--forward",
        &forward,
    ];
    let (status, _, stderr) = run_to_end(&args, &input);
    assert!(status.success(), "{status}\n{stderr}");
    assert!(
        stderr.contains("windows.yml"),
        "the skipped rule is reported: {stderr}"
    );
    let scrape = Scrape::parse(&std::fs::read_to_string(&metrics).unwrap());
    let series = |rule: &str, id: &str, level: &str| {
        scrape.get(
            "trailwatch_sigma_matches_total",
            &[("rule", rule), ("id", id), ("level", level)],
        )
    };
    assert_eq!(
        series(
            "GuardDuty detector deleted",
            "11111111-2222-4333-8444-555555555555",
            "high"
        ),
        Some(2.0),
        "{}",
        scrape.dump("trailwatch_sigma")
    );
    // Loaded but never matched: present at 0.
    assert_eq!(
        series(
            "TruffleHog user agent",
            "66666666-7777-4888-9999-000000000000",
            "medium"
        ),
        Some(0.0),
        "{}",
        scrape.dump("trailwatch_sigma")
    );
    assert_eq!(
        scrape.get("trailwatch_sigma_rules", &[("status", "skipped")]),
        Some(1.0)
    );
    assert_eq!(
        scrape.get("trailwatch_sigma_rules", &[("status", "loaded")]),
        Some(2.0)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&forwarded)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0]["trailwatch"]["sigma"],
        serde_json::json!([{"id": "11111111-2222-4333-8444-555555555555", "title": "GuardDuty detector deleted", "level": "high"}])
    );
    assert!(
        lines[1]["trailwatch"].get("sigma").is_none(),
        "{}",
        lines[1]
    );
    assert!(
        lines[2]["trailwatch"].get("sigma").is_none(),
        "{}",
        lines[2]
    );
}

#[test]
fn config_file_lists_rules_relative_to_itself() {
    let dir = TempDir::new("sigma-config");
    rules(&dir);
    let config = dir.path("trailwatch.toml");
    std::fs::write(&config, "sigma = [\"rules/guardduty.yml\"]\n").unwrap();
    let metrics = dir.path("metrics.prom");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--stdin",
        "--metrics-addr",
        "none",
        "--metrics-out",
        metrics.to_str().unwrap(),
    ];
    let (status, _, stderr) = run_to_end(&args, &ndjson(&[deleted_detector()]));
    assert!(status.success(), "{status}\n{stderr}");
    let scrape = Scrape::parse(&std::fs::read_to_string(&metrics).unwrap());
    assert_eq!(scrape.sum("trailwatch_sigma_matches_total"), 1.0);
    assert_eq!(
        scrape.get("trailwatch_sigma_rules", &[("status", "loaded")]),
        Some(1.0)
    );
}

#[test]
fn a_broken_rule_is_an_error_with_file_line_and_construct() {
    let dir = TempDir::new("sigma-broken");
    let rule = dir.path("broken.yml");
    std::fs::write(
        &rule,
        GUARDDUTY.replace(
            "eventName: DeleteDetector",
            "eventName|startwith: DeleteDetector",
        ),
    )
    .unwrap();
    let (status, _, stderr) = run_to_end(
        &[
            "--stdin",
            "--sigma",
            rule.to_str().unwrap(),
            "--metrics-addr",
            "none",
        ],
        b"",
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    let expected = format!(
        "{}:12:9: Sigma rule: detection.selection.eventName|startwith: unknown modifier 'startwith'",
        rule.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn test_pattern_runs_a_rule_and_explains() {
    let dir = TempDir::new("sigma-test-pattern");
    let root = rules(&dir);
    let events = dir.path("events.ndjson");
    std::fs::write(&events, ndjson(&[routine(), deleted_detector()])).unwrap();
    let rule = root.join("guardduty.yml");
    let out = std::process::Command::new(bin())
        .args([
            "test-pattern",
            "--format",
            "json",
            "--explain",
            "--sigma",
            rule.to_str().unwrap(),
            events.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["match"], false);
    assert_eq!(
        lines[0]["explain"],
        "selection 'selection' (line 11): eventSource: 'guardduty.amazonaws.com' does not hold (eventSource is \"ec2.amazonaws.com\")"
    );
    assert_eq!(lines[1]["match"], true);
    assert_eq!(
        lines[1]["explain"],
        "selection 'ok' (line 14): errorCode: null holds (errorCode is missing)"
    );
}

#[test]
fn convert_prints_patterns_and_reasons_that_load_back() {
    let dir = TempDir::new("sigma-convert");
    let root = rules(&dir);
    let out = std::process::Command::new(bin())
        .args(["sigma", "convert", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["metricFilters"][0]["filterPattern"],
        r#"{ $.eventSource = "guardduty.amazonaws.com" && $.eventName = "DeleteDetector" && ($.errorCode NOT EXISTS || $.errorCode IS NULL) }"#
    );
    assert_eq!(doc["metricFilters"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["trailwatchSigma"]["derivedFrom"][0]["author"],
        "trailwatch tests"
    );
    let reason = doc["trailwatchSigma"]["notConverted"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.starts_with("case-insensitivity that matters"),
        "{reason}"
    );
    // The document loads as describe-metric-filters output.
    let json = dir.path("filters.json");
    std::fs::write(&json, &out.stdout).unwrap();
    let v = std::process::Command::new(bin())
        .args(["validate", "--aws-metric-filters", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let cmds = std::process::Command::new(bin())
        .args([
            "sigma",
            "convert",
            "--format",
            "commands",
            root.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cmds.stdout);
    assert!(text.contains("# GuardDuty detector deleted (11111111-2222-4333-8444-555555555555) by trailwatch tests, level high\naws logs put-metric-filter --log-group-name 'CloudTrail/logs' --filter-name 'sigma-11111111-2222-4333-8444-555555555555'"), "{text}");
    assert!(
        text.contains("# not converted: case-insensitivity that matters"),
        "{text}"
    );
}

#[test]
fn sigma_alert_rules_pass_promtool_and_fire_on_the_first_match() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = repo.join("configs/prometheus/sigma-alerts.yml");
    promtool(&["check", "rules", rules.to_str().unwrap()]);
    let tests = repo.join("configs/prometheus/sigma-alerts.test.yml");
    promtool(&["test", "rules", tests.to_str().unwrap()]);
}

#[test]
fn sigma_alerts_cover_high_and_critical_rules_only() {
    let dir = TempDir::new("sigma-alerts");
    let root = rules(&dir);
    let out = std::process::Command::new(bin())
        .args(["sigma", "alerts", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("- alert:").count(), 1, "{text}");
    assert!(
        text.contains("- alert: SigmaGuardDutyDetectorDeleted\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "trailwatch_sigma_matches_total{id=\"11111111-2222-4333-8444-555555555555\"}"
        ),
        "{text}"
    );
    assert!(text.contains("author: \"trailwatch tests\""), "{text}");
    assert!(text.contains("references: \"https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteDetector.html\""), "{text}");
    let file = dir.path("alerts.yml");
    std::fs::write(&file, text.as_bytes()).unwrap();
    promtool(&["check", "rules", file.to_str().unwrap()]);
}

#[test]
fn sighup_reloads_the_sigma_rules() {
    use super::harness::{Service, post_ndjson};
    let dir = TempDir::new("sigma-reload");
    let root = rules(&dir);
    let config = dir.path("trailwatch.toml");
    std::fs::write(&config, "sigma = [\"rules/guardduty.yml\"]\n").unwrap();
    let svc = Service::start(&[
        "--config",
        config.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let truffle = [
        ("rule", "TruffleHog user agent"),
        ("id", "66666666-7777-4888-9999-000000000000"),
        ("level", "medium"),
    ];
    let guard = [
        ("rule", "GuardDuty detector deleted"),
        ("id", "11111111-2222-4333-8444-555555555555"),
        ("level", "high"),
    ];
    let r = post_ndjson(svc.http[0], &ndjson(&[deleted_detector()]));
    assert_eq!(r.status, 200);
    let s = svc.wait_for("trailwatch_sigma_matches_total", &guard, 1.0);
    assert_eq!(s.get("trailwatch_sigma_matches_total", &truffle), None);
    // Add the TruffleHog rule: its series appears at 0, then counts.
    std::fs::write(
        &config,
        "sigma = [\"rules/guardduty.yml\", \"rules/nested/trufflehog.yaml\"]\n",
    )
    .unwrap();
    svc.signal("HUP");
    let s = svc.wait_for("trailwatch_sigma_rules", &[("status", "loaded")], 2.0);
    assert_eq!(s.get("trailwatch_sigma_matches_total", &truffle), Some(0.0));
    let ua = record(
        "GetCallerIdentity",
        serde_json::json!({"userAgent": "TruffleHog/3.63"}),
    );
    let r = post_ndjson(svc.http[0], &ndjson(&[ua]));
    assert_eq!(r.status, 200);
    svc.wait_for("trailwatch_sigma_matches_total", &truffle, 1.0);
    // A broken rule is refused; the running rules stay.
    std::fs::write(root.join("guardduty.yml"), "title: [broken\n").unwrap();
    svc.signal("HUP");
    svc.wait_for(
        "trailwatch_config_reloads_total",
        &[("result", "failure")],
        1.0,
    );
    let r = post_ndjson(svc.http[0], &ndjson(&[deleted_detector()]));
    assert_eq!(r.status, 200);
    svc.wait_for("trailwatch_sigma_matches_total", &guard, 2.0);
}
