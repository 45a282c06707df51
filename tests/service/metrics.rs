//! Metric semantics through the service: families and names, values and default values, the
//! per-metric series cap, and OpenMetrics on request.

use std::io::Write;

use serde_json::json;

use crate::harness::*;

#[test]
fn values_defaults_series_cap_names_and_openmetrics() {
    let dir = TempDir::new("metrics");
    let cfg = dir.path("trailwatch.toml");
    std::fs::write(
        &cfg,
        r#"
[[filters]]
name = "by_event"
pattern = '{ $.eventName = * }'
metric_namespace = "Test"
metric_name = "ByEvent"
dimensions = { id = "$.eventID" }

[[filters]]
name = "weighted"
pattern = '{ $.eventName = "ConsoleLogin" }'
metric_namespace = "Test"
metric_name = "Weighted"
metric_value = "2"
default_value = 0.5

[[filters]]
name = "explicit"
pattern = 'ConsoleLogin'
prometheus_name = "custom_logins"

[[filters]]
name = "bytes"
pattern = '{ $.bytes > 0 }'
metric_namespace = "LogMetrics"
metric_name = "bytesOut"
metric_value = "$.bytes"
"#,
    )
    .unwrap();
    let svc = Service::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--max-series",
        "5",
    ]);
    // Before any event: dimensionless series exist at 0.
    let s = svc.scrape();
    assert_eq!(s.get("test_weighted_total", &filter("weighted")), Some(0.0));
    assert_eq!(s.get("custom_logins_total", &filter("explicit")), Some(0.0));
    let events: Vec<_> = (0..20)
        .map(|i| {
            let mut e = if i % 4 == 0 {
                failed_login()
            } else {
                routine()
            };
            e["eventID"] = json!(format!("id-{i}"));
            e["bytes"] = json!(i as f64 * 1.5);
            e
        })
        .collect();
    let mut c = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    c.write_all(&ndjson(&events)).unwrap();
    drop(c);
    let s = svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "tcp")],
        20.0,
    );
    // A value of 2 per match, the default 0.5 per non-match: CloudWatch's sums.
    assert_eq!(
        s.get("test_weighted_total", &filter("weighted")),
        Some(5.0 * 2.0 + 15.0 * 0.5)
    );
    assert_eq!(s.get("custom_logins_total", &filter("explicit")), Some(5.0));
    // Values from a field: the sum of what matching events carried (0 does not match `> 0`).
    let sum: f64 = (1..20).map(|i| i as f64 * 1.5).sum();
    assert_eq!(
        s.get("log_metrics_bytes_out_total", &filter("bytes")),
        Some(sum)
    );
    // One series per distinct dimension value, capped at 5; the rest counted.
    let series = s
        .samples
        .keys()
        .filter(|k| k.starts_with("test_by_event_total{"))
        .count();
    assert_eq!(series, 5, "{}", s.dump("test_by_event"));
    assert_eq!(
        s.get(
            "trailwatch_series_dropped_total",
            &[("metric", "test_by_event_total")]
        ),
        Some(15.0)
    );
    assert_eq!(
        s.get("trailwatch_filter_matches_total", &filter("by_event")),
        Some(20.0)
    );
    // OpenMetrics when asked for.
    let addr = svc.metrics.unwrap();
    let r = http(
        addr,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(
        r.header("Content-Type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text();
    assert!(text.contains("# TYPE test_weighted counter\n"), "{text}");
    assert!(text.contains("test_weighted_total{filter=\"weighted\"} 17.5\n"));
    assert!(text.ends_with("# EOF\n"));
    let plain = http(addr, "GET", "/metrics", &[], b"");
    assert!(
        plain
            .header("Content-Type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    // Health and readiness, GET and HEAD.
    for path in ["/health", "/ready", "/-/healthy", "/-/ready"] {
        assert_eq!(http(addr, "GET", path, &[], b"").status, 200, "{path}");
        assert_eq!(http(addr, "HEAD", path, &[], b"").status, 200, "{path}");
    }
}
