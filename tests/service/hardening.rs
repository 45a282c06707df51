//! Regression tests for defects a review found (each named after the bug it pins): honest
//! HTTP acknowledgements, compressed stdin from a regular file, and a runtime that a blocked
//! sink cannot stall.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

/// `n` records, every `nth` of them a failed console sign-in.
fn mix(n: usize, nth: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            if i % nth == 0 {
                failed_login()
            } else {
                routine()
            }
        })
        .collect()
}

fn thousand_records() -> Vec<u8> {
    ndjson(&mix(1000, 4))
}

fn counted(s: &Scrape) -> (Option<f64>, Option<f64>) {
    (
        s.get("trailwatch_events_received_total", &[("source", "stdin")]),
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
    )
}

#[test]
fn stdin_redirected_from_a_gzip_or_zstd_file_counts_every_record() {
    let dir = TempDir::new("stdin-compressed-file");
    let plain = thousand_records();
    let zstd = zstd::encode_all(&plain[..], 3).expect("zstd");
    for (name, data) in [("gzip", gzip(&plain)), ("zstd", zstd)] {
        let path = dir.path(&format!("events.{name}"));
        std::fs::write(&path, &data).expect("write");
        for redirected in [false, true] {
            let out = dir.path(&format!("{name}-{redirected}.prom"));
            let args = [
                "--stdin",
                "--metrics-addr",
                "none",
                "--metrics-out",
                out.to_str().expect("utf-8 path"),
            ];
            let status = if redirected {
                Command::new(bin())
                    .args(args)
                    .stdin(std::fs::File::open(&path).expect("open"))
                    .stderr(Stdio::null())
                    .status()
                    .expect("run")
            } else {
                run_to_end(&args, &data).0
            };
            assert!(status.success(), "{name}, redirected: {redirected}");
            let scrape = Scrape::parse(&read(&out));
            assert_eq!(
                counted(&scrape),
                (Some(1000.0), Some(250.0)),
                "{name}, redirected: {redirected}"
            );
            assert_eq!(
                scrape.get(
                    "trailwatch_events_rejected_total",
                    &[("reason", "invalid_utf8")]
                ),
                Some(0.0),
                "{name}, redirected: {redirected}"
            );
        }
    }
}

#[test]
fn http_accepted_counts_events_not_lines_plus_one() {
    let svc = Service::start(&["--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let two = ndjson(&[failed_login(), routine()]);
    let r = post_ndjson(svc.http[0], &two);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), r#"{"accepted":2,"rejected":0}"#);
    let mut with_bad = two.clone();
    with_bad.extend_from_slice(b"{\"eventName\": \n");
    let r = post_ndjson(svc.http[0], &with_bad);
    assert_eq!(r.text(), r#"{"accepted":2,"rejected":1}"#);
}

#[test]
fn http_answers_503_when_a_drop_newest_sink_dropped_the_events() {
    let dir = TempDir::new("drop-newest");
    let config = dir.path("trailwatch.toml");
    // A destination that is down, so the buffer only fills.
    std::fs::write(
        &config,
        format!(
            r#"
[[sinks]]
type = "tcp"
address = "{}"
buffer = {{ type = "memory", max_events = 10, when_full = "drop_newest" }}
"#,
            free_addr()
        ),
    )
    .expect("config");
    let svc = Service::start(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let eight = ndjson(&vec![routine(); 8]);
    let r = post_ndjson(svc.http[0], &eight);
    assert_eq!(r.status, 200, "room for 8: {}", r.text());
    let r = post_ndjson(svc.http[0], &eight);
    assert_eq!(r.status, 503, "the sink dropped these: {}", r.text());
    assert!(r.header("Retry-After").is_some());
    let s = svc.scrape();
    assert_eq!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "tcp_0"), ("outcome", "dropped")]
        ),
        Some(8.0),
        "{}",
        s.dump("trailwatch_sink_events_total")
    );
}

/// A GET with a short deadline: a stalled runtime answers nothing.
fn get_within(addr: SocketAddr, path: &str, within: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, within).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let head = String::from_utf8_lossy(&raw);
    head.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_sink_blocked_for_seconds_does_not_stall_ingest_or_metrics() {
    let dir = TempDir::new("blocked-sink");
    let fifo = StuckFifo::new(&dir, "slow-disk");
    let config = dir.path("trailwatch.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[sinks]]
type = "file"
path = "{}"
concurrency = 4
batch = {{ max_events = 50, timeout = "10ms" }}
"#,
            fifo.path.display()
        ),
    )
    .expect("config");
    let svc = Service::start(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "--tcp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let mut pipe = fifo.opened();
    // Enough to fill the pipe several times over.
    let events: Vec<_> = (0..2000).map(|_| routine()).collect();
    let mut conn = TcpStream::connect(svc.tcp[0]).expect("connect");
    conn.write_all(&ndjson(&events)).expect("send");
    svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "tcp")],
        2000.0,
    );
    // The sink is now stuck in a write. Everything else must still answer, for seconds.
    let until = Instant::now() + Duration::from_secs(4);
    let mut rounds = 0;
    while Instant::now() < until {
        let quick = Duration::from_secs(2);
        assert_eq!(
            get_within(svc.metrics.expect("metrics"), "/metrics", quick),
            Some(200),
            "/metrics stalled behind the blocked sink"
        );
        assert_eq!(
            get_within(svc.http[0], "/", quick),
            Some(200),
            "HTTP stalled behind the blocked sink"
        );
        let r = post_ndjson(svc.http[0], &ndjson(&[routine()]));
        assert_eq!(r.status, 200, "HTTP ingest: {}", r.text());
        conn.write_all(&ndjson(&[routine()])).expect("TCP ingest");
        rounds += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let expected = 2000.0 + 2.0 * f64::from(rounds);
    svc.wait_for("trailwatch_events_evaluated_total", &[], expected);
    // Unblock the "disk": every event is delivered.
    let drained = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = pipe.read_to_end(&mut all);
        all
    });
    svc.wait_for(
        "trailwatch_sink_events_total",
        &[("sink", "file_0"), ("outcome", "sent")],
        expected,
    );
    drop(svc);
    let delivered = drained.join().expect("drain");
    assert_eq!(
        delivered.iter().filter(|&&b| b == b'\n').count() as f64,
        expected
    );
}

/// Regression: a `{"Records":[…]}` document over --max-event-bytes (a CloudTrail file POSTed
/// whole) was rejected as one oversize event; the limit applies to each record.
#[test]
fn http_records_document_over_the_event_limit_counts_every_record() {
    let svc = Service::start(&["--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let records = mix(10_000, 8);
    let body = serde_json::json!({ "Records": records }).to_string();
    assert!(
        body.len() >= 5 << 20,
        "the document is {} bytes",
        body.len()
    );
    let r = http(
        svc.http[0],
        "POST",
        "/",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), r#"{"accepted":10000,"rejected":0}"#);
    let s = svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "http")],
        10_000.0,
    );
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(1250.0)
    );
}

/// Regression: a body declared as JSON that is not JSON was accepted as a text event.
#[test]
fn http_declared_json_that_is_not_json_is_a_400() {
    let svc = Service::start(&["--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let r = http(
        svc.http[0],
        "POST",
        "/",
        &[("Content-Type", "application/json")],
        b"\x00\x01\x02{[[",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("not JSON"), "{}", r.text());
    let text = http(
        svc.http[0],
        "POST",
        "/",
        &[("Content-Type", "text/plain")],
        b"ERROR something happened\n",
    );
    assert_eq!(text.text(), r#"{"accepted":1,"rejected":0}"#);
}
