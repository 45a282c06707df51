//! A sink's disk buffer: write-ahead segments that survive a crash.
//!
//! Each pushed batch is one record `[len: u32][crc32: u32][payload]` appended to the current
//! segment and fsynced before the push returns — so an event whose source was acknowledged is
//! on disk. Concurrent pushes share fsyncs (group commit): one pusher syncs everything written
//! so far while the others wait for it, so workers do not queue behind one fsync each. Where
//! POSIX needs it for a file to survive a power loss, the directory is fsynced too: after a
//! segment is created and after the acknowledged position is renamed into place. The delivery task reads records in order into a small window; when a prefix of them
//! is delivered, the position after it is written to `ack` and fully delivered segments are
//! deleted. After a crash the buffer resumes from `ack` (events delivered after the last `ack`
//! write are sent again: at least once), and a torn record at the end of the last segment (a
//! push that never returned) is cut off. The bytes not yet delivered are capped.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::buffer::{Chunk, Limits, Pushed, not_handed, take_chunk, take_lingering};
use super::spec::WhenFull;
use super::{OutBatch, OutEvent};

/// A segment is closed and a new one started past this size.
const SEGMENT_BYTES: u64 = 8 << 20;
/// Bytes of records loaded ahead of delivery.
const WINDOW_BYTES: usize = 4 << 20;
const HEADER: usize = 8;

struct Writer {
    /// The segment being appended to (shared with the pusher that syncs it).
    file: Arc<File>,
    segment: u64,
    size: u64,
}

/// How often, at most, the delivered position is made durable.
const ACK_INTERVAL: Duration = Duration::from_millis(500);

struct AckState {
    /// Delivered, not yet persisted.
    pending: Option<(u64, u64)>,
    /// When it was last persisted.
    written: Option<Instant>,
}

impl Drop for DiskBuffer {
    /// The last delivered position, so a clean restart sends nothing twice.
    fn drop(&mut self) {
        let pending = self
            .ack
            .get_mut()
            .map(|a| a.pending.take())
            .unwrap_or_default();
        if let Some(pos) = pending {
            self.persist_ack(pos, true);
        }
    }
}

/// Group commit: how far the segments are known to be on disk.
struct Commit {
    /// The last fsynced position (segment, offset): the reader stays below it.
    synced: (u64, u64),
    /// A pusher is fsyncing now; the others wait for it rather than queue their own.
    syncing: bool,
}

struct Loaded {
    batch: Arc<OutBatch>,
    handed: usize,
    finished: usize,
    /// Position just after this record.
    end: (u64, u64),
    record: u64,
}

struct Reader {
    /// Next record to load.
    pos: (u64, u64),
    file: Option<(u64, File)>,
    window: VecDeque<Loaded>,
    window_bytes: usize,
    base: u64,
}

/// See the module docs.
pub struct DiskBuffer {
    dir: PathBuf,
    writer: Mutex<Writer>,
    space: Condvar,
    commit: Mutex<Commit>,
    /// Signalled when a group fsync ends.
    synced: Condvar,
    /// The delivered position, persisted now and then (see `persist_ack`).
    ack: Mutex<AckState>,
    /// fsyncs of segment data, and of the directory (what durability costs, for tests and
    /// benchmarks).
    syncs: [AtomicU64; 2],
    reader: Mutex<Reader>,
    data: tokio::sync::Notify,
    /// Bytes written and not yet delivered.
    stored: AtomicU64,
    events_stored: AtomicU64,
    max_bytes: u64,
    when_full: WhenFull,
    closed: AtomicBool,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.seg"))
}

fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `dir`, recovering what a previous run left.
    pub fn open(dir: &Path, max_bytes: u64, when_full: WhenFull) -> io::Result<DiskBuffer> {
        fs::create_dir_all(dir)?;
        let (mut ack_seg, mut ack_off) = read_ack(dir).unwrap_or((0, 0));
        let mut segs = segments(dir)?;
        for &s in segs.iter().filter(|&&s| s < ack_seg) {
            let _ = fs::remove_file(segment_path(dir, s));
        }
        segs.retain(|&s| s >= ack_seg);
        if segs.is_empty() {
            ack_seg = ack_seg.max(1);
            ack_off = 0;
            segs.push(ack_seg);
            File::create(segment_path(dir, ack_seg))?;
            sync_dir(dir)?;
        } else if segs[0] > ack_seg {
            ack_seg = segs[0];
            ack_off = 0;
        }
        let last = *segs.last().unwrap_or(&ack_seg);
        // Cut a torn record (a push that never returned) off the end of the last segment.
        let valid = valid_length(&segment_path(dir, last))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(segment_path(dir, last))?;
        file.set_len(valid)?;
        let mut file = file;
        file.seek(SeekFrom::End(0))?;
        // The cut must be durable before anything is appended after it.
        file.sync_data()?;
        let mut stored = 0u64;
        let mut events = 0u64;
        for &s in &segs {
            let path = segment_path(dir, s);
            let len = if s == last {
                valid
            } else {
                fs::metadata(&path)?.len()
            };
            let from = if s == ack_seg { ack_off.min(len) } else { 0 };
            stored += len - from;
            events += count_events(&path, from, len).unwrap_or(0);
        }
        Ok(DiskBuffer {
            dir: dir.to_owned(),
            writer: Mutex::new(Writer {
                file: Arc::new(file),
                segment: last,
                size: valid,
            }),
            space: Condvar::new(),
            commit: Mutex::new(Commit {
                synced: (last, valid),
                syncing: false,
            }),
            synced: Condvar::new(),
            ack: Mutex::new(AckState {
                pending: None,
                written: None,
            }),
            syncs: [AtomicU64::new(0), AtomicU64::new(0)],
            reader: Mutex::new(Reader {
                pos: (ack_seg, ack_off),
                file: None,
                window: VecDeque::new(),
                window_bytes: 0,
                base: 0,
            }),
            data: tokio::sync::Notify::new(),
            stored: AtomicU64::new(stored),
            events_stored: AtomicU64::new(events),
            max_bytes,
            when_full,
            closed: AtomicBool::new(false),
        })
    }

    /// Appends `batch` durably (fsync) before returning; blocks or drops when the buffer is full.
    pub fn push(&self, batch: &OutBatch) -> io::Result<Pushed> {
        let payload = encode(batch);
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        let len = record.len() as u64;
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Ok(Pushed::Dropped);
            }
            let stored = self.stored.load(Ordering::Acquire);
            if stored == 0 || stored + len <= self.max_bytes {
                break;
            }
            match self.when_full {
                WhenFull::DropNewest => return Ok(Pushed::Dropped),
                WhenFull::Block => {
                    w = self
                        .space
                        .wait_timeout(w, Duration::from_millis(200))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        if w.size > 0 && w.size + len > SEGMENT_BYTES {
            // Everything in the old segment is durable before records go to the new one, so a
            // group fsync only ever needs the current segment.
            self.syncs[0].fetch_add(1, Ordering::Relaxed);
            w.file.sync_data()?;
            let next = w.segment + 1;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(segment_path(&self.dir, next))?;
            self.syncs[1].fetch_add(1, Ordering::Relaxed);
            sync_dir(&self.dir)?;
            w.file = Arc::new(file);
            w.segment = next;
            w.size = 0;
        }
        if let Err(e) = (&*w.file).write_all(&record) {
            // Leave no torn record for later records to follow.
            let _ = w.file.set_len(w.size);
            return Err(e);
        }
        w.size += len;
        let mine = (w.segment, w.size);
        self.stored.fetch_add(len, Ordering::AcqRel);
        self.events_stored
            .fetch_add(batch.events.len() as u64, Ordering::AcqRel);
        drop(w);
        self.sync_through(mine)?;
        self.data.notify_one();
        Ok(Pushed::Accepted)
    }

    /// Returns once everything up to `pos` is fsynced: by syncing it (and whatever else was
    /// written meanwhile) or by waiting for the pusher already syncing.
    fn sync_through(&self, pos: (u64, u64)) -> io::Result<()> {
        let mut c = self.commit.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if c.synced >= pos {
                return Ok(());
            }
            if c.syncing {
                c = self.synced.wait(c).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            c.syncing = true;
            drop(c);
            let (target, file) = {
                let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
                ((w.segment, w.size), w.file.clone())
            };
            self.syncs[0].fetch_add(1, Ordering::Relaxed);
            let result = file.sync_data();
            c = self.commit.lock().unwrap_or_else(|p| p.into_inner());
            c.syncing = false;
            if result.is_ok() && target > c.synced {
                c.synced = target;
            }
            self.synced.notify_all();
            // On failure the waiters try again themselves (and fail the same way, or succeed).
            result?;
        }
    }

    /// Loads records up to the window size.
    fn fill(&self, r: &mut Reader) {
        let committed = self.commit.lock().unwrap_or_else(|p| p.into_inner()).synced;
        while r.window_bytes < WINDOW_BYTES && r.pos < committed {
            let (seg, off) = r.pos;
            if seg < committed.0
                && off >= fs::metadata(segment_path(&self.dir, seg)).map_or(0, |m| m.len())
            {
                r.pos = (seg + 1, 0);
                r.file = None;
                continue;
            }
            match self.read_record(r, seg, off) {
                Ok(Some((batch, record))) => {
                    r.pos = (seg, off + record);
                    r.window_bytes += batch.data.len();
                    r.window.push_back(Loaded {
                        batch: Arc::new(batch),
                        handed: 0,
                        finished: 0,
                        end: r.pos,
                        record,
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(dir = %self.dir.display(), error = %e, "disk buffer record unreadable; skipping the rest of its segment");
                    r.pos = (seg + 1, 0);
                    r.file = None;
                }
            }
        }
    }

    fn read_record(
        &self,
        r: &mut Reader,
        seg: u64,
        off: u64,
    ) -> io::Result<Option<(OutBatch, u64)>> {
        if r.file.as_ref().is_none_or(|(s, _)| *s != seg) {
            r.file = Some((seg, File::open(segment_path(&self.dir, seg))?));
        }
        let Some((_, f)) = r.file.as_mut() else {
            return Ok(None);
        };
        f.seek(SeekFrom::Start(off))?;
        let mut header = [0u8; HEADER];
        if f.read_exact(&mut header).is_err() {
            return Ok(None);
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let mut payload = vec![0u8; len];
        f.read_exact(&mut payload)?;
        if crc32fast::hash(&payload) != crc {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "checksum mismatch",
            ));
        }
        let batch = decode(&payload)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed record"))?;
        Ok(Some((batch, (HEADER + len) as u64)))
    }

    /// Like [`super::buffer::MemoryBuffer::take`].
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
        // Also look now and then while idle: records may have been written by another process
        // generation (recovery) without a notification.
        let poll = Some(Duration::from_millis(500));
        take_lingering(&self.data, limits, poll, |due| {
            let mut r = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            crate::blocking::in_place(|| self.fill(&mut r));
            let (events, bytes) = not_handed(r.window.iter().map(|l| (&*l.batch, l.handed)));
            let closed = self.closed.load(Ordering::Acquire);
            due.look(events, bytes, closed, || {
                take_window(&mut r, max_events, max_bytes)
            })
        })
        .await
    }

    /// Marks a chunk delivered; persists the new acknowledged position and deletes segments that
    /// are wholly delivered.
    pub fn done(&self, chunk: Chunk, mut released: impl FnMut(Arc<OutBatch>)) {
        let finished: Vec<(u64, usize)> = chunk
            .parts
            .into_iter()
            .map(|p| (p.seq, p.events.len()))
            .collect();
        let mut gone = Vec::new();
        let mut r = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        for (seq, n) in finished {
            let base = r.base;
            if let Some(l) = seq
                .checked_sub(base)
                .and_then(|i| r.window.get_mut(i as usize))
            {
                l.finished += n;
            }
        }
        let mut acked = None;
        let mut freed = 0u64;
        let mut events = 0u64;
        while r
            .window
            .front()
            .is_some_and(|l| l.finished == l.batch.events.len())
        {
            if let Some(l) = r.window.pop_front() {
                r.window_bytes -= l.batch.data.len();
                r.base += 1;
                freed += l.record;
                events += l.batch.events.len() as u64;
                acked = Some(l.end);
                gone.push(l.batch);
            }
        }
        drop(r);
        gone.into_iter().for_each(&mut released);
        if let Some((seg, off)) = acked {
            self.persist_ack((seg, off), false);
            // Safe before the position is durable: after a crash, a position in a deleted
            // segment resumes at the first segment left, whose records are all undelivered.
            if let Ok(segs) = segments(&self.dir) {
                for s in segs.into_iter().filter(|&s| s < seg) {
                    let _ = fs::remove_file(segment_path(&self.dir, s));
                }
            }
            self.stored.fetch_sub(
                freed.min(self.stored.load(Ordering::Acquire)),
                Ordering::AcqRel,
            );
            self.events_stored.fetch_sub(
                events.min(self.events_stored.load(Ordering::Acquire)),
                Ordering::AcqRel,
            );
            self.space.notify_all();
        }
    }

    /// Records `pos` as delivered and, at most every `ACK_INTERVAL` (or when `now`), makes it
    /// durable: the position only saves re-sending after a crash (a stale one means duplicates,
    /// never loss), so it is not worth two fsyncs per delivered chunk.
    fn persist_ack(&self, pos: (u64, u64), now: bool) {
        let mut a = self.ack.lock().unwrap_or_else(|p| p.into_inner());
        a.pending = Some(pos);
        if !now && a.written.is_some_and(|t| t.elapsed() < ACK_INTERVAL) {
            return;
        }
        if let Some((seg, off)) = a.pending.take() {
            self.syncs[1].fetch_add(1, Ordering::Relaxed);
            if let Err(e) = write_ack(&self.dir, seg, off) {
                tracing::error!(dir = %self.dir.display(), error = %e, "cannot persist the disk buffer position");
            }
            a.written = Some(Instant::now());
        }
    }

    /// No more pushes.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.space.notify_all();
        self.data.notify_one();
    }

    /// fsyncs so far: (segment data, directory).
    pub fn syncs(&self) -> (u64, u64) {
        (
            self.syncs[0].load(Ordering::Relaxed),
            self.syncs[1].load(Ordering::Relaxed),
        )
    }

    /// (events, bytes) not yet delivered.
    pub fn buffered(&self) -> (u64, u64) {
        (
            self.events_stored.load(Ordering::Acquire),
            self.stored.load(Ordering::Acquire),
        )
    }
}

fn take_window(r: &mut Reader, max_events: usize, max_bytes: usize) -> Chunk {
    take_chunk(
        r.base,
        r.window.iter_mut().map(|l| (&l.batch, &mut l.handed)),
        max_events,
        max_bytes,
    )
}

fn read_ack(dir: &Path) -> Option<(u64, u64)> {
    let text = fs::read_to_string(dir.join("ack")).ok()?;
    let (s, o) = text.trim().split_once(' ')?;
    Some((s.parse().ok()?, o.parse().ok()?))
}

/// Replaces `ack` atomically and durably: the new file's data, then its name.
fn write_ack(dir: &Path, seg: u64, off: u64) -> io::Result<()> {
    let tmp = dir.join("ack.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(format!("{seg} {off}\n").as_bytes())?;
    f.sync_all()?;
    fs::rename(tmp, dir.join("ack"))?;
    sync_dir(dir)
}

/// Makes the directory's entries (files created, renamed) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Length of the prefix of `path` made of whole, valid records.
fn valid_length(path: &Path) -> io::Result<u64> {
    let data = fs::read(path)?;
    let mut at = 0usize;
    while at + HEADER <= data.len() {
        let len = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let crc = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]);
        let end = at + HEADER + len;
        if end > data.len() || crc32fast::hash(&data[at + HEADER..end]) != crc {
            break;
        }
        at = end;
    }
    Ok(at as u64)
}

fn count_events(path: &Path, from: u64, to: u64) -> io::Result<u64> {
    let data = fs::read(path)?;
    let mut at = from as usize;
    let mut events = 0u64;
    while at + HEADER <= (to as usize).min(data.len()) {
        let len = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        if at + HEADER + 4 <= data.len() {
            let p = &data[at + HEADER..];
            events += u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
        }
        at += HEADER + len;
    }
    Ok(events)
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Serialises a batch: counts, events, label ranges, then data and aux bytes.
fn encode(b: &OutBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + b.events.len() * 28 + b.label_values.len() * 8 + b.data.len() + b.aux.len(),
    );
    put32(&mut out, b.events.len() as u32);
    put32(&mut out, b.data.len() as u32);
    put32(&mut out, b.aux.len() as u32);
    put32(&mut out, b.label_values.len() as u32);
    for e in &b.events {
        put32(&mut out, e.line.start);
        put32(&mut out, e.line.end);
        out.extend_from_slice(&e.time_ns.to_le_bytes());
        put32(&mut out, e.id.start);
        put32(&mut out, e.id.end);
        put32(&mut out, e.labels);
    }
    for r in &b.label_values {
        put32(&mut out, r.start);
        put32(&mut out, r.end);
    }
    out.extend_from_slice(&b.data);
    out.extend_from_slice(&b.aux);
    out
}

/// Reads little-endian integers off a record payload.
struct Cursor<'a> {
    p: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Option<u32> {
        let v = u32::from_le_bytes(self.p.get(self.at..self.at + 4)?.try_into().ok()?);
        self.at += 4;
        Some(v)
    }

    fn i64(&mut self) -> Option<i64> {
        let v = i64::from_le_bytes(self.p.get(self.at..self.at + 8)?.try_into().ok()?);
        self.at += 8;
        Some(v)
    }

    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        let v = self.p.get(self.at..self.at + n)?.to_vec();
        self.at += n;
        Some(v)
    }
}

fn decode(p: &[u8]) -> Option<OutBatch> {
    let mut c = Cursor { p, at: 0 };
    let n = c.u32()? as usize;
    let data_len = c.u32()? as usize;
    let aux_len = c.u32()? as usize;
    let n_labels = c.u32()? as usize;
    let mut events = Vec::with_capacity(n.min(p.len() / 28));
    for _ in 0..n {
        let line = c.u32()?..c.u32()?;
        let time_ns = c.i64()?;
        let id = c.u32()?..c.u32()?;
        let labels = c.u32()?;
        if line.end as usize > data_len
            || id.end as usize > aux_len
            || line.start > line.end
            || id.start > id.end
        {
            return None;
        }
        events.push(OutEvent {
            line,
            time_ns,
            id,
            labels,
        });
    }
    let mut label_values = Vec::with_capacity(n_labels.min(p.len() / 8));
    for _ in 0..n_labels {
        let r = c.u32()?..c.u32()?;
        if r.end as usize > aux_len || r.start > r.end {
            return None;
        }
        label_values.push(r);
    }
    let data = c.bytes(data_len)?;
    let aux = c.bytes(aux_len)?;
    Some(OutBatch {
        data,
        aux,
        events,
        label_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(lines: &[&str]) -> OutBatch {
        let mut b = OutBatch::default();
        for l in lines {
            let s = b.data.len() as u32;
            b.data.extend_from_slice(l.as_bytes());
            let line = s..b.data.len() as u32;
            b.data.push(b'\n');
            b.events.push(OutEvent {
                line,
                time_ns: 7,
                id: 0..0,
                labels: 0,
            });
        }
        b
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tw-disk-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[tokio::test]
    async fn survives_reopen_and_resumes_after_the_ack() {
        let d = dir("reopen");
        {
            let buf = DiskBuffer::open(&d, 1 << 20, WhenFull::Block).unwrap();
            assert_eq!(buf.push(&batch(&["a", "b"])).unwrap(), Pushed::Accepted);
            assert_eq!(buf.push(&batch(&["c"])).unwrap(), Pushed::Accepted);
            let chunk = buf.take(2, 1 << 20, Duration::ZERO).await.unwrap();
            assert_eq!(chunk.len(), 2);
            buf.done(chunk, drop);
            assert_eq!(buf.buffered().0, 1);
        }
        // A torn record at the end (a crash mid-write) is cut off.
        let last = *segments(&d).unwrap().last().unwrap();
        OpenOptions::new()
            .append(true)
            .open(segment_path(&d, last))
            .unwrap()
            .write_all(&[9, 9, 9])
            .unwrap();
        let buf = DiskBuffer::open(&d, 1 << 20, WhenFull::Block).unwrap();
        assert_eq!(buf.buffered().0, 1);
        let chunk = buf.take(10, 1 << 20, Duration::ZERO).await.unwrap();
        let lines: Vec<&[u8]> = chunk
            .events()
            .map(|(b, e)| &b.data[e.line.start as usize..e.line.end as usize])
            .collect();
        assert_eq!(lines, [b"c"]);
        buf.done(chunk, drop);
        assert_eq!(buf.buffered(), (0, 0));
        let _ = fs::remove_dir_all(&d);
    }

    /// Regression: pushes were fsynced one at a time under the writer lock, and neither a new
    /// segment's nor the acknowledged position's directory entry was fsynced.
    #[test]
    fn concurrent_pushes_share_fsyncs_and_every_record_is_kept() {
        let d = dir("group");
        let buf = Arc::new(DiskBuffer::open(&d, 1 << 30, WhenFull::Block).unwrap());
        let (threads, per_thread) = (8, 40);
        let big = "x".repeat(64 << 10);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (buf, big) = (buf.clone(), &big);
                s.spawn(move || {
                    for i in 0..per_thread {
                        let line = format!("{t}-{i}-{big}");
                        assert_eq!(buf.push(&batch(&[&line])).unwrap(), Pushed::Accepted);
                    }
                });
            }
        });
        let pushes = (threads * per_thread) as u64;
        let (data_syncs, dir_syncs) = buf.syncs();
        eprintln!("{data_syncs} data fsyncs, {dir_syncs} directory fsyncs for {pushes} pushes");
        assert!(
            data_syncs < pushes,
            "{data_syncs} fsyncs for {pushes} concurrent pushes: no group commit"
        );
        // 320 records of 64 KiB fill two 8 MiB segments and start a third: each new segment's
        // directory entry is made durable.
        assert!(dir_syncs >= 2, "{dir_syncs} directory fsyncs");
        drop(buf);
        let buf = DiskBuffer::open(&d, 1 << 30, WhenFull::Block).unwrap();
        assert_eq!(buf.buffered().0, pushes, "every pushed record is on disk");
        let _ = fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn the_acknowledged_position_is_renamed_durably() {
        let d = dir("ack-durable");
        let buf = DiskBuffer::open(&d, 1 << 20, WhenFull::Block).unwrap();
        buf.push(&batch(&["a"])).unwrap();
        let before = buf.syncs().1;
        let chunk = buf.take(10, 1 << 20, Duration::ZERO).await.unwrap();
        buf.done(chunk, drop);
        assert_eq!(
            buf.syncs().1,
            before + 1,
            "the directory is fsynced after the rename"
        );
        assert!(read_ack(&d).is_some_and(|(seg, off)| seg == 1 && off > 0));
        assert!(!d.join("ack.tmp").exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn full_buffer_drops_newest_when_asked() {
        let d = dir("full");
        let buf = DiskBuffer::open(&d, 64, WhenFull::DropNewest).unwrap();
        assert_eq!(
            buf.push(&batch(&["0123456789012345678901234567890123456789"]))
                .unwrap(),
            Pushed::Accepted
        );
        assert_eq!(buf.push(&batch(&["more"])).unwrap(), Pushed::Dropped);
        let _ = fs::remove_dir_all(&d);
    }
}
