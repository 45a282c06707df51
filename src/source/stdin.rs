//! stdin: newline-delimited events, on a plain thread. A regular file redirected to stdin is
//! memory-mapped; a pipe is read in large chunks. A gzip or zstd stream (a `.json.gz` piped or
//! redirected in) is recognised by its magic number and decompressed.

use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::thread::JoinHandle;

use super::Context;
use super::pump::{Counted, Pump};
use crate::event::SourceKind;
use crate::event::decompress::{is_gzip, is_zstd, sniffed};
use crate::event::framing::LineFramer;

const SOURCE: SourceKind = SourceKind::Stdin;
/// Bytes read per system call.
const CHUNK: usize = 1 << 20;

/// Starts reading stdin; the thread ends at end of input or when shutdown starts.
pub fn spawn(ctx: Context) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("trailwatch-stdin".into())
        .spawn(move || {
            if let Err(e) = read(&ctx) {
                tracing::error!(error = %e, "reading stdin failed");
            }
        })
}

fn read(ctx: &Context) -> io::Result<()> {
    let pump = Pump::new(ctx, SOURCE, LineFramer::new(ctx.max_event_bytes));
    match RegularFile::of_stdin() {
        Some(RegularFile {
            file,
            offset,
            compressed: false,
        }) => pump.run_mapped(&file, offset),
        // Read through the duplicate of fd 0: it shares the offset, which sniffing left alone.
        Some(RegularFile { file, .. }) => {
            let raw = BufReader::with_capacity(64 << 10, Counted::new(file, ctx, SOURCE));
            pump.run_blocking(sniffed(raw)?, CHUNK)
        }
        None => {
            let raw =
                BufReader::with_capacity(64 << 10, Counted::new(io::stdin().lock(), ctx, SOURCE));
            pump.run_blocking(sniffed(raw)?, CHUNK)
        }
    }
}

/// stdin redirected from a regular file (`trailwatch --stdin < events.ndjson`).
struct RegularFile {
    /// A duplicate of fd 0 (same open file, same offset).
    file: File,
    /// Where reading starts: stdin's offset (not necessarily 0: `(head -1; trailwatch) < f`).
    offset: u64,
    /// It starts with a gzip or zstd magic number.
    compressed: bool,
}

impl RegularFile {
    /// `None` for pipes, terminals, sockets and empty files.
    fn of_stdin() -> Option<RegularFile> {
        let file = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
        let meta = file.metadata().ok()?;
        let offset = io::Seek::stream_position(&mut &file).ok()?;
        if !meta.is_file() || meta.len() <= offset {
            return None;
        }
        // A positioned read: it must not move the offset the stream is then read from.
        let mut head = [0u8; 4];
        let n = file.read_at(&mut head, offset).ok()?;
        let compressed = is_gzip(&head[..n]) || is_zstd(&head[..n]);
        Some(RegularFile {
            file,
            offset,
            compressed,
        })
    }
}
