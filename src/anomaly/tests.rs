//! The detectors on hand-built event sequences: each detector, the learning period, eviction
//! under the memory cap, snapshot and restore, and batch-split invariance (a property test).

use proptest::prelude::*;

use super::snapshot::{self, StateError};
use super::*;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_699_999_980_000; // a whole minute

/// One test event.
#[derive(Debug, Clone)]
struct Ev {
    t: i64,
    kind: &'static str,
    arn: String,
    key: String,
    ip: String,
    region: String,
    ua: String,
    api: (String, String),
    error: Option<String>,
    account: String,
}

fn ev(t: i64, arn: &str) -> Ev {
    Ev {
        t,
        kind: "IAMUser",
        arn: arn.into(),
        key: "AKIAEXAMPLE0000001".into(),
        ip: "198.51.100.10".into(),
        region: "eu-west-1".into(),
        ua: "aws-cli/2.15.0 Python/3.11.6".into(),
        api: ("s3.amazonaws.com".into(), "ListBuckets".into()),
        error: None,
        account: "111122223333".into(),
    }
}

impl Ev {
    fn json(&self, id: usize) -> String {
        let mut v = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": self.kind, "principalId": "AIDA1", "arn": self.arn,
                             "accountId": self.account, "accessKeyId": self.key},
            "eventTime": fields::format_time(self.t),
            "eventSource": self.api.0, "eventName": self.api.1,
            "awsRegion": self.region, "sourceIPAddress": self.ip, "userAgent": self.ua,
            "requestParameters": {"bucketName": "b", "nested": {"eventName": "decoy"}},
            "eventID": format!("ev-{id}"), "eventType": "AwsApiCall",
            "recipientAccountId": self.account,
        });
        if let Some(e) = &self.error {
            v["errorCode"] = serde_json::Value::String(e.clone());
        }
        v.to_string()
    }
}

fn settings() -> AnomalySettings {
    AnomalySettings::default()
}

/// Runs `events` through a detector in batches of `batch`; returns the records as JSON.
fn run_with(d: &mut Detector, events: &[Ev], batch: usize) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    let mut obs = Observations::default();
    for (n, chunk) in events.chunks(batch.max(1)).enumerate() {
        obs.clear();
        for (i, e) in chunk.iter().enumerate() {
            assert!(obs.push(e.json(n * batch + i).as_bytes(), None));
        }
        d.observe_all(&obs, &mut found);
    }
    found
        .iter()
        .map(|f| serde_json::from_slice(&f.record).expect("records are JSON"))
        .collect()
}

fn run(events: &[Ev]) -> Vec<serde_json::Value> {
    run_with(&mut Detector::new(settings()), events, 64)
}

/// A principal's history: one event an hour for `days` days.
fn history(arn: &str, days: i64, tweak: impl Fn(&mut Ev)) -> Vec<Ev> {
    (0..days * 24)
        .map(|h| {
            let mut e = ev(T0 + h * 3_600_000, arn);
            tweak(&mut e);
            e
        })
        .collect()
}

fn detectors(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["detector"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

#[test]
fn new_source_ip_after_learning_only() {
    let mut events = history(ALICE, 3, |_| {});
    // On day 1 (learning) a second address is learned quietly.
    events[20].ip = "198.51.100.11".into();
    let mut late = ev(T0 + 8 * DAY, ALICE);
    late.ip = "203.0.113.9".into();
    events.push(late.clone());
    // Day 3 is not past the 7-day period, nor busy enough (72 events) for the short one.
    let quiet: Vec<Ev> = events[..72]
        .iter()
        .cloned()
        .chain([{
            let mut e = ev(T0 + 3 * DAY, ALICE);
            e.ip = "203.0.113.200".into();
            e
        }])
        .collect();
    assert!(run(&quiet).is_empty(), "still learning on day 3");
    let r = run(&events);
    assert_eq!(detectors(&r), ["new_source_ip"], "{r:?}");
    assert_eq!(r[0]["principal"], ALICE);
    assert_eq!(r[0]["detail"]["new"], "203.0.113.9/32");
    assert_eq!(r[0]["eventID"], format!("ev-{}", events.len() - 1));
    assert_eq!(r[0]["account"], "111122223333");
    // The learned second address is known.
    let mut again = events.clone();
    let mut e = ev(T0 + 9 * DAY, ALICE);
    e.ip = "198.51.100.11".into();
    again.push(e);
    assert_eq!(run(&again).len(), 1);
}

#[test]
fn a_busy_principal_learns_in_the_short_period() {
    // 600 events in 2.5 days: past learning_min_period with learning_events.
    let mut events: Vec<Ev> = (0..600).map(|i| ev(T0 + i * 360_000, ALICE)).collect();
    let mut e = ev(T0 + 600 * 360_000, ALICE);
    e.region = "ap-southeast-3".into();
    events.push(e);
    assert_eq!(detectors(&run(&events)), ["new_region"]);
}

#[test]
fn service_names_are_not_addresses_and_ipv6_compares_by_prefix() {
    let mut events = history(ALICE, 8, |e| e.ip = "2001:db8:1:2::10".into());
    for (i, ip) in [
        "ec2.amazonaws.com",
        "AWS Internal",
        "2001:db8:1:2:ffff::1",
        "2001:db8:1:3::1",
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = ev(T0 + 8 * DAY + i as i64, ALICE);
        e.ip = ip.into();
        events.push(e);
    }
    let r = run(&events);
    assert_eq!(detectors(&r), ["new_source_ip"]);
    assert_eq!(r[0]["detail"]["new"], "2001:db8:1:3::/64");
}

#[test]
fn ignored_sources_and_principals_are_silent() {
    let mut events = history(ALICE, 8, |_| {});
    let mut e = ev(T0 + 8 * DAY, ALICE);
    e.ip = "203.0.113.9".into();
    events.push(e.clone());
    let mut bob = history("arn:aws:iam::111122223333:user/scanner-1", 8, |_| {});
    let mut b = ev(T0 + 8 * DAY, "arn:aws:iam::111122223333:user/scanner-1");
    b.region = "us-west-2".into();
    bob.push(b);
    events.extend(bob);
    events.sort_by_key(|e| e.t);
    let mut s = settings();
    s.ignore_source_ips = vec![settings::Cidr::parse("203.0.113.0/24").unwrap()];
    s.ignore_principals = vec![settings::PrincipalMatch::Prefix(
        "arn:aws:iam::111122223333:user/scanner".into(),
    )];
    assert!(run_with(&mut Detector::new(s), &events, 64).is_empty());
    assert_eq!(run(&events).len(), 2);
}

#[test]
fn first_seen_region_agent_api_and_key() {
    let mut events = history(ALICE, 8, |_| {});
    let t = T0 + 8 * DAY;
    let mut v = ev(t, ALICE);
    v.ua = "aws-cli/2.99.1 Python/3.12".into(); // same family: not new
    events.push(v);
    let mut u = ev(t + 1, ALICE);
    u.ua = "Boto3/1.34.2 md/Botocore#1.34.2".into();
    events.push(u);
    let mut a = ev(t + 2, ALICE);
    a.api = ("iam.amazonaws.com".into(), "CreateAccessKey".into());
    events.push(a);
    let mut k = ev(t + 3, ALICE);
    k.key = "AKIAEXAMPLE0000002".into();
    events.push(k);
    let mut temp = ev(t + 4, ALICE);
    temp.key = "ASIATEMPORARY00001".into(); // console/STS keys are per session: not reported
    events.push(temp);
    let r = run(&events);
    assert_eq!(
        detectors(&r),
        ["new_user_agent", "new_api", "new_access_key"],
        "{r:?}"
    );
    assert_eq!(r[0]["detail"]["new"], "Boto3");
    assert_eq!(r[1]["detail"]["new"], "iam.amazonaws.com:CreateAccessKey");
    assert_eq!(r[2]["detail"]["new"], "AKIAEXAMPLE0000002");
    // Roles have no long-term keys to report.
    let role = "arn:aws:sts::111122223333:assumed-role/Web/i-0abc";
    let mut events = history(role, 8, |e| e.kind = "AssumedRole");
    let mut k = ev(T0 + 8 * DAY, role);
    k.kind = "AssumedRole";
    k.key = "AKIAEXAMPLE0000003".into();
    events.push(k);
    assert!(run(&events).is_empty());
}

#[test]
fn error_burst_across_apis() {
    let mut events = history(ALICE, 1, |_| {});
    let t = T0 + DAY;
    for i in 0..30 {
        let mut e = ev(t + i * 2_000, ALICE);
        e.api = ("ec2.amazonaws.com".into(), format!("Describe{}", i % 12));
        e.error = Some(
            if i % 2 == 0 {
                "Client.UnauthorizedOperation"
            } else {
                "AccessDenied"
            }
            .into(),
        );
        events.push(e);
    }
    let r: Vec<_> = run(&events)
        .into_iter()
        .filter(|r| r["detector"] == "error_burst")
        .collect();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["detail"]["errors"], 20);
    assert_eq!(r[0]["detail"]["apis"], 12);
    assert_eq!(r[0]["errorCode"], "AccessDenied");
}

/// An account's API at `per_minute` for `minutes`, from many principals.
fn steady(start: i64, minutes: i64, per_minute: i64, api: &str) -> Vec<Ev> {
    let mut v = Vec::new();
    for m in 0..minutes {
        for i in 0..per_minute {
            let mut e = ev(
                start + m * 60_000 + i * (60_000 / per_minute),
                &format!("arn:aws:iam::111122223333:user/u{}", i % 7),
            );
            e.api = ("ec2.amazonaws.com".into(), api.into());
            v.push(e);
        }
    }
    v
}

#[test]
fn api_call_rate_starts_and_ends_as_insights_events() {
    let mut s = settings();
    s.detectors = vec![DetectorKind::ApiCallRate, DetectorKind::ApiErrorRate];
    let mut events = steady(T0, 1500, 3, "RunInstances");
    let spike_at = T0 + 1500 * 60_000;
    events.extend(steady(spike_at, 3, 200, "RunInstances"));
    events.extend(steady(spike_at + 3 * 60_000, 5, 3, "RunInstances"));
    let r = run_with(&mut Detector::new(s), &events, 100);
    assert_eq!(r.len(), 2, "{r:#?}");
    let (start, end) = (&r[0], &r[1]);
    assert_eq!(start["detector"], "api_call_rate");
    assert_eq!(start["eventType"], "AwsCloudTrailInsight");
    assert_eq!(start["principal"], serde_json::Value::Null);
    let d = &start["insightDetails"];
    assert_eq!(d["state"], "Start");
    assert_eq!(d["insightType"], "ApiCallRateInsight");
    assert_eq!(d["eventSource"], "ec2.amazonaws.com");
    assert_eq!(d["eventName"], "RunInstances");
    let base = d["insightContext"]["statistics"]["baseline"]["average"]
        .as_f64()
        .unwrap();
    assert!((base - 3.0).abs() < 0.5, "{base}");
    assert_eq!(d["insightContext"]["statistics"]["insight"]["average"], 30);
    assert_eq!(start["eventTime"], fields::format_time(spike_at + 29 * 300));
    let e = &end["insightDetails"];
    assert_eq!(e["state"], "End");
    assert_eq!(e["insightContext"]["statistics"]["insightDuration"], 3);
    assert_eq!(e["insightContext"]["statistics"]["insight"]["average"], 200);
    assert_eq!(start["sharedEventID"], end["sharedEventID"]);
    assert_eq!(start["recipientAccountId"], "111122223333");
}

#[test]
fn eviction_keeps_memory_under_the_cap_and_a_forgotten_principal_learns_again() {
    let mut s = settings();
    s.max_memory = 1 << 20;
    s.detectors
        .retain(|d| !matches!(d, DetectorKind::ApiCallRate | DetectorKind::ApiErrorRate));
    let mut d = Detector::new(s);
    let mut events = history(ALICE, 8, |_| {});
    // 40,000 other principals after Alice's history push her out.
    for i in 0..40_000 {
        events.push(ev(
            T0 + 8 * DAY + i,
            &format!("arn:aws:iam::111122223333:user/u{i}"),
        ));
    }
    let mut e = ev(T0 + 9 * DAY, ALICE);
    e.ip = "203.0.113.9".into();
    events.push(e);
    let r = run_with(&mut d, &events, 500);
    let (held, bytes, evicted) = d.principal_stats();
    assert!(bytes <= 1 << 20, "{bytes}");
    assert!(evicted > 20_000, "{evicted}");
    assert!(held < 40_000);
    assert!(
        r.is_empty(),
        "Alice was forgotten, so she is learning again: {r:?}"
    );
}

#[test]
fn snapshot_restore_continues_where_it_left_off() {
    let mut events = history(ALICE, 8, |_| {});
    events.extend(steady(T0 + 8 * DAY, 10, 3, "RunInstances"));
    let mut e = ev(T0 + 9 * DAY, ALICE);
    e.ip = "203.0.113.9".into();
    events.push(e);
    let whole = run(&events);
    assert_eq!(detectors(&whole), ["new_source_ip"]);

    let (first, second) = events.split_at(150);
    let mut d = Detector::new(settings());
    let mut r = run_with(&mut d, first, 64);
    let bytes = snapshot::encode(&d);
    let mut restored = Detector::new(settings());
    snapshot::decode(&bytes, std::path::Path::new("state"), &mut restored).unwrap();
    assert_eq!(restored.principal_stats().0, d.principal_stats().0);
    r.extend(run_with(&mut restored, second, 64));
    // Event ids restart with each run: compare the rest.
    let strip = |mut v: Vec<serde_json::Value>| {
        for r in &mut v {
            r["eventID"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(strip(r), strip(whole));
    // Without the state the second half is a new deployment: learning, so silent.
    assert!(run(second).is_empty());
}

#[test]
fn damaged_or_foreign_state_files_are_refused() {
    let mut d = Detector::new(settings());
    run_with(&mut d, &history(ALICE, 1, |_| {}), 10);
    let good = snapshot::encode(&d);
    let p = std::path::Path::new("x.state");
    let fresh = || Detector::new(settings());
    let mut old = good.clone();
    old[20..24].copy_from_slice(&7u32.to_le_bytes());
    let e = snapshot::decode(&old, p, &mut fresh()).unwrap_err();
    assert!(matches!(e, StateError::Version { found: 7, .. }), "{e}");
    assert!(e.to_string().contains("version 7"), "{e}");
    let e = snapshot::decode(&good[..good.len() - 9], p, &mut fresh()).unwrap_err();
    assert!(matches!(e, StateError::Damaged { .. }), "{e}");
    let mut flipped = good.clone();
    flipped[40] ^= 1;
    assert!(matches!(
        snapshot::decode(&flipped, p, &mut fresh()),
        Err(StateError::Damaged { .. })
    ));
    assert!(matches!(
        snapshot::decode(b"{\"json\":1}", p, &mut fresh()),
        Err(StateError::NotState { .. })
    ));
    assert!(snapshot::decode(&good, p, &mut fresh()).is_ok());
}

#[test]
fn learn_only_reports_nothing_but_learns() {
    let mut events = history(ALICE, 8, |_| {});
    let mut e = ev(T0 + 8 * DAY, ALICE);
    e.ip = "203.0.113.9".into();
    events.push(e);
    let mut s = settings();
    s.learn_only = true;
    let mut d = Detector::new(s);
    assert!(run_with(&mut d, &events, 64).is_empty());
    assert_eq!(d.principal_stats().0, 1);
}

fn arb_stream() -> impl Strategy<Value = Vec<Ev>> {
    let one = (
        0i64..4_000,
        0usize..6,
        0usize..5,
        0usize..3,
        0usize..8,
        0usize..5,
        0usize..3,
    );
    prop::collection::vec(one, 1..400).prop_map(|steps| {
        let mut t = T0;
        steps
            .into_iter()
            .map(|(gap, p, ip, region, api, err, ua)| {
                // Mostly seconds apart, sometimes days (to cross learning periods).
                t += if gap > 3_990 {
                    DAY * (gap - 3_990)
                } else {
                    gap * 1_000
                };
                let mut e = ev(t, &format!("arn:aws:iam::111122223333:user/p{p}"));
                e.ip = format!("198.51.100.{ip}");
                e.region = ["eu-west-1", "us-east-1", "ap-south-1"][region].into();
                e.api = ("ec2.amazonaws.com".into(), format!("Api{api}"));
                e.ua = ["aws-cli/2.1", "Boto3/1.2", "Mozilla/5.0"][ua].into();
                if err < 2 {
                    e.error = Some("AccessDenied".into());
                }
                e
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any batch split of a stream gives the same anomalies.
    #[test]
    fn batch_split_does_not_change_anomalies(events in arb_stream(), split in 1usize..50) {
        let mut s = settings();
        s.learning_secs = 2 * 86_400;
        s.learning_min_secs = 3_600;
        s.learning_events = 5;
        s.rate_warmup_minutes = 5;
        s.rate_min_per_minute = 3;
        s.burst_errors = 4;
        s.burst_apis = 2;
        let whole = run_with(&mut Detector::new(s.clone()), &events, events.len());
        let split_run = run_with(&mut Detector::new(s), &events, split);
        prop_assert_eq!(whole, split_run);
    }
}

#[test]
fn new_api_skips_reads_and_principals_still_exploring() {
    let mut events = history(ALICE, 8, |_| {});
    let t = T0 + 8 * DAY;
    let mut read = ev(t, ALICE);
    read.api = ("kms.amazonaws.com".into(), "ListKeys".into());
    events.push(read);
    let mut write = ev(t + 1, ALICE);
    write.api = ("kms.amazonaws.com".into(), "ScheduleKeyDeletion".into());
    events.push(write);
    // A second new write an hour later: the set grew just now, so it is not reported.
    let mut again = ev(t + 3_600_000, ALICE);
    again.api = ("kms.amazonaws.com".into(), "DisableKey".into());
    events.push(again);
    let r = run(&events);
    assert_eq!(detectors(&r), ["new_api"], "{r:?}");
    assert_eq!(
        r[0]["detail"]["new"],
        "kms.amazonaws.com:ScheduleKeyDeletion"
    );
    let mut s = settings();
    s.new_api_reads = true;
    s.new_api_settle_secs = 0;
    assert_eq!(run_with(&mut Detector::new(s), &events, 64).len(), 3);
}
