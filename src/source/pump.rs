//! The pump under every byte-stream source: reader → framer → batch → admission.
//!
//! A source picks a reader (a pipe, a decompressor, a memory-mapped file, a socket) and a
//! [`Framer`] (lines, delivery files, …); the pump reads, lets the framer cut batches, counts
//! and dead-letters what the framer drops, and hands batches to the pipeline, waiting for room
//! (backpressure). The three drivers differ only in how bytes arrive: [`Pump::run_blocking`]
//! (a `Read` on a plain thread), [`Pump::run_mapped`] (a regular file, zero-copy) and
//! [`Pump::run_async`] (an `AsyncRead` on the runtime).

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Context;
use crate::ack::Ack;
use crate::event::framing::{Frame, Framer};
use crate::event::{Batch, SourceKind};

/// Bytes mapped at a time. A window is unmapped once the batches cut from it are processed, so
/// resident memory stays bounded (by the pipeline budget plus a window) whatever the file size.
const WINDOW: u64 = 8 << 20;

/// What the framer's output means for the driver.
enum Next {
    Send(Batch),
    NeedMore,
    Done,
}

/// See the module docs.
pub struct Pump<'a, F> {
    ctx: &'a Context,
    source: SourceKind,
    /// Names the stream in rejection details (a file path, a peer address).
    origin: Option<String>,
    framer: F,
    /// Read but not yet framed.
    buf: BytesMut,
    /// Given to every batch: the source learns when all of them are dealt with.
    ack: Option<Ack>,
}

impl<'a, F: Framer> Pump<'a, F> {
    /// A pump from `source` through `framer`.
    pub fn new(ctx: &'a Context, source: SourceKind, framer: F) -> Self {
        Pump {
            ctx,
            source,
            origin: None,
            framer,
            buf: BytesMut::new(),
            ack: None,
        }
    }

    /// Hands a clone of `ack` to every batch (and counts what the framer drops in it).
    pub fn ack(mut self, ack: Ack) -> Self {
        self.ack = Some(ack);
        self
    }

    /// Names the stream (a file, a peer) in what is dead-lettered from it.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Acts on one frame: `None` to ask the framer again.
    fn handle(&self, frame: Frame, eof: bool) -> Option<Next> {
        match frame {
            Frame::NeedMore if eof => Some(Next::Done),
            Frame::NeedMore => Some(Next::NeedMore),
            Frame::Done => Some(Next::Done),
            Frame::Batch(data, framing) => Some(Next::Send(Batch {
                source: self.source,
                data,
                framing,
                budget: None,
                ack: self.ack.clone(),
            })),
            Frame::Oversize(sample) => {
                self.ctx.oversize(self.source, sample);
                if let Some(ack) = &self.ack {
                    ack.count(0, 1);
                }
                None
            }
            Frame::Reject {
                reason,
                detail,
                sample,
            } => {
                let detail = match &self.origin {
                    Some(o) => format!("{o}: {detail}"),
                    None => detail,
                };
                tracing::warn!(source = self.source.as_str(), reason = reason.as_str(), %detail, "input rejected");
                self.ctx.reject(self.source, reason, detail, &sample);
                if let Some(ack) = &self.ack {
                    ack.count(0, 1);
                }
                None
            }
        }
    }

    fn next(&mut self, eof: bool) -> Next {
        loop {
            let frame = self.framer.next(&mut self.buf, eof);
            if let Some(next) = self.handle(frame, eof) {
                return next;
            }
        }
    }

    fn next_shared(&mut self, input: &mut Bytes, eof: bool) -> Next {
        loop {
            let frame = self.framer.next_shared(&mut self.buf, input, eof);
            if let Some(next) = self.handle(frame, eof) {
                return next;
            }
        }
    }

    /// Pumps `reader` to its end (or shutdown), reading `chunk` bytes at a time, on a plain
    /// thread. Read errors end the stream and are returned (what was complete was handed on).
    pub fn run_blocking(mut self, mut reader: impl Read, chunk: usize) -> io::Result<()> {
        loop {
            if self.ctx.shutdown.is_cancelled() {
                return Ok(());
            }
            let eof = fill(&mut reader, &mut self.buf, chunk)? == 0;
            if !self.send_ready_blocking(eof, None) {
                return Ok(());
            }
        }
    }

    /// Sends every batch the framer can cut now, waiting for room; false once the stream is
    /// over or the pipeline is shutting down.
    fn send_ready_blocking(&mut self, eof: bool, mut shared: Option<&mut Bytes>) -> bool {
        loop {
            let next = match shared.as_deref_mut() {
                Some(input) => self.next_shared(input, eof),
                None => self.next(eof),
            };
            match next {
                Next::Send(batch) => {
                    if self
                        .ctx
                        .admission
                        .send_blocking(batch, &self.ctx.runtime)
                        .is_err()
                    {
                        return false;
                    }
                }
                Next::NeedMore => return true,
                Next::Done => return false,
            }
        }
    }

    /// Pumps a regular file from `start` to its current end through memory-mapped windows:
    /// batches are slices of the page cache, with no copy and no read buffer (for framers that
    /// cut shared input; others copy).
    pub fn run_mapped(mut self, file: &File, start: u64) -> io::Result<()> {
        let len = file.metadata()?.len();
        let mut offset = start;
        while offset < len {
            if self.ctx.shutdown.is_cancelled() {
                return Ok(());
            }
            let size = WINDOW.min(len - offset);
            // SAFETY: the mapping is read-only. Like ripgrep, we accept that a file truncated
            // by another process while we read it makes the process fault; data appended after
            // we looked at its size is not read.
            let map = unsafe {
                memmap2::MmapOptions::new()
                    .offset(offset)
                    .len(size as usize)
                    .map(file)?
            };
            self.ctx.telemetry.bytes(self.source, size);
            let mut input = Bytes::from_owner(map);
            offset += size;
            let eof = offset >= len;
            if !self.send_ready_blocking(eof, Some(&mut input)) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Pumps `reader` on the runtime until its end, an error, `idle` without data, or
    /// shutdown. Counts the bytes read. At shutdown or after an error, complete events are
    /// handed on; a partial one is not an event yet.
    pub async fn run_async(
        mut self,
        mut reader: impl AsyncRead + Unpin,
        chunk: usize,
        idle: Duration,
    ) {
        loop {
            if self.buf.capacity() - self.buf.len() < chunk / 4 {
                self.buf.reserve(chunk);
            }
            let read = tokio::select! {
                r = tokio::time::timeout(idle, reader.read_buf(&mut self.buf)) => r,
                () = self.ctx.shutdown.cancelled() => break,
            };
            let n = match read {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::debug!(origin = ?self.origin, error = %e, "stream failed");
                    break;
                }
                Err(_) => {
                    tracing::debug!(origin = ?self.origin, "closing an idle stream");
                    break;
                }
            };
            self.ctx.telemetry.bytes(self.source, n as u64);
            let eof = n == 0;
            loop {
                match self.next(eof) {
                    Next::Send(batch) => {
                        if self.ctx.admission.send(batch).await.is_err() {
                            return;
                        }
                    }
                    Next::NeedMore => break,
                    Next::Done => return,
                }
            }
        }
        while let Next::Send(batch) = self.next(false) {
            if self.ctx.admission.send(batch).await.is_err() {
                return;
            }
        }
    }
}

/// Appends up to `chunk` bytes read from `reader` to `buf`; returns how many (0 at the end).
pub(crate) fn fill(reader: &mut impl Read, buf: &mut BytesMut, chunk: usize) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + chunk, 0);
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

/// Counts the bytes read through it (the size on the wire or disk, before decompression) as
/// received by its source.
pub struct Counted<'a, R> {
    inner: R,
    ctx: &'a Context,
    source: SourceKind,
}

impl<'a, R> Counted<'a, R> {
    /// Counts what is read from `inner` for `source`.
    pub fn new(inner: R, ctx: &'a Context, source: SourceKind) -> Self {
        Counted { inner, ctx, source }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.telemetry.bytes(self.source, n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.ctx.telemetry.bytes(self.source, amt as u64);
        self.inner.consume(amt);
    }
}
