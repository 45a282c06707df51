//! Byte-exact captures of what real shippers send (Fluent Bit 5.1.1 and Vector 0.57.0, 50
//! CloudTrail records each; see tests/data/shippers/*/README.md) replayed against the running
//! service: every capture must be decoded to exactly the records of its `events.ndjson`, in
//! order, whatever the wire format (HTTP bodies, TCP lines, MessagePack, the Forward protocol).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

fn capture_dir(tool: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/shippers")
        .join(tool)
}

fn capture(tool: &str, name: &str) -> Vec<u8> {
    std::fs::read(capture_dir(tool).join(name)).expect("capture file")
}

fn expected(tool: &str) -> Vec<Value> {
    read(&capture_dir(tool).join("events.ndjson"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("events.ndjson line"))
        .collect()
}

/// A forwarded line as the record the shipper was given: the enrichment object removed, the
/// shipper's own `date` dropped, and Vector's file-source wrapper opened.
fn as_record(line: &str) -> Value {
    let mut v: Value = serde_json::from_str(line).expect("forwarded NDJSON");
    let obj = v.as_object_mut().expect("an object");
    obj.remove("trailwatch");
    obj.remove("date");
    if obj.get("source_type").and_then(Value::as_str) == Some("file") {
        let inner = obj["message"].as_str().expect("message string");
        return serde_json::from_str(inner).expect("wrapped record");
    }
    v
}

/// Sends a whole captured HTTP request and reads one response (the captures keep the
/// connection alive, so the response is read by its length).
fn replay_http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).expect("send");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).expect("read the response");
        assert!(n > 0, "connection closed before a response");
        raw.extend_from_slice(&chunk[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if raw.len() >= split + 4 + len {
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = String::from_utf8_lossy(&raw[split + 4..split + 4 + len]).into_owned();
            return (status, body);
        }
    }
}

/// Sends a captured TCP stream and closes the connection.
fn replay_stream(addr: SocketAddr, stream: &[u8]) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(stream).expect("send");
}

/// Lines of the forwarded file once it has at least `n` (bounded wait).
fn forwarded(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} events forwarded",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_capture_decodes_to_exactly_its_records() {
    let dir = TempDir::new("shipper-captures");
    let out = dir.path("forwarded.ndjson");
    let target = format!("file:{}", out.display());
    // One worker, so the forwarded order is the order of arrival.
    let svc = Service::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--fluent",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--forward",
        &target,
    ]);
    let fluent_bit = "fluent-bit-5.1.1";
    let vector = "vector-0.57.0";
    enum Via {
        Http,
        Tcp,
        Fluent,
    }
    let replays = [
        (fluent_bit, "http-json.bin", Via::Http),
        (fluent_bit, "http-json-lines-gzip.bin", Via::Http),
        (fluent_bit, "http-json-stream.bin", Via::Http),
        (fluent_bit, "tcp-json-lines.bin", Via::Tcp),
        (fluent_bit, "tcp-msgpack.bin", Via::Tcp),
        (fluent_bit, "forward.bin", Via::Fluent),
        (fluent_bit, "forward-compressed.bin", Via::Fluent),
        (fluent_bit, "forward-ack.bin", Via::Fluent),
        (vector, "http-ndjson-gzip.bin", Via::Http),
        (vector, "http-json-array.bin", Via::Http),
        (vector, "http-acks.bin", Via::Http),
        (vector, "http-raw-wrapper.bin", Via::Http),
        (vector, "socket-tcp-json.bin", Via::Tcp),
    ];
    let mut done = 0;
    for (tool, name, via) in replays {
        let bytes = capture(tool, name);
        match via {
            Via::Http => {
                let (status, body) = replay_http(svc.http[0], &bytes);
                assert_eq!(status, 200, "{tool}/{name}: {body}");
                let reply: Value = serde_json::from_str(&body).expect("JSON reply");
                assert_eq!(reply["accepted"], 50, "{tool}/{name}: {body}");
                assert_eq!(reply["rejected"], 0, "{tool}/{name}: {body}");
            }
            Via::Tcp => replay_stream(svc.tcp[0], &bytes),
            Via::Fluent => replay_stream(svc.fluent[0], &bytes),
        }
        let lines = forwarded(&out, done + 50);
        let got: Vec<Value> = lines[done..done + 50]
            .iter()
            .map(|l| as_record(l))
            .collect();
        let want = expected(tool);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{tool}/{name}: record {i} differs");
        }
        done += 50;
    }
    let lines = forwarded(&out, done);
    assert_eq!(lines.len(), done, "no event forwarded twice");
    let s = svc.scrape();
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "fluent")]),
        Some(150.0)
    );
    assert_eq!(s.sum("trailwatch_events_rejected_total"), 0.0);
}
