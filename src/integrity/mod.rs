//! `trailwatch verify-logs`: CloudTrail log file integrity validation, offline, on a local copy
//! of a trail's bucket — the equivalent of `aws cloudtrail validate-logs`.
//!
//! * [`layout`] — which local files are digests and log files, and their S3 keys;
//! * [`keys`] — the trail's public keys, by fingerprint;
//! * [`digest`] — one digest: fields, signing string, SHA256withRSA check;
//! * [`chain`] — each chain walked newest to oldest through the previous-digest links;
//! * [`logs`] — log files hashed against their digest entries, in parallel;
//! * [`report`] — the verdicts, as text or JSON.

pub mod chain;
pub mod digest;
pub mod keys;
pub mod layout;
pub mod logs;
pub mod report;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Deserialize;

use crate::cli::{ReportFormat, VerifyLogsArgs};
use crate::error::CliError;
use chain::{ChainWalk, Window};
use keys::PublicKeys;
use layout::Layout;
use report::{LogResult, LogStatus, Report};

/// Runs the subcommand; `Ok(true)` when everything checked is valid.
pub fn run(args: &VerifyLogsArgs) -> Result<bool, CliError> {
    if args.public_keys.is_empty() {
        return Err(CliError::Usage(
            "give the trail's public keys with --public-key FILE (DER, PEM, or the JSON of `aws cloudtrail list-public-keys`)".into(),
        ));
    }
    let keys = PublicKeys::load(&args.public_keys).map_err(|e| CliError::Usage(e.to_string()))?;
    let external = external_signature(args)?;
    let window = Window {
        start: args
            .start_time
            .as_deref()
            .map(|s| crate::timespec::parse("--start-time", s))
            .transpose()
            .map_err(CliError::Usage)?,
        end: args
            .end_time
            .as_deref()
            .map(|s| crate::timespec::parse("--end-time", s))
            .transpose()
            .map_err(CliError::Usage)?,
    };
    if let (Some(s), Some(e)) = (window.start, window.end) {
        if s > e {
            return Err(CliError::Usage(format!(
                "--start-time {s} is after --end-time {e}"
            )));
        }
    }
    let layout = Layout::scan(&args.path).map_err(|error| CliError::Io { path: None, error })?;
    let report = verify(&args.path, &layout, &keys, window, external.as_deref());
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        ReportFormat::Text => report.write_text(&mut out)?,
        ReportFormat::Json => report.write_json(&mut out)?,
    }
    out.flush()?;
    Ok(report.ok)
}

/// Checks everything under `root`.
pub fn verify(
    root: &std::path::Path,
    layout: &Layout,
    keys: &PublicKeys,
    window: Window,
    external: Option<&str>,
) -> Report {
    let mut report = Report {
        path: root.display().to_string(),
        start_time: window.start.map(|t| t.to_string()),
        end_time: window.end.map(|t| t.to_string()),
        ..Report::default()
    };
    let walk = ChainWalk {
        root,
        keys,
        window,
        external_signature: external,
        single_chain: layout.chains.len() == 1,
    };
    // key → (bucket, expected hash, digest) for log files valid digests list; the rest are
    // listed only by digests that are not valid.
    let mut verified: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut unverified: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut external_results = Vec::new();
    for (id, digests) in &layout.chains {
        let found = walk.walk(id, digests);
        report.digests.extend(found.digests);
        report.gaps.extend(found.gaps);
        external_results.extend(found.external);
        for (entry, digest) in found.verified_logs {
            verified.insert(entry.key, (entry.bucket, entry.hash, digest));
        }
        for (entry, digest) in found.unverified_logs {
            unverified.insert(entry.key, (entry.bucket, digest));
        }
    }
    if external.is_some() {
        if external_results.is_empty() {
            report.warnings.push(
                "the signature given on the command line was not used: every newest digest in range has a newer digest that records its signature".into(),
            );
        } else if !external_results.iter().any(|ok| *ok) {
            report.errors.push(
                "the signature given on the command line verifies none of the newest digests"
                    .into(),
            );
        }
    }
    let to_check: Vec<(String, String)> = verified
        .iter()
        .map(|(k, (_, h, _))| (k.clone(), h.clone()))
        .collect();
    let verdicts = logs::check_all(root, &to_check);
    let mut results: BTreeMap<String, LogResult> = BTreeMap::new();
    for ((key, (bucket, _, digest)), status) in verified.into_iter().zip(verdicts) {
        results.insert(
            key.clone(),
            LogResult {
                bucket: Some(bucket),
                key,
                digest: Some(digest),
                status,
            },
        );
    }
    for (key, (bucket, digest)) in unverified {
        results.entry(key.clone()).or_insert(LogResult {
            bucket: Some(bucket),
            key,
            digest: Some(digest),
            status: LogStatus::Unverified,
        });
    }
    for (key, log) in &layout.logs {
        if window.has_log(log.time) && !results.contains_key(key) {
            results.insert(
                key.clone(),
                LogResult {
                    bucket: None,
                    key: key.clone(),
                    digest: None,
                    status: LogStatus::NotCovered,
                },
            );
        }
    }
    report.log_files = results.into_values().collect();
    if report.digests.is_empty() {
        report.warnings.push(
            "no digest files found in range (is log file validation enabled on the trail?)".into(),
        );
    }
    report.finish();
    report
}

/// `aws s3api head-object` output: only the metadata matters.
#[derive(Debug, Deserialize)]
struct HeadObject {
    #[serde(rename = "Metadata", default)]
    metadata: BTreeMap<String, String>,
}

/// The newest digest's signature from `--signature` or `--head-object`.
fn external_signature(args: &VerifyLogsArgs) -> Result<Option<String>, CliError> {
    let hex_ok =
        |s: &str| !s.is_empty() && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(sig) = &args.signature {
        let sig = sig.trim();
        if !hex_ok(sig) {
            return Err(CliError::Usage(
                "--signature: expected the hex value of the digest's x-amz-meta-signature".into(),
            ));
        }
        return Ok(Some(sig.to_ascii_lowercase()));
    }
    let Some(path) = &args.head_object else {
        return Ok(None);
    };
    let text = std::fs::read(path).map_err(|error| CliError::Io {
        path: Some(path.clone()),
        error,
    })?;
    let head: HeadObject = serde_json::from_slice(&text).map_err(|e| {
        CliError::Usage(format!(
            "{}: not the JSON of `aws s3api head-object` (line {}, column {}): {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    if let Some(alg) = head.metadata.get("signature-algorithm") {
        if alg != "SHA256withRSA" {
            return Err(CliError::Usage(format!(
                "{}: Metadata.signature-algorithm is '{alg}', expected SHA256withRSA",
                path.display()
            )));
        }
    }
    match head.metadata.get("signature") {
        Some(sig) if hex_ok(sig.trim()) => Ok(Some(sig.trim().to_ascii_lowercase())),
        Some(_) => Err(CliError::Usage(format!(
            "{}: Metadata.signature is not hex",
            path.display()
        ))),
        None => Err(CliError::Usage(format!(
            "{}: no Metadata.signature (head-object the newest digest file)",
            path.display()
        ))),
    }
}
