//! Test harness: the real `trailwatch` binary on ephemeral 127.0.0.1 ports, a minimal blocking
//! HTTP client, and a Prometheus text parser. Every wait is bounded by a deadline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_trailwatch")
}

/// A scratch directory removed at drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trailwatch-test-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running service.
pub struct Service {
    child: Child,
    pub tcp: Vec<SocketAddr>,
    pub http: Vec<SocketAddr>,
    pub fluent: Vec<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts `trailwatch ARGS` (plus JSON logs) and waits until every listener it was given is
    /// bound. Use `127.0.0.1:0` addresses.
    pub fn start(args: &[&str]) -> Service {
        Service::start_env(args, &[])
    }

    /// Like `start`, with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Service {
        Service::start_with(args, env, Stdio::null())
    }

    fn start_with(args: &[&str], env: &[(&str, &str)], stdin: Stdio) -> Service {
        let mut child = Command::new(bin())
            .args(args)
            .args(["--log-format", "json"])
            .env("TRAILWATCH_LOG", "info")
            .envs(env.iter().copied())
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start trailwatch");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let count = |flag: &str| args.iter().filter(|a| **a == flag).count();
        let (want_tcp, want_http, want_fluent) =
            (count("--tcp"), count("--http"), count("--fluent"));
        let want_metrics = !args
            .windows(2)
            .any(|w| w[0] == "--metrics-addr" && w[1] == "none");
        let mut s = Service {
            child,
            tcp: vec![],
            http: vec![],
            fluent: vec![],
            metrics: None,
            logs,
        };
        let deadline = Instant::now() + DEADLINE;
        loop {
            s.tcp = s.addrs("accepting TCP events");
            s.http = s.addrs("accepting HTTP events");
            s.fluent = s.addrs("accepting Forward protocol events");
            s.metrics = s.addrs("serving /metrics").first().copied();
            if s.tcp.len() == want_tcp
                && s.http.len() == want_http
                && s.fluent.len() == want_fluent
                && (s.metrics.is_some() || !want_metrics)
            {
                return s;
            }
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!(
                    "trailwatch exited early ({status}):\n{}",
                    s.logs().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "trailwatch did not start:\n{}",
                s.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Addresses logged with `message`.
    fn addrs(&self, message: &str) -> Vec<SocketAddr> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == message)
            .filter_map(|v| v["fields"]["addr"].as_str()?.parse().ok())
            .collect()
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`HUP`, `TERM`, `INT`).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "trailwatch did not exit:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The current metrics.
    pub fn scrape(&self) -> Scrape {
        let addr = self.metrics.expect("metrics endpoint");
        let r = http(addr, "GET", "/metrics", &[], b"");
        assert_eq!(r.status, 200, "scrape failed: {}", r.text());
        Scrape::parse(&r.text())
    }

    /// Polls until `metric{labels}` equals `value`; returns a scrape taken after that (a single
    /// scrape is not an atomic snapshot: families are gathered one after another while workers
    /// flush, so the one that showed the condition may predate other counters' updates).
    pub fn wait_for(&self, metric: &str, labels: &[(&str, &str)], value: f64) -> Scrape {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let s = self.scrape();
            if s.get(metric, labels) == Some(value) {
                return self.scrape();
            }
            assert!(
                Instant::now() < deadline,
                "{metric}{labels:?} stayed at {:?}, expected {value}\n{}",
                s.get(metric, labels),
                s.dump(metric)
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `trailwatch ARGS` to completion with `input` on stdin; returns (status, stdout, stderr).
pub fn run_to_end(args: &[&str], input: &[u8]) -> (ExitStatus, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start trailwatch");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// POSTs an NDJSON body to `/`.
pub fn post_ndjson(addr: SocketAddr, body: &[u8]) -> Response {
    http(
        addr,
        "POST",
        "/",
        &[("Content-Type", "application/x-ndjson")],
        body,
    )
}

/// A loopback address nothing listens on (a receiver can be started on it later).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
}

/// One HTTP/1.1 request (`Connection: close`).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    // The server may answer (e.g. 413) before reading all of a large body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// A parsed Prometheus text exposition: `name{k="v",...}` (labels sorted) → value.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: BTreeMap<String, f64>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value: f64 = value.parse().unwrap_or(f64::NAN);
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
                None => (series, vec![]),
            };
            samples.insert(
                key(
                    name,
                    &labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                ),
                value,
            );
        }
        Scrape { samples }
    }

    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.get(&key(name, labels)).copied()
    }

    /// Sum over every series of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(k, _)| k.split('{').next() == Some(name))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn dump(&self, prefix: &str) -> String {
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with(prefix.split('_').next().unwrap_or(prefix)))
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let mut l: Vec<_> = labels.to_vec();
    l.sort();
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim_start_matches(',').trim().to_owned();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, o)) => value.push(o),
                    None => {}
                },
                '"' => {
                    end = eq + 2 + i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((name, value));
        rest = &rest[end.min(rest.len())..];
    }
    out
}

/// A CloudTrail record with `eventName` and any extra fields.
pub fn record(event_name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut r = serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:session", "arn": "arn:aws:sts::123456789012:assumed-role/app/session", "accountId": "123456789012"},
        "eventTime": "2026-12-01T00:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "aws-cli/2.17.0",
        "requestParameters": null,
        "responseElements": null,
        "eventID": format!("{:08x}-0000-4000-8000-000000000000", fastrand_like(event_name)),
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012"
    });
    if let (Some(obj), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    r
}

fn fastrand_like(s: &str) -> u32 {
    s.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    })
}

/// A failed console sign-in (matches the CIS sign-in failure filter).
pub fn failed_login() -> serde_json::Value {
    record(
        "ConsoleLogin",
        serde_json::json!({"eventSource": "signin.amazonaws.com", "errorMessage": "Failed authentication", "eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Failure"}}),
    )
}

/// A routine read no CIS filter matches.
pub fn routine() -> serde_json::Value {
    record("DescribeInstances", serde_json::json!({"readOnly": true}))
}

/// NDJSON of `events`.
pub fn ndjson(events: &[serde_json::Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(e.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// The family CIS sign-in failures count into.
pub const SIGNIN_FAILURES: &str = "cis_benchmark_console_signin_failure_metric_total";

/// Label set of a CIS filter.
pub fn filter(name: &str) -> [(&str, &str); 1] {
    [("filter", name)]
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Runs `promtool ARGS` and fails the test with its output unless it succeeds.
pub fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool is not installed: run `apt-get install -y prometheus` (./.ci/run does)");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A FIFO that is opened for reading (so a file sink's open returns) and then never read: every
/// write past the pipe's 64 KiB blocks, as a hung disk would.
pub struct StuckFifo {
    pub path: PathBuf,
    opener: std::thread::JoinHandle<std::fs::File>,
}

impl StuckFifo {
    /// Makes `name` in `dir`; its reader opens it once the service opens it for writing.
    pub fn new(dir: &TempDir, name: &str) -> StuckFifo {
        let path = dir.path(name);
        let made = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
        assert!(made.success(), "mkfifo {}", path.display());
        let opener = {
            let path = path.clone();
            std::thread::spawn(move || std::fs::File::open(path).expect("open the FIFO"))
        };
        StuckFifo { path, opener }
    }

    /// The read end, once the service has opened the FIFO (keep it: dropping it ends the pipe).
    pub fn opened(self) -> std::fs::File {
        self.opener.join().expect("FIFO reader thread")
    }
}
