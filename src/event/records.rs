//! Streaming `{"Records":[…]}` splitting: CloudTrail delivery files are cut into batches of
//! records as they are read, so memory is bounded by the record limit, not the file. A record
//! over the limit is reported and skipped as it streams past; the records after it still count.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::framing::{Frame, Framer, LineFramer, OVERSIZE_SAMPLE};
use super::json_scan::{MAX_DEPTH, ScanError, skip_ws, string_end, value_end};
use super::{Framing, RejectReason};

/// What [`RecordsSplitter::next`] produced.
#[derive(Debug)]
pub enum Step {
    /// Read more input and call again.
    NeedMore,
    /// Records: a buffer and each record's range in it.
    Batch(Bytes, Vec<Range<u32>>),
    /// A record longer than the limit, skipped: the first bytes of it (up to 1 KiB).
    Oversize(Bytes),
    /// The document is complete.
    Done,
    /// The input does not start with `{"Records":[` (treat it as newline-delimited instead).
    NotRecords,
    /// The input is malformed.
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Head,
    Elements {
        first: bool,
    },
    /// Dropping an oversize record's bytes until it ends.
    Skipping(Skip),
    Tail,
    Done,
}

/// Where a skipped record's scan is: enough to find its end one chunk at a time, checking it
/// exactly as [`value_end`] checks a record held whole (so where reads stop changes nothing).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Skip {
    /// The closing bracket expected at each open level.
    stack: [u8; MAX_DEPTH],
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The record is a number or literal (not JSON CloudTrail writes, but it must be skipped
    /// the same way).
    literal: bool,
}

impl Default for Skip {
    fn default() -> Skip {
        Skip {
            stack: [0; MAX_DEPTH],
            depth: 0,
            in_string: false,
            escaped: false,
            literal: false,
        }
    }
}

impl Skip {
    /// A scan of the record whose first byte is `first`.
    fn new(first: u8) -> Skip {
        Skip {
            literal: !matches!(first, b'{' | b'[' | b'"'),
            ..Skip::default()
        }
    }

    /// Consumes `b`; returns the end of the record if it is in `b`.
    fn advance(&mut self, b: &[u8]) -> Result<Option<usize>, &'static str> {
        for (j, &c) in b.iter().enumerate() {
            if self.literal {
                match c {
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' => return Ok(Some(j)),
                    b'{' | b'[' | b'"' | b':' => return Err("unexpected character in a value"),
                    _ => continue,
                }
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Ok(Some(j + 1));
                    }
                }
                continue;
            }
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    if self.depth == MAX_DEPTH {
                        return Err("nesting too deep");
                    }
                    self.stack[self.depth] = if c == b'{' { b'}' } else { b']' };
                    self.depth += 1;
                }
                b'}' | b']' => {
                    if self.depth == 0 || self.stack[self.depth - 1] != c {
                        return Err("mismatched bracket");
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(Some(j + 1));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

/// The most bytes before the records (`{"Records":[` and whitespace) of a delivery file.
const HEAD_LIMIT: usize = 64 << 10;

/// See the module docs.
#[derive(Debug)]
pub struct RecordsSplitter {
    state: State,
    max_record: usize,
    target_batch: usize,
}

impl RecordsSplitter {
    /// `max_record`: the largest record accepted; `target_batch`: bytes per batch.
    pub fn new(max_record: usize, target_batch: usize) -> RecordsSplitter {
        RecordsSplitter {
            state: State::Head,
            max_record,
            target_batch,
        }
    }

    /// Consumes what it can from `buf`. `eof`: no more input will come.
    pub fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Step {
        loop {
            match self.state {
                // The head is short; a file that is mostly whitespace before it is not a
                // delivery file (and must not be buffered whole to find out).
                State::Head => match head(buf) {
                    Ok(Some(end)) if end > HEAD_LIMIT => return Step::NotRecords,
                    Ok(None) if buf.len() > HEAD_LIMIT => return Step::NotRecords,
                    Ok(Some(end)) => {
                        let _ = buf.split_to(end);
                        self.state = State::Elements { first: true };
                    }
                    Ok(None) if !eof => return Step::NeedMore,
                    Ok(None) | Err(()) => return Step::NotRecords,
                },
                State::Elements { first } => return self.elements(buf, first, eof),
                State::Skipping(mut skip) => match skip.advance(buf) {
                    Ok(Some(end)) => {
                        let _ = buf.split_to(end);
                        self.state = State::Elements { first: false };
                    }
                    Err(what) => return Step::Error(format!("{what} in an oversize record")),
                    Ok(None) => {
                        buf.clear();
                        self.state = State::Skipping(skip);
                        return if eof {
                            Step::Error("unexpected end of file inside a record".into())
                        } else {
                            Step::NeedMore
                        };
                    }
                },
                State::Tail => {
                    // Whitespace is dropped as it comes, so it cannot pile up.
                    let _ = buf.split_to(skip_ws(buf, 0));
                    let i = 0;
                    return match buf.get(i) {
                        Some(b'}') => {
                            let _ = buf.split_to(i + 1);
                            self.state = State::Done;
                            continue;
                        }
                        // Other members after Records are not CloudTrail's; skip them.
                        // They are held whole to be skipped, so they are held to the record
                        // limit (whether or not they arrived in one read).
                        Some(b',') => match skip_member(buf, i + 1) {
                            Ok(end) if end - i > self.max_record => Step::Error(format!(
                                "a member after the Records array is over {} bytes",
                                self.max_record
                            )),
                            Ok(end) => {
                                let _ = buf.split_to(end);
                                continue;
                            }
                            Err(e) if e.incomplete && buf.len() - i > self.max_record => {
                                Step::Error(format!(
                                    "a member after the Records array is over {} bytes",
                                    self.max_record
                                ))
                            }
                            Err(e) if e.incomplete && !eof => Step::NeedMore,
                            Err(e) => Step::Error(e.to_string()),
                        },
                        None if !eof => Step::NeedMore,
                        _ => Step::Error("expected '}' after the Records array".into()),
                    };
                }
                State::Done => {
                    // Only the end of the input decides that nothing follows the document.
                    return if skip_ws(buf, 0) != buf.len() {
                        Step::Error("unexpected text after the Records document".into())
                    } else if eof {
                        buf.clear();
                        Step::Done
                    } else {
                        buf.clear();
                        Step::NeedMore
                    };
                }
            }
        }
    }

    fn elements(&mut self, buf: &mut BytesMut, mut first: bool, eof: bool) -> Step {
        let mut ranges = Vec::new();
        let mut pos = 0;
        loop {
            let mut i = skip_ws(buf, pos);
            match buf.get(i) {
                Some(b']') => {
                    self.state = State::Tail;
                    let chunk = buf.split_to(i + 1).freeze();
                    return if ranges.is_empty() {
                        self.next(buf, eof)
                    } else {
                        Step::Batch(chunk, ranges)
                    };
                }
                Some(b',') if !first => i = skip_ws(buf, i + 1),
                Some(_) if first => {}
                Some(_) => {
                    let message = "expected ',' or ']' after a record of the Records array";
                    return self.fail(buf, pos, ranges, message.into());
                }
                None => return self.partial(buf, pos, ranges, eof, first),
            }
            let incomplete_and_over =
                |e: &ScanError| e.incomplete && buf.len() - i > self.max_record;
            match value_end(buf, i) {
                Ok(end) if end - i > self.max_record => {
                    return self.oversize(buf, pos, ranges, i, Some(end));
                }
                Err(e) if incomplete_and_over(&e) => {
                    return self.oversize(buf, pos, ranges, i, None);
                }
                // Malformed past the limit: read in pieces, the record would be reported as
                // oversize before the fault came in; report it so here too (skipping it then
                // finds the same fault).
                Err(e) if e.at.saturating_sub(i) > self.max_record => {
                    return self.oversize(buf, pos, ranges, i, None);
                }
                Ok(end) => {
                    ranges.push(i as u32..end as u32);
                    pos = end;
                    first = false;
                    self.state = State::Elements { first: false };
                    if pos >= self.target_batch {
                        let chunk = buf.split_to(pos).freeze();
                        return Step::Batch(chunk, ranges);
                    }
                }
                Err(e) if e.incomplete => return self.partial(buf, pos, ranges, eof, first),
                Err(e) => return self.fail(buf, pos, ranges, e.to_string()),
            }
        }
    }

    /// The record at `i` (ending at `end`, if it is all in `buf`) is over the limit: emits the
    /// records before it first (it is found again at the start of the buffer next time), then
    /// reports it and skips it.
    fn oversize(
        &mut self,
        buf: &mut BytesMut,
        pos: usize,
        ranges: Vec<Range<u32>>,
        i: usize,
        end: Option<usize>,
    ) -> Step {
        self.state = State::Elements { first: false };
        if !ranges.is_empty() {
            let chunk = buf.split_to(pos).freeze();
            return Step::Batch(chunk, ranges);
        }
        let known = end.unwrap_or(buf.len());
        let sample = Bytes::copy_from_slice(&buf[i..known.min(i + OVERSIZE_SAMPLE)]);
        match end {
            Some(end) => {
                let _ = buf.split_to(end);
            }
            None => {
                self.state = State::Skipping(Skip::new(buf[i]));
                let _ = buf.split_to(i);
            }
        }
        Step::Oversize(sample)
    }

    /// Input is malformed after the records before `pos`: they are emitted first (the fault is
    /// found again at the start of the buffer next time), so what counts does not depend on
    /// where reads stopped.
    fn fail(
        &mut self,
        buf: &mut BytesMut,
        pos: usize,
        ranges: Vec<Range<u32>>,
        message: String,
    ) -> Step {
        if ranges.is_empty() {
            return Step::Error(message);
        }
        self.state = State::Elements { first: false };
        let chunk = buf.split_to(pos).freeze();
        Step::Batch(chunk, ranges)
    }

    /// Emits the complete records before `pos`, or asks for more input.
    fn partial(
        &mut self,
        buf: &mut BytesMut,
        pos: usize,
        ranges: Vec<Range<u32>>,
        eof: bool,
        first: bool,
    ) -> Step {
        self.state = State::Elements { first };
        if !ranges.is_empty() {
            let chunk = buf.split_to(pos).freeze();
            return Step::Batch(chunk, ranges);
        }
        if eof {
            return Step::Error("unexpected end of file inside the Records array".into());
        }
        // Keep only what matters of the separator (a comma, if one was read), so whitespace
        // between records cannot pile up across reads.
        let i = skip_ws(buf, 0);
        if buf.get(i) == Some(&b',') {
            let j = skip_ws(buf, i + 1);
            let _ = buf.split_to(j - 1);
            buf[0] = b',';
        } else {
            let _ = buf.split_to(i);
        }
        Step::NeedMore
    }
}

/// How much of a malformed document is kept for the dead letter.
const REJECT_SAMPLE: usize = 4096;

/// Framing for delivery files: a `{"Records":[…]}` document is split record by record as it
/// streams; any other input is newline-delimited events. A malformed document ends the input
/// (reported once, with its start); the records before the fault still count.
#[derive(Debug)]
pub struct DocumentFramer {
    mode: Mode,
    max_record: usize,
}

#[derive(Debug)]
enum Mode {
    Records(RecordsSplitter),
    Lines(LineFramer),
    Failed,
}

impl DocumentFramer {
    /// `max_record`: the largest record (or line) accepted; `target_batch`: bytes per batch.
    pub fn new(max_record: usize, target_batch: usize) -> DocumentFramer {
        DocumentFramer {
            mode: Mode::Records(RecordsSplitter::new(max_record, target_batch)),
            max_record,
        }
    }
}

impl Framer for DocumentFramer {
    fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Frame {
        loop {
            let splitter = match &mut self.mode {
                Mode::Lines(lines) => return lines.next(buf, eof),
                Mode::Failed => {
                    buf.clear();
                    return Frame::Done;
                }
                Mode::Records(s) => s,
            };
            return match splitter.next(buf, eof) {
                Step::NeedMore => Frame::NeedMore,
                Step::Batch(data, ranges) => Frame::Batch(data, Framing::Documents(ranges)),
                Step::Oversize(sample) => Frame::Oversize(sample),
                Step::Done => Frame::Done,
                Step::NotRecords => {
                    self.mode = Mode::Lines(LineFramer::new(self.max_record));
                    continue;
                }
                Step::Error(detail) => {
                    let sample = Bytes::copy_from_slice(&buf[..buf.len().min(REJECT_SAMPLE)]);
                    self.mode = Mode::Failed;
                    Frame::Reject {
                        reason: RejectReason::InvalidEnvelope,
                        detail,
                        sample,
                    }
                }
            };
        }
    }
}

/// Matches `{ "Records" : [` at the start: `Some(end)` past the `[`, `None` if more input is
/// needed, `Err` if it is something else.
fn head(b: &[u8]) -> Result<Option<usize>, ()> {
    let mut i = skip_ws(b, 0);
    for expected in [&b"{"[..], b"\"Records\"", b":", b"["] {
        i = skip_ws(b, i);
        let have = &b[i.min(b.len())..];
        if have.len() < expected.len() {
            return if expected.starts_with(have) {
                Ok(None)
            } else {
                Err(())
            };
        }
        if !have.starts_with(expected) {
            return Err(());
        }
        i += expected.len();
    }
    Ok(Some(i))
}

/// Skips `"key": value` starting at `i`; returns the end.
fn skip_member(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let i = skip_ws(b, i);
    let key_end = string_end(b, i)?;
    let j = skip_ws(b, key_end);
    if b.get(j) != Some(&b':') {
        return Err(ScanError {
            at: j,
            what: "expected ':'",
            incomplete: j >= b.len(),
        });
    }
    value_end(b, skip_ws(b, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(doc: &[u8], chunk: usize) -> (Vec<String>, Step) {
        split_limited(doc, chunk, 1 << 20)
    }

    /// Records, with `OVERSIZE:<sample>` for each skipped one, and the final step.
    fn split_limited(doc: &[u8], chunk: usize, max_record: usize) -> (Vec<String>, Step) {
        let mut s = RecordsSplitter::new(max_record, 40);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            let eof = fed >= doc.len();
            match s.next(&mut buf, eof) {
                Step::NeedMore => {
                    let end = (fed + chunk).min(doc.len());
                    buf.extend_from_slice(&doc[fed..end]);
                    fed = end;
                }
                Step::Batch(b, ranges) => {
                    for r in ranges {
                        out.push(
                            String::from_utf8_lossy(&b[r.start as usize..r.end as usize])
                                .into_owned(),
                        );
                    }
                }
                Step::Oversize(sample) => {
                    out.push(format!("OVERSIZE:{}", String::from_utf8_lossy(&sample)));
                }
                other => return (out, other),
            }
        }
    }

    #[test]
    fn an_oversize_record_is_reported_and_the_rest_still_counts() {
        let big = format!(r#"{{"big":"{}","n":[{{"x":"]}}\""}}]}}"#, "y".repeat(100));
        let doc = format!(
            r#"{{"Records":[{{"a":1}}, {big} ,{{"b":2}},"{}",{{"c":3}}]}}"#,
            "s".repeat(80)
        );
        for chunk in [1, 2, 5, 16, 64, 1000] {
            let (records, end) = split_limited(doc.as_bytes(), chunk, 50);
            assert!(matches!(end, Step::Done), "chunk {chunk}: {end:?}");
            let samples: Vec<&str> = records.iter().map(String::as_str).collect();
            assert_eq!(samples.len(), 5, "chunk {chunk}: {samples:?}");
            assert_eq!(samples[0], r#"{"a":1}"#);
            assert!(
                samples[1].starts_with(r#"OVERSIZE:{"big":"yyy"#),
                "{chunk}: {samples:?}"
            );
            assert_eq!(samples[2], r#"{"b":2}"#);
            assert!(
                samples[3].starts_with(r#"OVERSIZE:"sss"#),
                "{chunk}: {samples:?}"
            );
            assert_eq!(samples[4], r#"{"c":3}"#);
        }
        // Other members after the array are held to the limit too.
        let tail = format!(r#"{{"Records":[{{"a":1}}],"other":"{}"}}"#, "o".repeat(60));
        for chunk in [1, 9, 1000] {
            let (records, end) = split_limited(tail.as_bytes(), chunk, 50);
            assert_eq!(records, [r#"{"a":1}"#], "chunk {chunk}");
            assert!(matches!(end, Step::Error(_)), "chunk {chunk}: {end:?}");
        }
        // A record malformed past the limit is reported as oversize however it is read (the
        // skip then finds the fault), and records before a malformed one always count.
        for chunk in [1, 3, 1000] {
            let (records, end) = split_limited(br#"{"Records":[{"a":"0123456789"]]}"#, chunk, 10);
            assert_eq!(records.len(), 1, "chunk {chunk}: {records:?}");
            assert!(records[0].starts_with("OVERSIZE:"), "chunk {chunk}");
            assert!(matches!(end, Step::Error(_)), "chunk {chunk}: {end:?}");
            let (records, end) = split_limited(br#"{"Records":[{"a":1},{"b":1]]}"#, chunk, 50);
            assert_eq!(records, [r#"{"a":1}"#], "chunk {chunk}");
            assert!(matches!(end, Step::Error(_)), "chunk {chunk}: {end:?}");
        }
        // Cut off inside the oversize record: an error after the records before it.
        let cut = &doc.as_bytes()[..40];
        let (records, end) = split_limited(cut, 7, 20);
        assert_eq!(records[0], r#"{"a":1}"#);
        assert!(matches!(end, Step::Error(_)), "{end:?}");
    }

    #[test]
    fn whitespace_does_not_pile_up_between_reads() {
        let spaces = vec![b' '; 4096];
        let mut s = RecordsSplitter::new(1 << 10, 40);
        let mut buf = BytesMut::new();
        let mut records = 0;
        let parts: [&[u8]; 6] = [
            b"{\"Records\":[",
            b"{\"a\":1}",
            b" ,",
            b"{\"b\":2}",
            b"]",
            b"}",
        ];
        for part in parts {
            buf.extend_from_slice(part);
            // A megabyte of whitespace after every token, read 4 KiB at a time.
            for _ in 0..256 {
                buf.extend_from_slice(&spaces);
                loop {
                    match s.next(&mut buf, false) {
                        Step::NeedMore => break,
                        Step::Batch(_, r) => records += r.len(),
                        other => panic!("{other:?}"),
                    }
                }
                assert!(buf.len() <= 8192, "{} bytes held", buf.len());
            }
        }
        loop {
            match s.next(&mut buf, true) {
                Step::Batch(_, r) => records += r.len(),
                Step::Done => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(records, 2);
        // Leading whitespace is only the head's: past its limit, not a delivery file.
        let mut s = RecordsSplitter::new(1 << 10, 40);
        let mut buf = BytesMut::from(&vec![b' '; HEAD_LIMIT + 1][..]);
        assert!(matches!(s.next(&mut buf, false), Step::NotRecords));
    }

    #[test]
    fn splits_in_any_chunking() {
        let doc = br#" { "Records" : [ {"a":1}, {"b":"]}"} ,{"c":[1,2]} ] } "#;
        for chunk in [1, 3, 7, 100] {
            let (records, end) = split_all(doc, chunk);
            assert_eq!(
                records,
                [r#"{"a":1}"#, r#"{"b":"]}"}"#, r#"{"c":[1,2]}"#],
                "chunk {chunk}"
            );
            assert!(matches!(end, Step::Done), "chunk {chunk}: {end:?}");
        }
    }

    #[test]
    fn empty_records_and_other_shapes() {
        assert!(matches!(split_all(br#"{"Records":[]}"#, 5).1, Step::Done));
        assert!(matches!(
            split_all(br#"{"eventName":"x"}"#, 5).1,
            Step::NotRecords
        ));
        assert!(matches!(split_all(b"plain text\n", 5).1, Step::NotRecords));
        assert!(matches!(
            split_all(br#"{"Records":[{"a":1}"#, 5).1,
            Step::Error(_)
        ));
        let (records, end) = split_all(br#"{"Records":[{"a":1}],"x":{"y":2}}"#, 4);
        assert_eq!(records.len(), 1);
        assert!(matches!(end, Step::Done));
    }

    #[test]
    fn text_after_the_document_is_an_error_wherever_reads_stop() {
        // Found by the split_records fuzz target: a read ending right after the closing brace
        // used to end the document before the garbage behind it was seen.
        let doc = br#"{"Records":[{"a":1}]} }],"x":1}"#;
        for chunk in 1..doc.len() + 1 {
            let (records, end) = split_all(doc, chunk);
            assert_eq!(records, [r#"{"a":1}"#], "chunk {chunk}");
            assert!(matches!(end, Step::Error(_)), "chunk {chunk}: {end:?}");
        }
        for chunk in 1..8 {
            let (_, end) = split_all(b"{\"Records\":[{\"a\":1}]}\n \n", chunk);
            assert!(matches!(end, Step::Done), "chunk {chunk}: {end:?}");
        }
        // Also found by the fuzzer: a number in a member after the array, cut by a read, was
        // taken as complete and its second half as text after the document.
        let doc = br#"{"Records":[{"a":1}],"size":12345}"#;
        for chunk in 1..doc.len() + 1 {
            let (records, end) = split_all(doc, chunk);
            assert_eq!(records.len(), 1, "chunk {chunk}");
            assert!(matches!(end, Step::Done), "chunk {chunk}: {end:?}");
        }
    }
}
