//! Streaming `{"Records":[…]}` splitting: CloudTrail delivery files are cut into batches of
//! records as they are read, so memory is bounded by the largest record, not the file.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::json_scan::{ScanError, skip_ws, string_end, value_end};

/// What [`RecordsSplitter::next`] produced.
#[derive(Debug)]
pub enum Step {
    /// Read more input and call again.
    NeedMore,
    /// Records: a buffer and each record's range in it.
    Batch(Bytes, Vec<Range<u32>>),
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
    Elements { first: bool },
    Tail,
    Done,
}

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
                State::Head => match head(buf) {
                    Ok(Some(end)) => {
                        let _ = buf.split_to(end);
                        self.state = State::Elements { first: true };
                    }
                    Ok(None) if !eof => return Step::NeedMore,
                    Ok(None) | Err(()) => return Step::NotRecords,
                },
                State::Elements { first } => return self.elements(buf, first, eof),
                State::Tail => {
                    let i = skip_ws(buf, 0);
                    return match buf.get(i) {
                        Some(b'}') => {
                            let _ = buf.split_to(i + 1);
                            self.state = State::Done;
                            continue;
                        }
                        // Other members after Records are not CloudTrail's; skip them.
                        Some(b',') => match skip_member(buf, i + 1) {
                            Ok(end) => {
                                let _ = buf.split_to(end);
                                continue;
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
                    return Step::Error(format!(
                        "expected ',' or ']' at byte {i} of the Records array"
                    ));
                }
                None => return self.partial(buf, pos, ranges, eof, first),
            }
            match value_end(buf, i) {
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
                Err(e) if e.incomplete => {
                    if buf.len() - i > self.max_record {
                        return Step::Error(format!(
                            "a record is larger than {} bytes",
                            self.max_record
                        ));
                    }
                    return self.partial(buf, pos, ranges, eof, first);
                }
                Err(e) => return Step::Error(e.to_string()),
            }
        }
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
            Step::Error("unexpected end of file inside the Records array".into())
        } else {
            Step::NeedMore
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
        let mut s = RecordsSplitter::new(1 << 20, 40);
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
                other => return (out, other),
            }
        }
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
