//! Event sources: each reads bytes, frames them into batches and hands them to the pipeline.
//!
//! * [`stdin`] — newline-delimited events (gzip and zstd detected), ends at end of input;
//! * [`files`] — CloudTrail delivery files and folders, decompressed in parallel;
//! * [`tcp`] — newline-delimited JSON or MessagePack entries from many connections (Vector
//!   `socket`, Fluent Bit `tcp`);
//! * [`http`] — POSTed NDJSON, JSON arrays, objects and CloudTrail files (Vector `http`,
//!   Fluent Bit `http`).

pub mod files;
pub mod fluent;
pub mod http;
pub mod pump;
pub mod stdin;
pub mod tcp;

use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::dead_letter::{DeadLetter, Rejected};
use crate::event::{RejectReason, SourceKind};
use crate::metrics::Telemetry;
use crate::pipeline::Admission;

/// What every source needs.
#[derive(Clone)]
pub struct Context {
    /// Where batches go.
    pub admission: Admission,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// Where rejected input goes.
    pub dead_letter: Option<DeadLetter>,
    /// Longest event accepted.
    pub max_event_bytes: usize,
    /// Cancelled when the service starts shutting down.
    pub shutdown: CancellationToken,
    /// For sources running on plain threads.
    pub runtime: tokio::runtime::Handle,
}

impl Context {
    /// Counts (and dead-letters a sample of) a line or record dropped for being too long.
    pub fn oversize(&self, source: SourceKind, sample: Bytes) {
        let detail = format!(
            "event longer than --max-event-bytes {} (discarded; first {} bytes kept)",
            self.max_event_bytes,
            sample.len()
        );
        self.telemetry.events(source, 1);
        self.telemetry
            .rejected(RejectReason::Oversize, 1, source, &detail);
        if let Some(dl) = &self.dead_letter {
            dl.send(Rejected {
                source,
                reason: RejectReason::Oversize.as_str(),
                sink: None,
                detail,
                event: sample.to_vec(),
            });
        }
    }

    /// Counts (and dead-letters) input rejected before framing.
    pub fn reject(&self, source: SourceKind, reason: RejectReason, detail: String, bytes: &[u8]) {
        self.telemetry.events(source, 1);
        self.telemetry.rejected(reason, 1, source, &detail);
        if let Some(dl) = &self.dead_letter {
            dl.send(Rejected {
                source,
                reason: reason.as_str(),
                sink: None,
                detail,
                event: bytes[..bytes.len().min(4096)].to_vec(),
            });
        }
    }
}

/// Compares secrets without an early exit that would leak their common prefix length.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
