//! Trail health per account and region: off by default, and with `[trail_health]` the events,
//! the newest eventTime and the delivery lag of streamed events, per (account, region).

use std::io::Write;

use crate::harness::*;

fn send(svc: &Service, events: &[serde_json::Value]) {
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    conn.write_all(&ndjson(events)).unwrap();
}

#[test]
fn trail_health_counts_per_account_and_region_when_configured() {
    let args = ["--tcp", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"];
    // Off by default: no families, whatever arrives.
    let off = Service::start(&args);
    send(&off, &[routine(), failed_login()]);
    let s = off.wait_for(
        "trailwatch_filter_matches_total",
        &filter("console_signin_failure_metric"),
        1.0,
    );
    assert_eq!(
        s.sum("trailwatch_trail_events_total"),
        0.0,
        "{}",
        s.dump("trailwatch_trail")
    );

    let dir = TempDir::new("trail");
    let config = dir.path("t.toml");
    std::fs::write(&config, "[trail_health]\nsilence = \"30m\"\n").unwrap();
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(&args);
    let on = Service::start(&all);
    let in_region = |region: &str, time: &str| {
        record(
            "DescribeInstances",
            serde_json::json!({"awsRegion": region, "eventTime": time}),
        )
    };
    send(
        &on,
        &[
            in_region("eu-west-1", "2026-12-01T00:00:00Z"),
            in_region("eu-west-1", "2026-12-01T00:10:00Z"),
            in_region("us-east-1", "2026-12-01T00:05:00Z"),
            serde_json::json!({"message": "not a trail event"}),
        ],
    );
    let eu = [("account", "123456789012"), ("region", "eu-west-1")];
    let us = [("account", "123456789012"), ("region", "us-east-1")];
    let s = on.wait_for("trailwatch_trail_events_total", &eu, 2.0);
    assert_eq!(s.get("trailwatch_trail_events_total", &us), Some(1.0));
    assert_eq!(
        s.sum("trailwatch_trail_events_total"),
        3.0,
        "the text event is no trail event"
    );
    // 2026-12-01T00:10:00Z
    assert_eq!(
        s.get("trailwatch_trail_newest_event_timestamp_seconds", &eu),
        Some(1_796_083_800.0)
    );
    assert_eq!(
        s.get("trailwatch_trail_delivery_lag_seconds_count", &eu),
        Some(2.0)
    );
    // These events are a day or more old: every lag is above the largest finite bucket.
    let mut le = eu.to_vec();
    le.push(("le", "86400"));
    assert_eq!(
        s.get("trailwatch_trail_delivery_lag_seconds_bucket", &le),
        Some(0.0)
    );
    assert!(
        s.get("trailwatch_trail_delivery_lag_seconds_sum", &eu)
            .unwrap()
            > 2.0 * 86_400.0
    );
}
