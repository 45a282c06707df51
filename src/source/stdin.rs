//! stdin: newline-delimited events, read in large chunks on a plain thread. A gzip or zstd
//! stream (a `.json.gz` piped in) is recognised by its magic number and decompressed.

use std::io::{self, BufRead, BufReader, Read};
use std::thread::JoinHandle;

use bytes::BytesMut;

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
            if let Err(e) = read(io::stdin().lock(), &ctx, SourceKind::Stdin) {
                tracing::error!(error = %e, "reading stdin failed");
            }
        })
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
