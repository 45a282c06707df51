//! Forwarding enriched events to the logging platform the team already runs, losing none.
//!
//! Workers enrich each batch's events into one [`OutBatch`] and hand it to [`Sinks::send`],
//! which pushes it into every sink's buffer (fan-out; a slow sink never touches another's
//! stream). Each sink's delivery task ([`deliver`]) batches, sends, retries and acknowledges.
//! A push returns once the batch is in the buffer — for a disk buffer, once it is fsynced — and
//! only then is the source's request acknowledged.

pub mod buffer;
pub mod deliver;
pub mod disk;
pub mod encode;
pub mod enrich;
pub mod recycle;
pub mod spec;
pub mod transport;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::dead_letter::DeadLetter;
use crate::metrics::Telemetry;
use buffer::{Chunk, MemoryBuffer, Pushed};
use disk::DiskBuffer;
use encode::Label;
use recycle::BatchPool;
use spec::{LabelValue, SinkKind, SinkSpec};
pub use spec::{SinkSpec as Spec, parse_forward};
use transport::Transport;

/// One forwarded event within an [`OutBatch`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutEvent {
    /// The enriched event's bytes in `data` (without the newline that follows it).
    pub line: Range<u32>,
    /// Its time (from `eventTime`), nanoseconds since the epoch; 0 when unknown.
    pub time_ns: i64,
    /// Its `eventID` (raw JSON string content) in `aux`; empty when it has none.
    pub id: Range<u32>,
    /// Index of its first label value in `label_values`.
    pub labels: u32,
}

/// A batch of enriched events, shared by every sink.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutBatch {
    /// The events, each followed by `\n` (NDJSON).
    pub data: Vec<u8>,
    /// Event IDs and label values.
    pub aux: Vec<u8>,
    /// The events.
    pub events: Vec<OutEvent>,
    /// Label values, by range of `aux`.
    pub label_values: Vec<Range<u32>>,
}

impl OutBatch {
    /// Empties the batch, keeping its capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.aux.clear();
        self.events.clear();
        self.label_values.clear();
    }
}

/// A sink's buffer.
pub enum Buffer {
    /// Memory only.
    Memory(MemoryBuffer),
    /// Write-ahead segments on disk.
    Disk(DiskBuffer),
}

impl Buffer {
    fn push(&self, batch: &Arc<OutBatch>) -> Pushed {
        match self {
            Buffer::Memory(m) => m.push(batch.clone()),
            Buffer::Disk(d) => d.push(batch).unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot write to the disk buffer");
                Pushed::Dropped
            }),
        }
    }

    async fn take(&self, max_events: usize, max_bytes: usize, linger: Duration) -> Option<Chunk> {
        match self {
            Buffer::Memory(m) => m.take(max_events, max_bytes, linger).await,
            Buffer::Disk(d) => d.take(max_events, max_bytes, linger).await,
        }
    }

    fn done(&self, chunk: Chunk, released: impl FnMut(Arc<OutBatch>)) {
        match self {
            Buffer::Memory(m) => m.done(chunk, released),
            // Persisting the position fsyncs: off the runtime's threads.
            Buffer::Disk(d) => crate::blocking::in_place(|| d.done(chunk, released)),
        }
    }

    fn close(&self) {
        match self {
            Buffer::Memory(m) => m.close(),
            Buffer::Disk(d) => d.close(),
        }
    }

    fn buffered(&self) -> (u64, u64) {
        match self {
            Buffer::Memory(m) => m.buffered(),
            Buffer::Disk(d) => d.buffered(),
        }
    }
}

/// Why a sink could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its disk buffer cannot be opened or recovered.
    #[error("sink {sink}: disk buffer {}: {source}", dir.display())]
    DiskBuffer {
        /// The sink.
        sink: String,
        /// The buffer's directory.
        dir: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Its destination cannot be set up (a file, a CA bundle, the HTTP client).
    #[error("sink {sink}: {source}")]
    Transport {
        /// The sink.
        sink: String,
        /// The failure.
        source: transport::OpenError,
    },
}

/// A running sink.
pub struct Sink {
    /// Its settings.
    pub spec: SinkSpec,
    buffer: Buffer,
    transport: Transport,
    telemetry: Arc<Telemetry>,
    dead_letter: Option<DeadLetter>,
    /// Loki stream labels, resolved to label slots.
    loki_labels: Vec<(String, Label)>,
    /// Ends delivery (retries included) at the shutdown deadline.
    stop: CancellationToken,
    /// Where finished batches go back to the workers.
    pool: Arc<BatchPool>,
}

impl Sink {
    fn update_gauges(&self) {
        let (events, bytes) = self.buffer.buffered();
        let g = &self.telemetry.sink_buffered;
        g.with_label_values(&[&self.spec.name, "events"])
            .set(events as i64);
        g.with_label_values(&[&self.spec.name, "bytes"])
            .set(bytes as i64);
    }
}

/// All sinks, and what the enricher must record for them.
pub struct Sinks {
    sinks: Vec<Arc<Sink>>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The union of Loki label fields (the enricher records these per event).
    pub label_paths: Vec<Vec<String>>,
    /// Some sink needs event times.
    pub needs_time: bool,
    /// Some sink needs event IDs.
    pub needs_id: bool,
    /// Finished batches, for the workers to fill again.
    pub pool: Arc<BatchPool>,
}

impl Sinks {
    /// Opens every sink (disk buffers recover what a previous run left) and starts their
    /// delivery tasks on the current runtime.
    pub fn start(
        specs: &[SinkSpec],
        telemetry: &Arc<Telemetry>,
        dead_letter: Option<&DeadLetter>,
    ) -> Result<Sinks, StartError> {
        let mut label_paths: Vec<Vec<String>> = Vec::new();
        let mut sinks = Vec::new();
        // Enough for every worker to find one while others are in flight; each is about one
        // input batch, so this bounds the memory kept.
        let pool = Arc::new(BatchPool::new(8));
        for spec in specs {
            let loki_labels = match &spec.kind {
                SinkKind::Loki { labels, .. } => labels
                    .iter()
                    .map(|(name, v)| {
                        let label = match v {
                            LabelValue::Static(s) => Label::Static(s.clone()),
                            LabelValue::Field(path) => {
                                Label::Slot(match label_paths.iter().position(|p| p == path) {
                                    Some(i) => i,
                                    None => {
                                        label_paths.push(path.clone());
                                        label_paths.len() - 1
                                    }
                                })
                            }
                        };
                        (name.clone(), label)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let buffer = match &spec.buffer.disk {
                Some(dir) => Buffer::Disk(
                    DiskBuffer::open(dir, spec.buffer.max_bytes, spec.buffer.when_full).map_err(
                        |source| StartError::DiskBuffer {
                            sink: spec.name.clone(),
                            dir: dir.clone(),
                            source,
                        },
                    )?,
                ),
                None => Buffer::Memory(MemoryBuffer::new(
                    spec.buffer.max_events,
                    spec.buffer.max_bytes,
                    spec.buffer.when_full,
                )),
            };
            let transport = Transport::open(spec).map_err(|source| StartError::Transport {
                sink: spec.name.clone(),
                source,
            })?;
            for outcome in ["sent", "failed", "retried", "dropped", "dead_lettered"] {
                telemetry
                    .sink_events
                    .with_label_values(&[&spec.name, outcome]);
            }
            telemetry
                .sink_request_seconds
                .with_label_values(&[&spec.name]);
            sinks.push(Arc::new(Sink {
                spec: spec.clone(),
                buffer,
                transport,
                telemetry: telemetry.clone(),
                dead_letter: dead_letter.cloned(),
                loki_labels,
                stop: CancellationToken::new(),
                pool: pool.clone(),
            }));
        }
        let tasks = sinks
            .iter()
            .map(|s| tokio::spawn(deliver::run(s.clone())))
            .collect();
        Ok(Sinks {
            needs_time: specs.iter().any(SinkSpec::needs_time),
            needs_id: specs.iter().any(SinkSpec::needs_id),
            label_paths,
            sinks,
            tasks: std::sync::Mutex::new(tasks),
            pool,
        })
    }

    /// Whether there is any sink.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Pushes `batch` into every sink's buffer (from a worker thread; may block). Returns false
    /// if some sink dropped it.
    pub fn send(&self, batch: OutBatch) -> bool {
        let n = batch.events.len();
        let batch = Arc::new(batch);
        let mut all = true;
        for s in &self.sinks {
            if s.buffer.push(&batch) == Pushed::Dropped {
                all = false;
                s.telemetry
                    .sink_events
                    .with_label_values(&[&s.spec.name, "dropped"])
                    .inc_by(n as u64);
            }
            s.update_gauges();
        }
        // Comes back at once when no buffer kept it (disk buffers copy it to disk).
        self.pool.put(batch);
        all
    }

    /// Stops taking events and waits (up to `deadline`) for every sink to deliver what it holds.
    /// What a memory buffer still holds then is lost (and logged); a disk buffer keeps it.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        for s in &self.sinks {
            s.buffer.close();
        }
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        let all = futures_join(tasks);
        if tokio::time::timeout_at(deadline, all).await.is_err() {
            for s in &self.sinks {
                s.stop.cancel();
                let (events, _) = s.buffer.buffered();
                if events > 0 {
                    let kept = matches!(s.buffer, Buffer::Disk(_));
                    tracing::error!(sink = %s.spec.name, events, kept_on_disk = kept, "shutdown timed out before everything was delivered");
                }
            }
        }
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}
