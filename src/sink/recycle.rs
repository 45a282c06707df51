//! Recycling of forwarded batches: a batch every sink has finished with goes back to the
//! workers, so the next batch is written into memory that is already mapped and big enough.
//!
//! Without it each batch starts empty and grows by doubling into fresh pages: the copies and
//! the kernel zeroing those pages cost as much as the enrichment itself (see BENCHMARKS.md).

use std::sync::{Arc, Mutex};

use super::OutBatch;

/// Batches ready for reuse. Locked once per batch, never per event.
#[derive(Debug)]
pub struct BatchPool {
    free: Mutex<Vec<OutBatch>>,
    /// At most this many are kept; the rest are freed.
    keep: usize,
}

impl BatchPool {
    /// A pool keeping at most `keep` batches.
    pub fn new(keep: usize) -> BatchPool {
        BatchPool {
            free: Mutex::new(Vec::with_capacity(keep)),
            keep,
        }
    }

    /// An empty batch: a recycled one if there is one, else a new one with room for `hint`.
    pub fn get(&self, hint: &Capacity) -> OutBatch {
        let recycled = self.free.lock().ok().and_then(|mut f| f.pop());
        recycled.unwrap_or_else(|| hint.allocate())
    }

    /// Takes `batch` back if this was its last reference (a sink still holding it releases
    /// it later); otherwise just drops this reference.
    pub fn put(&self, batch: Arc<OutBatch>) {
        if let Ok(mut b) = Arc::try_unwrap(batch) {
            b.clear();
            if let Ok(mut f) = self.free.lock() {
                if f.len() < self.keep {
                    f.push(b);
                }
            }
        }
    }

    /// Batches held (for tests).
    pub fn len(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The sizes of a batch, to allocate the next one at once rather than by doubling.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capacity {
    data: usize,
    aux: usize,
    events: usize,
    label_values: usize,
}

impl Capacity {
    /// The sizes `batch` reached.
    pub fn of(batch: &OutBatch) -> Capacity {
        Capacity {
            data: batch.data.len(),
            aux: batch.aux.len(),
            events: batch.events.len(),
            label_values: batch.label_values.len(),
        }
    }

    fn allocate(&self) -> OutBatch {
        OutBatch {
            data: Vec::with_capacity(self.data),
            aux: Vec::with_capacity(self.aux),
            events: Vec::with_capacity(self.events),
            label_values: Vec::with_capacity(self.label_values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::OutEvent;

    fn batch(n: usize) -> OutBatch {
        let mut b = OutBatch::default();
        for _ in 0..n {
            let s = b.data.len() as u32;
            b.data.extend_from_slice(b"{\"a\":1}\n");
            b.events.push(OutEvent {
                line: s..s + 7,
                ..OutEvent::default()
            });
        }
        b
    }

    #[test]
    fn a_batch_comes_back_only_from_its_last_holder() {
        let pool = BatchPool::new(4);
        let shared = Arc::new(batch(3));
        let other = shared.clone();
        pool.put(shared);
        assert!(pool.is_empty(), "another sink still holds it");
        pool.put(other);
        assert_eq!(pool.len(), 1);
        let reused = pool.get(&Capacity::default());
        assert!(reused.events.is_empty() && reused.data.is_empty());
        assert!(reused.data.capacity() >= 24, "its memory is kept");
        assert!(pool.is_empty());
    }

    #[test]
    fn keeps_at_most_keep_and_sizes_new_batches_from_the_hint() {
        let pool = BatchPool::new(2);
        for _ in 0..5 {
            pool.put(Arc::new(batch(1)));
        }
        assert_eq!(pool.len(), 2);
        let hint = Capacity::of(&batch(100));
        let empty = BatchPool::new(1);
        let fresh = empty.get(&hint);
        assert!(fresh.data.capacity() >= 800 && fresh.events.capacity() >= 100);
    }
}
