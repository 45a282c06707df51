//! Reading one input and finding its matching events, exactly as the service reads files: the
//! same decompression detection, document framer (`{"Records":[…]}` splitter, else lines),
//! envelope decoder and pattern engine (see `source::files` and `worker`).

use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::BytesMut;
use trailwatch_pattern::{EvalOptions, Evaluator, JsonStatus};

use super::output::Out;
use super::query::Query;
use crate::event::decompress::sniffed;
use crate::event::envelope::{Decoder, Event, Output};
use crate::event::framing::{Frame, Framer};
use crate::event::records::DocumentFramer;
use crate::event::{Batch, RejectReason, SourceKind};
use crate::source::pump::fill;

/// Bytes read per system call (as the service's file reader).
const CHUNK: usize = 256 << 10;
/// Records per batch, roughly, in bytes.
const TARGET_BATCH: usize = 512 << 10;

/// Counters shared by all scanning threads (the progress bar and the summary read them).
#[derive(Debug, Default)]
pub struct Progress {
    /// Input bytes read (compressed size).
    pub bytes: AtomicU64,
    /// Files done.
    pub files: AtomicU64,
    /// Events seen.
    pub events: AtomicU64,
    /// Matching events.
    pub matches: AtomicU64,
    /// Events the decoder or the engine rejected (not UTF-8, not JSON, oversize, …).
    pub rejected: AtomicU64,
    /// Set to stop every thread (output closed).
    pub stop: AtomicBool,
}

/// One thread's scanner: its own decoder, evaluator and output buffer.
pub struct Scanner<'a> {
    decoder: Decoder,
    evaluator: Evaluator,
    query: &'a Query,
    max_event_bytes: usize,
    progress: &'a Progress,
    out: Out<'a>,
    events: u64,
    matches: u64,
    rejected: u64,
}

impl<'a> Scanner<'a> {
    /// A scanner writing to `out`.
    pub fn new(
        query: &'a Query,
        max_event_bytes: usize,
        event_fields: &[String],
        progress: &'a Progress,
        out: Out<'a>,
    ) -> Scanner<'a> {
        // As the worker: a compressed envelope may expand to what a whole HTTP body may.
        let max_decoded = max_event_bytes.max(16 << 20);
        Scanner {
            decoder: Decoder::new(event_fields, max_decoded),
            evaluator: Evaluator::new(),
            query,
            max_event_bytes,
            progress,
            out,
            events: 0,
            matches: 0,
            rejected: 0,
        }
    }

    /// Scans one input to its end. A malformed Records document ends its file with an error
    /// (after its good records are scanned), as it does in the service.
    pub fn scan(&mut self, input: impl Read) -> io::Result<()> {
        let raw = BufReader::with_capacity(
            CHUNK,
            Counting {
                inner: input,
                bytes: &self.progress.bytes,
            },
        );
        let mut reader = sniffed(raw)?;
        let mut buf = BytesMut::with_capacity(2 * CHUNK);
        let mut framer = DocumentFramer::new(self.max_event_bytes, TARGET_BATCH);
        let mut eof = false;
        let result = loop {
            if self.progress.stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            match framer.next(&mut buf, eof) {
                Frame::NeedMore if eof => break Ok(()),
                Frame::NeedMore => eof = fill(&mut reader, &mut buf, CHUNK)? == 0,
                Frame::Batch(data, framing) => self.batch(&Batch {
                    source: SourceKind::Files,
                    data,
                    framing,
                    budget: None,
                    ack: None,
                })?,
                Frame::Oversize(_) => self.rejected += 1,
                Frame::Done => break Ok(()),
                Frame::Reject { detail, .. } => {
                    self.rejected += 1;
                    break Err(io::Error::new(io::ErrorKind::InvalidData, detail));
                }
            }
        };
        self.flush_counts();
        self.out.flush()?;
        result
    }

    /// Every document of a batch, as the worker does it.
    fn batch(&mut self, batch: &Batch) -> io::Result<()> {
        let mut sink = Matcher {
            max_event_bytes: self.max_event_bytes,
            query: self.query,
            evaluator: &mut self.evaluator,
            out: &mut self.out,
            events: 0,
            matches: 0,
            rejected: 0,
            error: None,
        };
        let decoder = &mut self.decoder;
        batch.for_each_document(|doc| decoder.decode(doc, &mut sink));
        self.events += sink.events;
        self.matches += sink.matches;
        self.rejected += sink.rejected;
        if let Some(e) = sink.error {
            return Err(e);
        }
        if self.events > 100_000 {
            self.flush_counts();
        }
        Ok(())
    }

    fn flush_counts(&mut self) {
        let p = self.progress;
        p.events
            .fetch_add(std::mem::take(&mut self.events), Ordering::Relaxed);
        p.matches
            .fetch_add(std::mem::take(&mut self.matches), Ordering::Relaxed);
        p.rejected
            .fetch_add(std::mem::take(&mut self.rejected), Ordering::Relaxed);
    }
}

/// Receives a batch's events from the decoder: evaluates, checks the time window, prints.
struct Matcher<'s, 'a> {
    /// As the worker: the limit is on each event an envelope holds.
    max_event_bytes: usize,
    query: &'a Query,
    evaluator: &'s mut Evaluator,
    out: &'s mut Out<'a>,
    events: u64,
    matches: u64,
    rejected: u64,
    error: Option<io::Error>,
}

impl Output for Matcher<'_, '_> {
    fn event(&mut self, e: Event<'_>) {
        if e.forward.len() > self.max_event_bytes {
            self.rejected += 1;
            return;
        }
        for set in &self.query.sets {
            let outcome = self.evaluator.evaluate(set, e.eval, EvalOptions::default());
            if outcome.json() == JsonStatus::Invalid {
                // The service rejects it too: not an event.
                self.rejected += 1;
                return;
            }
            if !outcome.matched(0) {
                self.events += 1;
                return;
            }
        }
        self.events += 1;
        if self.query.window.is_set() && !self.query.window.contains_event(e.eval) {
            return;
        }
        self.matches += 1;
        if self.error.is_none() {
            if let Err(err) = self.out.event(&e) {
                self.error = Some(err);
            }
        }
    }

    fn reject(&mut self, _reason: RejectReason, _bytes: &[u8], _detail: &str) {
        self.rejected += 1;
    }
}

/// Counts the bytes read from the input (before decompression), for the progress bar.
struct Counting<'a, R> {
    inner: R,
    bytes: &'a AtomicU64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
