//! Acknowledgements: a source learns when everything it handed over has been dealt with.
//!
//! An [`Ack`] is cloned into every batch (and, when forwarding, every sink buffer entry) made
//! from one request. Workers add how many of its events they accepted and rejected; when the
//! last clone is dropped the waiting side gets the [`AckReport`]: delivered if no clone reported
//! a failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// How a request's events fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// Every event was processed (and delivered where forwarding applies).
    Delivered,
    /// Some part could not be handled (e.g. a sink dropped events).
    Failed,
}

/// What the waiting side learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckReport {
    /// Whether everything was handled.
    pub outcome: AckOutcome,
    /// Events evaluated.
    pub accepted: u64,
    /// Events rejected (counted, and dead-lettered when configured).
    pub rejected: u64,
}

/// A completion handle; see the module docs.
#[derive(Debug, Clone)]
pub struct Ack(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    tx: Mutex<Option<oneshot::Sender<AckReport>>>,
    failed: AtomicBool,
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let outcome = if self.failed.load(Ordering::Acquire) {
            AckOutcome::Failed
        } else {
            AckOutcome::Delivered
        };
        let report = AckReport {
            outcome,
            accepted: *self.accepted.get_mut(),
            rejected: *self.rejected.get_mut(),
        };
        if let Some(tx) = self.tx.get_mut().ok().and_then(Option::take) {
            let _ = tx.send(report);
        }
    }
}

impl Ack {
    /// A handle and the receiver that resolves when its last clone is dropped.
    pub fn new() -> (Ack, oneshot::Receiver<AckReport>) {
        let (tx, rx) = oneshot::channel();
        (
            Ack(Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                failed: AtomicBool::new(false),
                accepted: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
            })),
            rx,
        )
    }

    /// Marks the request as (partly) failed.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }

    /// Adds a batch's accepted and rejected events.
    pub fn count(&self, accepted: u64, rejected: u64) {
        self.0.accepted.fetch_add(accepted, Ordering::Relaxed);
        self.0.rejected.fetch_add(rejected, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_when_the_last_clone_drops() {
        let (ack, mut rx) = Ack::new();
        let other = ack.clone();
        drop(ack);
        assert!(rx.try_recv().is_err());
        other.count(2, 1);
        other.fail();
        drop(other);
        assert_eq!(
            rx.try_recv(),
            Ok(AckReport {
                outcome: AckOutcome::Failed,
                accepted: 2,
                rejected: 1
            })
        );
    }
}
