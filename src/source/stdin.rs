//! stdin: newline-delimited events, on a plain thread. A regular file redirected to stdin is
//! memory-mapped; a pipe is read in large chunks. A gzip or zstd stream (a `.json.gz` piped in)
//! is recognised by its magic number and decompressed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::thread::JoinHandle;

use bytes::{Bytes, BytesMut};

use super::Context;
use crate::event::decompress::{is_gzip, is_zstd};
use crate::event::framing::LineFramer;
use crate::event::{Batch, SourceKind};

/// Bytes read per system call.
const CHUNK: usize = 1 << 20;

/// Starts reading stdin; the thread ends at end of input or when shutdown starts.
pub fn spawn(ctx: Context) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("trailwatch-stdin".into())
        .spawn(move || {
            let result = match map_stdin() {
                Some(file) => read_mapped(file, &ctx, SourceKind::Stdin),
                None => read(io::stdin().lock(), &ctx, SourceKind::Stdin),
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "reading stdin failed");
            }
        })
}

/// When stdin is a regular file (`trailwatch --stdin < events.ndjson`) and not compressed,
/// returns it for mapping.
fn map_stdin() -> Option<File> {
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let file = File::from(fd);
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    let mut head = [0u8; 4];
    let n = (&file).read(&mut head).ok()?;
    if is_gzip(&head[..n]) || is_zstd(&head[..n]) {
        return None;
    }
    Some(file)
}

/// Bytes mapped at a time. A window is unmapped once the batches cut from it are processed, so
/// resident memory stays bounded (by the pipeline budget plus a window) whatever the file size.
const WINDOW: u64 = 8 << 20;

/// Reads a regular file through memory-mapped windows: batches are slices of the page cache,
/// with no copy and no read buffer. A line that crosses a window boundary is joined in a small
/// buffer; a line longer than the event limit is reported as oversize at the source.
pub fn read_mapped(file: File, ctx: &Context, source: SourceKind) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut carry: Vec<u8> = Vec::new();
    let mut discarding = false;
    let mut offset = 0u64;
    while offset < len {
        if ctx.shutdown.is_cancelled() {
            return Ok(());
        }
        let size = WINDOW.min(len - offset);
        // SAFETY: the mapping is read-only. Like ripgrep, we accept that a file truncated by
        // another process while we read it makes the process fault; data appended after we
        // looked at its size is not read.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(size as usize)
                .map(&file)?
        };
        ctx.telemetry.bytes(source, size);
        let data = Bytes::from_owner(map);
        offset += size;
        let last_window = offset >= len;
        // Finish the line carried over from the previous window.
        let mut start = 0;
        if !carry.is_empty() || discarding {
            match memchr::memchr(b'\n', &data) {
                Some(i) => {
                    if !discarding {
                        carry.extend_from_slice(&data[..=i]);
                        send_carry(&mut carry, ctx, source)?;
                    }
                    discarding = false;
                    start = i + 1;
                }
                None => {
                    if !discarding {
                        carry.extend_from_slice(&data);
                    }
                    start = data.len();
                }
            }
            if carry.len() > ctx.max_event_bytes {
                ctx.oversize(
                    source,
                    Bytes::copy_from_slice(&carry[..1024.min(carry.len())]),
                );
                carry.clear();
                discarding = true;
            }
        }
        // Whole lines of this window, in chunks, as slices of the mapping.
        let whole_end = if last_window {
            data.len()
        } else {
            memchr::memrchr(b'\n', &data[start..]).map_or(start, |i| start + i + 1)
        };
        while start < whole_end {
            let target = (start + CHUNK).min(whole_end);
            let end = memchr::memchr(b'\n', &data[target..whole_end])
                .map_or(whole_end, |i| target + i + 1);
            if ctx
                .admission
                .send_blocking(Batch::lines(source, data.slice(start..end)), &ctx.runtime)
                .is_err()
            {
                return Ok(());
            }
            start = end;
        }
        if !last_window && whole_end < data.len() && !discarding {
            carry.extend_from_slice(&data[whole_end..]);
        }
    }
    if !carry.is_empty() && !discarding {
        send_carry(&mut carry, ctx, source)?;
    }
    Ok(())
}

fn send_carry(carry: &mut Vec<u8>, ctx: &Context, source: SourceKind) -> io::Result<()> {
    let line = Bytes::from(std::mem::take(carry));
    if line.len() > ctx.max_event_bytes {
        ctx.oversize(source, line.slice(..1024.min(line.len())));
        return Ok(());
    }
    let _ = ctx
        .admission
        .send_blocking(Batch::lines(source, line), &ctx.runtime);
    Ok(())
}

/// Reads newline-delimited events from `input` until its end (or shutdown), decompressing a
/// gzip or zstd stream.
pub fn read(input: impl Read, ctx: &Context, source: SourceKind) -> io::Result<()> {
    let mut input = BufReader::with_capacity(64 << 10, input);
    let head = input.fill_buf()?;
    let reader: Box<dyn Read> = if is_gzip(head) {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else if is_zstd(head) {
        Box::new(zstd::stream::read::Decoder::with_buffer(input)?)
    } else {
        Box::new(input)
    };
    read_lines(reader, ctx, source)
}

/// Frames `reader` into batches of whole lines.
pub fn read_lines(mut reader: impl Read, ctx: &Context, source: SourceKind) -> io::Result<()> {
    let mut framer = LineFramer::new(ctx.max_event_bytes);
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    loop {
        if ctx.shutdown.is_cancelled() {
            return Ok(());
        }
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = loop {
            match reader.read(&mut buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            }
        };
        buf.truncate(start + n);
        ctx.telemetry.bytes(source, n as u64);
        let taken = framer.take(&mut buf);
        if let Some(sample) = taken.oversize {
            ctx.oversize(source, sample);
        }
        if let Some(lines) = taken.lines {
            if ctx
                .admission
                .send_blocking(Batch::lines(source, lines), &ctx.runtime)
                .is_err()
            {
                return Ok(()); // shutting down
            }
        }
        if n == 0 {
            if let Some(last) = framer.finish(&mut buf) {
                let _ = ctx
                    .admission
                    .send_blocking(Batch::lines(source, last), &ctx.runtime);
            }
            return Ok(());
        }
        if buf.capacity() - buf.len() < CHUNK {
            buf.reserve(CHUNK);
        }
    }
}
