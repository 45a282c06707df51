//! Forwarding: each destination's request format is checked against its documented API, and
//! with a receiver that fails at random and goes away, every eventID arrives (exactly once where
//! the API allows idempotency); the disk buffer survives `kill -9`; a full buffer blocks or
//! drops exactly as configured.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::receiver::{Receiver, Request, ok};

/// `n` distinct records; every fifth a failed sign-in. eventIDs are `id-<i>`.
fn events(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut e = if i % 5 == 0 {
                failed_login()
            } else {
                routine()
            };
            e["eventID"] = json!(format!("id-{i}"));
            e["eventTime"] = json!(format!("2026-12-01T00:{:02}:{:02}Z", (i / 60) % 60, i % 60));
            e["awsRegion"] = json!(if i % 2 == 0 { "eu-west-1" } else { "us-east-1" });
            e
        })
        .collect()
}

fn ids(n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("id-{i}")).collect()
}

fn config(dir: &TempDir, sinks: &str) -> String {
    let path = dir.path("trailwatch.toml");
    std::fs::write(
        &path,
        format!("[enrichment]\nstatic_fields = {{ cluster = \"test\" }}\n{sinks}"),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

fn send_tcp(svc: &Service, events: &[Value]) {
    let mut c = TcpStream::connect(svc.tcp[0]).unwrap();
    c.write_all(&ndjson(events)).unwrap();
}

/// eventIDs of NDJSON lines.
fn ndjson_ids(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("NDJSON line")["eventID"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn ndjson_http_json_array_file_and_tcp_formats() {
    let http = Receiver::start(|_, _| ok(200));
    let array = Receiver::start(|_, _| ok(200));
    let dir = TempDir::new("formats");
    let file = dir.path("out.ndjson");
    let tcp_in = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_addr = tcp_in.local_addr().unwrap();
    let got_tcp = Arc::new(Mutex::new(Vec::new()));
    {
        let got = got_tcp.clone();
        std::thread::spawn(move || {
            for s in tcp_in.incoming().flatten() {
                let got = got.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut s = s;
                    let _ = std::io::Read::read_to_end(&mut s, &mut buf);
                    got.lock().unwrap().extend(buf);
                });
            }
        });
    }
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\ntype = \"http\"\nurl = \"{}\"\nbatch = {{ timeout = \"50ms\" }}\n\
             [[sinks]]\ntype = \"http\"\nformat = \"json_array\"\ncompression = \"none\"\nurl = \"{}\"\nbatch = {{ timeout = \"50ms\" }}\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n\
             [[sinks]]\ntype = \"tcp\"\naddress = \"{tcp_addr}\"\nbatch = {{ timeout = \"50ms\" }}\n",
            http.url("/events"),
            array.url("/array"),
            file.display()
        ),
    );
    let mut svc = Service::start(&[
        "--config",
        &cfg,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    send_tcp(&svc, &events(50));
    http.wait_until("50 NDJSON events", DEADLINE, |r| {
        r.iter().map(|r| ndjson_ids(&r.body).len()).sum::<usize>() == 50
    });
    array.wait_until("50 array events", DEADLINE, |r| {
        r.iter()
            .map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).map_or(0, |v| v.len()))
            .sum::<usize>()
            == 50
    });
    let req = &http.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/events");
    assert_eq!(req.header("Content-Type"), Some("application/x-ndjson"));
    assert!(req.gzipped, "HTTP sinks gzip by default");
    assert!(req.body.ends_with(b"\n"));
    let first: Value = serde_json::from_str(req.text().lines().next().unwrap()).unwrap();
    assert_eq!(
        first["trailwatch"]["filters"],
        json!(["console_signin_failure_metric"])
    );
    assert_eq!(first["trailwatch"]["cluster"], "test");
    assert_eq!(
        first["eventID"], "id-0",
        "the original event is forwarded unchanged, plus the object"
    );
    let areq = &array.requests()[0];
    assert_eq!(areq.header("Content-Type"), Some("application/json"));
    assert!(!areq.gzipped);
    svc.signal("TERM");
    assert!(svc.wait(Duration::from_secs(20)).success());
    let lines = ndjson_ids(read(&file).as_bytes());
    assert_eq!(lines.iter().cloned().collect::<BTreeSet<_>>(), ids(50));
    assert_eq!(lines.len(), 50);
    let tcp_ids = ndjson_ids(&got_tcp.lock().unwrap());
    assert_eq!(tcp_ids.into_iter().collect::<BTreeSet<_>>(), ids(50));
}

#[test]
fn loki_push_streams_with_nanosecond_string_timestamps() {
    let loki = Receiver::start(|_, _| ok(204));
    let dir = TempDir::new("loki");
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\ntype = \"loki\"\nurl = \"{}\"\nlabels = {{ job = \"cloudtrail\", region = \"$.awsRegion\" }}\nheaders = {{ \"X-Scope-OrgID\" = \"tenant-1\" }}\nbatch = {{ timeout = \"50ms\" }}\n",
            loki.url("")
        ),
    );
    let svc = Service::start(&[
        "--config",
        &cfg,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let sent = events(20);
    send_tcp(&svc, &sent);
    let count = |r: &[Request]| -> usize {
        r.iter()
            .map(|r| {
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                v["streams"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["values"].as_array().unwrap().len())
                    .sum::<usize>()
            })
            .sum()
    };
    loki.wait_until("20 Loki entries", DEADLINE, |r| count(r) == 20);
    let req = &loki.requests()[0];
    assert_eq!(req.path, "/loki/api/v1/push");
    assert_eq!(req.header("Content-Type"), Some("application/json"));
    assert_eq!(req.header("X-Scope-OrgID"), Some("tenant-1"));
    for r in loki.requests() {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        for s in v["streams"].as_array().unwrap() {
            let labels = s["stream"].as_object().unwrap();
            assert_eq!(labels["job"], "cloudtrail");
            let region = labels["region"].as_str().unwrap();
            for pair in s["values"].as_array().unwrap() {
                let ts = pair[0].as_str().expect("timestamp is a string");
                let line: Value =
                    serde_json::from_str(pair[1].as_str().expect("line is a string")).unwrap();
                assert_eq!(line["awsRegion"], region, "streams group by label");
                let event_time = line["eventTime"].as_str().unwrap();
                let (m, s2) = (&event_time[14..16], &event_time[17..19]);
                let expect = 1_796_083_200_000_000_000i128
                    + (m.parse::<i128>().unwrap() * 60 + s2.parse::<i128>().unwrap())
                        * 1_000_000_000;
                assert_eq!(ts, expect.to_string(), "nanoseconds from eventTime");
            }
        }
    }
}

#[test]
fn elasticsearch_bulk_and_splunk_hec_shapes() {
    let es = Receiver::start(|req, _| {
        let n = req.text().lines().count() / 2;
        let items: Vec<Value> = (0..n).map(|_| json!({"create": {"status": 201}})).collect();
        (
            200,
            vec![],
            json!({"took": 1, "errors": false, "items": items})
                .to_string()
                .into_bytes(),
        )
    });
    let hec = Receiver::start(|_, _| (200, vec![], br#"{"text":"Success","code":0}"#.to_vec()));
    let dir = TempDir::new("es-hec");
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\ntype = \"elasticsearch\"\nurl = \"{}\"\nindex = \"cloudtrail-%Y.%m.%d\"\nbatch = {{ timeout = \"50ms\" }}\n\
             [[sinks]]\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken_env = \"TRAILWATCH_TEST_HEC_TOKEN\"\nindex = \"aws\"\nbatch = {{ timeout = \"50ms\" }}\n",
            es.url(""),
            hec.url("")
        ),
    );
    let svc = Service::start_env(
        &[
            "--config",
            &cfg,
            "--tcp",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[("TRAILWATCH_TEST_HEC_TOKEN", "hec-token-123")],
    );
    send_tcp(&svc, &events(30));
    es.wait_until("30 bulk docs", DEADLINE, |r| {
        r.iter()
            .map(|r| r.text().lines().count() / 2)
            .sum::<usize>()
            == 30
    });
    hec.wait_until("30 HEC events", DEADLINE, |r| {
        r.iter().map(|r| r.text().lines().count()).sum::<usize>() == 30
    });
    let req = &es.requests()[0];
    assert_eq!(req.path, "/_bulk");
    assert_eq!(req.header("Content-Type"), Some("application/x-ndjson"));
    assert!(
        req.body.ends_with(b"\n"),
        "a _bulk body ends with a newline"
    );
    let lines: Vec<&str> = std::str::from_utf8(&req.body).unwrap().lines().collect();
    let action: Value = serde_json::from_str(lines[0]).unwrap();
    let doc: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        action,
        json!({"create": {"_index": "cloudtrail-2026.12.01", "_id": doc["eventID"]}})
    );
    assert!(doc["trailwatch"].is_object());
    let h = &hec.requests()[0];
    assert_eq!(h.path, "/services/collector/event");
    assert_eq!(h.header("Authorization"), Some("Splunk hec-token-123"));
    let env: Value = serde_json::from_str(h.text().lines().next().unwrap()).unwrap();
    assert_eq!(env["sourcetype"], "aws:cloudtrail");
    assert_eq!(env["index"], "aws");
    assert_eq!(env["event"]["eventID"], "id-0");
    assert_eq!(
        env["time"],
        json!(1_796_083_200.0),
        "time from eventTime, epoch seconds"
    );
}

/// A flaky HTTP endpoint: a third of the requests fail (500, 503, 429) at random.
fn flaky(n: u64) -> bool {
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    x % 3 == 0
}

#[test]
fn a_flaky_receiver_that_goes_away_still_gets_every_event() {
    // Elasticsearch-like: documents keyed by _id, `create` of an existing id is 409 — so retries
    // cannot duplicate. Items fail (429) at random too.
    let store: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let es = {
        let store = store.clone();
        Receiver::start(move |req, n| {
            if flaky(n) {
                return ok([500, 503, 429][(n % 3) as usize]);
            }
            let mut docs = store.lock().unwrap();
            let lines: Vec<&str> = std::str::from_utf8(&req.body).unwrap().lines().collect();
            let mut items = Vec::new();
            let mut errors = false;
            for (i, pair) in lines.chunks(2).enumerate() {
                let action: Value = serde_json::from_str(pair[0]).unwrap();
                let id = action["create"]["_id"].as_str().unwrap().to_owned();
                let status = if flaky(n * 1000 + i as u64 + 7) {
                    errors = true;
                    429
                } else if let std::collections::hash_map::Entry::Vacant(slot) = docs.entry(id) {
                    slot.insert(1);
                    201
                } else {
                    errors = true;
                    409
                };
                items.push(json!({"create": {"_id": action["create"]["_id"], "status": status}}));
            }
            (
                200,
                vec![],
                json!({"errors": errors, "items": items})
                    .to_string()
                    .into_bytes(),
            )
        })
    };
    let ndjson_rx = Receiver::start(|_, n| if flaky(n) { ok(503) } else { ok(200) });
    let dir = TempDir::new("flaky");
    let retry = "retry = { initial_backoff = \"20ms\", max_backoff = \"300ms\" }\nbatch = { max_events = 50, timeout = \"20ms\" }\nconcurrency = 3\n";
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\nname = \"es\"\ntype = \"elasticsearch\"\nurl = \"{}\"\n{retry}\
             [[sinks]]\nname = \"ndjson\"\ntype = \"http\"\nurl = \"{}\"\n{retry}",
            es.url(""),
            ndjson_rx.url("/")
        ),
    );
    let svc = Service::start(&[
        "--config",
        &cfg,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let all = events(2000);
    send_tcp(&svc, &all[..1000]);
    std::thread::sleep(Duration::from_millis(300));
    es.go_away();
    ndjson_rx.go_away();
    send_tcp(&svc, &all[1000..]);
    std::thread::sleep(Duration::from_secs(3));
    es.back();
    ndjson_rx.back();
    let want = ids(2000);
    let deadline = Duration::from_secs(90);
    es.wait_until("every document", deadline, |_| {
        store.lock().unwrap().len() == 2000
    });
    assert_eq!(
        store
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        want,
        "exactly once, by _id"
    );
    ndjson_rx.wait_until("every event at least once", deadline, |reqs| {
        let got: BTreeSet<String> = reqs
            .iter()
            .filter(|r| r.status == 200)
            .flat_map(|r| ndjson_ids(&r.body))
            .collect();
        got == want
    });
    let s = svc.scrape();
    assert!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "es"), ("outcome", "retried")]
        )
        .unwrap_or(0.0)
            > 0.0
    );
    assert_eq!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "es"), ("outcome", "dropped")]
        ),
        Some(0.0)
    );
    assert_eq!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "ndjson"), ("outcome", "dropped")]
        ),
        Some(0.0)
    );
}

#[test]
fn the_disk_buffer_survives_kill_9() {
    // Nothing listens on the port yet: every delivery fails, events wait on disk.
    let port = free_addr();
    let dir = TempDir::new("kill9");
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\nname = \"disk\"\ntype = \"http\"\nurl = \"http://{port}/\"\nbuffer = {{ type = \"disk\", path = \"{}\" }}\nretry = {{ initial_backoff = \"20ms\", max_backoff = \"200ms\" }}\nbatch = {{ timeout = \"20ms\" }}\n",
            dir.path("buffer").display()
        ),
    );
    let mut svc = Service::start(&[
        "--config",
        &cfg,
        "--http",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let all = events(600);
    for chunk in all.chunks(100) {
        let r = post_ndjson(svc.http[0], &ndjson(chunk));
        assert_eq!(r.status, 200, "accepted means on disk: {}", r.text());
    }
    svc.signal("KILL");
    let _ = svc.wait(Duration::from_secs(10));
    drop(svc);
    let rx = Receiver::start_on(port, |_, _| ok(200));
    let _svc = Service::start(&[
        "--config",
        &cfg,
        "--metrics-addr",
        "127.0.0.1:0",
        "--tcp",
        "127.0.0.1:0",
    ]);
    let want = ids(600);
    rx.wait_until(
        "every accepted event after the restart",
        Duration::from_secs(60),
        |reqs| {
            reqs.iter()
                .flat_map(|r| ndjson_ids(&r.body))
                .collect::<BTreeSet<_>>()
                == want
        },
    );
}

/// A service with one HTTP sink, "small", to `port` (where nothing listens yet), whose buffer
/// is `buffer` (TOML), fed 1000 events over TCP.
fn small_sink_fed_1000(dir: &TempDir, port: SocketAddr, buffer: &str, extra: &[&str]) -> Service {
    let cfg = config(
        dir,
        &format!(
            "[[sinks]]\nname = \"small\"\ntype = \"http\"\nurl = \"http://{port}/\"\nbuffer = {{ {buffer} }}\nretry = {{ initial_backoff = \"20ms\", max_backoff = \"100ms\" }}\nbatch = {{ max_events = 10, timeout = \"20ms\" }}\n"
        ),
    );
    let mut args = vec![
        "--config",
        &cfg,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let svc = Service::start(&args);
    send_tcp(&svc, &events(1000));
    svc
}

#[test]
fn a_full_buffer_drops_newest_exactly_as_counted() {
    let port = free_addr();
    let dir = TempDir::new("drop");
    let svc = small_sink_fed_1000(
        &dir,
        port,
        r#"max_events = 100, when_full = "drop_newest""#,
        &[],
    );
    let s = svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "tcp")],
        1000.0,
    );
    let dropped = s
        .get(
            "trailwatch_sink_events_total",
            &[("sink", "small"), ("outcome", "dropped")],
        )
        .unwrap();
    assert!(dropped >= 800.0, "dropped {dropped}");
    let rx = Receiver::start_on(port, |_, _| ok(200));
    let kept = 1000 - dropped as usize;
    rx.wait_until(
        "the events that were kept",
        Duration::from_secs(30),
        |reqs| {
            reqs.iter()
                .map(|r| ndjson_ids(&r.body).len())
                .sum::<usize>()
                == kept
        },
    );
    let s = svc.wait_for(
        "trailwatch_sink_events_total",
        &[("sink", "small"), ("outcome", "sent")],
        kept as f64,
    );
    assert_eq!(
        s.get(
            "trailwatch_sink_buffered",
            &[("sink", "small"), ("unit", "events")]
        ),
        Some(0.0)
    );
}

#[test]
fn a_full_buffer_blocks_and_loses_nothing() {
    let port = free_addr();
    let dir = TempDir::new("block");
    let svc = small_sink_fed_1000(
        &dir,
        port,
        r#"max_events = 50, when_full = "block""#,
        &["--threads", "1"],
    );
    std::thread::sleep(Duration::from_secs(2));
    let s = svc.scrape();
    let buffered = s
        .get(
            "trailwatch_sink_buffered",
            &[("sink", "small"), ("unit", "events")],
        )
        .unwrap_or(0.0);
    assert!(
        buffered <= 50.0 + 1000.0 / 10.0,
        "the buffer is bounded: {buffered}"
    );
    assert_eq!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "small"), ("outcome", "dropped")]
        ),
        Some(0.0)
    );
    let rx = Receiver::start_on(port, |_, _| ok(200));
    rx.wait_until("all 1000 events", Duration::from_secs(60), |reqs| {
        reqs.iter()
            .flat_map(|r| ndjson_ids(&r.body))
            .collect::<BTreeSet<_>>()
            == ids(1000)
    });
}

#[test]
fn https_with_a_custom_ca() {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "trailwatch test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let rx = Receiver::start_tls(Arc::new(server), |_, _| ok(200));
    let dir = TempDir::new("tls");
    let ca_file = dir.path("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let https = format!("https://{}/", rx.addr);
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\nname = \"tls\"\ntype = \"http\"\nurl = \"{https}\"\ntls = {{ ca_file = \"{}\" }}\nbatch = {{ timeout = \"20ms\" }}\n",
            ca_file.display()
        ),
    );
    let svc = Service::start(&[
        "--config",
        &cfg,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    send_tcp(&svc, &events(10));
    rx.wait_until("10 events over TLS", DEADLINE, |reqs| {
        reqs.iter()
            .map(|r| ndjson_ids(&r.body).len())
            .sum::<usize>()
            == 10
    });

    // Without the CA the certificate is not trusted: nothing is delivered, everything retried.
    let cfg2 = config(
        &dir,
        &format!(
            "[[sinks]]\nname = \"untrusted\"\ntype = \"http\"\nurl = \"{https}\"\nretry = {{ initial_backoff = \"20ms\", max_backoff = \"50ms\" }}\nbatch = {{ timeout = \"20ms\" }}\n"
        ),
    );
    let svc2 = Service::start(&[
        "--config",
        &cfg2,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    send_tcp(&svc2, &events(3));
    let s = {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let s = svc2.scrape();
            if s.get(
                "trailwatch_sink_events_total",
                &[("sink", "untrusted"), ("outcome", "retried")],
            )
            .unwrap_or(0.0)
                > 0.0
            {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "never retried");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "untrusted"), ("outcome", "sent")]
        ),
        Some(0.0)
    );
}

#[test]
fn forward_matched_only_and_destination_rejections_go_to_the_dead_letter_file() {
    let rx = Receiver::start(|_, _| (400, vec![], br#"{"error":"mapping conflict"}"#.to_vec()));
    let dir = TempDir::new("matched-only");
    let dl = dir.path("dead.ndjson");
    let cfg = config(
        &dir,
        &format!(
            "[[sinks]]\nname = \"strict\"\ntype = \"http\"\nurl = \"{}\"\nbatch = {{ timeout = \"20ms\" }}\n",
            rx.url("/")
        ),
    );
    let svc = Service::start(&[
        "--config",
        &cfg,
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--forward-matched-only",
        "--dead-letter",
        dl.to_str().unwrap(),
    ]);
    send_tcp(&svc, &events(50)); // 10 of them are failed sign-ins
    let s = svc.wait_for(
        "trailwatch_sink_events_total",
        &[("sink", "strict"), ("outcome", "dead_lettered")],
        10.0,
    );
    assert_eq!(
        s.get(
            "trailwatch_sink_events_total",
            &[("sink", "strict"), ("outcome", "retried")]
        ),
        Some(0.0),
        "a 400 is not retried"
    );
    let forwarded: usize = rx
        .requests()
        .iter()
        .map(|r| ndjson_ids(&r.body).len())
        .sum();
    assert_eq!(forwarded, 10, "only matched events are forwarded");
    let lines: Vec<Value> = read(&dl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["reason"], "sink_rejected");
    assert_eq!(lines[0]["sink"], "strict");
    assert!(
        lines[0]["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 400: {\"error\":\"mapping conflict\"}"),
        "{}",
        lines[0]
    );
    let event: Value = serde_json::from_str(lines[0]["event"].as_str().unwrap()).unwrap();
    assert_eq!(event["eventName"], "ConsoleLogin");
}
