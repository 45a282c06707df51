//! Backfill from CloudTrail delivery files and folders (`.json`, `.json.gz`, recursive).
//!
//! Files are shared out to several reader threads, so gzip archives decompress in parallel. A
//! file whose document starts with `{"Records":[` is split record by record as it is read; any
//! other file is read as newline-delimited events. Compression is recognised by magic number,
//! whatever the extension.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::BytesMut;

use super::Context;
use crate::event::decompress::{is_gzip, is_zstd};
use crate::event::framing::LineFramer;
use crate::event::records::{RecordsSplitter, Step};
use crate::event::{Batch, Framing, RejectReason, SourceKind};

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
    let mut raw = BufReader::with_capacity(CHUNK, File::open(path)?);
    let head = raw.fill_buf()?;
    let mut reader: Box<dyn Read + '_> = if is_gzip(head) {
        Box::new(flate2::read::MultiGzDecoder::new(CountingReader::new(
            raw, ctx,
        )))
    } else if is_zstd(head) {
        Box::new(zstd::stream::read::Decoder::new(CountingReader::new(
            raw, ctx,
        ))?)
    } else {
        Box::new(CountingReader::new(raw, ctx))
    };
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut splitter = RecordsSplitter::new(ctx.max_event_bytes, TARGET_BATCH);
    let mut eof = false;
    loop {
        match splitter.next(&mut buf, eof) {
            Step::NeedMore => eof = fill(&mut reader, &mut buf)? == 0,
            Step::Batch(data, ranges) => {
                let batch = Batch {
                    source: SOURCE,
                    data,
                    framing: Framing::Documents(ranges),
                    budget: None,
                    ack: None,
                };
                if ctx.admission.send_blocking(batch, &ctx.runtime).is_err() {
                    return Ok(());
                }
            }
            Step::Oversize(sample) => ctx.oversize(SOURCE, sample),
            Step::Done => return Ok(()),
            Step::NotRecords => return read_rest_as_lines(reader, buf, ctx),
            Step::Error(message) => {
                let detail = format!("{}: {message}", path.display());
                ctx.reject(SOURCE, RejectReason::InvalidEnvelope, detail, &buf);
                return Ok(());
            }
        }
    }
}

/// Appends up to `CHUNK` bytes; returns how many were read (0 at end of file).
fn fill(reader: &mut impl Read, buf: &mut BytesMut) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + CHUNK, 0);
    loop {
        match reader.read(&mut buf[start..]) {
            Ok(n) => {
                buf.truncate(start + n);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
}

fn read_rest_as_lines(mut reader: impl Read, mut buf: BytesMut, ctx: &Context) -> io::Result<()> {
    let mut framer = LineFramer::new(ctx.max_event_bytes);
    loop {
        let taken = framer.take(&mut buf);
        if let Some(sample) = taken.oversize {
            ctx.oversize(SOURCE, sample);
        }
        if let Some(lines) = taken.lines {
            if ctx
                .admission
                .send_blocking(Batch::lines(SOURCE, lines), &ctx.runtime)
                .is_err()
            {
                return Ok(());
            }
        }
        if fill(&mut reader, &mut buf)? == 0 {
            if let Some(last) = framer.finish(&mut buf) {
                let _ = ctx
                    .admission
                    .send_blocking(Batch::lines(SOURCE, last), &ctx.runtime);
            }
            return Ok(());
        }
    }
}

/// Counts the bytes read from disk (compressed size) as received.
struct CountingReader<'a, R> {
    inner: R,
    ctx: &'a Context,
}

impl<'a, R> CountingReader<'a, R> {
    fn new(inner: R, ctx: &'a Context) -> Self {
        CountingReader { inner, ctx }
    }
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.telemetry.bytes(SOURCE, n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountingReader<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.ctx.telemetry.bytes(SOURCE, amt as u64);
        self.inner.consume(amt);
    }
}
