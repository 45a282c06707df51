//! The local copy of a trail's bucket (as `aws s3 sync` leaves it): which files are digests and
//! which are log files, what S3 key each one had, and the time in its name.
//!
//! A file's S3 key is its path relative to the folder given on the command line, with `/`
//! separators, so that folder must be the copy of the bucket root (the folder that holds
//! `AWSLogs/`, or the key prefix above it).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// A digest file found locally.
#[derive(Debug, Clone)]
pub struct DigestFile {
    /// Its S3 key.
    pub key: String,
    /// The digest end time from its name.
    pub end: Timestamp,
}

/// Which chain a digest belongs to: the key prefix up to `CloudTrail-Digest/`, the region it was
/// delivered from, the trail, and the trail's home region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChainId {
    /// `[prefix/]AWSLogs/[o-id/]<account>/`
    pub prefix: String,
    /// The account, from the file name.
    pub account: String,
    /// The region the digest was delivered from.
    pub region: String,
    /// The trail name.
    pub trail: String,
    /// The trail's home region.
    pub home_region: String,
}

/// A log file found locally.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Its S3 key.
    pub key: String,
    /// The delivery time from its name (minute resolution).
    pub time: Timestamp,
}

/// What a walk of the local copy found.
#[derive(Debug, Default)]
pub struct Layout {
    /// Digests by chain, oldest first.
    pub chains: BTreeMap<ChainId, Vec<DigestFile>>,
    /// Log files by key.
    pub logs: BTreeMap<String, LogFile>,
}

impl Layout {
    /// Walks `root` recursively.
    pub fn scan(root: &Path) -> io::Result<Layout> {
        let meta = std::fs::metadata(root)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: not a folder (give the local copy of the trail's bucket)",
                    root.display()
                ),
            ));
        }
        let mut layout = Layout::default();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Some(key) = key_of(root, &path) else {
                    continue;
                };
                if let Some((chain, digest)) = parse_digest_key(&key) {
                    layout.chains.entry(chain).or_default().push(digest);
                } else if let Some(log) = parse_log_key(&key) {
                    layout.logs.insert(key, log);
                }
            }
        }
        for digests in layout.chains.values_mut() {
            digests.sort_by(|a, b| a.end.cmp(&b.end).then_with(|| a.key.cmp(&b.key)));
        }
        Ok(layout)
    }
}

/// The S3 key of `path` under `root` (None if a component is not UTF-8).
fn key_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// The local path of an S3 key.
pub fn path_of(root: &Path, key: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in key.split('/').filter(|s| !s.is_empty() && *s != "..") {
        p.push(part);
    }
    p
}

/// Parses `…/<account>_CloudTrail-Digest_<region>_<trail>_<home-region>_<YYYYMMDDTHHMMSSZ>.json.gz`
/// (trail names may hold `_`; account ids and regions do not).
pub fn parse_digest_key(key: &str) -> Option<(ChainId, DigestFile)> {
    let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
    let marker = "/CloudTrail-Digest/";
    let dir_slash = format!("/{dir}/");
    let prefix_end = dir_slash.find(marker)?;
    let prefix = dir_slash[1..prefix_end + 1].to_owned();
    let stem = name.strip_suffix(".json.gz")?;
    let (rest, stamp) = stem.rsplit_once('_')?;
    let (rest, home_region) = rest.rsplit_once('_')?;
    let (account, rest) = rest.split_once("_CloudTrail-Digest_")?;
    let (region, trail) = rest.split_once('_')?;
    if account.is_empty() || region.is_empty() || trail.is_empty() || home_region.is_empty() {
        return None;
    }
    let end = parse_basic_time(stamp)?;
    Some((
        ChainId {
            prefix,
            account: account.to_owned(),
            region: region.to_owned(),
            trail: trail.to_owned(),
            home_region: home_region.to_owned(),
        },
        DigestFile {
            key: key.to_owned(),
            end,
        },
    ))
}

/// Parses `…/CloudTrail/…/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json[.gz]`.
pub fn parse_log_key(key: &str) -> Option<LogFile> {
    if !key.contains("/CloudTrail/") && !key.starts_with("CloudTrail/") {
        return None;
    }
    let name = key.rsplit('/').next()?;
    let stem = name
        .strip_suffix(".json.gz")
        .or_else(|| name.strip_suffix(".json"))?;
    let (_, rest) = stem.split_once("_CloudTrail_")?;
    let mut parts = rest.split('_');
    let _region = parts.next()?;
    let time = parse_basic_time(parts.next()?)?;
    Some(LogFile {
        key: key.to_owned(),
        time,
    })
}

/// `YYYYMMDDTHHMMSSZ` or `YYYYMMDDTHHMMZ` (UTC).
pub fn parse_basic_time(s: &str) -> Option<Timestamp> {
    let digits = s.strip_suffix('Z')?;
    let (date, time) = digits.split_once('T')?;
    if date.len() != 8 || !(time.len() == 4 || time.len() == 6) {
        return None;
    }
    if !date.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = if time.len() == 6 { &time[4..6] } else { "00" };
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &time[0..2],
        &time[2..4],
        seconds
    );
    iso.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_log_names() {
        let key = "AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2026/01/02/111122223333_CloudTrail-Digest_eu-west-1_org_trail_us-east-1_20260102T030405Z.json.gz";
        let (chain, digest) = parse_digest_key(key).unwrap();
        assert_eq!(chain.prefix, "AWSLogs/o-abc123/111122223333/");
        assert_eq!(chain.region, "eu-west-1");
        assert_eq!(chain.trail, "org_trail");
        assert_eq!(chain.home_region, "us-east-1");
        assert_eq!(digest.end.to_string(), "2026-01-02T03:04:05Z");
        assert!(parse_digest_key("AWSLogs/1/CloudTrail/x.json.gz").is_none());

        let log = parse_log_key("AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz").unwrap();
        assert_eq!(log.time.to_string(), "2015-08-17T14:45:00Z");
        assert!(parse_log_key("AWSLogs/1/CloudTrail/us-east-2/notes.txt").is_none());
        assert!(parse_basic_time("20151317T1445Z").is_none());
    }
}
