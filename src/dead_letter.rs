//! The dead-letter file: every rejected event, with why, as NDJSON, so nothing is lost.
//!
//! `{"time":"…","source":"tcp","reason":"invalid_json","detail":"…","event":"<the bytes>"}`;
//! an event that is not UTF-8 is written as `event_base64` instead. A single writer thread owns
//! the file. Senders never wait for it (they include the async sources and sink delivery, which
//! must not block): when its queue is full the event is still counted as rejected, and its
//! dead-letter copy is dropped and counted in `trailwatch_dead_letter_dropped_total`.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::SystemTime;

use base64::Engine as _;
use serde::Serialize;

#[cfg(doc)]
use crate::event::RejectReason;
use crate::event::SourceKind;
use crate::metrics::Telemetry;

/// One rejected event.
#[derive(Debug)]
pub struct Rejected {
    /// Where it came from.
    pub source: SourceKind,
    /// Why it was rejected (a [`RejectReason`] label, or `sink_rejected`).
    pub reason: &'static str,
    /// The sink that refused it, for events a destination rejected.
    pub sink: Option<String>,
    /// A detail message.
    pub detail: String,
    /// The event's bytes (or a sample, for oversize events).
    pub event: Vec<u8>,
}

/// A handle for sending rejected events to the file (cheap to clone).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    tx: SyncSender<Rejected>,
    dropped: prometheus::IntCounter,
}

impl DeadLetter {
    /// Opens (appending) `path` and starts the writer thread.
    pub fn open(
        path: &Path,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<(DeadLetter, JoinHandle<()>)> {
        let file = if path == Path::new("-") {
            None
        } else {
            Some(OpenOptions::new().create(true).append(true).open(path)?)
        };
        Self::with_queue(file, telemetry, QUEUE)
    }

    fn with_queue(
        file: Option<std::fs::File>,
        telemetry: Arc<Telemetry>,
        queue: usize,
    ) -> std::io::Result<(DeadLetter, JoinHandle<()>)> {
        let (tx, rx) = sync_channel(queue);
        let dropped = telemetry.dead_letter_dropped.clone();
        let handle = std::thread::Builder::new()
            .name("trailwatch-dead-letter".into())
            .spawn(move || write_all(rx, file, &telemetry))?;
        Ok((DeadLetter { tx, dropped }, handle))
    }

    /// Queues `r` for writing, or drops (and counts) it when the writer is behind.
    pub fn send(&self, r: Rejected) {
        match self.tx.try_send(r) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => self.dropped.inc(),
        }
    }
}

/// Rejected events queued for the writer at most.
const QUEUE: usize = 4096;

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    source: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sink: Option<&'a str>,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_base64: Option<String>,
}

fn write_all(rx: Receiver<Rejected>, file: Option<std::fs::File>, telemetry: &Telemetry) {
    let mut out: BufWriter<Box<dyn Write>> = BufWriter::new(match file {
        Some(f) => Box::new(f),
        None => Box::new(std::io::stderr()),
    });
    while let Ok(first) = rx.recv() {
        // Write everything queued, then flush once.
        for r in std::iter::once(first).chain(rx.try_iter()) {
            let text = std::str::from_utf8(&r.event).ok();
            let line = Line {
                time: crate::time::rfc3339(SystemTime::now()),
                source: r.source.as_str(),
                reason: r.reason,
                sink: r.sink.as_deref(),
                detail: &r.detail,
                event: text,
                event_base64: text
                    .is_none()
                    .then(|| base64::engine::general_purpose::STANDARD.encode(&r.event)),
            };
            let ok = serde_json::to_writer(&mut out, &line).is_ok() && out.write_all(b"\n").is_ok();
            if ok {
                telemetry.dead_lettered.inc();
            } else {
                telemetry.dead_letter_errors.inc();
            }
        }
        if out.flush().is_err() {
            telemetry.dead_letter_errors.inc();
            tracing::error!("cannot write the dead-letter file");
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(i: usize) -> Rejected {
        Rejected {
            source: SourceKind::Tcp,
            reason: "invalid_json",
            sink: None,
            detail: String::new(),
            event: format!("{{{i}").into_bytes(),
        }
    }

    /// Regression: `send` blocked its caller (a TCP connection task, a sink's delivery loop)
    /// while the writer was behind.
    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let telemetry = Arc::new(Telemetry::new());
        // A writer stuck on a pipe nobody reads.
        let (read_end, write_end) = std::io::pipe().unwrap();
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(write_end));
        let (dl, writer) = DeadLetter::with_queue(Some(file), telemetry.clone(), 4).unwrap();
        let (done, sent) = std::sync::mpsc::channel();
        let sender = dl.clone();
        std::thread::spawn(move || {
            for i in 0..100_000 {
                sender.send(rejected(i));
            }
            let _ = done.send(());
        });
        let finished = sent.recv_timeout(std::time::Duration::from_secs(30));
        drop(read_end); // unblocks the writer (and an old blocking sender) either way
        assert!(finished.is_ok(), "send blocked while the writer was stuck");
        assert!(telemetry.dead_letter_dropped.get() > 0);
        drop(dl);
        let _ = writer.join();
    }
}
