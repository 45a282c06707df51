//! The command-line contracts: `test-pattern` (other tools drive it), `validate` and `filters`.

use crate::harness::*;

const FAILURES: &str =
    r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#;

fn events_file(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path("events.ndjson");
    let mut ok = failed_login();
    ok["errorMessage"] = "Success".into();
    let mut lines = ndjson(&[failed_login(), ok, routine()]);
    lines.extend_from_slice(b"plain text\n");
    std::fs::write(&path, lines).unwrap();
    path
}

#[test]
fn test_pattern_text_output() {
    let dir = TempDir::new("cli-text");
    let file = events_file(&dir);
    let (status, out, _) = run_to_end(&["test-pattern", FAILURES, file.to_str().unwrap()], b"");
    assert!(status.success());
    assert!(out.starts_with("Line 1: {"), "{out}");
    assert!(out.contains("  value: 1\n"));
    assert!(
        out.ends_with("Found 1 matches out of 4 event(s)\n"),
        "{out}"
    );
}

#[test]
fn test_pattern_json_output_is_one_object_per_line_in_order() {
    let dir = TempDir::new("cli-json");
    let file = events_file(&dir);
    let (status, out, _) = run_to_end(
        &[
            "test-pattern",
            "--format",
            "json",
            "--explain",
            "--dimension",
            "source=$.eventSource",
            FAILURES,
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert!(status.success());
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["event"], 1);
    assert_eq!(lines[0]["match"], true);
    assert_eq!(lines[0]["value"], 1);
    assert_eq!(lines[0]["dimensions"]["source"], "signin.amazonaws.com");
    assert_eq!(lines[1]["match"], false);
    assert_eq!(lines[1]["value"], serde_json::Value::Null);
    assert_eq!(
        lines[1]["explain"],
        r#"$.errorMessage: "Success" != "Failed authentication""#
    );
    assert_eq!(
        lines[2]["explain"],
        r#"$.eventName: "DescribeInstances" != "ConsoleLogin""#
    );
    assert_eq!(lines[3]["explain"], "the event is not a JSON object");
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with(r#"{"event":1,"match":true,"value":1,"dimensions":"#),
        "{out}"
    );
}

#[test]
fn test_pattern_reads_stdin_and_takes_hyphen_patterns_after_double_dash() {
    let (status, out, _) = run_to_end(
        &["test-pattern", "--", "-DEBUG"],
        b"INFO a\nDEBUG b\nWARN c\n",
    );
    assert!(status.success());
    assert!(
        out.ends_with("Found 2 matches out of 3 event(s)\n"),
        "{out}"
    );
}

#[test]
fn test_pattern_metric_values_and_space_delimited_fields() {
    let line =
        b"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /index.html HTTP/1.0\" 404 1534\n";
    let (status, out, _) = run_to_end(
        &[
            "test-pattern",
            "--metric-value",
            "$bytes",
            "[ip, id, user, timestamp, request, status_code = 4*, bytes]",
        ],
        line,
    );
    assert!(status.success());
    assert!(out.contains("  value: 1534\n"), "{out}");
    assert!(out.contains("$status_code=404"), "{out}");
    assert!(out.contains("$request=GET /index.html HTTP/1.0"), "{out}");
}

#[test]
fn test_pattern_exit_codes() {
    let (status, out, err) = run_to_end(&["test-pattern", "{ $.eventName = }"], b"{}\n");
    assert_eq!(status.code(), Some(2));
    assert!(out.is_empty());
    assert!(
        err.contains("expected a value after '=', found '}' at column 17"),
        "{err}"
    );
    let (status, out, _) = run_to_end(&["test-pattern", "NOTHING_MATCHES_THIS"], b"x\n");
    assert_eq!(
        status.code(),
        Some(0),
        "a valid pattern with no matches is success"
    );
    assert!(out.ends_with("Found 0 matches out of 1 event(s)\n"));
    let (status, _, err) = run_to_end(&["test-pattern", "x", "/nonexistent/file"], b"");
    assert_eq!(status.code(), Some(1), "{err}");
}

#[test]
fn validate_reports_file_line_and_column() {
    let dir = TempDir::new("validate");
    let good = dir.path("good.toml");
    std::fs::write(
        &good,
        "[[filters]]\nname = \"a\"\npattern = '{ $.eventName = ConsoleLogin }'\n",
    )
    .unwrap();
    let (status, out, err) = run_to_end(&["validate", "--config", good.to_str().unwrap()], b"");
    assert!(status.success(), "{err}");
    assert!(out.contains("ok: 1 filter(s)"), "{out}");

    let bad = dir.path("bad.toml");
    std::fs::write(
        &bad,
        "[[filters]]\nname = \"a\"\npattern = '{ $.eventName = ConsoleLogin && }'\n",
    )
    .unwrap();
    let (status, _, err) = run_to_end(&["validate", "--config", bad.to_str().unwrap()], b"");
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains(&format!(
            "{}:3:44: filter 'a': invalid filter pattern: expected a condition",
            bad.display()
        )),
        "{err}"
    );

    let typo = dir.path("typo.toml");
    std::fs::write(&typo, "[metrics]\naddress = \"0.0.0.0:9464\"\n").unwrap();
    let (status, _, err) = run_to_end(&["validate", "--config", typo.to_str().unwrap()], b"");
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains(&format!("{}:2:1:", typo.display()))
            && err.contains("unknown field `address`"),
        "{err}"
    );

    let aws = dir.path("filters.json");
    std::fs::write(&aws, r#"{"metricFilters":[{"filterName":"x","filterPattern":"{ $.a = 1 } trailing","metricTransformations":[{"metricName":"m","metricNamespace":"n","metricValue":"1"}]}]}"#).unwrap();
    let (status, _, err) = run_to_end(
        &["validate", "--aws-metric-filters", aws.to_str().unwrap()],
        b"",
    );
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains(&format!("{}:1:66: filter 'x'", aws.display())),
        "{err}"
    );
}

#[test]
fn filters_prints_describe_metric_filters_that_load_back_unchanged() {
    // The built-in pack, with nothing configured.
    let (status, out, err) = run_to_end(&["filters"], b"");
    assert!(status.success(), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let filters = doc["metricFilters"].as_array().expect("metricFilters");
    assert!(filters.len() >= 14, "the CIS pack: {}", filters.len());
    assert!(
        filters
            .iter()
            .any(|f| f["filterName"] == "root_usage_metric")
    );

    // A configured filter with every transformation field, and a round trip.
    let dir = TempDir::new("filters-command");
    let config = dir.path("trailwatch.toml");
    std::fs::write(
        &config,
        r#"
[[filters]]
name = "bytes_out"
pattern = '{ $.eventName = "GetObject" }'
metric_namespace = "S3"
metric_name = "BytesOut"
metric_value = "$.additionalEventData.bytesTransferredOut"
unit = "Bytes"
dimensions = { bucket = "$.requestParameters.bucketName" }

[[filters]]
name = "deletes"
pattern = '{ $.eventName = "Delete*" }'
metric_namespace = "S3"
metric_name = "Deletes"
default_value = 0
"#,
    )
    .unwrap();
    let (status, out, err) = run_to_end(&["filters", "--config", config.to_str().unwrap()], b"");
    assert!(status.success(), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        doc["metricFilters"][0],
        serde_json::json!({
            "filterName": "bytes_out",
            "filterPattern": "{ $.eventName = \"GetObject\" }",
            "metricTransformations": [{
                "metricName": "BytesOut", "metricNamespace": "S3",
                "metricValue": "$.additionalEventData.bytesTransferredOut",
                "unit": "Bytes",
                "dimensions": {"bucket": "$.requestParameters.bucketName"}
            }]
        })
    );
    assert_eq!(
        doc["metricFilters"][1]["metricTransformations"][0]["defaultValue"],
        0.0
    );
    let exported = dir.path("exported.json");
    std::fs::write(&exported, &out).unwrap();
    let (status, again, err) = run_to_end(
        &[
            "filters",
            "--aws-metric-filters",
            exported.to_str().unwrap(),
        ],
        b"",
    );
    assert!(status.success(), "{err}");
    assert_eq!(again, out, "the export loads back to the same filters");
}
