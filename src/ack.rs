//! Acknowledgements: a source learns when everything it handed over has been dealt with.
//!
//! An [`Ack`] is cloned into every batch (and, when forwarding, every sink buffer entry) made
//! from one request. When the last clone is dropped the waiting side gets the outcome: `Ok` if no
//! clone reported a failure.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// A completion handle; see the module docs.
#[derive(Debug, Clone)]
pub struct Ack(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    tx: Mutex<Option<oneshot::Sender<AckOutcome>>>,
    failed: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let outcome = if self.failed.load(Ordering::Acquire) {
            AckOutcome::Failed
        } else {
            AckOutcome::Delivered
        };
        if let Some(tx) = self.tx.get_mut().ok().and_then(Option::take) {
            let _ = tx.send(outcome);
        }
    }
}

impl Ack {
    /// A handle and the receiver that resolves when its last clone is dropped.
    pub fn new() -> (Ack, oneshot::Receiver<AckOutcome>) {
        let (tx, rx) = oneshot::channel();
        (
            Ack(Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                failed: AtomicBool::new(false),
            })),
            rx,
        )
    }

    /// Marks the request as (partly) failed.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
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
        other.fail();
        drop(other);
        assert_eq!(rx.try_recv(), Ok(AckOutcome::Failed));
    }
}
