//! Backfill from CloudTrail delivery files and folders (`.json`, `.json.gz`, recursive).
//!
//! Files are shared out to several reader threads, so gzip archives decompress in parallel. A
//! file whose document starts with `{"Records":[` is split record by record as it is read; any
//! other file is read as newline-delimited events. Compression is recognised by magic number,
//! whatever the extension.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::Context;
use super::pump::{Counted, Pump};
use crate::event::decompress::sniffed;
use crate::event::records::DocumentFramer;
use crate::event::{RejectReason, SourceKind};

const SOURCE: SourceKind = SourceKind::Files;
/// Bytes read per system call.
const CHUNK: usize = 256 << 10;
/// Records per batch, roughly, in bytes.
const TARGET_BATCH: usize = 512 << 10;

/// Expands `paths` (folders recursively, sorted) into the files to read.
pub fn expand(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_event_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Files a folder walk picks up: CloudTrail's `.json.gz` and `.json`, plus NDJSON and `.gz`.
fn is_event_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [
        ".json", ".json.gz", ".jsonl", ".ndjson", ".gz", ".zst", ".log",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// Starts `threads` readers over `files`; they end when every file is read.
pub fn spawn(ctx: Context, files: Vec<PathBuf>, threads: usize) -> io::Result<Vec<JoinHandle<()>>> {
    let queue = Arc::new(Mutex::new(VecDeque::from(files)));
    (0..threads.max(1))
        .map(|i| {
            let ctx = ctx.clone();
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("trailwatch-files-{i}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                        let Some(path) = next else { return };
                        if ctx.shutdown.is_cancelled() {
                            return;
                        }
                        if let Err(e) = read_file(&path, &ctx) {
                            tracing::error!(file = %path.display(), error = %e, "cannot read file");
                            // Corrupt or truncated compressed data loses the rest of the file: count it.
                            if matches!(
                                e.kind(),
                                io::ErrorKind::InvalidData
                                    | io::ErrorKind::InvalidInput
                                    | io::ErrorKind::UnexpectedEof
                            ) {
                                ctx.reject(
                                    SOURCE,
                                    RejectReason::InvalidCompression,
                                    format!("{}: {e}", path.display()),
                                    b"",
                                );
                            }
                        }
                    }
                })
        })
        .collect()
}

/// Reads one file.
pub fn read_file(path: &Path, ctx: &Context) -> io::Result<()> {
    let raw = BufReader::with_capacity(CHUNK, Counted::new(File::open(path)?, ctx, SOURCE));
    Pump::new(
        ctx,
        SOURCE,
        DocumentFramer::new(ctx.max_event_bytes, TARGET_BATCH),
    )
    .origin(path.display().to_string())
    .run_blocking(sniffed(raw)?, CHUNK)
}
