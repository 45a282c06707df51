//! The Forward protocol server (`--fluent`) as a Fluent Bit or Fluentd client sees it: acks
//! only after acceptance and none when the pipeline cannot take the chunk, the shared-key
//! handshake, and the Message and PackedForward modes (the captures in `shippers` cover Forward
//! and CompressedPackedForward).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::harness::*;

fn pack(v: &Value) -> Vec<u8> {
    rmp_serde::to_vec(v).expect("pack")
}

/// A Forward-mode message of `events` with the `chunk` option.
fn chunk_message(events: &[Value], chunk: &str) -> Vec<u8> {
    let entries: Vec<Value> = events
        .iter()
        .map(|e| json!([[1_764_633_600, {}], e]))
        .collect();
    pack(&json!(["cloudtrail", entries, {"chunk": chunk, "size": events.len()}]))
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s
}

/// Reads one MessagePack value the server sent.
fn read_reply<T: serde::de::DeserializeOwned>(s: &mut TcpStream) -> T {
    rmp_serde::from_read(s).expect("a MessagePack reply")
}

#[test]
fn acks_come_after_acceptance_and_message_and_packed_modes_decode() {
    let svc = Service::start(&["--fluent", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let mut c = connect(svc.fluent[0]);
    let events = vec![failed_login(), routine(), failed_login()];
    c.write_all(&chunk_message(&events, "Y2h1bmsx")).unwrap();
    let ack: HashMap<String, String> = read_reply(&mut c);
    assert_eq!(ack["ack"], "Y2h1bmsx");
    // The ack means the events were evaluated: they are counted already.
    let s = svc.scrape();
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "fluent")]),
        Some(3.0)
    );
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(2.0)
    );

    // Message mode, with the record wrapped as a string in `log` (unwrapped like JSON input).
    let wrapped = json!({"log": failed_login().to_string(), "stream": "stdout"});
    c.write_all(&pack(
        &json!(["cloudtrail", 1_764_633_600, wrapped, {"chunk": "m1"}]),
    ))
    .unwrap();
    let ack: HashMap<String, String> = read_reply(&mut c);
    assert_eq!(ack["ack"], "m1");
    // PackedForward: entries back to back in a binary value, no ack asked for.
    let mut packed = Vec::new();
    for e in [failed_login(), routine()] {
        packed.extend(pack(&json!([1_764_633_600, e])));
    }
    let mut msg = vec![0x92];
    msg.extend(pack(&json!("cloudtrail")));
    rmp::encode::write_bin(&mut msg, &packed).unwrap();
    c.write_all(&msg).unwrap();
    let s = svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "fluent")],
        6.0,
    );
    assert_eq!(
        s.get(SIGNIN_FAILURES, &filter("console_signin_failure_metric")),
        Some(4.0)
    );
    assert_eq!(s.sum("trailwatch_events_rejected_total"), 0.0);
}

#[test]
fn a_chunk_the_pipeline_cannot_take_is_never_acknowledged() {
    let dir = TempDir::new("fluent-full");
    // A file sink on a FIFO nobody reads, with a tiny blocking buffer: once the pipe and the
    // buffer are full, nothing more can be accepted.
    let fifo = StuckFifo::new(&dir, "stuck.fifo");
    let config = dir.path("trailwatch.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sources]
fluent_ack_timeout = "1s"

[[sinks]]
type = "file"
path = "{}"
batch = {{ max_events = 10, timeout = "10ms" }}
buffer = {{ type = "memory", max_events = 20, when_full = "block" }}
"#,
            fifo.path.display()
        ),
    )
    .expect("config");
    let svc = Service::start(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "--fluent",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let _pipe = fifo.opened();
    // Fill the pipe (64 KiB) and the buffer without acks.
    let mut filler = connect(svc.fluent[0]);
    let many: Vec<Value> = (0..2000).map(|_| routine()).collect();
    let entries: Vec<Value> = many.iter().map(|e| json!([1, e])).collect();
    filler.write_all(&pack(&json!(["t", entries]))).unwrap();
    svc.wait_for(
        "trailwatch_events_received_total",
        &[("source", "fluent")],
        2000.0,
    );
    // Now a chunk that asks for an ack: the connection must close without one.
    let mut c = connect(svc.fluent[0]);
    c.write_all(&chunk_message(&[failed_login()], "bm8tYWNr"))
        .unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(got.is_empty(), "an ack for a chunk nobody took: {got:?}");
    // The refusal is logged (the log line may trail the closed socket a little).
    let logged = (0..100).any(|_| {
        let found = svc
            .logs()
            .iter()
            .any(|l| l.contains("not acknowledged, the client will retry"));
        if !found {
            std::thread::sleep(Duration::from_millis(20));
        }
        found
    });
    assert!(logged, "the refusal is logged:\n{}", svc.logs().join("\n"));
}

#[test]
fn the_shared_key_handshake() {
    let svc = Service::start(&[
        "--fluent",
        "127.0.0.1:0",
        "--fluent-shared-key",
        "s3cret",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let hex512 = |parts: &[&[u8]]| {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        hex::encode(h.finalize())
    };
    let handshake = |key: &str| {
        let mut c = connect(svc.fluent[0]);
        // HELO: ["HELO", {"nonce": bin, "auth": bin, "keepalive": true}]
        let mut helo = [0u8; 256];
        let n = c.read(&mut helo).expect("HELO");
        let helo = &helo[..n];
        assert_eq!(&helo[..6], b"\x92\xa4HELO");
        let at = helo
            .windows(6)
            .position(|w| w == b"\xa5nonce")
            .expect("a nonce")
            + 6;
        assert_eq!(helo[at], 0xc4, "the nonce is binary");
        let nonce = helo[at + 2..at + 2 + usize::from(helo[at + 1])].to_vec();
        let salt = "0123456789abcdef";
        let digest = hex512(&[salt.as_bytes(), b"client-1", &nonce, key.as_bytes()]);
        c.write_all(&pack(&json!(["PING", "client-1", salt, digest, "", ""])))
            .unwrap();
        let pong: (String, bool, String, String, String) = read_reply(&mut c);
        (c, pong, nonce, salt)
    };
    let (mut c, pong, nonce, salt) = handshake("s3cret");
    assert_eq!(pong.0, "PONG");
    assert!(pong.1, "authenticated: {pong:?}");
    // The server proves it holds the key too.
    assert_eq!(
        pong.4,
        hex512(&[salt.as_bytes(), pong.3.as_bytes(), &nonce, b"s3cret"])
    );
    c.write_all(&chunk_message(&[failed_login()], "YQ=="))
        .unwrap();
    let ack: HashMap<String, String> = read_reply(&mut c);
    assert_eq!(ack["ack"], "YQ==");

    let (mut bad, pong, _, _) = handshake("wrong");
    assert!(!pong.1, "a wrong key is refused: {pong:?}");
    assert_eq!(pong.2, "shared_key mismatch");
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the connection is closed after a refusal");

    // Events without the handshake are not taken.
    let mut rude = connect(svc.fluent[0]);
    let mut helo = [0u8; 256];
    let _ = rude.read(&mut helo);
    rude.write_all(&chunk_message(&[failed_login()], "Yg=="))
        .unwrap();
    let mut rest = Vec::new();
    let _ = rude.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no ack without the handshake");
    let s = svc.scrape();
    assert_eq!(
        s.get("trailwatch_events_received_total", &[("source", "fluent")]),
        Some(1.0)
    );
}
