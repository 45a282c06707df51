//! Walking one chain of digests backwards, newest first, through `previousDigestS3Object`:
//! each digest's signature comes from the next newer digest's `previousDigestSignature` (or,
//! for the newest one held, from the S3 metadata given on the command line), and its SHA-256
//! must equal that digest's `previousDigestHashValue`.

use std::collections::HashSet;
use std::path::Path;

use jiff::Timestamp;

use super::digest::{Digest, DigestError, LogEntry, verify};
use super::keys::PublicKeys;
use super::layout::{ChainId, DigestFile, parse_digest_key, path_of};
use super::report::{DigestResult, DigestStatus, Gap};

/// The time window asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    /// `--start-time`
    pub start: Option<Timestamp>,
    /// `--end-time`
    pub end: Option<Timestamp>,
}

/// Digests lag the log files they cover by up to an hour.
const DIGEST_LAG: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

impl Window {
    /// Whether a digest ending at `t` is checked.
    pub fn has_digest(&self, t: Timestamp) -> bool {
        !self.before(t)
            && self
                .end
                .is_none_or(|e| t <= e.saturating_add(DIGEST_LAG).unwrap_or(e))
    }

    /// Whether a log file delivered at `t` is in the window.
    pub fn has_log(&self, t: Timestamp) -> bool {
        !self.before(t) && self.end.is_none_or(|e| t <= e)
    }

    fn before(&self, t: Timestamp) -> bool {
        self.start.is_some_and(|s| t < s)
    }
}

/// Where a digest's signature (and expected hash) comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The next newer digest, `key`; `invalid` if that digest itself failed.
    Newer { key: String, invalid: bool },
    /// `--signature` / `--head-object`.
    External,
    /// None: why.
    Nothing(String),
}

#[derive(Debug, Clone)]
struct Expect {
    signature: Option<String>,
    hash: Option<String>,
    bucket: Option<String>,
    source: Source,
}

impl Expect {
    fn nothing(why: String) -> Expect {
        Expect {
            signature: None,
            hash: None,
            bucket: None,
            source: Source::Nothing(why),
        }
    }

    fn from_newer(newer_key: &str, d: &Digest, invalid: bool) -> Expect {
        Expect {
            signature: d.previous_signature.clone(),
            hash: d.previous_hash.clone(),
            bucket: d.previous_bucket.clone(),
            source: Source::Newer {
                key: newer_key.to_owned(),
                invalid,
            },
        }
    }
}

/// What a chain's walk found.
#[derive(Debug, Default)]
pub struct ChainFindings {
    /// Each digest's verdict, newest first.
    pub digests: Vec<DigestResult>,
    /// Log files listed in valid digests, with the digest's key.
    pub verified_logs: Vec<(LogEntry, String)>,
    /// Log files listed in digests that are not valid.
    pub unverified_logs: Vec<(LogEntry, String)>,
    /// Gaps between chains.
    pub gaps: Vec<Gap>,
    /// The external signature was tried on this chain's newest digest: did it verify it?
    pub external: Option<bool>,
}

/// Checks one chain.
pub struct ChainWalk<'a> {
    /// The bucket copy.
    pub root: &'a Path,
    /// Public keys.
    pub keys: &'a PublicKeys,
    /// The window.
    pub window: Window,
    /// The newest digest's signature, from the command line.
    pub external_signature: Option<&'a str>,
    /// Whether there is only one chain (then a wrong external signature is an invalid digest,
    /// not just one that belongs to another chain).
    pub single_chain: bool,
}

impl ChainWalk<'_> {
    /// Walks the chain `id` (its digests oldest first).
    pub fn walk(&self, _id: &ChainId, digests: &[DigestFile]) -> ChainFindings {
        let mut found = ChainFindings::default();
        let Some(head) = digests.iter().rev().find(|d| self.window.has_digest(d.end)) else {
            return found;
        };
        let newer = digests.iter().find(|d| d.end > head.end);
        let mut cursor = Some(match newer {
            Some(n) => match Digest::read(&path_of(self.root, &n.key)) {
                Ok(d) => match &d.previous_key {
                    Some(prev) => (prev.clone(), Expect::from_newer(&n.key, &d, false)),
                    None => (
                        head.key.clone(),
                        Expect::nothing(format!(
                            "the next digest {} starts a new chain, so this digest's signature is only in its S3 metadata",
                            n.key
                        )),
                    ),
                },
                Err(e) => (
                    head.key.clone(),
                    Expect::nothing(format!("the next digest {} is unreadable: {e}", n.key)),
                ),
            },
            None => match self.external_signature {
                Some(sig) => (
                    head.key.clone(),
                    Expect {
                        signature: Some(sig.to_owned()),
                        hash: None,
                        bucket: None,
                        source: Source::External,
                    },
                ),
                None => (
                    head.key.clone(),
                    Expect::nothing(
                        "the newest digest's signature is only in its S3 object metadata (give --signature or --head-object)".into(),
                    ),
                ),
            },
        });
        let mut visited: HashSet<String> = HashSet::new();
        let next_older = |t: Timestamp| digests.iter().rev().find(|d| d.end < t);
        while let Some((key, expect)) = cursor.take() {
            let Some((_, named)) = parse_digest_key(&key) else {
                found.digests.push(result(
                    expect.bucket.clone(),
                    &key,
                    None,
                    DigestStatus::Invalid(format!(
                        "{} names it as the previous digest, but that is not a digest file name",
                        referrer(&expect)
                    )),
                ));
                break;
            };
            if self.window.start.is_some_and(|s| named.end < s) || !visited.insert(key.clone()) {
                break;
            }
            let checked = self.check(&key, &expect);
            if let Source::External = expect.source {
                found.external = Some(checked.0 == DigestStatus::Valid);
            }
            let (status, digest) = checked;
            let valid = status == DigestStatus::Valid;
            let missing = matches!(status, DigestStatus::Missing(_));
            if let Some(d) = &digest {
                let target = if valid {
                    &mut found.verified_logs
                } else {
                    &mut found.unverified_logs
                };
                target.extend(d.log_files.iter().map(|e| (e.clone(), key.clone())));
            }
            found.digests.push(result(
                digest
                    .as_ref()
                    .map(|d| d.bucket.clone())
                    .or(expect.bucket.clone()),
                &key,
                digest.as_ref(),
                status.clone(),
            ));
            cursor = match &digest {
                Some(d) => match &d.previous_key {
                    Some(prev) => Some((
                        prev.clone(),
                        Expect::from_newer(&key, d, !valid && !matches!(status, DigestStatus::Unverified(_))),
                    )),
                    None => next_older(named.end).map(|older| {
                        found.gaps.push(Gap {
                            after_digest: older.key.clone(),
                            from: Some(older.end.to_string()),
                            before_digest: key.clone(),
                            to: d.start_time.clone(),
                        });
                        (
                            older.key.clone(),
                            Expect::nothing(format!(
                                "the last digest before a new chain ({key}); its signature is only in its S3 metadata"
                            )),
                        )
                    }),
                },
                None => next_older(named.end).map(|older| {
                    let why = if missing {
                        format!("the digest that held its signature ({key}) is missing")
                    } else {
                        format!("the digest that held its signature ({key}) is unreadable")
                    };
                    (older.key.clone(), Expect::nothing(why))
                }),
            };
        }
        // Digests in the window that no link led to (e.g. added ones).
        for d in digests.iter().rev() {
            if self.window.has_digest(d.end) && !visited.contains(&d.key) {
                found.digests.push(result(
                    None,
                    &d.key,
                    None,
                    DigestStatus::Unverified(
                        "no newer digest refers to it (not part of the chain)".into(),
                    ),
                ));
            }
        }
        found
    }

    /// Checks the digest at `key` against what the newer digest (or the command line) says.
    fn check(&self, key: &str, expect: &Expect) -> (DigestStatus, Option<Digest>) {
        let d = match Digest::read(&path_of(self.root, key)) {
            Ok(d) => d,
            Err(DigestError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                let why = format!("{} refers to it", referrer(expect));
                return (DigestStatus::Missing(why), None);
            }
            Err(e) => return (DigestStatus::Invalid(e.to_string()), None),
        };
        let mut problems = Vec::new();
        if d.key != key {
            problems.push(format!(
                "has been moved from its original location (its digestS3Object is {})",
                d.key
            ));
        }
        if let Some(b) = &expect.bucket {
            if *b != d.bucket {
                problems.push(format!(
                    "its digestS3Bucket is {}, but {} names bucket {b}",
                    d.bucket,
                    referrer(expect)
                ));
            }
        }
        if let Some(alg) = &d.signature_algorithm {
            if alg != "SHA256withRSA" {
                problems.push(format!("unsupported digestSignatureAlgorithm '{alg}'"));
            }
        }
        let newer_invalid = matches!(expect.source, Source::Newer { invalid: true, .. });
        if let (Some(h), false) = (&expect.hash, newer_invalid) {
            if *h != d.sha256 {
                problems.push(format!(
                    "its SHA-256 is not the previousDigestHashValue in {} (the chain is broken)",
                    referrer(expect)
                ));
            }
        }
        let Some(signature) = &expect.signature else {
            let status = match &expect.source {
                _ if !problems.is_empty() => DigestStatus::Invalid(problems.join("; ")),
                Source::Nothing(why) => DigestStatus::Unverified(why.clone()),
                _ => DigestStatus::Invalid(format!(
                    "{} has no previousDigestSignature for it",
                    referrer(expect)
                )),
            };
            return (status, Some(d));
        };
        let Some(public) = self.keys.get(&d.fingerprint) else {
            problems.push(format!(
                "public key not found for fingerprint {} (give it with --public-key)",
                d.fingerprint
            ));
            return (DigestStatus::Invalid(problems.join("; ")), Some(d));
        };
        if !verify(&public.key, d.signing_string().as_bytes(), signature) {
            match &expect.source {
                Source::External if !self.single_chain => {
                    return (
                        DigestStatus::Unverified(
                            "the signature given on the command line is not this digest's".into(),
                        ),
                        Some(d),
                    );
                }
                Source::Newer { invalid: true, key } if problems.is_empty() => {
                    return (
                        DigestStatus::Unverified(format!(
                            "the signature recorded in the invalid digest {key} does not verify it"
                        )),
                        Some(d),
                    );
                }
                Source::External => problems.push(
                    "signature verification failed (the signature given on the command line)"
                        .into(),
                ),
                _ => problems.push("signature verification failed".into()),
            }
        }
        if problems.is_empty() {
            (DigestStatus::Valid, Some(d))
        } else {
            (DigestStatus::Invalid(problems.join("; ")), Some(d))
        }
    }
}

fn referrer(expect: &Expect) -> String {
    match &expect.source {
        Source::Newer { key, .. } => format!("the next digest {key}"),
        Source::External => "the command line".into(),
        Source::Nothing(_) => "nothing".into(),
    }
}

fn result(
    bucket: Option<String>,
    key: &str,
    d: Option<&Digest>,
    status: DigestStatus,
) -> DigestResult {
    DigestResult {
        bucket,
        key: key.to_owned(),
        start_time: d.map(|d| d.start_time.clone()),
        end_time: d.map(|d| d.end_time.clone()),
        fingerprint: d.map(|d| d.fingerprint.clone()),
        status,
    }
}
