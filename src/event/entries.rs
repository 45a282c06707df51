//! Framing a stream of Fluent entries (MessagePack: Fluent Bit's `tcp` output with `Format
//! msgpack`) into batches of records, with the same limits as line framing.
//!
//! Each entry's end is found by a resumable [`ValueScan`] as bytes arrive, so nothing is
//! rescanned; an entry over the limit is skipped as it streams past (its first bytes reported
//! once) and the entries after it still count. An entry of the wrong shape is rejected alone.
//! Bytes that are not MessagePack end the stream: there is no way to find the next entry.

use std::collections::VecDeque;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

use super::framing::{Frame, Framer, OVERSIZE_SAMPLE};
use super::msgpack::{MsgpackError, Scan, ValueScan, entry_record};
use super::{Framing, RejectReason};

/// A batch is cut once this many bytes of whole entries are buffered.
const TARGET_BATCH: usize = 256 << 10;

/// See the module docs.
#[derive(Debug)]
pub struct EntryFramer {
    max_entry: usize,
    scan: ValueScan,
    /// End of the last whole entry in the buffer.
    complete: usize,
    /// How far the scan has read (the current entry's bytes from `complete`).
    pos: usize,
    /// Records of the whole entries in `buf[..complete]`.
    records: Vec<Range<u32>>,
    /// Dropping an oversize entry's bytes until it ends.
    discarding: bool,
    /// Frames found, not yet returned.
    queued: VecDeque<Frame>,
    /// The stream is not MessagePack any more.
    failed: bool,
}

impl EntryFramer {
    /// A framer for entries of at most `max_entry` bytes.
    pub fn new(max_entry: usize) -> EntryFramer {
        EntryFramer {
            max_entry,
            scan: ValueScan::default(),
            complete: 0,
            pos: 0,
            records: Vec::new(),
            discarding: false,
            queued: VecDeque::new(),
            failed: false,
        }
    }

    /// Cuts the whole entries off the front of `buf`.
    fn cut(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        if self.records.is_empty() {
            // Only rejected entries: drop their bytes.
            buf.advance(self.complete);
        } else {
            let data = buf.split_to(self.complete).freeze();
            let records = std::mem::take(&mut self.records);
            self.pos -= self.complete;
            self.complete = 0;
            return Some(Frame::Batch(data, Framing::Msgpack(records)));
        }
        self.pos -= self.complete;
        self.complete = 0;
        None
    }

    fn fail(&mut self, buf: &mut BytesMut, error: &MsgpackError) {
        let sample =
            Bytes::copy_from_slice(&buf[self.complete..buf.len().min(self.complete + 4096)]);
        if let Some(batch) = self.cut(buf) {
            self.queued.push_back(batch);
        }
        buf.clear();
        self.failed = true;
        self.queued.push_back(Frame::Reject {
            reason: RejectReason::InvalidMsgpack,
            detail: format!(
                "not a MessagePack entry stream ({error}); the rest of the stream is dropped"
            ),
            sample,
        });
    }

    /// Scans what was appended; queues what it finds.
    fn scan(&mut self, buf: &mut BytesMut, eof: bool) {
        loop {
            if self.discarding {
                match self.scan.advance(&buf[..]) {
                    Ok(Scan::Ended(n)) => {
                        buf.advance(n);
                        self.discarding = false;
                        self.scan = ValueScan::default();
                        continue;
                    }
                    Ok(Scan::Partial(n)) => {
                        buf.advance(n);
                        return;
                    }
                    Err(e) => return self.fail(buf, &e),
                }
            }
            if self.complete >= TARGET_BATCH {
                if let Some(batch) = self.cut(buf) {
                    self.queued.push_back(batch);
                }
            }
            match self.scan.advance(&buf[self.pos..]) {
                Err(e) => return self.fail(buf, &e),
                Ok(Scan::Ended(n)) => {
                    let start = self.complete;
                    let end = self.pos + n;
                    self.pos = end;
                    self.complete = end;
                    self.scan = ValueScan::default();
                    if end - start > self.max_entry {
                        // Arrived whole in one read: dropped the same as one that streams past.
                        self.queued
                            .push_back(Frame::Oversize(Bytes::copy_from_slice(
                                &buf[start..start + OVERSIZE_SAMPLE.min(end - start)],
                            )));
                        continue;
                    }
                    match entry_record(buf, start..end) {
                        Ok(r) => self.records.push(r.start as u32..r.end as u32),
                        Err(e) => self.queued.push_back(Frame::Reject {
                            reason: RejectReason::InvalidMsgpack,
                            detail: e.to_string(),
                            sample: Bytes::copy_from_slice(&buf[start..end.min(start + 4096)]),
                        }),
                    }
                }
                Ok(Scan::Partial(n)) => {
                    self.pos += n;
                    if self.pos - self.complete > self.max_entry {
                        let sample = Bytes::copy_from_slice(
                            &buf[self.complete..self.pos.min(self.complete + OVERSIZE_SAMPLE)],
                        );
                        let consumed = self.pos - self.complete;
                        if let Some(batch) = self.cut(buf) {
                            self.queued.push_back(batch);
                        }
                        buf.advance(consumed);
                        self.pos = 0;
                        self.discarding = true;
                        self.queued.push_back(Frame::Oversize(sample));
                        continue;
                    }
                    if eof && buf.len() > self.complete {
                        return self.fail(buf, &MsgpackError::Truncated);
                    }
                    if let Some(batch) = self.cut(buf) {
                        self.queued.push_back(batch);
                    }
                    return;
                }
            }
        }
    }
}

impl Framer for EntryFramer {
    fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Frame {
        if self.queued.is_empty() && !self.failed {
            self.scan(buf, eof);
        }
        if let Some(frame) = self.queued.pop_front() {
            return frame;
        }
        if self.failed || eof {
            buf.clear();
            Frame::Done
        } else {
            Frame::NeedMore
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(record: &serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec(&serde_json::json!([[1_700_000_000, {}], record])).unwrap()
    }

    /// Feeds `stream` in `chunk`-byte reads; returns the records as JSON and the other frames.
    fn frame(stream: &[u8], chunk: usize, max: usize) -> (Vec<String>, Vec<String>) {
        let mut framer = EntryFramer::new(max);
        let mut buf = BytesMut::new();
        let (mut records, mut other) = (Vec::new(), Vec::new());
        let mut chunks = stream.chunks(chunk.max(1)).peekable();
        loop {
            let eof = chunks.peek().is_none();
            match framer.next(&mut buf, eof) {
                Frame::NeedMore => match chunks.next() {
                    Some(c) => buf.extend_from_slice(c),
                    None => panic!("NeedMore at eof"),
                },
                Frame::Batch(data, framing) => {
                    let batch = super::super::Batch {
                        source: super::super::SourceKind::Tcp,
                        data,
                        framing,
                        budget: None,
                        ack: None,
                    };
                    batch.for_each_document(|d| {
                        records.push(String::from_utf8(d.to_vec()).unwrap())
                    });
                }
                Frame::Oversize(_) => other.push("oversize".to_owned()),
                Frame::Reject { detail, .. } => other.push(detail),
                Frame::Done => return (records, other),
            }
        }
    }

    #[test]
    fn any_read_size_gives_the_same_records() {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for i in 0..20 {
            let r = serde_json::json!({"eventName": "E", "i": i, "pad": "x".repeat(i * 7)});
            want.push(r.to_string());
            stream.extend(entry(&r));
        }
        for chunk in [1, 2, 3, 7, 64, 1000, stream.len()] {
            let (got, other) = frame(&stream, chunk, 1 << 20);
            assert_eq!(got, want, "chunk {chunk}");
            assert!(other.is_empty());
        }
    }

    #[test]
    fn oversize_and_misshapen_entries_are_dropped_alone() {
        let small = serde_json::json!({"a": 1});
        let big = serde_json::json!({"a": "x".repeat(5000)});
        let mut stream = entry(&small);
        stream.extend(entry(&big));
        stream.extend(rmp_serde::to_vec(&serde_json::json!([1, 2])).unwrap());
        stream.extend(entry(&small));
        for chunk in [1, 100, 100_000] {
            let (got, other) = frame(&stream, chunk, 2048);
            assert_eq!(got, [r#"{"a":1}"#, r#"{"a":1}"#], "chunk {chunk}");
            assert_eq!(other.len(), 2, "{other:?}");
            assert_eq!(other[0], "oversize");
        }
    }

    #[test]
    fn garbage_and_truncation_end_the_stream_after_what_was_whole() {
        let small = serde_json::json!({"a": 1});
        let mut stream = entry(&small);
        stream.push(0xc1);
        let (got, other) = frame(&stream, 4, 1 << 20);
        assert_eq!(got, [r#"{"a":1}"#]);
        assert!(other[0].contains("not a MessagePack"), "{other:?}");
        let mut stream = entry(&small);
        let cut = entry(&small);
        stream.extend_from_slice(&cut[..cut.len() - 1]);
        let (got, other) = frame(&stream, 5, 1 << 20);
        assert_eq!(got, [r#"{"a":1}"#]);
        assert!(other[0].contains("truncated"), "{other:?}");
    }
}
