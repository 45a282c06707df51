//! Lifecycle: SIGHUP reloads, SIGTERM drains, backpressure never drops.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

fn config(dir: &TempDir, filters: &str) -> std::path::PathBuf {
    let path = dir.path("trailwatch.toml");
    std::fs::write(&path, filters).unwrap();
    path
}

const A: &str = r#"
[[filters]]
name = "logins"
pattern = '{ $.eventName = "ConsoleLogin" }'
metric_namespace = "Test"
metric_name = "Logins"
"#;

#[test]
fn sighup_reloads_filters_and_keeps_counts_of_the_ones_that_stay() {
    let dir = TempDir::new("reload");
    let b = r#"
[[filters]]
name = "reads"
pattern = '{ $.eventName = "Describe*" }'
metric_namespace = "Test"
metric_name = "Reads"
"#;
    let path = config(&dir, &format!("{A}{b}"));
    let svc = Service::start(&[
        "--config",
        path.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let send = |events: &[serde_json::Value]| {
        let r = post_ndjson(svc.http[0], &ndjson(events));
        assert_eq!(r.status, 200);
    };
    send(&[failed_login(), failed_login(), routine()]);
    svc.wait_for("test_logins_total", &filter("logins"), 2.0);
    svc.wait_for("test_reads_total", &filter("reads"), 1.0);

    // Keep "logins", drop "reads", add "errors".
    let c = r#"
[[filters]]
name = "errors"
pattern = '{ $.errorMessage = * }'
metric_namespace = "Test"
metric_name = "Errors"
"#;
    config(&dir, &format!("{A}{c}"));
    svc.signal("HUP");
    let s = svc.wait_for(
        "trailwatch_config_reloads_total",
        &[("result", "success")],
        2.0,
    );
    assert_eq!(
        s.get("test_logins_total", &filter("logins")),
        Some(2.0),
        "kept its value"
    );
    assert_eq!(
        s.get("test_errors_total", &filter("errors")),
        Some(0.0),
        "new filter starts at 0"
    );
    assert_eq!(
        s.get("test_reads_total", &filter("reads")),
        None,
        "removed filter is gone"
    );
    send(&[failed_login()]);
    let s = svc.wait_for("test_logins_total", &filter("logins"), 3.0);
    assert_eq!(s.get("test_errors_total", &filter("errors")), Some(1.0));

    // An invalid configuration is refused and the running filters stay.
    config(
        &dir,
        "[[filters]]\nname = \"broken\"\npattern = '{ $.a = }'\n",
    );
    svc.signal("HUP");
    svc.wait_for(
        "trailwatch_config_reloads_total",
        &[("result", "failure")],
        1.0,
    );
    send(&[failed_login()]);
    svc.wait_for("test_logins_total", &filter("logins"), 4.0);
    assert!(
        svc.logs()
            .iter()
            .any(|l| l.contains("reload failed") && l.contains("trailwatch.toml:3:")),
        "the error names the file and position"
    );
}

/// Filters that make evaluation slow on purpose (every event walks a big array with regexes),
/// so queues really fill.
fn slow_filters(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[filters]]\nname = \"slow{i}\"\npattern = '{{ $.items[*].name = %^x{i}.*y.*z$% || $.items[*].id > {i}000000 }}'\nmetric_namespace = \"Slow\"\nmetric_name = \"S{i}\"\n"
            )
        })
        .collect()
}

fn heavy_event(n: usize) -> serde_json::Value {
    let items: Vec<_> = (0..200)
        .map(|k| json!({"name": format!("item-{k}-{n}"), "id": k}))
        .collect();
    let mut e = failed_login();
    e["items"] = json!(items);
    e
}

#[test]
fn sigterm_finishes_every_accepted_event_and_exits_zero() {
    let dir = TempDir::new("drain");
    let out = dir.path("final.prom");
    let path = config(&dir, &format!("{A}{}", slow_filters(10)));
    let mut svc = Service::start(&[
        "--config",
        path.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--metrics-out",
        out.to_str().unwrap(),
        "--shutdown-timeout",
        "60s",
    ]);
    let body = ndjson(&(0..20).map(heavy_event).collect::<Vec<_>>());
    let mut accepted = 0.0;
    for _ in 0..30 {
        let r = post_ndjson(svc.http[0], &body);
        if r.status == 200 {
            accepted += 20.0;
        }
    }
    assert!(accepted > 0.0);
    svc.signal("TERM");
    let status = svc.wait(Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", svc.logs().join("\n"));
    let s = Scrape::parse(&read(&out));
    assert_eq!(
        s.get("test_logins_total", &filter("logins")),
        Some(accepted),
        "every accepted event was processed"
    );
}

#[test]
fn backpressure_answers_503_with_retry_after_and_loses_nothing() {
    let dir = TempDir::new("backpressure");
    let path = config(&dir, &format!("{A}{}", slow_filters(20)));
    let svc = Service::start(&[
        "--config",
        path.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--queue-bytes",
        "256KiB",
        "--http-max-body",
        "128KiB",
        "--max-event-bytes",
        "64KiB",
    ]);
    let body = ndjson(&(0..8).map(heavy_event).collect::<Vec<_>>());
    assert!(body.len() < 128 << 10, "body {}", body.len());
    let addr = svc.http[0];
    // A reply waits until its events are processed, so each poster has one request in flight
    // (as a shipper's worker does): enough of them overrun the budget.
    let posters: Vec<_> = (0..8)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut busy = 0;
                for _ in 0..5 {
                    // Retry like Vector and Fluent Bit do, honouring Retry-After (shortened here).
                    for attempt in 0.. {
                        let r = post_ndjson(addr, &body);
                        if r.status == 200 {
                            break;
                        }
                        assert_eq!(r.status, 503, "{}", r.text());
                        assert_eq!(r.header("Retry-After"), Some("1"));
                        busy += 1;
                        assert!(attempt < 2000, "never admitted");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                busy
            })
        })
        .collect();
    let busy: usize = posters.into_iter().map(|p| p.join().unwrap()).sum();
    assert!(
        busy > 0,
        "the pipeline never filled up: the test did not exercise backpressure"
    );
    // TCP under the same pressure: reads pause, nothing is dropped.
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    std::io::Write::write_all(&mut conn, &body).unwrap();
    drop(conn);
    let s = svc.wait_for(
        "test_logins_total",
        &filter("logins"),
        8.0 * 5.0 * 8.0 + 8.0,
    );
    assert_eq!(s.sum("trailwatch_events_rejected_total"), 0.0);
    assert!(
        s.get("trailwatch_http_responses_total", &[("code", "503")])
            .unwrap_or(0.0)
            >= busy as f64
    );
}
