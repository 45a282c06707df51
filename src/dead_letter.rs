//! The dead-letter file: every rejected event, with why, as NDJSON, so nothing is lost.
//!
//! `{"time":"…","source":"tcp","reason":"invalid_json","detail":"…","event":"<the bytes>"}`;
//! an event that is not UTF-8 is written as `event_base64` instead. A single writer thread owns
//! the file; senders block when its queue is full (a slow disk slows the pipeline rather than
//! losing rejects).

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
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
        let (tx, rx) = sync_channel(1024);
        let handle = std::thread::Builder::new()
            .name("trailwatch-dead-letter".into())
            .spawn(move || write_all(rx, file, &telemetry))?;
        Ok((DeadLetter { tx }, handle))
    }

    /// Queues `r` for writing (blocks while the writer is behind).
    pub fn send(&self, r: Rejected) {
        let _ = self.tx.send(r);
    }
}

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
