//! Framing: cutting a byte stream into batches of whole events, with hard size limits.
//!
//! A [`Framer`] is what every byte-stream source shares (through `source::pump`): the source
//! appends what it reads to a buffer and the framer cuts off batches ([`Frame::Batch`]),
//! reports events it had to drop ([`Frame::Oversize`], [`Frame::Reject`]) and says when the
//! stream is over. [`LineFramer`] is newline framing; `records::DocumentFramer` adds
//! CloudTrail's `{"Records":[…]}` files. A line that grows past the limit without a newline
//! is discarded as it arrives — memory stays bounded by the limit — and reported once.

use bytes::{Bytes, BytesMut};

use super::{Framing, RejectReason};

/// What a framer found in the buffered input.
#[derive(Debug)]
pub enum Frame {
    /// Nothing complete yet: read more (at end of input, a framer never says this).
    NeedMore,
    /// Whole events, and how they are delimited.
    Batch(Bytes, Framing),
    /// An event over the limit was dropped: its first bytes (up to 1 KiB), for the dead letter.
    Oversize(Bytes),
    /// Input that is not events of this format; `sample` is its start, for the dead letter.
    Reject {
        /// The `reason` label.
        reason: RejectReason,
        /// What is wrong, for the log and the dead letter.
        detail: String,
        /// The first bytes of what was rejected.
        sample: Bytes,
    },
    /// The stream is over (or cannot go on): stop reading.
    Done,
}

/// Cuts a byte stream into batches; see the module docs.
pub trait Framer: Send {
    /// Takes what is complete from the front of `buf` (the bytes read so far and not yet
    /// framed). `eof`: nothing more will be appended.
    fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Frame;

    /// Like [`next`](Framer::next), for input that arrives as shared buffers (a memory-mapped
    /// file): `input` is consumed from the front, `carry` holds an event begun in an earlier
    /// input. The default copies `input` into `carry`; a framer that can cut batches out of
    /// `input` itself (no copy) overrides it.
    fn next_shared(&mut self, carry: &mut BytesMut, input: &mut Bytes, eof: bool) -> Frame {
        if !input.is_empty() {
            carry.extend_from_slice(input);
            input.clear();
        }
        self.next(carry, eof)
    }
}

/// Splits a stream into batches of whole lines.
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// Inside a too-long line: drop bytes until the next newline.
    discarding: bool,
}

/// How much of a discarded event is kept for the dead letter.
pub const OVERSIZE_SAMPLE: usize = 1024;

/// The most bytes of one batch cut out of a shared input (lines are whole, so a batch ends at
/// the first newline past this).
const SHARED_BATCH: usize = 1 << 20;

impl LineFramer {
    /// A framer for lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer {
            max_line,
            discarding: false,
        }
    }

    /// Starts discarding a partial line that is already too long; returns its sample.
    fn discard(&mut self, partial: &mut BytesMut) -> Frame {
        let sample = Bytes::copy_from_slice(&partial[..OVERSIZE_SAMPLE.min(partial.len())]);
        partial.clear();
        self.discarding = true;
        Frame::Oversize(sample)
    }
}

impl Framer for LineFramer {
    fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Frame {
        if self.discarding {
            match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    let _ = buf.split_to(i + 1);
                    self.discarding = false;
                }
                None => {
                    buf.clear();
                    return if eof { Frame::Done } else { Frame::NeedMore };
                }
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', buf) {
            return Frame::Batch(buf.split_to(last + 1).freeze(), Framing::Lines);
        }
        if buf.len() > self.max_line {
            return self.discard(buf);
        }
        match (eof, buf.is_empty()) {
            (false, _) => Frame::NeedMore,
            (true, true) => Frame::Done,
            // The last line had no newline: it is still an event.
            (true, false) => Frame::Batch(buf.split().freeze(), Framing::Lines),
        }
    }

    fn next_shared(&mut self, carry: &mut BytesMut, input: &mut Bytes, eof: bool) -> Frame {
        // Finish a line begun in an earlier input first, copying only that line.
        if !carry.is_empty() || self.discarding {
            let Some(i) = memchr::memchr(b'\n', input) else {
                if !self.discarding {
                    carry.extend_from_slice(input);
                }
                input.clear();
                if carry.len() > self.max_line {
                    return self.discard(carry);
                }
                return self.next(carry, eof);
            };
            let head = input.split_to(i + 1);
            if self.discarding {
                self.discarding = false;
            } else {
                // The limit is on the line, not its newline (nor is the sample).
                if carry.len() + i > self.max_line {
                    carry.extend_from_slice(&head[..i]);
                    let frame = self.discard(carry);
                    self.discarding = false; // the line ended with `head`
                    return frame;
                }
                carry.extend_from_slice(&head);
                return Frame::Batch(carry.split().freeze(), Framing::Lines);
            }
        }
        // Whole lines of `input`, cut out of it without a copy.
        let Some(last) = memchr::memrchr(b'\n', input) else {
            carry.extend_from_slice(input);
            input.clear();
            if carry.len() > self.max_line {
                return self.discard(carry);
            }
            return self.next(carry, eof);
        };
        let whole = last + 1;
        let end = if whole <= SHARED_BATCH {
            whole
        } else {
            memchr::memchr(b'\n', &input[SHARED_BATCH..whole])
                .map_or(whole, |i| SHARED_BATCH + i + 1)
        };
        Frame::Batch(input.split_to(end), Framing::Lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `framer` over `chunks` (appended one by one, as reads would) and returns the lines
    /// of every batch and the number of oversize reports.
    pub(crate) fn frame_all(
        framer: &mut dyn Framer,
        chunks: &[&[u8]],
        shared: bool,
    ) -> (Vec<Vec<u8>>, usize) {
        let mut buf = BytesMut::new();
        let (mut lines, mut oversize) = (Vec::new(), 0);
        for (i, chunk) in chunks.iter().enumerate() {
            let eof = i + 1 == chunks.len();
            let mut input = Bytes::copy_from_slice(chunk);
            if !shared {
                buf.extend_from_slice(chunk);
            }
            loop {
                let frame = if shared {
                    framer.next_shared(&mut buf, &mut input, eof)
                } else {
                    framer.next(&mut buf, eof)
                };
                match frame {
                    Frame::NeedMore => break,
                    Frame::Done => return (lines, oversize),
                    Frame::Oversize(_) => oversize += 1,
                    Frame::Reject { .. } => panic!("lines are never rejected"),
                    Frame::Batch(data, _) => lines.extend(
                        data.split(|&b| b == b'\n')
                            .filter(|l| !l.is_empty())
                            .map(<[u8]>::to_vec),
                    ),
                }
            }
        }
        (lines, oversize)
    }

    #[test]
    fn splits_whole_lines_and_bounds_long_ones() {
        for shared in [false, true] {
            let mut f = LineFramer::new(8);
            let chunks: [&[u8]; 4] = [b"a\nbb\ncc", b"ccccccccc", b"still long\nok\n", b"tail"];
            let (lines, oversize) = frame_all(&mut f, &chunks, shared);
            assert_eq!(
                lines,
                [&b"a"[..], b"bb", b"ok", b"tail"],
                "shared: {shared}"
            );
            assert_eq!(oversize, 1);
        }
    }

    #[test]
    fn a_line_that_ends_over_the_limit_is_oversize_and_the_next_one_counts() {
        for shared in [false, true] {
            let mut f = LineFramer::new(4);
            let chunks: [&[u8]; 3] = [b"abc", b"defg\nxy\n", b""];
            let (lines, oversize) = frame_all(&mut f, &chunks, shared);
            // Read into one buffer, the long line arrives whole (the worker drops it); cut
            // from shared input, the framer drops it: once either way.
            let whole = usize::from(lines.iter().any(|l| l == b"abcdefg"));
            assert_eq!(
                lines.last().map(Vec::as_slice),
                Some(&b"xy"[..]),
                "shared: {shared}"
            );
            assert_eq!(whole + oversize, 1, "shared: {shared}");
        }
    }

    /// Regression (fuzzing): a line that crossed the limit at its last shared input was
    /// sampled with its newline, which is not the start of the line.
    #[test]
    fn an_oversize_sample_is_the_start_of_its_line() {
        let mut f = LineFramer::new(4);
        let mut carry = BytesMut::from(&b"abc"[..]);
        let mut input = Bytes::from_static(b"defg\nxy\n");
        match f.next_shared(&mut carry, &mut input, true) {
            Frame::Oversize(sample) => assert_eq!(&sample[..], b"abcdefg"),
            other => panic!("{other:?}"),
        }
        match f.next_shared(&mut carry, &mut input, true) {
            Frame::Batch(lines, _) => assert_eq!(&lines[..], b"xy\n"),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        /// Where reads stop, and whether input is shared or copied, never changes the events.
        #[test]
        fn any_split_gives_the_same_lines(
            text in proptest::collection::vec(proptest::sample::select(&b"ab\n"[..]), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..6),
            max in 1usize..12,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([text.len()]) {
                chunks.push(&text[at..c]);
                at = c;
            }
            // Lines over the limit are dropped either by the framer (reported here) or, when
            // one arrives whole, by the worker: each exactly once.
            let short: Vec<Vec<u8>> = text
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty() && l.len() <= max)
                .map(<[u8]>::to_vec)
                .collect();
            let long = text.split(|&b| b == b'\n').filter(|l| l.len() > max).count();
            for shared in [false, true] {
                let (lines, oversize) = frame_all(&mut LineFramer::new(max), &chunks, shared);
                let (kept, dropped): (Vec<_>, Vec<_>) = lines.into_iter().partition(|l| l.len() <= max);
                proptest::prop_assert_eq!(&kept, &short);
                proptest::prop_assert_eq!(dropped.len() + oversize, long);
            }
        }
    }
}

/// How an HTTP body's documents are delimited, from its `Content-Type` and first byte:
/// * `application/x-ndjson`, `text/plain` (and anything that is not JSON) — lines;
/// * a JSON array (Vector's `http` sink with `codec: json`, Fluent Bit's `format json`) — its
///   elements;
/// * JSON objects (one, or several separated by whitespace or nothing: Fluent Bit's
///   `json_stream`) — each object.
///
/// Errors describe why a JSON body does not frame (the request gets a 400).
pub fn frame_body(body: &[u8], content_type: Option<&str>) -> Result<super::Framing, String> {
    use super::Framing;
    use super::json_scan::{elements, skip_ws, value_end};
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("ndjson")
        || ct.contains("jsonl")
        || ct.contains("json-seq")
        || ct.starts_with("text/")
    {
        return Ok(Framing::Lines);
    }
    // A body declared as JSON must be JSON; only undeclared and text bodies are text events.
    let declared_json = ct.contains("json");
    let to_u32 = |r: std::ops::Range<usize>| r.start as u32..r.end as u32;
    let start = skip_ws(body, 0);
    match body.get(start) {
        None => Ok(Framing::Documents(Vec::new())),
        Some(b'[') => {
            let mut docs = Vec::new();
            let end = elements(body, start, |r| docs.push(to_u32(r)))
                .map_err(|e| format!("the body is not a valid JSON array: {e}"))?;
            if skip_ws(body, end) != body.len() {
                return Err(format!(
                    "unexpected text after the JSON array at byte {end}"
                ));
            }
            Ok(Framing::Documents(docs))
        }
        Some(b'{') => {
            let mut docs = Vec::new();
            let mut i = start;
            while i < body.len() {
                if body[i] != b'{' {
                    if declared_json {
                        return Err(format!(
                            "the body is declared as {ct} but is not JSON: unexpected byte 0x{:02x} at {i}",
                            body[i]
                        ));
                    }
                    // JSON lines mixed with text: keep them all, as lines.
                    return Ok(Framing::Lines);
                }
                let end =
                    value_end(body, i).map_err(|e| format!("the body is not valid JSON: {e}"))?;
                docs.push(to_u32(i..end));
                i = skip_ws(body, end);
            }
            Ok(Framing::Documents(docs))
        }
        Some(&b) if declared_json => Err(format!(
            "the body is declared as {ct} but is not JSON: unexpected byte 0x{b:02x} at {start}"
        )),
        Some(_) => Ok(Framing::Lines),
    }
}

#[cfg(test)]
mod body_tests {
    use super::super::Framing;
    use super::frame_body;

    fn docs(body: &str, ct: Option<&str>) -> Vec<String> {
        match frame_body(body.as_bytes(), ct).unwrap() {
            Framing::Documents(r) => r
                .iter()
                .map(|r| body[r.start as usize..r.end as usize].to_owned())
                .collect(),
            Framing::Lines | Framing::Msgpack(_) => vec!["<lines>".into()],
        }
    }

    #[test]
    fn bodies() {
        assert_eq!(
            docs(r#"[{"a":1},{"b":2}]"#, Some("application/json")),
            [r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert_eq!(
            docs(r#"{"a":1}{"b":2}"#, None),
            [r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert_eq!(
            docs("{\"a\":1}\n{\"b\":2}", None),
            [r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert_eq!(
            docs("{\"a\":1}\n{\"b\":2}", Some("application/x-ndjson")),
            ["<lines>"]
        );
        assert_eq!(docs("ERROR x\nWARN y", None), ["<lines>"]);
        assert!(frame_body(br#"[{"a":1}"#, None).is_err());
        // Regression: a body declared as JSON that is not JSON was taken as a text event.
        assert!(frame_body(b"\x00\x01\x02{[[", Some("application/json")).is_err());
        assert!(frame_body(b"{\"a\":1}\nhello", Some("application/json")).is_err());
        assert_eq!(docs("ERROR x", Some("text/plain")), ["<lines>"]);
        assert!(frame_body(br#"{"a":"#, Some("application/json")).is_err());
    }
}
