//! Hashing log files against their digest entries, on every core: SHA-256 of the inflated
//! bytes (a file already decompressed hashes the same).

use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest as _, Sha256};

use super::layout::path_of;
use super::report::LogStatus;

/// Checks each `(key, expected hex SHA-256)`; the verdicts come back in the same order.
pub fn check_all(root: &Path, files: &[(String, String)]) -> Vec<LogStatus> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let verdicts: Mutex<Vec<Option<LogStatus>>> = Mutex::new(vec![None; files.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((key, expected)) = files.get(i) else {
                        return;
                    };
                    let verdict = check_one(root, key, expected);
                    if let Ok(mut v) = verdicts.lock() {
                        v[i] = Some(verdict);
                    }
                }
            });
        }
    });
    verdicts
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.unwrap_or(LogStatus::InvalidFormat("not checked".into())))
        .collect()
}

fn check_one(root: &Path, key: &str, expected: &str) -> LogStatus {
    match sha256_inflated(&path_of(root, key)) {
        Ok(h) if h == expected => LogStatus::Valid,
        Ok(_) => LogStatus::Modified,
        Err(e) if e.kind() == io::ErrorKind::NotFound => LogStatus::Deleted,
        Err(e) => LogStatus::InvalidFormat(e.to_string()),
    }
}

/// SHA-256 (lowercase hex) of the file's content, gunzipped if it is gzip.
pub fn sha256_inflated(path: &Path) -> io::Result<String> {
    let mut reader = BufReader::with_capacity(256 << 10, std::fs::File::open(path)?);
    let mut hasher = Sha256::new();
    if crate::event::decompress::is_gzip(reader.fill_buf()?) {
        io::copy(&mut flate2::read::MultiGzDecoder::new(reader), &mut hasher)?;
    } else {
        io::copy(&mut reader, &mut hasher)?;
    }
    Ok(hex::encode(hasher.finalize()))
}
