//! Queue order for the detectors: a worker takes a batch and its turn together, and its
//! observations reach the detectors only when every earlier turn has passed, so two workers
//! finishing out of order do not reorder the stream (decoding and evaluation stay parallel).
//! A turn passes when its guard drops, even if the worker unwinds, so no turn is ever stuck.

use std::sync::{Condvar, Mutex, MutexGuard};

/// A batch's place in queue order. Dropped without [`Turn::wait`] (a worker unwinding before
/// it reached the detectors), it still waits for its turn and passes it.
#[derive(Debug)]
pub struct Turn<'a> {
    order: &'a Order,
    n: u64,
    taken: bool,
}

/// The turns handed out and passed.
#[derive(Debug, Default)]
pub struct Order {
    next: Mutex<u64>,
    passed: Mutex<u64>,
    changed: Condvar,
}

/// Holds a turn at the detectors; the next turn may go once it drops.
pub struct InTurn<'a> {
    order: &'a Order,
    turn: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Order {
    /// Takes the next batch with `recv` and gives it the next turn, atomically (so turns follow
    /// queue order); `None` when `recv` has nothing more.
    pub fn take<B>(&self, recv: impl FnOnce() -> Option<B>) -> Option<(B, Turn<'_>)> {
        let mut next = lock(&self.next);
        let batch = recv()?;
        let turn = Turn {
            order: self,
            n: *next,
            taken: false,
        };
        *next += 1;
        Some((batch, turn))
    }

    fn wait_for(&self, n: u64) -> InTurn<'_> {
        let mut passed = lock(&self.passed);
        while *passed < n {
            passed = self.changed.wait(passed).unwrap_or_else(|p| p.into_inner());
        }
        InTurn {
            order: self,
            turn: n,
        }
    }
}

impl<'a> Turn<'a> {
    /// Waits until every earlier turn has passed.
    pub fn wait(mut self) -> InTurn<'a> {
        self.taken = true;
        self.order.wait_for(self.n)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.taken {
            drop(self.order.wait_for(self.n));
        }
    }
}

impl Drop for InTurn<'_> {
    fn drop(&mut self) {
        let mut passed = lock(&self.order.passed);
        *passed = (*passed).max(self.turn + 1);
        self.order.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn turns_pass_in_order_whoever_arrives_first() {
        let order = Arc::new(Order::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        let turns: Vec<u64> = (0..8)
            .map(|i| order.take(|| Some(i)).unwrap().1.n)
            .collect();
        // Those turns were dropped unused: they passed. Eight more, later ones started first.
        assert_eq!(*order.passed.lock().unwrap(), 8, "{turns:?}");
        let mut more = Vec::new();
        for i in 0..8usize {
            let (_, mut t) = order.take(|| Some(())).unwrap();
            t.taken = true; // handed to a thread by number below
            more.push((i, t.n));
        }
        for (i, n) in more.into_iter().rev() {
            let (order, log) = (order.clone(), log.clone());
            handles.push(std::thread::spawn(move || {
                let _g = order.wait_for(n);
                log.lock().unwrap().push(i);
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*log.lock().unwrap(), (0..8).collect::<Vec<usize>>());
        assert!(order.take(|| None::<u8>).is_none());
    }
}
