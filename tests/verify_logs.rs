//! `trailwatch verify-logs` end to end: the tests build real trail layouts (several accounts and
//! regions, an organization trail, chain starts, empty hours, a key rotation), sign their digest
//! chains with the test keys in `tests/data/integrity/`, tamper with them, and check every
//! verdict the binary reports.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const BUCKET: &str = "trail-bucket";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/integrity")
        .join(name)
}

/// A scratch folder, removed at drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trailwatch-verify-{name}-{}-{}",
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

/// A test key: the private half signs, `fingerprint` is MD5 of the public DER as given to
/// `--public-key`.
struct Key {
    signer: SigningKey<Sha256>,
    /// Sign with `openssl dgst -sha256 -sign FILE` instead (an independent implementation).
    openssl: Option<PathBuf>,
    fingerprint: String,
    public_der: Vec<u8>,
}

fn key(private: &str, public: &str) -> Key {
    let pem = std::fs::read_to_string(data(private)).unwrap();
    let private = RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let raw = std::fs::read(data(public)).unwrap();
    let public_der = if raw.starts_with(b"-----") {
        pem::parse(&raw).unwrap().contents().to_vec()
    } else {
        raw
    };
    Key {
        signer: SigningKey::<Sha256>::new(private),
        openssl: None,
        fingerprint: hex::encode(md5::Md5::digest(&public_der)),
        public_der,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn write(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `2026-03-01T00:00:00Z` plus `minutes`.
fn at(minutes: i64) -> jiff::Timestamp {
    let base: jiff::Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    base.checked_add(jiff::SignedDuration::from_mins(minutes))
        .unwrap()
}

fn basic(t: jiff::Timestamp, seconds: bool) -> String {
    let f = if seconds {
        "%Y%m%dT%H%M%SZ"
    } else {
        "%Y%m%dT%H%MZ"
    };
    t.strftime(f).to_string()
}

fn day_path(t: jiff::Timestamp) -> String {
    t.strftime("%Y/%m/%d").to_string()
}

/// One trail's chain in one region, built hour by hour.
struct Chain {
    root: PathBuf,
    /// `AWSLogs/[o-id/]<account>/`
    prefix: String,
    account: String,
    region: String,
    trail: String,
    home: String,
    /// The previous digest: key, SHA-256 of its inflated bytes, signature.
    previous: Option<(String, String, String)>,
    /// Every digest written: key → (inflated JSON, signature).
    digests: Vec<(String, Vec<u8>, String)>,
    logs: Vec<String>,
    serial: u32,
}

impl Chain {
    fn new(root: &Path, org: Option<&str>, account: &str, region: &str) -> Chain {
        let prefix = match org {
            Some(o) => format!("AWSLogs/{o}/{account}/"),
            None => format!("AWSLogs/{account}/"),
        };
        Chain {
            root: root.to_owned(),
            prefix,
            account: account.into(),
            region: region.into(),
            trail: "org_trail-1".into(),
            home: "us-east-1".into(),
            previous: None,
            digests: Vec::new(),
            logs: Vec::new(),
            serial: 0,
        }
    }

    /// Writes a log file delivered at `t` with `n` records; returns its key and entry.
    fn log(&mut self, t: jiff::Timestamp, n: usize) -> (String, Value) {
        self.serial += 1;
        let key = format!(
            "{}CloudTrail/{}/{}/{}_CloudTrail_{}_{}_{:016}.json.gz",
            self.prefix,
            self.region,
            day_path(t),
            self.account,
            self.region,
            basic(t, false),
            self.serial
        );
        let records: Vec<Value> = (0..n)
            .map(|i| {
                json!({"eventVersion":"1.08","eventTime": t.to_string(),"eventName":"DescribeInstances",
                       "awsRegion": self.region, "recipientAccountId": self.account, "eventID": format!("{}-{i}", self.serial)})
            })
            .collect();
        let body = serde_json::to_vec(&json!({ "Records": records })).unwrap();
        write(&self.root, &key, &gzip(&body));
        self.logs.push(key.clone());
        let entry = json!({"s3Bucket": BUCKET, "s3Object": key, "hashValue": hex::encode(Sha256::digest(&body)),
                           "hashAlgorithm":"SHA-256","newestEventTime": t.to_string(),"oldestEventTime": t.to_string()});
        (key, entry)
    }

    /// Writes the digest for hour `h` (ending at `h`:01:31 + 1 h) with `files` log files,
    /// signed with `key`; `first` starts a new chain. Returns the digest's key.
    fn hour(&mut self, h: i64, files: usize, key: &Key, first: bool) -> String {
        let start = at(h * 60)
            .checked_add(jiff::SignedDuration::from_secs(91))
            .unwrap();
        let end = at((h + 1) * 60)
            .checked_add(jiff::SignedDuration::from_secs(91))
            .unwrap();
        let entries: Vec<Value> = (0..files)
            .map(|i| self.log(at(h * 60 + 5 + 10 * i as i64), 3).1)
            .collect();
        let key_name = format!(
            "{}CloudTrail-Digest/{}/{}/{}_CloudTrail-Digest_{}_{}_{}_{}.json.gz",
            self.prefix,
            self.region,
            day_path(end),
            self.account,
            self.region,
            self.trail,
            self.home,
            basic(end, true)
        );
        let previous = if first { None } else { self.previous.clone() };
        let doc = json!({
            "awsAccountId": self.account,
            "digestStartTime": start.to_string(),
            "digestEndTime": end.to_string(),
            "digestS3Bucket": BUCKET,
            "digestS3Object": key_name,
            "digestPublicKeyFingerprint": key.fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": if files == 0 { Value::Null } else { json!(end.to_string()) },
            "oldestEventTime": if files == 0 { Value::Null } else { json!(start.to_string()) },
            "previousDigestS3Bucket": previous.as_ref().map(|_| BUCKET),
            "previousDigestS3Object": previous.as_ref().map(|p| p.0.clone()),
            "previousDigestHashValue": previous.as_ref().map(|p| p.1.clone()),
            "previousDigestHashAlgorithm": previous.as_ref().map(|_| "SHA-256"),
            "previousDigestSignature": previous.as_ref().map(|p| p.2.clone()),
            "logFiles": entries,
        });
        let inflated = serde_json::to_vec(&doc).unwrap();
        let signature = sign(key, &doc, &inflated);
        write(&self.root, &key_name, &gzip(&inflated));
        self.previous = Some((
            key_name.clone(),
            hex::encode(Sha256::digest(&inflated)),
            signature.clone(),
        ));
        self.digests.push((key_name.clone(), inflated, signature));
        key_name
    }

    /// The newest digest's signature (its S3 metadata).
    fn head_signature(&self) -> String {
        self.digests.last().unwrap().2.clone()
    }
}

/// SHA256withRSA over the documented signing string.
fn sign(key: &Key, doc: &Value, inflated: &[u8]) -> String {
    let previous = doc["previousDigestSignature"].as_str().unwrap_or("null");
    let message = format!(
        "{}\n{}/{}\n{}\n{}",
        doc["digestEndTime"].as_str().unwrap(),
        doc["digestS3Bucket"].as_str().unwrap(),
        doc["digestS3Object"].as_str().unwrap(),
        hex::encode(Sha256::digest(inflated)),
        previous
    );
    match &key.openssl {
        None => hex::encode(key.signer.sign(message.as_bytes()).to_bytes()),
        Some(private) => hex::encode(openssl_sign(private, message.as_bytes())),
    }
}

fn openssl_sign(private: &Path, message: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(private)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("openssl: {e} (install it: apt-get install -y openssl)"));
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst failed");
    out.stdout
}

/// Runs `trailwatch verify-logs ARGS --format json ROOT`: exit code and the report.
fn verify_json(root: &Path, args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .arg("verify-logs")
        .args(args)
        .args(["--format", "json"])
        .arg(root)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

fn verify_text(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .arg("verify-logs")
        .args(args)
        .arg(root)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// key → (status, reason) of every digest, and of every log file.
fn verdicts(report: &Value) -> (BTreeMap<String, (String, String)>, BTreeMap<String, String>) {
    let mut digests = BTreeMap::new();
    for d in report["digests"].as_array().unwrap() {
        digests.insert(
            d["key"].as_str().unwrap().to_owned(),
            (
                d["status"].as_str().unwrap().to_owned(),
                d["reason"].as_str().unwrap_or("").to_owned(),
            ),
        );
    }
    let mut logs = BTreeMap::new();
    for l in report["log_files"].as_array().unwrap() {
        logs.insert(
            l["key"].as_str().unwrap().to_owned(),
            l["status"].as_str().unwrap().to_owned(),
        );
    }
    (digests, logs)
}

const A_PUB: &str = "key-a.pub.pem";
const B_PUB: &str = "key-b.pub.der";

fn keys_args() -> Vec<String> {
    vec![
        "--public-key".into(),
        data(A_PUB).display().to_string(),
        "--public-key".into(),
        data(B_PUB).display().to_string(),
    ]
}

/// One account, one region: 6 hours, key A then (from hour 3) key B, hour 2 empty.
fn simple_chain(root: &Path) -> Chain {
    let a = key("key-a.pem", A_PUB);
    let b = key("key-b.pem", B_PUB);
    let mut c = Chain::new(root, None, "111122223333", "us-east-1");
    c.hour(0, 2, &a, true);
    c.hour(1, 1, &a, false);
    c.hour(2, 0, &a, false);
    c.hour(3, 2, &b, false);
    c.hour(4, 1, &b, false);
    c.hour(5, 1, &b, false);
    c
}

fn args<'a>(owned: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    owned
        .iter()
        .map(String::as_str)
        .chain(more.iter().copied())
        .collect()
}

#[test]
fn a_real_layout_verifies() {
    let dir = TempDir::new("layout");
    let a = key("key-a.pem", A_PUB);
    let b = key("key-b.pem", B_PUB);
    // A standalone account, and an organization trail's member account in two regions.
    let mut solo = Chain::new(&dir.0, None, "111122223333", "us-east-1");
    let mut org_east = Chain::new(&dir.0, Some("o-abc123def4"), "444455556666", "us-east-1");
    let mut org_west = Chain::new(&dir.0, Some("o-abc123def4"), "444455556666", "eu-west-1");
    for c in [&mut solo, &mut org_east, &mut org_west] {
        c.hour(0, 2, &a, true);
        c.hour(1, 0, &a, false); // an hour with no log files
        c.hour(2, 1, &a, false);
        c.hour(3, 3, &b, false); // key rotation
        c.hour(4, 1, &b, false);
    }
    // Validation off for an hour in us-east-1 of the org account, then a new chain.
    org_east.hour(6, 1, &b, true);
    org_east.hour(7, 0, &b, false);

    let keys = keys_args();
    let sig = org_west.head_signature();
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &sig]));
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(digests.len(), 5 + 7 + 5);
    let status = |k: &str| digests[k].0.clone();
    for c in [&solo, &org_east, &org_west] {
        let n = c.digests.len();
        for (i, (k, _, _)) in c.digests.iter().enumerate() {
            let newest = i == n - 1;
            // Each chain's newest digest has its signature only in S3 metadata; the given one
            // is org_west's.
            let last_before_gap = std::ptr::eq(c, &org_east) && i == 4;
            let expected = if (newest && !std::ptr::eq(c, &org_west)) || last_before_gap {
                "unverified"
            } else {
                "valid"
            };
            assert_eq!(status(k), expected, "{k}: {:?}", digests[k]);
        }
    }
    // Log files: valid unless listed only by an unverified digest.
    let unverified_digests: Vec<&String> = digests
        .iter()
        .filter(|(_, v)| v.0 == "unverified")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(unverified_digests.len(), 3);
    let all_logs: Vec<&String> = [&solo, &org_east, &org_west]
        .iter()
        .flat_map(|c| c.logs.iter())
        .collect();
    assert_eq!(logs.len(), all_logs.len());
    let valid_logs = logs.values().filter(|s| *s == "valid").count();
    // solo's head lists 1 file, org_east's head lists none and its pre-gap digest 1.
    assert_eq!(valid_logs, all_logs.len() - 2, "{logs:?}");
    assert_eq!(report["gaps"].as_array().unwrap().len(), 1);
    assert_eq!(report["summary"]["digests_valid"], 14);

    // The text report: the summary line, and the unverified heads.
    let (code, text) = verify_text(&dir.0, &args(&keys, &["--signature", &sig]));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("14/17 digest files valid, 3/17 digest files not verified"),
        "{text}"
    );
    assert!(text.contains("No digests between"), "{text}");
}

#[test]
fn the_first_digest_of_a_chain_and_the_newest_with_its_signature() {
    let dir = TempDir::new("first");
    let c = simple_chain(&dir.0);
    let keys = keys_args();
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 0, "{report:#}");
    assert!(digests.values().all(|v| v.0 == "valid"), "{digests:?}");
    assert_eq!(logs.len(), 7);
    assert!(logs.values().all(|s| s == "valid"), "{logs:?}");
    assert_eq!(report["found_from"], "2026-03-01T00:01:31Z");
    assert_eq!(report["found_to"], "2026-03-01T06:01:31Z");

    // A wrong --signature for the newest digest: it is invalid.
    let mut bad = c.head_signature().into_bytes();
    bad[10] = if bad[10] == b'0' { b'1' } else { b'0' };
    let bad = String::from_utf8(bad).unwrap();
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &bad]));
    let (digests, _) = verdicts(&report);
    assert_eq!(code, 1);
    let head = &c.digests[5].0;
    assert_eq!(digests[head].0, "invalid");
    assert!(
        digests[head].1.contains("signature verification failed"),
        "{:?}",
        digests[head]
    );
    assert_eq!(digests.values().filter(|v| v.0 == "valid").count(), 5);
}

#[test]
fn head_object_json_and_list_public_keys_json() {
    let dir = TempDir::new("head");
    let c = simple_chain(&dir.0);
    let head = dir.0.join("head.json");
    std::fs::write(
        &head,
        serde_json::to_vec(&json!({"AcceptRanges":"bytes","ContentLength":1234,"ContentType":"application/json",
            "ContentEncoding":"gzip","Metadata":{"signature-algorithm":"SHA256withRSA","signature": c.head_signature()}}))
        .unwrap(),
    )
    .unwrap();
    let a = key("key-a.pem", A_PUB);
    let b = key("key-b.pem", B_PUB);
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let list = dir.0.join("keys.json");
    std::fs::write(
        &list,
        serde_json::to_vec(&json!({"PublicKeyList":[
            {"Value": b64(&a.public_der), "ValidityStartTime": "2026-02-01T00:00:00Z", "ValidityEndTime": "2026-03-01T03:00:00Z", "Fingerprint": a.fingerprint},
            {"Value": b64(&b.public_der), "ValidityStartTime": "2026-03-01T03:00:00Z", "ValidityEndTime": "2026-04-01T00:00:00Z", "Fingerprint": b.fingerprint}
        ]}))
        .unwrap(),
    )
    .unwrap();
    let (code, report) = verify_json(
        &dir.0,
        &[
            "--public-key",
            list.to_str().unwrap(),
            "--head-object",
            head.to_str().unwrap(),
        ],
    );
    let (digests, _) = verdicts(&report);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(digests.len(), 6);
    assert!(digests.values().all(|v| v.0 == "valid"), "{digests:?}");

    // Only key A (PEM): the digests signed after the rotation cannot be checked.
    let (code, report) = verify_json(
        &dir.0,
        &[
            "--public-key",
            data(A_PUB).to_str().unwrap(),
            "--head-object",
            head.to_str().unwrap(),
        ],
    );
    let (digests, _) = verdicts(&report);
    assert_eq!(code, 1);
    for (i, (k, _, _)) in c.digests.iter().enumerate() {
        if i < 3 {
            assert_eq!(digests[k].0, "valid", "{k}");
        } else {
            assert_eq!(digests[k].0, "invalid", "{k}");
            assert!(
                digests[k]
                    .1
                    .contains("public key not found for fingerprint"),
                "{:?}",
                digests[k]
            );
        }
    }
}

#[test]
fn modified_and_deleted_log_files() {
    let dir = TempDir::new("logs");
    let c = simple_chain(&dir.0);
    let keys = keys_args();
    let sig = c.head_signature();
    // Modify one (valid gzip, other content), delete another, add one no digest lists.
    write(
        &dir.0,
        &c.logs[1],
        &gzip(br#"{"Records":[{"eventName":"Nothing to see"}]}"#),
    );
    std::fs::remove_file(dir.0.join(&c.logs[4])).unwrap();
    write(&dir.0, &c.logs[5], b"\x1f\x8b\x08\x00garbage");
    let extra = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/111122223333_CloudTrail_us-east-1_20260301T0230Z_INJECTEDINJECTED.json.gz";
    write(&dir.0, extra, &gzip(br#"{"Records":[]}"#));

    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &sig]));
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 1);
    assert!(digests.values().all(|v| v.0 == "valid"), "{digests:?}");
    assert_eq!(logs[&c.logs[1]], "modified");
    assert_eq!(logs[&c.logs[4]], "deleted");
    assert_eq!(logs[&c.logs[5]], "invalid_format");
    assert_eq!(logs[extra], "not_covered");
    assert_eq!(logs.values().filter(|s| *s == "valid").count(), 4);
    let (code, text) = verify_text(&dir.0, &args(&keys, &["--signature", &sig]));
    assert_eq!(code, 1);
    assert!(
        text.contains(&format!(
            "Log file\ts3://{BUCKET}/{}\tINVALID: hash value doesn't match",
            c.logs[1]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Log file\ts3://{BUCKET}/{}\tINVALID: not found",
            c.logs[4]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{extra}\tnot covered by any digest")),
        "{text}"
    );
    assert!(text.contains("4/7 log files valid, 1/7 log files INVALID (modified), 1/7 log files INVALID (deleted), 1/7 log files INVALID (invalid format)"), "{text}");

    // A file not covered alone does not fail the run.
    let dir2 = TempDir::new("logs2");
    let c2 = simple_chain(&dir2.0);
    write(&dir2.0, extra, &gzip(br#"{"Records":[]}"#));
    let (code, report) = verify_json(
        &dir2.0,
        &args(&keys, &["--signature", &c2.head_signature()]),
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["logs_not_covered"], 1);
}

#[test]
fn a_deleted_digest_is_missing() {
    let dir = TempDir::new("missing");
    let c = simple_chain(&dir.0);
    let keys = keys_args();
    std::fs::remove_file(dir.0.join(&c.digests[3].0)).unwrap();
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 1);
    assert_eq!(digests[&c.digests[3].0].0, "missing", "{digests:?}");
    assert!(digests[&c.digests[3].0].1.contains(&c.digests[4].0));
    // Its predecessor's signature was in it: that one cannot be verified; the rest can.
    assert_eq!(digests[&c.digests[2].0].0, "unverified");
    for i in [0, 1, 4, 5] {
        assert_eq!(digests[&c.digests[i].0].0, "valid", "{i}");
    }
    // The deleted digest's log files are now covered by nothing.
    assert_eq!(
        logs.values().filter(|s| *s == "not_covered").count(),
        2,
        "{logs:?}"
    );
    let (_, text) = verify_text(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    assert!(text.contains("1/6 digest files missing"), "{text}");
}

#[test]
fn a_broken_chain_and_a_moved_digest() {
    let dir = TempDir::new("broken");
    let c = simple_chain(&dir.0);
    let keys = keys_args();
    let a = key("key-a.pem", A_PUB);
    // Rewrite digest 1 to hide a modified log file, and sign it properly (an attacker holding
    // a signing key still cannot fix the hash and signature digest 2 recorded for it).
    let (k1, inflated, _) = &c.digests[1];
    let mut doc: Value = serde_json::from_slice(inflated).unwrap();
    doc["logFiles"][0]["hashValue"] = json!(hex::encode(Sha256::digest(b"{}")));
    let forged = serde_json::to_vec(&doc).unwrap();
    let _ = sign(&a, &doc, &forged);
    write(&dir.0, k1, &gzip(&forged));
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    let (digests, _) = verdicts(&report);
    assert_eq!(code, 1);
    assert_eq!(digests[k1].0, "invalid");
    assert!(
        digests[k1].1.contains("the chain is broken"),
        "{:?}",
        digests[k1]
    );
    assert!(
        digests[k1].1.contains("signature verification failed"),
        "{:?}",
        digests[k1]
    );
    // The digest before it is still proven by the signature digest 1 recorded (unchanged).
    assert_eq!(digests[&c.digests[0].0].0, "valid");

    // A digest copied to another key: moved from its original location.
    let dir = TempDir::new("moved");
    let c = simple_chain(&dir.0);
    let (k4, inflated, _) = &c.digests[4];
    let moved = k4.replace("20260301T050131Z", "20260301T053131Z");
    std::fs::remove_file(dir.0.join(k4)).unwrap();
    write(&dir.0, &moved, &gzip(inflated));
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    let (digests, _) = verdicts(&report);
    assert_eq!(code, 1);
    assert_eq!(digests[k4].0, "missing");
    assert_eq!(digests[&moved].0, "unverified", "{digests:?}");
}

#[test]
fn wrong_key_and_bad_signatures() {
    let dir = TempDir::new("wrongkey");
    let c = simple_chain(&dir.0);
    // Only a key that is not the trail's.
    let (code, report) = verify_json(
        &dir.0,
        &[
            "--public-key",
            data("key-wrong.pub.pem").to_str().unwrap(),
            "--signature",
            &c.head_signature(),
        ],
    );
    let (digests, _) = verdicts(&report);
    assert_eq!(code, 1);
    assert!(
        digests
            .values()
            .all(|v| v.0 == "invalid" && v.1.contains("public key not found")),
        "{digests:?}"
    );

    // A digest signed by another key under the trail key's fingerprint.
    let dir = TempDir::new("badsig");
    let a = key("key-a.pem", A_PUB);
    let mut wrong = key("key-wrong.pem", "key-wrong.pub.pem");
    wrong.fingerprint = a.fingerprint.clone();
    let mut c = Chain::new(&dir.0, None, "111122223333", "us-east-1");
    c.hour(0, 1, &a, true);
    let forged = c.hour(1, 1, &wrong, false);
    c.hour(2, 1, &a, false);
    let keys = keys_args();
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 1);
    assert_eq!(digests[&forged].0, "invalid");
    assert_eq!(digests[&forged].1, "signature verification failed");
    assert_eq!(digests[&c.digests[0].0].0, "valid");
    assert_eq!(digests[&c.digests[2].0].0, "valid");
    // The forged digest's log file is not vouched for.
    assert_eq!(logs[&c.logs[1]], "unverified");
}

#[test]
fn time_window() {
    let dir = TempDir::new("window");
    let c = simple_chain(&dir.0);
    let keys = keys_args();
    // Hours 1..3: digests ending 02:01:31 .. 04:01:31 (the end plus the hour after it).
    let (code, report) = verify_json(
        &dir.0,
        &args(
            &keys,
            &[
                "--start-time",
                "2026-03-01T01:30:00Z",
                "--end-time",
                "2026-03-01T03:30:00Z",
            ],
        ),
    );
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 0, "{report:#}");
    let keys_seen: Vec<&String> = digests.keys().collect();
    let expected: Vec<&String> = c.digests[1..4].iter().map(|d| &d.0).collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(keys_seen, expected_sorted);
    // The newest in range is proven by the next digest (outside the window), without
    // --signature.
    assert!(digests.values().all(|v| v.0 == "valid"), "{digests:?}");
    // Log files of the window's digests only (hours 1 and 3; hour 2 is empty).
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert_eq!(report["start_time"], "2026-03-01T01:30:00Z");

    let (code, text) = verify_text(&dir.0, &args(&keys, &["--start-time", "tomorrow"]));
    assert_eq!(code, 2);
    assert!(text.contains("--start-time 'tomorrow'"), "{text}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = TempDir::new("inputs");
    let _ = simple_chain(&dir.0);
    let (code, text) = verify_text(&dir.0, &[]);
    assert_eq!(code, 2);
    assert!(text.contains("--public-key"), "{text}");
    let junk = dir.0.join("junk.json");
    std::fs::write(&junk, "{\"PublicKeyList\": [{\"Value\": \"%%%\"}]}").unwrap();
    let (code, text) = verify_text(&dir.0, &["--public-key", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        text.contains("PublicKeyList[0].Value is not base64"),
        "{text}"
    );
    let (code, text) = verify_text(
        &dir.0,
        &[
            "--public-key",
            data(A_PUB).to_str().unwrap(),
            "--signature",
            "xyz",
        ],
    );
    assert_eq!(code, 2);
    assert!(text.contains("--signature"), "{text}");
    let (code, text) = verify_text(
        &dir.0.join("nope"),
        &["--public-key", data(A_PUB).to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(text.contains("nope"), "{text}");
}

/// Digests signed by OpenSSL (`openssl dgst -sha256 -sign`, SHA256withRSA as AWS's Java signer
/// makes it) verify, and a signature OpenSSL makes over another string does not.
#[test]
fn signatures_made_by_openssl_verify() {
    let dir = TempDir::new("openssl");
    let mut a = key("key-a.pem", A_PUB);
    a.openssl = Some(data("key-a.pem"));
    let mut c = Chain::new(&dir.0, None, "111122223333", "us-east-1");
    c.hour(0, 1, &a, true);
    c.hour(1, 0, &a, false);
    c.hour(2, 2, &a, false);
    let keys = keys_args();
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &c.head_signature()]));
    let (digests, logs) = verdicts(&report);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(digests.len(), 3);
    assert!(digests.values().all(|v| v.0 == "valid"), "{digests:?}");
    assert!(logs.values().all(|s| s == "valid"));
    let other = hex::encode(openssl_sign(&data("key-a.pem"), b"another signing string"));
    let (code, report) = verify_json(&dir.0, &args(&keys, &["--signature", &other]));
    assert_eq!(code, 1);
    assert_eq!(verdicts(&report).0[&c.digests[2].0].0, "invalid");
}
