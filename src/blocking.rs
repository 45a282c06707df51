//! Blocking work (file writes, fsync, reading a disk buffer) reached from async code, done
//! without stalling the runtime: the runtime has as many threads as cores, so one slow disk
//! would otherwise stall every connection.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f` where it is, after handing this runtime thread's other tasks to another thread
/// (`block_in_place`); on a current-thread runtime (unit tests) or off the runtime, just runs it.
pub fn in_place<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
