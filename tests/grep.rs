//! `trailwatch grep` end to end on archives the tests write: Records files (gzip, zstd, plain,
//! pretty-printed), NDJSON with envelopes, nested folders; the PATTERN, the shortcuts, the
//! eventTime window, the output formats, exit statuses, and agreement with the service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trailwatch-grep-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Record `i`: deterministic mix of users, addresses, events, failures and times.
fn record(i: usize) -> Value {
    let users = ["alice", "bob", "carol"];
    let events = [
        "DescribeInstances",
        "ConsoleLogin",
        "DeleteBucket",
        "GetObject",
    ];
    let user = users[i % 3];
    let mut r = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": user,
            "arn": format!("arn:aws:iam::111122223333:user/{user}"), "accountId": "111122223333"},
        "eventTime": format!("2026-03-01T{:02}:{:02}:00Z", (i / 60) % 24, i % 60),
        "eventSource": "ec2.amazonaws.com",
        "eventName": events[i % 4],
        "awsRegion": if i % 2 == 0 { "us-east-1" } else { "eu-west-1" },
        "sourceIPAddress": format!("203.0.113.{}", i % 7),
        "eventID": format!("id-{i}"),
    });
    if i % 5 == 0 {
        r["errorCode"] = json!("AccessDenied");
    }
    r
}

fn matches_expected(i: usize, pred: &dyn Fn(&Value) -> bool) -> bool {
    pred(&record(i))
}

/// Each record's exact bytes, written with odd spacing so "as stored" is visible.
fn stored(i: usize) -> String {
    serde_json::to_string(&record(i)).unwrap().replacen(
        "{\"eventVersion\":",
        "{ \"eventVersion\" : ",
        1,
    )
}

const N: usize = 400;

/// Records 0..N spread over: gzip Records files in nested folders, a zstd Records file, a plain
/// Records file, an NDJSON file, and an NDJSON file of EventBridge envelopes; plus a file the
/// walk skips.
fn archive(root: &Path) {
    let records_doc = |range: std::ops::Range<usize>| {
        let parts: Vec<String> = range.map(stored).collect();
        format!("{{\"Records\":[{}]}}", parts.join(","))
    };
    for (n, chunk) in (0..200).step_by(50).enumerate() {
        let rel = format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/0{}/111122223333_CloudTrail_us-east-1_20260301T0{n}00Z_abc{n}.json.gz",
            n + 1
        );
        write(root, &rel, &gzip(records_doc(chunk..chunk + 50).as_bytes()));
    }
    write(
        root,
        "other/part.json.zst",
        &zstd::encode_all(records_doc(200..250).as_bytes(), 3).unwrap(),
    );
    write(root, "other/plain.json", records_doc(250..300).as_bytes());
    let ndjson: String = (300..350).map(|i| stored(i) + "\n").collect();
    write(root, "ndjson/events.ndjson", ndjson.as_bytes());
    let eventbridge: String = (350..N)
        .map(|i| {
            format!(
                "{{\"version\":\"0\",\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.ec2\",\"detail\":{}}}\n",
                stored(i)
            )
        })
        .collect();
    write(root, "ndjson/eventbridge.jsonl", eventbridge.as_bytes());
    write(root, "notes.txt", b"ConsoleLogin is not an event here\n");
}

fn grep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .arg("grep")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn count(args: &[&str]) -> usize {
    let out = grep(&[&["--count"], args].concat());
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{out:?}"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn expected(pred: &dyn Fn(&Value) -> bool) -> usize {
    (0..N).filter(|&i| matches_expected(i, pred)).count()
}

#[test]
fn prints_each_matching_record_as_stored() {
    let dir = TempDir::new("stored");
    archive(&dir.0);
    let root = dir.0.to_str().unwrap();
    let out = grep(&["{ $.eventName = \"ConsoleLogin\" }", root]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut got = lines(&out);
    got.sort();
    // Records of Records files and NDJSON lines: the record's own bytes. EventBridge: the
    // envelope (what is stored; the service evaluates its detail and forwards the envelope).
    let mut want: Vec<String> = (0..N)
        .filter(|i| i % 4 == 1)
        .map(|i| {
            if i >= 350 {
                format!(
                    "{{\"version\":\"0\",\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.ec2\",\"detail\":{}}}",
                    stored(i)
                )
            } else {
                stored(i)
            }
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    // Piped stderr: no progress bar, nothing at all.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Piped: NDJSON without asking; the skipped .txt file contributes nothing.
    assert!(got.iter().all(|l| !l.contains("not an event")));
}

#[test]
fn shortcuts_and_pattern_combine_with_and() {
    let dir = TempDir::new("shortcuts");
    archive(&dir.0);
    let root = dir.0.to_str().unwrap();
    let user = |v: &Value, u: &str| v["userIdentity"]["userName"] == u;
    assert_eq!(
        count(&["--user", "alice", root]),
        expected(&|v| user(v, "alice"))
    );
    assert_eq!(
        count(&[
            "--user",
            "alice",
            "--user",
            "arn:aws:iam::111122223333:user/bob",
            root
        ]),
        expected(&|v| user(v, "alice") || user(v, "bob"))
    );
    assert_eq!(
        count(&["--ip", "203.0.113.3", root]),
        expected(&|v| v["sourceIPAddress"] == "203.0.113.3")
    );
    assert_eq!(
        count(&["--failed", root]),
        expected(&|v| v.get("errorCode").is_some())
    );
    assert_eq!(
        count(&["--event", "Delete*", "--event", "GetObject", root]),
        expected(&|v| v["eventName"] == "DeleteBucket" || v["eventName"] == "GetObject")
    );
    // The PATTERN and every shortcut must all match.
    let both = expected(&|v| {
        user(v, "bob") && v.get("errorCode").is_some() && v["awsRegion"] == "us-east-1"
    });
    assert!(both > 0);
    assert_eq!(
        count(&[
            "--user",
            "bob",
            "--failed",
            "{ $.awsRegion = us-east-1 }",
            root
        ]),
        both
    );
    assert_eq!(
        count(&[
            "-e",
            "{ $.awsRegion = us-east-1 }",
            "--user",
            "bob",
            "--failed",
            root
        ]),
        both
    );
    // A term pattern with a shortcut.
    assert_eq!(
        count(&["--user", "carol", "\"DeleteBucket\"", root]),
        expected(&|v| user(v, "carol") && v["eventName"] == "DeleteBucket")
    );
}

#[test]
fn event_time_window() {
    let dir = TempDir::new("window");
    archive(&dir.0);
    let root = dir.0.to_str().unwrap();
    let t = |v: &Value| v["eventTime"].as_str().unwrap().to_owned();
    let since = "2026-03-01T02:00:00Z";
    let until = "2026-03-01T05:30:00Z";
    assert_eq!(
        count(&["--since", since, root]),
        expected(&|v| t(v).as_str() >= since)
    );
    assert_eq!(
        count(&["--since", since, "--until", until, root]),
        expected(&|v| t(v).as_str() >= since && t(v).as_str() < until)
    );
    assert_eq!(
        count(&[
            "--until",
            "2026-03-01T01:00:00+01:00",
            "--event",
            "ConsoleLogin",
            root
        ]),
        expected(&|v| t(v).as_str() < "2026-03-01T00:00:00Z" && v["eventName"] == "ConsoleLogin")
    );
    let out = grep(&["--since", "last tuesday", root]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since 'last tuesday'"));
}

#[test]
fn table_format() {
    let dir = TempDir::new("table");
    archive(&dir.0);
    let root = dir.0.to_str().unwrap();
    let out = grep(&[
        "--format",
        "table",
        "--event",
        "DeleteBucket",
        "--failed",
        "--threads",
        "1",
        root,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = lines(&out);
    assert!(
        text[0].starts_with("TIME")
            && text[0].contains("IDENTITY")
            && text[0].contains("SOURCE IP")
    );
    let n = expected(&|v| v["eventName"] == "DeleteBucket" && v.get("errorCode").is_some());
    assert_eq!(text.len(), n + 1);
    // Record 10: alice? 10 % 3 = 1 → bob, DeleteBucket (10 % 4 = 2), error (10 % 5 = 0).
    let row = text
        .iter()
        .find(|l| l.starts_with("2026-03-01T00:10:00Z"))
        .expect("record 10");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "2026-03-01T00:10:00Z",
            "bob",
            "ec2:DeleteBucket",
            "203.0.113.3",
            "us-east-1",
            "AccessDenied"
        ]
    );
}

#[test]
fn exit_statuses_and_errors() {
    let dir = TempDir::new("exit");
    archive(&dir.0);
    let root = dir.0.to_str().unwrap();
    let out = grep(&["{ $.eventName = NoSuchCall }", root]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = grep(&["{ $.eventName = ", root]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains('^'),
        "{out:?}"
    );
    // A corrupt gzip file: reported by name; the others are still searched.
    let bad = write(
        &dir.0,
        "bad/broken.json.gz",
        &gzip(b"{\"Records\":[{\"eventName\":\"ConsoleLogin\"}]}")[..20],
    );
    let out = grep(&["--count", "{ $.eventName = ConsoleLogin }", root]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(bad.to_str().unwrap()),
        "{out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        (N / 4).to_string()
    );
    let out = grep(&["{ $.x = 1 }"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PATH"));
    let out = grep(&["--user", "alice", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stdin_and_pretty_printed_records() {
    let dir = TempDir::new("stdin");
    let pretty = serde_json::to_string_pretty(&json!({"Records": [record(1), record(2)]})).unwrap();
    let path = write(&dir.0, "pretty.json", pretty.as_bytes());
    let out = grep(&["--event", "ConsoleLogin", path.to_str().unwrap()]);
    let got = lines(&out);
    assert_eq!(got.len(), 1);
    let v: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v, record(1));
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["grep", "--failed", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = (0..20).map(|i| stored(i) + "\n").collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&gzip(input.as_bytes()))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(lines(&out), [stored(0), stored(5), stored(10), stored(15)]);
}

/// The service, reading the same archive with the same pattern, counts the same events.
#[test]
fn agrees_with_the_service() {
    let dir = TempDir::new("agree");
    archive(&dir.0);
    let data = dir.0.join("data");
    std::fs::rename(dir.0.join("AWSLogs"), &data).unwrap();
    for (name, pattern) in [
        ("logins", "{ $.eventName = ConsoleLogin }"),
        (
            "denied",
            "{ ($.errorCode = \"AccessDenied\") && ($.userIdentity.userName = \"carol\") }",
        ),
        ("term", "\"203.0.113.4\""),
    ] {
        let filters = dir.0.join("filters.json");
        std::fs::write(
            &filters,
            json!({"metricFilters":[{"filterName": name, "filterPattern": pattern,
            "metricTransformations":[{"metricName":"M","metricNamespace":"T","metricValue":"1"}]}]})
            .to_string(),
        )
        .unwrap();
        let prom = dir.0.join("out.prom");
        let status = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
            .args([
                "--files",
                data.to_str().unwrap(),
                "--aws-metric-filters",
                filters.to_str().unwrap(),
                "--metrics-addr",
                "none",
                "--metrics-out",
                prom.to_str().unwrap(),
            ])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let text = std::fs::read_to_string(&prom).unwrap();
        let line = format!("trailwatch_filter_matches_total{{filter=\"{name}\"}} ");
        let service: usize = text
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or("0")
            .parse()
            .unwrap();
        assert!(service > 0, "{name}");
        assert_eq!(count(&[pattern, data.to_str().unwrap()]), service, "{name}");
    }
}

/// On a terminal (a pseudo-terminal from util-linux `script`), a progress bar with files and
/// matches is drawn on stderr and a summary is left behind; piped, nothing (checked above).
#[test]
fn progress_bar_on_a_terminal() {
    let dir = TempDir::new("tty");
    archive(&dir.0);
    let command = format!(
        "{} grep --count --event ConsoleLogin {}",
        env!("CARGO_BIN_EXE_trailwatch"),
        dir.0.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("script: {e} (install it: apt-get install -y util-linux)"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{} matches in {N} events, 8 files", N / 4)),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim() == (N / 4).to_string()),
        "{text}"
    );
    let out = Command::new("script")
        .args(["-qec", &format!("{command} --no-progress"), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("matches in"), "{text}");
}
