//! The verdicts of `verify-logs` and how they are printed: text like `aws cloudtrail
//! validate-logs` (problems, then a summary), or one JSON document.

use std::io::{self, Write};

use serde::Serialize;

/// A digest file's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum DigestStatus {
    /// Signature, location and chain link check out.
    Valid,
    /// Something does not check out (the reason says what).
    Invalid(String),
    /// A newer digest refers to it, but it is not there.
    Missing(String),
    /// No signature is available for it offline (the reason says why): neither valid nor
    /// invalid.
    Unverified(String),
}

/// A digest and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct DigestResult {
    /// Its bucket, when known.
    pub bucket: Option<String>,
    /// Its S3 key.
    pub key: String,
    /// `digestStartTime`, when it could be read.
    pub start_time: Option<String>,
    /// `digestEndTime`, when it could be read.
    pub end_time: Option<String>,
    /// Public key fingerprint, when it could be read.
    pub fingerprint: Option<String>,
    /// The verdict.
    #[serde(flatten)]
    pub status: DigestStatus,
}

/// A log file's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum LogStatus {
    /// Its SHA-256 is the one a valid digest lists.
    Valid,
    /// Its SHA-256 differs from the one a valid digest lists.
    Modified,
    /// A valid digest lists it, but it is not there.
    Deleted,
    /// It cannot be read or decompressed.
    InvalidFormat(String),
    /// Only digests that could not be verified list it (its hash was not checked).
    Unverified,
    /// It is there, but no digest lists it.
    NotCovered,
}

impl LogStatus {
    /// Whether this verdict fails the run.
    pub fn fails(&self) -> bool {
        matches!(
            self,
            LogStatus::Modified | LogStatus::Deleted | LogStatus::InvalidFormat(_)
        )
    }
}

/// A log file and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct LogResult {
    /// Its bucket, when a digest names it.
    pub bucket: Option<String>,
    /// Its S3 key.
    pub key: String,
    /// The digest that lists it.
    pub digest: Option<String>,
    /// The verdict.
    #[serde(flatten)]
    pub status: LogStatus,
}

/// A stretch with no digests between two chains of one trail and region.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    /// The last digest before the gap.
    pub after_digest: String,
    /// Its end time.
    pub from: Option<String>,
    /// The digest that starts the next chain.
    pub before_digest: String,
    /// Its start time.
    pub to: String,
}

/// Counts for the summary.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Digests: valid.
    pub digests_valid: usize,
    /// Digests: invalid.
    pub digests_invalid: usize,
    /// Digests: missing.
    pub digests_missing: usize,
    /// Digests: not verifiable offline.
    pub digests_unverified: usize,
    /// Log files: valid.
    pub logs_valid: usize,
    /// Log files: modified.
    pub logs_modified: usize,
    /// Log files: deleted.
    pub logs_deleted: usize,
    /// Log files: unreadable.
    pub logs_invalid_format: usize,
    /// Log files: listed only in unverified or invalid digests.
    pub logs_unverified: usize,
    /// Log files: listed in no digest.
    pub logs_not_covered: usize,
}

/// Everything `verify-logs` found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The folder checked.
    pub path: String,
    /// `--start-time`, if given.
    pub start_time: Option<String>,
    /// `--end-time`, if given.
    pub end_time: Option<String>,
    /// Earliest start of the valid digests.
    pub found_from: Option<String>,
    /// Latest end of the valid digests.
    pub found_to: Option<String>,
    /// Counts.
    pub summary: Summary,
    /// Whether everything checked is valid (the exit status is 0 exactly then).
    pub ok: bool,
    /// Problems that are not about one file (e.g. a `--signature` that verifies nothing).
    pub errors: Vec<String>,
    /// Notes that do not fail the run.
    pub warnings: Vec<String>,
    /// Every digest, by chain, newest first.
    pub digests: Vec<DigestResult>,
    /// Every log file listed or found, by key.
    pub log_files: Vec<LogResult>,
    /// Gaps between chains.
    pub gaps: Vec<Gap>,
}

impl Report {
    /// Counts the verdicts and decides `ok`.
    pub fn finish(&mut self) {
        let mut s = Summary::default();
        for d in &self.digests {
            match d.status {
                DigestStatus::Valid => s.digests_valid += 1,
                DigestStatus::Invalid(_) => s.digests_invalid += 1,
                DigestStatus::Missing(_) => s.digests_missing += 1,
                DigestStatus::Unverified(_) => s.digests_unverified += 1,
            }
        }
        for l in &self.log_files {
            match l.status {
                LogStatus::Valid => s.logs_valid += 1,
                LogStatus::Modified => s.logs_modified += 1,
                LogStatus::Deleted => s.logs_deleted += 1,
                LogStatus::InvalidFormat(_) => s.logs_invalid_format += 1,
                LogStatus::Unverified => s.logs_unverified += 1,
                LogStatus::NotCovered => s.logs_not_covered += 1,
            }
        }
        let valid = self
            .digests
            .iter()
            .filter(|d| d.status == DigestStatus::Valid);
        self.found_from = valid.clone().filter_map(|d| d.start_time.clone()).min();
        self.found_to = valid.filter_map(|d| d.end_time.clone()).max();
        self.ok = self.errors.is_empty()
            && s.digests_invalid == 0
            && s.digests_missing == 0
            && s.logs_modified + s.logs_deleted + s.logs_invalid_format == 0;
        self.summary = s;
    }

    /// Writes the JSON document.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    /// Writes the text report: the header, one line per problem, gaps, then the summary.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        let from = self.start_time.as_deref().unwrap_or("the first digest");
        let to = self.end_time.as_deref().unwrap_or("the last digest");
        writeln!(
            out,
            "Validating log files in {} between {from} and {to}",
            self.path
        )?;
        writeln!(out)?;
        for d in &self.digests {
            let verdict = match &d.status {
                DigestStatus::Valid => continue,
                DigestStatus::Invalid(r) => format!("INVALID: {r}"),
                DigestStatus::Missing(r) => format!("INVALID: not found ({r})"),
                DigestStatus::Unverified(r) => format!("not verified: {r}"),
            };
            writeln!(out, "Digest file\t{}\t{verdict}", s3_url(&d.bucket, &d.key))?;
        }
        for l in &self.log_files {
            let verdict = match &l.status {
                LogStatus::Valid | LogStatus::Unverified => continue,
                LogStatus::Modified => "INVALID: hash value doesn't match".to_owned(),
                LogStatus::Deleted => "INVALID: not found".to_owned(),
                LogStatus::InvalidFormat(r) => format!("INVALID: invalid format ({r})"),
                LogStatus::NotCovered => "not covered by any digest".to_owned(),
            };
            writeln!(out, "Log file\t{}\t{verdict}", s3_url(&l.bucket, &l.key))?;
        }
        for g in &self.gaps {
            writeln!(
                out,
                "No digests between {} and {}: {} starts a new chain (validation or logging was off)",
                g.from.as_deref().unwrap_or("?"),
                g.to,
                g.before_digest
            )?;
        }
        for e in &self.errors {
            writeln!(out, "ERROR: {e}")?;
        }
        for w in &self.warnings {
            writeln!(out, "warning: {w}")?;
        }
        writeln!(out)?;
        writeln!(out, "Results requested for {from} to {to}")?;
        match (&self.found_from, &self.found_to) {
            (Some(a), Some(b)) => writeln!(out, "Results found for {a} to {b}:")?,
            _ if self.digests.is_empty() => writeln!(out, "No digests found")?,
            _ => writeln!(out, "No valid digests found in range")?,
        }
        let s = &self.summary;
        let digests = self.digests.len();
        let mut parts = vec![format!("{}/{digests} digest files valid", s.digests_valid)];
        for (n, what) in [
            (s.digests_invalid, "INVALID"),
            (s.digests_missing, "missing"),
            (s.digests_unverified, "not verified"),
        ] {
            if n > 0 {
                parts.push(format!("{n}/{digests} digest files {what}"));
            }
        }
        writeln!(out, "{}", parts.join(", "))?;
        let checked = s.logs_valid + s.logs_modified + s.logs_deleted + s.logs_invalid_format;
        let mut parts = vec![format!("{}/{checked} log files valid", s.logs_valid)];
        for (n, what) in [
            (s.logs_modified, "INVALID (modified)"),
            (s.logs_deleted, "INVALID (deleted)"),
            (s.logs_invalid_format, "INVALID (invalid format)"),
        ] {
            if n > 0 {
                parts.push(format!("{n}/{checked} log files {what}"));
            }
        }
        writeln!(out, "{}", parts.join(", "))?;
        if s.logs_unverified > 0 {
            writeln!(
                out,
                "{} log files listed only in digests that could not be verified",
                s.logs_unverified
            )?;
        }
        if s.logs_not_covered > 0 {
            writeln!(
                out,
                "{} log files not covered by any digest",
                s.logs_not_covered
            )?;
        }
        Ok(())
    }
}

fn s3_url(bucket: &Option<String>, key: &str) -> String {
    match bucket {
        Some(b) => format!("s3://{b}/{key}"),
        None => key.to_owned(),
    }
}
