//! A sink's in-memory buffer: bounded by events and bytes, filled by worker threads (who wait,
//! or drop, when it is full), drained by the sink's delivery task in request-sized chunks.
//!
//! Events stay in the buffer until their request has finished (delivered or dead-lettered), so a
//! retry never needs them from anywhere else. Chunks may finish out of order (concurrent
//! requests); an entry's memory is released once all of its events are done.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::spec::WhenFull;
use super::{OutBatch, OutEvent};

/// Events handed to the delivery task: parts of one or more batches.
#[derive(Debug)]
pub struct Chunk {
    /// The parts, in order.
    pub parts: Vec<Part>,
}

/// A run of events of one batch.
#[derive(Debug, Clone)]
pub struct Part {
    /// The buffer entry it belongs to.
    pub seq: u64,
    /// The batch.
    pub batch: Arc<OutBatch>,
    /// Event indexes within the batch.
    pub events: Range<usize>,
}

impl Chunk {
    /// Every event of the chunk with its batch.
    pub fn events(&self) -> impl Iterator<Item = (&OutBatch, &OutEvent)> {
        self.parts.iter().flat_map(|p| {
            p.batch.events[p.events.clone()]
                .iter()
                .map(move |e| (&*p.batch, e))
        })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.events.len()).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of event lines.
    pub fn bytes(&self) -> usize {
        self.events().map(|(_, e)| e.line.len() + 1).sum()
    }
}

/// Whether a push was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// In the buffer.
    Accepted,
    /// Not taken: the buffer is full (`drop_newest`) or closed.
    Dropped,
}

#[derive(Debug)]
struct Entry {
    batch: Arc<OutBatch>,
    handed: usize,
    finished: usize,
    bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Entry>,
    /// Sequence number of `entries[0]`.
    base: u64,
    events: u64,
    bytes: u64,
    closed: bool,
}

/// See the module docs.
#[derive(Debug)]
pub struct MemoryBuffer {
    state: Mutex<State>,
    space: Condvar,
    data: tokio::sync::Notify,
    max_events: u64,
    max_bytes: u64,
    when_full: WhenFull,
}

impl MemoryBuffer {
    /// A buffer holding at most `max_events` events and `max_bytes` bytes.
    pub fn new(max_events: usize, max_bytes: u64, when_full: WhenFull) -> MemoryBuffer {
        MemoryBuffer {
            state: Mutex::new(State::default()),
            space: Condvar::new(),
            data: tokio::sync::Notify::new(),
            max_events: max_events as u64,
            max_bytes,
            when_full,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `batch`; blocks while the buffer is full (`block`), or drops it (`drop_newest`). A
    /// batch always fits an empty buffer.
    pub fn push(&self, batch: Arc<OutBatch>) -> Pushed {
        let n = batch.events.len() as u64;
        let b = batch.data.len() as u64;
        let mut s = self.lock();
        loop {
            if s.closed {
                return Pushed::Dropped;
            }
            if s.events == 0 || (s.events + n <= self.max_events && s.bytes + b <= self.max_bytes) {
                break;
            }
            match self.when_full {
                WhenFull::DropNewest => return Pushed::Dropped,
                WhenFull::Block => s = self.space.wait(s).unwrap_or_else(|p| p.into_inner()),
            }
        }
        s.entries.push_back(Entry {
            batch,
            handed: 0,
            finished: 0,
            bytes: b,
        });
        s.events += n;
        s.bytes += b;
        drop(s);
        self.data.notify_one();
        Pushed::Accepted
    }

    /// The next chunk of up to `max_events` events and about `max_bytes` bytes; waits up to
    /// `linger` for a chunk to fill once some events are there. `None` once closed and empty.
    pub async fn take(
        &self,
        max_events: usize,
        max_bytes: usize,
        linger: Duration,
    ) -> Option<Chunk> {
        let limits = Limits {
            max_events,
            max_bytes,
            linger,
        };
        take_lingering(&self.data, limits, None, |due| {
            let mut s = self.lock();
            let (events, bytes) = available(&s);
            let closed = s.closed;
            due.look(events, bytes, closed, || {
                take_from(&mut s, max_events, max_bytes)
            })
        })
        .await
    }

    /// Marks a chunk's events finished, releasing entries that are wholly done; each released
    /// batch is passed to `released` (after the chunk's own references are gone, so that the
    /// last sink to finish with a batch can reuse it).
    pub fn done(&self, chunk: Chunk, mut released: impl FnMut(Arc<OutBatch>)) {
        let finished: Vec<(u64, usize)> = chunk
            .parts
            .into_iter()
            .map(|p| (p.seq, p.events.len()))
            .collect();
        let mut gone = Vec::new();
        let mut s = self.lock();
        for (seq, n) in finished {
            let base = s.base;
            if let Some(e) = seq
                .checked_sub(base)
                .and_then(|i| s.entries.get_mut(i as usize))
            {
                e.finished += n;
            }
        }
        let mut freed = false;
        while s
            .entries
            .front()
            .is_some_and(|e| e.finished == e.batch.events.len())
        {
            if let Some(e) = s.entries.pop_front() {
                s.events -= e.batch.events.len() as u64;
                s.bytes -= e.bytes;
                s.base += 1;
                freed = true;
                gone.push(e.batch);
            }
        }
        drop(s);
        if freed {
            self.space.notify_all();
        }
        gone.into_iter().for_each(&mut released);
    }

    /// No more pushes; `take` returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.space.notify_all();
        self.data.notify_waiters();
        self.data.notify_one();
    }

    /// (events, bytes) held.
    pub fn buffered(&self) -> (u64, u64) {
        let s = self.lock();
        (s.events, s.bytes)
    }
}

/// Events and bytes not yet handed out.
fn available(s: &State) -> (usize, usize) {
    not_handed(s.entries.iter().map(|e| (&*e.batch, e.handed)))
}

fn take_from(s: &mut State, max_events: usize, max_bytes: usize) -> Chunk {
    take_chunk(
        s.base,
        s.entries.iter_mut().map(|e| (&e.batch, &mut e.handed)),
        max_events,
        max_bytes,
    )
}

/// Events and bytes not yet handed out, over `(batch, events handed)` in buffer order; shared
/// with the disk buffer's read window.
pub(super) fn not_handed<'a>(
    entries: impl Iterator<Item = (&'a OutBatch, usize)>,
) -> (usize, usize) {
    entries.fold((0, 0), |(events, bytes), (batch, handed)| {
        let rest = &batch.events[handed..];
        let rest_bytes: usize = rest.iter().map(|x| x.line.len() + 1).sum();
        (events + rest.len(), bytes + rest_bytes)
    })
}

/// Hands out the next events, oldest first, up to `max_events` and (after the first event)
/// `max_bytes`, advancing each entry's `handed`. `base` is the sequence number of the first
/// entry. Stops at the first entry it cannot finish so that chunks stay in order.
pub(super) fn take_chunk<'a>(
    base: u64,
    entries: impl Iterator<Item = (&'a Arc<OutBatch>, &'a mut usize)>,
    max_events: usize,
    max_bytes: usize,
) -> Chunk {
    let mut parts = Vec::new();
    let mut events = 0;
    let mut bytes = 0;
    for (i, (batch, handed)) in entries.enumerate() {
        let total = batch.events.len();
        if *handed == total {
            continue;
        }
        let start = *handed;
        while *handed < total && events < max_events {
            let len = batch.events[*handed].line.len() + 1;
            if events > 0 && bytes + len > max_bytes {
                break;
            }
            bytes += len;
            events += 1;
            *handed += 1;
        }
        if *handed > start {
            parts.push(Part {
                seq: base + i as u64,
                batch: batch.clone(),
                events: start..*handed,
            });
        }
        if events >= max_events || bytes >= max_bytes || *handed < total {
            break;
        }
    }
    Chunk { parts }
}

/// How a buffer's events are cut into chunks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Most events per chunk.
    pub max_events: usize,
    /// About the most bytes per chunk.
    pub max_bytes: usize,
    /// How long the first waiting event waits for a chunk to fill.
    pub linger: Duration,
}

/// What a look at a buffer found, for [`take_lingering`].
pub(super) enum Look {
    /// A chunk to hand out.
    Chunk(Chunk),
    /// Closed and empty: no chunk will come.
    Closed,
    /// Events wait for their chunk to fill or to linger long enough.
    Filling,
    /// Nothing to send yet.
    Empty,
}

/// The policy both buffers follow, given to their look at the buffer.
pub(super) struct Due {
    limits: Limits,
    lingered: bool,
}

impl Due {
    /// Whether to hand out a chunk (made by `take`): once full, once the first event has
    /// lingered long enough, or at close.
    pub(super) fn look(
        &self,
        events: usize,
        bytes: usize,
        closed: bool,
        take: impl FnOnce() -> Chunk,
    ) -> Look {
        let full = events >= self.limits.max_events || bytes >= self.limits.max_bytes;
        if events > 0 && (full || self.lingered || closed) {
            Look::Chunk(take())
        } else if events == 0 && closed {
            Look::Closed
        } else if events > 0 {
            Look::Filling
        } else {
            Look::Empty
        }
    }
}

/// Waits for a buffer's next chunk: `look` inspects the buffer under its own lock, and is
/// called again on every notification of `data`, when the linger time is up, and, if `poll`
/// is set, every `poll` while idle. `None` once the buffer is closed and empty.
pub(super) async fn take_lingering(
    data: &tokio::sync::Notify,
    limits: Limits,
    poll: Option<Duration>,
    mut look: impl FnMut(&Due) -> Look,
) -> Option<Chunk> {
    let mut since: Option<Instant> = None;
    loop {
        let notified = data.notified();
        tokio::pin!(notified);
        // Registered before looking, so a push between the look and the wait is not missed.
        notified.as_mut().enable();
        let due = Due {
            limits,
            lingered: since.is_some_and(|t| t.elapsed() >= limits.linger),
        };
        match look(&due) {
            Look::Chunk(chunk) => return Some(chunk),
            Look::Closed => return None,
            Look::Filling => {
                since.get_or_insert_with(Instant::now);
            }
            Look::Empty => {}
        }
        match (since, poll) {
            (Some(t), _) => {
                let left = limits.linger.saturating_sub(t.elapsed());
                let _ = tokio::time::timeout(left, notified).await;
            }
            (None, Some(every)) => {
                let _ = tokio::time::timeout(every, notified).await;
            }
            (None, None) => notified.await,
        }
    }
}
