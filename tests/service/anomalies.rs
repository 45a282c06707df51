//! Anomaly detection through the real binary: records, metrics and enrichment; the state file
//! across a restart and a `kill -9`; `trailwatch learn` from archives followed by the OTRF
//! capture (an EC2 instance role's credentials used from outside); an old state file refused;
//! partitioning by account; the generated alert rule.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const HOUR: i64 = 3_600;
/// 2026-11-01T00:00:00Z
const START: i64 = 1_793_491_200;

fn time(s: i64) -> String {
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A call by IAM user `user` of account `account` at `t` (seconds) from `ip`.
fn call(account: &str, user: &str, t: i64, ip: &str, id: &str) -> Value {
    record(
        "ListBuckets",
        json!({
            "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{user}"),
                             "arn": format!("arn:aws:iam::{account}:user/{user}"),
                             "accountId": account, "accessKeyId": "AKIAEXAMPLEKEY000001"},
            "eventSource": "s3.amazonaws.com",
            "eventTime": time(t),
            "sourceIPAddress": ip,
            "eventID": id,
            "recipientAccountId": account,
        }),
    )
}

/// Eight days of hourly calls from the user's usual address.
fn history(account: &str, user: &str) -> Vec<Value> {
    (0..8 * 24)
        .map(|h| {
            call(
                account,
                user,
                START + h * HOUR,
                "198.51.100.10",
                &format!("{account}-{user}-h{h}"),
            )
        })
        .collect()
}

fn attack(account: &str, user: &str) -> Value {
    call(
        account,
        user,
        START + 9 * 86_400,
        "203.0.113.9",
        &format!("{account}-{user}-attack"),
    )
}

fn records(path: &Path) -> Vec<Value> {
    read(path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn run_ok(args: &[&str], input: &[u8]) -> String {
    let (status, out, err) = run_to_end(args, input);
    assert!(status.success(), "trailwatch {args:?}: {out}{err}");
    out
}

#[test]
fn state_survives_a_restart_and_the_attack_is_found() {
    let dir = TempDir::new("anomaly-restart");
    let state = dir.path("anomalies.state");
    let (state_s, out, fwd, metrics) = (
        state.to_str().unwrap(),
        dir.path("anomalies.ndjson"),
        dir.path("forwarded.ndjson"),
        dir.path("metrics.txt"),
    );
    let base = [
        "--stdin",
        "--metrics-addr",
        "none",
        "--anomaly-state",
        state_s,
    ];
    run_ok(&base, &ndjson(&history("111122223333", "alice")));
    assert!(state.exists(), "no state file written at exit");

    let mut args = base.to_vec();
    let (out_s, fwd_s, m_s) = (
        out.to_str().unwrap().to_owned(),
        format!("file:{}", fwd.display()),
        metrics.to_str().unwrap().to_owned(),
    );
    args.extend([
        "--anomalies-out",
        &out_s,
        "--forward",
        &fwd_s,
        "--metrics-out",
        &m_s,
    ]);
    run_ok(
        &args,
        &ndjson(&[routine(), attack("111122223333", "alice")]),
    );
    let found = records(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    let a = &found[0];
    assert_eq!(a["detector"], "new_source_ip");
    assert_eq!(a["principal"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(a["account"], "111122223333");
    assert_eq!(a["region"], "eu-west-1");
    assert_eq!(a["eventID"], "111122223333-alice-attack");
    assert_eq!(a["eventTime"], time(START + 9 * 86_400));
    assert_eq!(a["detail"]["new"], "203.0.113.9/32");
    // The forwarded event carries it; the routine one does not.
    let forwarded = records(&fwd);
    assert_eq!(forwarded.len(), 2);
    assert!(forwarded[0]["trailwatch"].get("anomalies").is_none());
    let tagged = &forwarded[1]["trailwatch"]["anomalies"];
    assert_eq!(tagged[0]["detector"], "new_source_ip", "{}", forwarded[1]);
    assert_eq!(tagged[0]["detail"]["new"], "203.0.113.9/32");
    assert_eq!(forwarded[1]["eventID"], "111122223333-alice-attack");
    let scrape = Scrape::parse(&read(&metrics));
    assert_eq!(
        scrape.get(
            "trailwatch_anomalies_total",
            &[("detector", "new_source_ip")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.get("trailwatch_anomalies_total", &[("detector", "new_region")]),
        Some(0.0)
    );
    assert_eq!(
        scrape.get("trailwatch_anomaly_principals", &[]),
        Some(2.0),
        "alice and the routine call's role"
    );

    // Without the state, the same event is a new deployment's: learning, nothing reported.
    let fresh = dir.path("fresh.ndjson");
    run_ok(
        &[
            "--stdin",
            "--metrics-addr",
            "none",
            "--anomalies-out",
            fresh.to_str().unwrap(),
        ],
        &ndjson(&[attack("111122223333", "alice")]),
    );
    assert!(records(&fresh).is_empty());
}

#[test]
fn kill_9_loses_at_most_one_snapshot_interval() {
    let dir = TempDir::new("anomaly-kill");
    let state = dir.path("anomalies.state");
    let config = dir.path("trailwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[anomalies]\nstate_file = {:?}\nsnapshot_interval = \"200ms\"\n",
            state.to_str().unwrap()
        ),
    )
    .unwrap();
    let svc = Service::start(&[
        "-c",
        config.to_str().unwrap(),
        "--tcp",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let events = history("111122223333", "alice");
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    std::io::Write::write_all(&mut conn, &ndjson(&events)).unwrap();
    drop(conn);
    let n = events.len() as f64;
    let s = svc.wait_for("trailwatch_events_received_total", &[("source", "tcp")], n);
    let taken = s
        .get(
            "trailwatch_anomaly_snapshots_total",
            &[("result", "success")],
        )
        .unwrap_or(0.0);
    // A snapshot that started after the events were processed.
    let deadline = Instant::now() + DEADLINE;
    while svc
        .scrape()
        .get(
            "trailwatch_anomaly_snapshots_total",
            &[("result", "success")],
        )
        .unwrap_or(0.0)
        < taken + 2.0
    {
        assert!(Instant::now() < deadline, "no snapshot within the deadline");
        std::thread::sleep(Duration::from_millis(50));
    }
    svc.signal("KILL");
    drop(svc);
    let out = dir.path("anomalies.ndjson");
    run_ok(
        &[
            "-c",
            config.to_str().unwrap(),
            "--stdin",
            "--metrics-addr",
            "none",
            "--anomalies-out",
            out.to_str().unwrap(),
        ],
        &ndjson(&[attack("111122223333", "alice")]),
    );
    let found = records(&out);
    assert_eq!(
        found.len(),
        1,
        "the learned state did not survive kill -9: {found:?}"
    );
    assert_eq!(found[0]["detector"], "new_source_ip");
}

#[test]
fn learn_from_archives_then_the_otrf_capture_is_found() {
    let dir = TempDir::new("anomaly-otrf");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/otrf/otrf-ec2_proxy_s3_exfiltration_2020-09-14011940.ndjson");
    let text = read(&capture);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let role = "arn:aws:sts::123456789123:assumed-role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0/i-0317f6c6b66ae9c40";
    let template = lines
        .iter()
        .find(|r| r["userIdentity"]["arn"] == role)
        .expect("the capture has the instance role")
        .clone();
    // Ten days before the capture, the instance used its role from its own address.
    let capture_start: i64 = 1_600_044_260; // 2020-09-14T00:44:20Z
    let mut history = Vec::new();
    for h in 0..10 * 24 {
        let mut r = template.clone();
        let obj = r.as_object_mut().unwrap();
        obj.remove("@timestamp");
        obj.remove("@version");
        obj.insert(
            "eventTime".into(),
            json!(time(capture_start - 10 * 86_400 + h * HOUR)),
        );
        obj.insert("sourceIPAddress".into(), json!("172.31.5.10"));
        obj.insert("eventID".into(), json!(format!("history-{h}")));
        history.push(r);
    }
    let archive = dir.path("AWSLogs/123456789123/CloudTrail/us-east-1/2020/09/13");
    std::fs::create_dir_all(&archive).unwrap();
    let doc = json!({ "Records": history }).to_string();
    std::fs::write(
        archive.join("123456789123_CloudTrail_us-east-1_20200913T0000Z_abcdefgh12345678.json.gz"),
        gzip(doc.as_bytes()),
    )
    .unwrap();
    let state = dir.path("state");
    let (status, out, err) = run_to_end(
        &[
            "learn",
            "--state",
            state.to_str().unwrap(),
            "--files",
            dir.path("AWSLogs").to_str().unwrap(),
        ],
        b"",
    );
    assert!(status.success(), "learn: {out}{err}");
    assert!(state.exists());

    let found_path = dir.path("anomalies.ndjson");
    run_ok(
        &[
            "--stdin",
            "--metrics-addr",
            "none",
            "--anomaly-state",
            state.to_str().unwrap(),
            "--anomalies-out",
            found_path.to_str().unwrap(),
        ],
        text.as_bytes(),
    );
    let found = records(&found_path);
    let ip: Vec<&Value> = found
        .iter()
        .filter(|r| r["detector"] == "new_source_ip")
        .collect();
    assert_eq!(ip.len(), 1, "{found:#?}");
    assert_eq!(ip[0]["principal"], role);
    assert_eq!(ip[0]["detail"]["new"], "1.2.3.4/32");
    // The human user has no history (learning) and the service calls have no principal: every
    // record is about the role.
    assert!(found.iter().all(|r| r["principal"] == role), "{found:#?}");
    // Learning wrote no records and did not forward anything.
    assert!(!dir.path("AWSLogs").join("anomalies.ndjson").exists());
}

#[test]
fn a_state_file_of_another_version_is_refused() {
    let dir = TempDir::new("anomaly-version");
    let state = dir.path("old.state");
    let mut bytes = b"trailwatch-anomalies".to_vec();
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&state, &bytes).unwrap();
    let (status, out, err) = run_to_end(
        &[
            "--stdin",
            "--metrics-addr",
            "none",
            "--anomaly-state",
            state.to_str().unwrap(),
        ],
        b"",
    );
    assert!(!status.success(), "{out}");
    assert!(err.contains("version 0"), "{err}");
    assert!(err.contains(state.to_str().unwrap()), "{err}");
    // Not overwritten.
    assert_eq!(std::fs::read(&state).unwrap(), bytes);
    let not_state = dir.path("not.state");
    std::fs::write(&not_state, b"{}").unwrap();
    let (status, _, err) = run_to_end(
        &[
            "--stdin",
            "--metrics-addr",
            "none",
            "--anomaly-state",
            not_state.to_str().unwrap(),
        ],
        b"",
    );
    assert!(!status.success());
    assert!(
        err.contains("is not a trailwatch anomaly state file"),
        "{err}"
    );
}

#[test]
fn instances_partitioned_by_account_find_what_one_instance_finds() {
    let dir = TempDir::new("anomaly-partition");
    let accounts = ["111122223333", "444455556666"];
    let mut per_account: Vec<Vec<Value>> = Vec::new();
    for a in accounts {
        let mut v = history(a, "alice");
        v.extend(history(a, "bob"));
        v.push(attack(a, "alice"));
        let mut region = call(
            a,
            "bob",
            START + 9 * 86_400 + 60,
            "198.51.100.10",
            &format!("{a}-bob-region"),
        );
        region["awsRegion"] = json!("ap-southeast-3");
        v.push(region);
        per_account.push(v);
    }
    let mut all: Vec<Value> = per_account.concat();
    all.sort_by(|x, y| x["eventTime"].as_str().cmp(&y["eventTime"].as_str()));
    let found = |name: &str, events: &[Value]| -> Vec<(String, String)> {
        let out = dir.path(name);
        run_ok(
            &[
                "--stdin",
                "--metrics-addr",
                "none",
                "--anomalies-out",
                out.to_str().unwrap(),
            ],
            &ndjson(events),
        );
        records(&out)
            .iter()
            .map(|r| {
                (
                    r["detector"].as_str().unwrap().to_owned(),
                    r["eventID"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let mut one = found("one.ndjson", &all);
    let mut split = found("a.ndjson", &per_account[0]);
    split.extend(found("b.ndjson", &per_account[1]));
    one.sort();
    split.sort();
    assert_eq!(one.len(), 4, "{one:?}");
    assert_eq!(one, split);
}

#[test]
fn the_anomaly_alert_rule_passes_promtool() {
    let dir = TempDir::new("anomaly-rules");
    let config = dir.path("trailwatch.toml");
    std::fs::write(&config, "[anomalies]\n").unwrap();
    let (status, text, err) = run_to_end(&["rules", "-c", config.to_str().unwrap()], b"");
    assert!(status.success(), "{err}");
    assert!(text.contains("- alert: TrailwatchAnomaly"), "{text}");
    assert!(
        text.contains("sum by (detector) (increase(trailwatch_anomalies_total[10m])) > 0"),
        "{text}"
    );
    let rules = dir.path("rules.yml");
    std::fs::write(&rules, &text).unwrap();
    promtool(&["check", "rules", rules.to_str().unwrap()]);
    let (status, off, _) = run_to_end(&["rules"], b"");
    assert!(status.success());
    assert!(!off.contains("TrailwatchAnomaly"));
    let (status, grafana, err) = run_to_end(
        &[
            "rules",
            "-c",
            config.to_str().unwrap(),
            "--format",
            "grafana",
        ],
        b"",
    );
    assert!(status.success(), "{err}");
    assert!(grafana.contains("TrailwatchAnomaly"));
}
