//! Ingest: every envelope and every bad input, through stdin, TCP and HTTP alike; then what is
//! particular to each source (files, concurrent TCP, HTTP formats and status codes).

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::harness::*;

/// An input and what it must produce.
struct Case {
    name: &'static str,
    input: Vec<u8>,
    /// Events received (good and rejected).
    received: f64,
    /// CIS sign-in failures counted.
    failures: f64,
    /// Rejections by reason.
    rejected: &'static [(&'static str, f64)],
}

fn string(v: &serde_json::Value) -> String {
    v.to_string()
}

fn cases() -> Vec<Case> {
    let fail = failed_login();
    let ok = routine();
    let cwl = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "CloudTrail/logs",
        "logStream": "123456789012_CloudTrail_us-east-1", "subscriptionFilters": ["to-firehose"],
        "logEvents": [
            {"id": "1", "timestamp": 1764547200000u64, "message": string(&fail)},
            {"id": "2", "timestamp": 1764547200001u64, "message": string(&ok)},
            {"id": "3", "timestamp": 1764547200002u64, "message": string(&fail)}
        ]
    });
    let awslogs = json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gzip(cwl.to_string().as_bytes()))}});
    vec![
        Case {
            name: "bare records and text lines",
            input: [
                ndjson(&[fail.clone(), ok.clone(), fail.clone()]),
                b"plain text line\n[INFO] starting\n".to_vec(),
            ]
            .concat(),
            received: 5.0,
            failures: 2.0,
            rejected: &[],
        },
        Case {
            name: "S3 Records document",
            input: ndjson(&[
                json!({"Records": [fail.clone(), ok.clone(), fail.clone(), ok.clone()]}),
            ]),
            received: 4.0,
            failures: 2.0,
            rejected: &[],
        },
        Case {
            name: "EventBridge envelope",
            input: ndjson(&[
                json!({"version": "0", "id": "e1", "detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin", "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": fail.clone()}),
                json!({"version": "0", "id": "e2", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": ok.clone()}),
            ]),
            received: 2.0,
            failures: 1.0,
            rejected: &[],
        },
        Case {
            name: "CloudWatch Logs subscription (raw and Lambda awslogs) and a control message",
            input: ndjson(&[
                cwl.clone(),
                awslogs,
                json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "", "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}),
            ]),
            received: 6.0,
            failures: 4.0,
            rejected: &[],
        },
        Case {
            name: "shipper wrappers (Vector message, Fluent Bit log) and LookupEvents rows",
            input: ndjson(&[
                json!({"host": "ip-10-0-0-1", "message": string(&fail), "source_type": "file", "timestamp": "2026-12-01T00:00:00Z"}),
                json!({"date": 1764547200.5, "log": string(&fail)}),
                json!({"message": string(&json!({"Records": [fail.clone(), ok.clone()]}))}),
                json!({"EventId": "x", "EventName": "ConsoleLogin", "CloudTrailEvent": string(&fail)}),
                json!({"log": "ERROR plain text shipped by Fluent Bit"}),
            ]),
            received: 6.0,
            failures: 4.0,
            rejected: &[],
        },
        Case {
            name: "a JSON array of events on one line",
            input: ndjson(&[json!([fail.clone(), ok.clone(), fail.clone()])]),
            received: 3.0,
            failures: 2.0,
            rejected: &[],
        },
        Case {
            name: "bad input: truncated JSON, invalid UTF-8, a broken envelope; good events still count",
            input: [
                ndjson(std::slice::from_ref(&fail)),
                b"{\"eventName\":\"ConsoleLogin\",\"errorMessage\":\"Failed auth\n".to_vec(),
                b"{\"eventName\":\"ConsoleLogin\",\"x\":\"\xff\xfe\"}\n".to_vec(),
                b"{\"Records\":[{\"eventName\":\"ConsoleLogin\"},}\n".to_vec(),
                b"{\"awslogs\":{\"data\":\"not base64!!\"}}\n".to_vec(),
                ndjson(std::slice::from_ref(&fail)),
            ]
            .concat(),
            received: 6.0,
            failures: 2.0,
            rejected: &[
                ("truncated_json", 1.0),
                ("invalid_utf8", 1.0),
                ("invalid_json", 1.0),
                ("invalid_base64", 1.0),
            ],
        },
    ]
}

fn check(case: &Case, scrape: &Scrape, source: &str) {
    let at = format!("{} via {source}", case.name);
    assert_eq!(
        scrape.get("trailwatch_events_received_total", &[("source", source)]),
        Some(case.received),
        "{at}: events received\n{}",
        scrape.dump("trailwatch")
    );
    assert_eq!(
        scrape.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(case.failures),
        "{at}: sign-in failures"
    );
    let rejected_total: f64 = case.rejected.iter().map(|(_, n)| n).sum();
    assert_eq!(
        scrape.sum("trailwatch_events_rejected_total"),
        rejected_total,
        "{at}: rejections\n{}",
        scrape.dump("trailwatch_events_rejected")
    );
    for (reason, n) in case.rejected {
        assert_eq!(
            scrape.get("trailwatch_events_rejected_total", &[("reason", reason)]),
            Some(*n),
            "{at}: {reason}"
        );
    }
}

#[test]
fn every_case_via_stdin() {
    let dir = TempDir::new("stdin-cases");
    for case in cases() {
        let out = dir.path("metrics.prom");
        let args = [
            "--stdin",
            "--metrics-addr",
            "none",
            "--metrics-out",
            out.to_str().unwrap(),
        ];
        let (status, _, stderr) = run_to_end(&args, &case.input);
        assert!(status.success(), "{}: {status}\n{stderr}", case.name);
        check(&case, &Scrape::parse(&read(&out)), "stdin");
    }
}

#[test]
fn every_case_via_tcp() {
    for case in cases() {
        let svc = Service::start(&["--tcp", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
        let mut conn = TcpStream::connect(svc.tcp[0]).expect("connect");
        conn.write_all(&case.input).expect("send");
        drop(conn);
        let scrape = svc.wait_for(
            "trailwatch_events_received_total",
            &[("source", "tcp")],
            case.received,
        );
        check(&case, &scrape, "tcp");
    }
}

#[test]
fn every_case_via_http() {
    for case in cases() {
        let svc = Service::start(&["--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
        let r = post_ndjson(svc.http[0], &case.input);
        assert_eq!(r.status, 200, "{}: {}", case.name, r.text());
        let scrape = svc.wait_for(
            "trailwatch_events_received_total",
            &[("source", "http")],
            case.received,
        );
        check(&case, &scrape, "http");
    }
}

#[test]
fn stdin_accepts_a_gzip_stream_and_a_last_line_without_newline() {
    let dir = TempDir::new("stdin-gzip");
    let out = dir.path("m.prom");
    let mut input = ndjson(&[failed_login(), routine()]);
    input.extend_from_slice(failed_login().to_string().as_bytes());
    let args = [
        "--stdin",
        "--metrics-addr",
        "none",
        "--metrics-out",
        out.to_str().unwrap(),
    ];
    let (status, _, err) = run_to_end(&args, &gzip(&input));
    assert!(status.success(), "{err}");
    let s = Scrape::parse(&read(&out));
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(2.0)
    );
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "stdin")]),
        Some(3.0)
    );
}

#[test]
fn files_backfill_records_gz_ndjson_and_folders() {
    let dir = TempDir::new("files");
    let day = dir.path("AWSLogs/123456789012/CloudTrail/us-east-1/2026/12/01");
    std::fs::create_dir_all(&day).unwrap();
    let mut expected_failures = 0.0;
    for i in 0..5 {
        let records: Vec<_> = (0..200)
            .map(|j| {
                if (i + j) % 10 == 0 {
                    failed_login()
                } else {
                    routine()
                }
            })
            .collect();
        expected_failures += records
            .iter()
            .filter(|r| r["eventName"] == "ConsoleLogin")
            .count() as f64;
        let doc = json!({ "Records": records }).to_string();
        let name = format!(
            "123456789012_CloudTrail_us-east-1_20261201T00{i}5Z_ABCDEFGHIJKLMNO{i}.json.gz"
        );
        std::fs::write(day.join(name), gzip(doc.as_bytes())).unwrap();
    }
    std::fs::write(
        dir.path("extra.json"),
        json!({"Records": [failed_login()]}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path("events.ndjson"),
        ndjson(&[failed_login(), routine()]),
    )
    .unwrap();
    std::fs::write(dir.path("README.txt"), "not an event file").unwrap();
    let out = dir.path("m.prom");
    let root = dir.0.to_str().unwrap();
    let (status, _, err) = run_to_end(
        &[
            "--files",
            root,
            "--metrics-addr",
            "none",
            "--metrics-out",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert!(status.success(), "{err}");
    let s = Scrape::parse(&read(&out));
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "files")]),
        Some(1003.0),
        "{}",
        s.dump("trailwatch")
    );
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(expected_failures + 2.0)
    );
    assert_eq!(s.sum("trailwatch_events_rejected_total"), 0.0);
}

#[test]
fn files_backfill_skips_an_oversize_record_and_counts_the_rest() {
    let dir = TempDir::new("files-oversize");
    let mut big = failed_login();
    // Over the default 1 MiB limit and far larger than one read from the gzip stream, so the
    // record is skipped as it streams past, not held whole (this used to end the file there).
    big["requestParameters"] = json!({ "policy": "x".repeat(3_000_000) });
    let mut records = vec![failed_login(); 50];
    records.insert(20, big);
    records.extend(vec![routine(); 50]);
    let doc = json!({ "Records": records }).to_string();
    std::fs::write(dir.path("trail.json.gz"), gzip(doc.as_bytes())).unwrap();
    let out = dir.path("m.prom");
    let dead = dir.path("dead.ndjson");
    let (status, _, err) = run_to_end(
        &[
            "--files",
            dir.path("trail.json.gz").to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
            "--metrics-addr",
            "none",
            "--metrics-out",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert!(status.success(), "{err}");
    let s = Scrape::parse(&read(&out));
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(50.0),
        "{}",
        s.dump("trailwatch")
    );
    assert_eq!(
        s.get(
            "trailwatch_events_rejected_total",
            &[("reason", "oversize")]
        ),
        Some(1.0),
        "{}",
        s.dump("trailwatch")
    );
    assert_eq!(s.sum("trailwatch_events_rejected_total"), 1.0);
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "files")]),
        Some(101.0)
    );
    let dead = read(&dead);
    assert_eq!(dead.lines().count(), 1, "{dead}");
    assert!(dead.contains("oversize"), "{dead}");
}

#[test]
fn tcp_many_connections_and_oversize_lines() {
    let svc = Service::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--max-event-bytes",
        "4KiB",
    ]);
    let addr = svc.tcp[0];
    let senders: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).expect("connect");
                for j in 0..250 {
                    let e = if j % 5 == 0 {
                        failed_login()
                    } else {
                        routine()
                    };
                    c.write_all(format!("{e}\n").as_bytes()).expect("send");
                    if i == 0 && j == 100 {
                        // A line over the limit: dropped and counted; the connection goes on.
                        c.write_all(&vec![b'x'; 64 << 10]).expect("send");
                        c.write_all(b"\n").expect("send");
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let s = svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "tcp")],
        2001.0,
    );
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(400.0)
    );
    assert_eq!(
        s.get(
            "trailwatch_events_rejected_total",
            &[("reason", "oversize")]
        ),
        Some(1.0)
    );
    assert_eq!(s.get("trailwatch_tcp_connections_total", &[]), Some(8.0));
}

#[test]
fn tcp_msgpack_idle_and_half_open_connections_do_not_stop_the_service() {
    let svc = Service::start(&["--tcp", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let addr = svc.tcp[0];
    // Idle: connected, sends nothing.
    let _idle = TcpStream::connect(addr).unwrap();
    // Half-open: a partial line, then silence with the socket left open.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"{\"eventName\":\"Console").unwrap();
    // A stream that starts like MessagePack and then is not: rejected with a clear reason.
    let mut mp = TcpStream::connect(addr).unwrap();
    mp.write_all(&[0x92, 0xa3, b'f', b'o', b'o', 0xc1]).unwrap();
    // A good client is still served.
    let mut good = TcpStream::connect(addr).unwrap();
    good.write_all(&ndjson(&[failed_login(), failed_login()]))
        .unwrap();
    let s = svc.wait_for(
        SIGNIN_FAILURES,
        &filter("console_signin_failure_metric"),
        2.0,
    );
    let invalid = [("reason", "invalid_msgpack")];
    let s = if s.get("trailwatch_events_rejected_total", &invalid) == Some(1.0) {
        s
    } else {
        svc.wait_for("trailwatch_events_rejected_total", &invalid, 1.0)
    };
    assert_eq!(
        s.get("trailwatch_tcp_connections", &[]).map(|n| n >= 2.0),
        Some(true)
    );
    drop(good);
    drop(mp);
}

fn post(svc: &Service, headers: &[(&str, &str)], body: &[u8]) -> Response {
    http(svc.http[0], "POST", "/ingest", headers, body)
}

#[test]
fn http_body_formats_and_encodings() {
    let svc = Service::start(&["--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let fail = failed_login();
    let array = json!([fail, routine(), fail]).to_string();
    let single = fail.to_string();
    let concatenated = format!("{fail}{fail}");
    let records = json!({"Records": [fail, fail, routine()]}).to_string();
    let ndjson_no_trailing_newline = format!("{fail}\n{fail}");
    let json_ct = ("Content-Type", "application/json");
    // (headers, body, sign-in failures it holds)
    type Post<'a> = (Vec<(&'a str, &'a str)>, Vec<u8>, f64);
    let cases: Vec<Post> = vec![
        (vec![json_ct], array.clone().into_bytes(), 2.0),
        (vec![json_ct], single.into_bytes(), 1.0),
        (vec![json_ct], concatenated.into_bytes(), 2.0),
        (vec![json_ct], records.into_bytes(), 2.0),
        (
            vec![("Content-Type", "application/x-ndjson")],
            ndjson_no_trailing_newline.into_bytes(),
            2.0,
        ),
        (
            vec![json_ct, ("Content-Encoding", "gzip")],
            gzip(array.as_bytes()),
            2.0,
        ),
        (
            vec![json_ct, ("Content-Encoding", "zstd")],
            zstd::encode_all(array.as_bytes(), 1).unwrap(),
            2.0,
        ),
    ];
    let mut expected = 0.0;
    for (headers, body, failures) in cases {
        let r = post(&svc, &headers, &body);
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
        expected += failures;
    }
    svc.wait_for(
        SIGNIN_FAILURES,
        &filter("console_signin_failure_metric"),
        expected,
    );
    // Health checks (Vector's healthcheck is a HEAD).
    assert_eq!(http(svc.http[0], "HEAD", "/health", &[], b"").status, 200);
    assert_eq!(http(svc.http[0], "GET", "/", &[], b"").status, 200);
}

#[test]
fn http_status_codes() {
    let svc = Service::start(&[
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--http-max-body",
        "64KiB",
        "--http-token",
        "s3cret",
    ]);
    let auth = ("Authorization", "Bearer s3cret");
    let json_ct = ("Content-Type", "application/json");
    let good = failed_login().to_string().into_bytes();
    assert_eq!(post(&svc, &[json_ct], &good).status, 401, "no token");
    let wrong = post(&svc, &[json_ct, ("Authorization", "Bearer nope")], &good);
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("WWW-Authenticate"), Some("Bearer"));
    assert_eq!(post(&svc, &[json_ct, auth], &good).status, 200);
    let bad_array = post(&svc, &[json_ct, auth], b"[{\"a\":1},");
    assert_eq!(bad_array.status, 400);
    assert!(
        bad_array.text().contains("not a valid JSON array"),
        "{}",
        bad_array.text()
    );
    assert_eq!(
        post(
            &svc,
            &[json_ct, auth, ("Content-Encoding", "gzip")],
            b"not gzip"
        )
        .status,
        400
    );
    assert_eq!(
        post(&svc, &[json_ct, auth, ("Content-Encoding", "br")], &good).status,
        415
    );
    // Fluent Bit's `Format msgpack`: entries are accepted; a truncated one is a 400.
    assert_eq!(
        post(
            &svc,
            &[("Content-Type", "application/msgpack"), auth],
            &[0x81]
        )
        .status,
        400
    );
    let entry = rmp_serde::to_vec(&json!([[1_764_633_600, {}], routine()])).unwrap();
    let r = post(
        &svc,
        &[("Content-Type", "application/msgpack"), auth],
        &entry,
    );
    assert_eq!(
        (r.status, r.text()),
        (200, r#"{"accepted":1,"rejected":0}"#.to_owned())
    );
    assert_eq!(
        post(&svc, &[json_ct, auth], &vec![b' '; 65 << 10]).status,
        413,
        "over the limit"
    );
    // A gzip bomb: small on the wire, far over the limit once decompressed.
    let bomb = gzip(&vec![b'{'; 8 << 20]);
    assert!(bomb.len() < 64 << 10);
    let r = post(&svc, &[json_ct, auth, ("Content-Encoding", "gzip")], &bomb);
    assert_eq!(r.status, 413, "{}", r.text());
    // Still up, and the good event counted.
    let s = svc.wait_for(
        SIGNIN_FAILURES,
        &filter("console_signin_failure_metric"),
        1.0,
    );
    assert_eq!(
        s.get("trailwatch_http_responses_total", &[("code", "401")]),
        Some(2.0)
    );
    assert_eq!(
        s.get("trailwatch_http_responses_total", &[("code", "413")]),
        Some(2.0)
    );
    // Shippers drop a batch answered 413: each refusal is logged with the size and the limit.
    let refusals: Vec<String> = svc
        .logs()
        .into_iter()
        .filter(|l| l.contains("refused an HTTP body over --http-max-body"))
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(refusals[0].contains("\"limit\":65536"), "{}", refusals[0]);
}

#[test]
fn full_json_validation_rejects_what_framing_lets_through() {
    let dir = TempDir::new("validation");
    // Malformed, but nothing in it can match a CIS filter, so framing mode never parses it.
    let input = b"{\"a\":,\"b\":1}\n{\"eventName\":\"DescribeInstances\"}\n";
    for (mode, rejected) in [("framing", 0.0), ("full", 1.0)] {
        let out = dir.path("m.prom");
        let args = [
            "--stdin",
            "--json-validation",
            mode,
            "--metrics-addr",
            "none",
            "--metrics-out",
            out.to_str().unwrap(),
        ];
        let (status, _, err) = run_to_end(&args, input);
        assert!(status.success(), "{err}");
        let s = Scrape::parse(&read(&out));
        assert_eq!(
            s.sum("trailwatch_events_rejected_total"),
            rejected,
            "mode {mode}"
        );
    }
}

#[test]
fn dead_letter_keeps_every_rejected_event_with_its_reason() {
    let dir = TempDir::new("dead-letter");
    let dl = dir.path("dead.ndjson");
    let out = dir.path("m.prom");
    let input = [
        b"{\"truncated\":\n".to_vec(),
        b"{\"x\":\"\xff\"}\n".to_vec(),
        ndjson(&[failed_login()]),
    ]
    .concat();
    let args = [
        "--stdin",
        "--dead-letter",
        dl.to_str().unwrap(),
        "--metrics-addr",
        "none",
        "--metrics-out",
        out.to_str().unwrap(),
    ];
    let (status, _, err) = run_to_end(&args, &input);
    assert!(status.success(), "{err}");
    let lines: Vec<serde_json::Value> = read(&dl)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["reason"], "truncated_json");
    assert_eq!(lines[0]["event"], "{\"truncated\":");
    assert_eq!(lines[1]["reason"], "invalid_utf8");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(lines[1]["event_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, b"{\"x\":\"\xff\"}");
    let s = Scrape::parse(&read(&out));
    assert_eq!(s.get("trailwatch_dead_letter_events_total", &[]), Some(2.0));
}

#[test]
fn shutdown_with_idle_connections_is_prompt() {
    let mut svc = Service::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let _idle = TcpStream::connect(svc.tcp[0]).unwrap();
    let _idle_http = TcpStream::connect(svc.http[0]).unwrap();
    svc.signal("TERM");
    let status = svc.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}\n{}", svc.logs().join("\n"));
}

#[test]
fn stdin_from_a_regular_file_is_mapped_and_counts_like_a_pipe() {
    // Over two 8 MiB mapping windows, so lines cross window boundaries; one line is oversize
    // and the last has no newline.
    let dir = TempDir::new("mapped");
    let path = dir.path("events.ndjson");
    let mut data = Vec::new();
    let mut i = 0;
    while data.len() < 20 << 20 {
        let e = if i % 7 == 0 {
            failed_login()
        } else {
            routine()
        };
        data.extend_from_slice(e.to_string().as_bytes());
        data.push(b'\n');
        if i == 9000 {
            data.extend_from_slice(&vec![b'x'; 200 << 10]);
            data.push(b'\n');
        }
        i += 1;
    }
    data.extend_from_slice(failed_login().to_string().as_bytes());
    std::fs::write(&path, &data).unwrap();
    let run = |mapped: bool| -> Scrape {
        let out = dir.path(if mapped { "mapped.prom" } else { "piped.prom" });
        let args = [
            "--stdin",
            "--max-event-bytes",
            "64KiB",
            "--metrics-addr",
            "none",
            "--metrics-out",
            out.to_str().unwrap(),
        ];
        let status = if mapped {
            std::process::Command::new(bin())
                .args(args)
                .stdin(std::fs::File::open(&path).unwrap())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
        } else {
            run_to_end(&args, &data).0
        };
        assert!(status.success());
        Scrape::parse(&read(&out))
    };
    let (mapped, piped) = (run(true), run(false));
    let events = i as f64 + 2.0;
    for s in [&mapped, &piped] {
        assert_eq!(
            s.get("trailwatch_events_received_total", &[("source", "stdin")]),
            Some(events)
        );
        assert_eq!(
            s.get(
                "trailwatch_events_rejected_total",
                &[("reason", "oversize")]
            ),
            Some(1.0)
        );
    }
    assert_eq!(
        mapped.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        piped.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric"))
    );
    assert_eq!(
        mapped.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some((i as f64 / 7.0).ceil() + 1.0)
    );
}

/// Vector's `file` source → `http` sink at its defaults (NDJSON framing, gzip, batches limited
/// by an in-memory estimate of 10 MB) sends bodies over the default `--http-max-body` of
/// 10 MiB; answered 413, Vector drops them. NDJSON bodies stream, so no body limit applies and
/// every event counts.
#[test]
fn vector_default_batches_over_10_mib_are_accepted_whole() {
    let svc = Service::start(&["--http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let mut body = Vec::new();
    let mut n = 0u64;
    while body.len() <= 12 << 20 {
        let mut e = if n % 10 == 0 {
            failed_login()
        } else {
            routine()
        };
        e["eventID"] = json!(format!("id-{n}"));
        e["padding"] = json!("x".repeat(1500));
        let wrapper = json!({"file": "/var/log/cloudtrail/events.ndjson", "host": "vm",
            "message": string(&e), "source_type": "file", "timestamp": "2026-12-01T00:00:00Z"});
        body.extend_from_slice(wrapper.to_string().as_bytes());
        body.push(b'\n');
        n += 1;
    }
    // Vector ends the last line without a newline.
    body.pop();
    assert!(body.len() > 10 << 20);
    for (encoding, payload) in [("identity", body.clone()), ("gzip", gzip(&body))] {
        let r = post(
            &svc,
            &[
                ("Content-Type", "application/x-ndjson"),
                ("Content-Encoding", encoding),
            ],
            &payload,
        );
        assert_eq!(r.status, 200, "{encoding}: {}", r.text());
        assert_eq!(
            r.text(),
            format!("{{\"accepted\":{n},\"rejected\":0}}"),
            "{encoding}"
        );
    }
    let s = svc.scrape();
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "http")]),
        Some(2.0 * n as f64)
    );
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(2.0 * n.div_ceil(10) as f64)
    );
}
