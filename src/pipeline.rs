//! The wiring between sources and workers: a bounded queue of batches plus a byte budget.
//!
//! Sources hand batches to an [`Admission`]. Each batch holds permits of a semaphore sized in
//! bytes until a worker has processed it, so memory held by queued and in-flight batches is
//! bounded by the budget whatever the batch sizes. Stream sources wait for room (a slow pipeline
//! slows TCP reads and stdin); HTTP asks without waiting and answers 503 when there is none.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::Semaphore;

use crate::dead_letter::DeadLetter;
use crate::event::Batch;
use crate::metrics::{Store, Telemetry};
use crate::worker::{Forward, Worker, WorkerSettings};

/// Batches in the queue at most (the byte budget usually binds first).
const QUEUE_BATCHES: usize = 1024;

/// Why a batch was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No room right now (try again later).
    Full,
    /// The pipeline is shutting down.
    Closed,
    /// The batch is larger than the whole budget.
    TooLarge,
}

/// Where sources send batches (cheap to clone).
#[derive(Clone)]
pub struct Admission {
    queue: async_channel::Sender<Batch>,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    telemetry: Arc<Telemetry>,
}

/// The running workers.
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Waits for every worker to finish (they do once the queue is closed and drained).
    pub fn join(self) {
        for h in self.handles {
            let _ = h.join();
        }
    }
}

/// What every worker shares.
pub struct Shared<'a> {
    /// Limits and decoding.
    pub settings: &'a WorkerSettings,
    /// Internal metrics.
    pub telemetry: &'a Arc<Telemetry>,
    /// The filters' metrics.
    pub store: &'a Arc<Store>,
    /// Where rejected events go.
    pub dead_letter: Option<&'a DeadLetter>,
    /// Forwarding.
    pub forward: Option<&'a Arc<Forward>>,
    /// Anomaly detection.
    pub anomalies: Option<&'a Arc<crate::anomaly::Anomalies>>,
}

/// Starts `threads` workers; returns the admission for sources.
pub fn start(
    threads: usize,
    budget_bytes: usize,
    shared: &Shared<'_>,
) -> std::io::Result<(Admission, Workers)> {
    let telemetry = shared.telemetry;
    let (tx, rx) = async_channel::bounded(QUEUE_BATCHES);
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let worker = Worker::new(
            shared.settings.clone(),
            telemetry.clone(),
            shared.store.clone(),
            shared.dead_letter.cloned(),
            shared.forward.cloned(),
        )
        .with_anomalies(shared.anomalies.cloned());
        let rx = rx.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("trailwatch-worker-{i}"))
                .spawn(move || worker.run(rx))?,
        );
    }
    telemetry.queue_capacity_bytes.set(budget_bytes as i64);
    Ok((
        Admission {
            queue: tx,
            budget: Arc::new(Semaphore::new(budget_bytes)),
            budget_bytes,
            telemetry: telemetry.clone(),
        },
        Workers { handles },
    ))
}

impl Admission {
    fn permits(&self, batch: &Batch) -> Result<u32, Refused> {
        let n = batch.data.len().max(1);
        if n > self.budget_bytes {
            return Err(Refused::TooLarge);
        }
        u32::try_from(n).map_err(|_| Refused::TooLarge)
    }

    /// Sends `batch`, waiting for room.
    pub async fn send(&self, mut batch: Batch) -> Result<(), Refused> {
        let n = self.permits(&batch)?;
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| Refused::Closed)?;
        batch.budget = Some(permit);
        self.queue.send(batch).await.map_err(|_| Refused::Closed)
    }

    /// Sends `batch` from a plain thread, waiting for room.
    pub fn send_blocking(
        &self,
        batch: Batch,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), Refused> {
        runtime.block_on(self.send(batch))
    }

    /// Sends `batch` if there is room now.
    pub fn try_send(&self, mut batch: Batch) -> Result<(), Refused> {
        let n = self.permits(&batch)?;
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|e| match e {
                tokio::sync::TryAcquireError::Closed => Refused::Closed,
                tokio::sync::TryAcquireError::NoPermits => Refused::Full,
            })?;
        batch.budget = Some(permit);
        self.queue.try_send(batch).map_err(|e| match e {
            async_channel::TrySendError::Full(_) => Refused::Full,
            async_channel::TrySendError::Closed(_) => Refused::Closed,
        })
    }

    /// Closes the queue: nothing more is admitted; workers finish what is queued, then exit.
    pub fn close(&self) {
        self.queue.close();
        self.budget.close();
    }

    /// Refreshes the queue gauges (called at scrape time).
    pub fn refresh_gauges(&self) {
        self.telemetry.queue_batches.set(self.queue.len() as i64);
        let free = self.budget.available_permits();
        self.telemetry
            .queue_bytes
            .set(self.budget_bytes.saturating_sub(free) as i64);
    }
}
