//! Fuzz target: the streaming `{"Records":[…]}` splitter used by backfill. Fed in chunks whose
//! sizes come from the input, it must find exactly the records, skip exactly the oversize ones
//! (and end the same way) as when fed the whole file at once — reads from disk or gunzip stop
//! anywhere — and it must find every record of a document that a JSON parser accepts.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trailwatch::event::records::{RecordsSplitter, Step};

#[derive(Debug, PartialEq)]
enum Outcome {
    Done,
    NotRecords,
    Error,
}

#[derive(Debug)]
enum Item {
    Record(Vec<u8>),
    Oversize(Vec<u8>),
}

impl PartialEq for Item {
    /// An oversize sample is what the buffer held when the limit was crossed: of two, one is a
    /// prefix of the other.
    fn eq(&self, other: &Item) -> bool {
        match (self, other) {
            (Item::Record(a), Item::Record(b)) => a == b,
            (Item::Oversize(a), Item::Oversize(b)) => a.starts_with(b) || b.starts_with(a),
            _ => false,
        }
    }
}

/// Feeds `data` in pieces of the given sizes (cycled); returns what came out and how it ended.
fn split(data: &[u8], pieces: &[usize], max_record: usize) -> (Vec<Item>, Outcome) {
    let mut splitter = RecordsSplitter::new(max_record, 64);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let (mut fed, mut piece) = (0, 0);
    // Each step consumes input or emits something, so this bound is never reached.
    for _ in 0..4 * data.len() + 16 {
        let eof = fed == data.len();
        match splitter.next(&mut buf, eof) {
            Step::NeedMore => {
                assert!(!eof, "asked for more input at end of file");
                let n = pieces[piece % pieces.len()].min(data.len() - fed);
                piece += 1;
                buf.extend_from_slice(&data[fed..fed + n]);
                fed += n;
            }
            Step::Batch(chunk, ranges) => {
                assert!(!ranges.is_empty(), "an empty batch");
                for r in ranges {
                    let (s, e) = (r.start as usize, r.end as usize);
                    assert!(s < e && e <= chunk.len(), "record range out of its batch");
                    assert!(e - s <= max_record, "a record over the limit was passed on");
                    items.push(Item::Record(chunk[s..e].to_vec()));
                }
            }
            Step::Oversize(sample) => {
                assert!(
                    sample.len() > max_record.min(1023),
                    "a short oversize sample"
                );
                items.push(Item::Oversize(sample.to_vec()));
            }
            Step::Done => return (items, Outcome::Done),
            Step::NotRecords => return (items, Outcome::NotRecords),
            Step::Error(message) => {
                assert!(!message.is_empty());
                return (items, Outcome::Error);
            }
        }
    }
    panic!("the splitter did not finish");
}

fuzz_target!(|input: &[u8]| {
    let Some((&sizes, data)) = input.split_first() else {
        return;
    };
    let pieces = [
        1 + (sizes & 0x0f) as usize,
        1 + (sizes >> 4) as usize * 7,
        1,
    ];
    let whole_file = [data.len().max(1)];
    // A limit no input reaches, and one that many records exceed.
    for max_record in [1 << 20, 8 + (sizes as usize & 0x3f)] {
        let whole = split(data, &whole_file, max_record);
        let chunked = split(data, &pieces, max_record);
        assert_eq!(whole.1, chunked.1, "outcome depends on where reads stop");
        // Also when the input is malformed: what counted before the fault must not depend on
        // where reads stopped.
        assert_eq!(whole.0, chunked.0, "records depend on where reads stop");
    }

    // Completeness against a real parser, where the document is unambiguous: one `Records` key
    // spelled without escapes (serde_json keeps the last of duplicate keys, the splitter the
    // first).
    let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    let once = data.windows(9).filter(|w| w == b"\"Records\"").count() == 1;
    let starts = {
        let t = data.trim_ascii_start();
        t.starts_with(b"{") && t[1..].trim_ascii_start().starts_with(b"\"Records\"")
    };
    let Some(serde_json::Value::Array(want)) = doc.get("Records") else {
        return;
    };
    if !once || !starts || data.contains(&b'\\') {
        return;
    }
    let (items, outcome) = split(data, &whole_file, 1 << 20);
    assert_eq!(
        outcome,
        Outcome::Done,
        "a valid Records document was not split"
    );
    let got: Vec<serde_json::Value> = items
        .iter()
        .map(|item| match item {
            Item::Record(r) => serde_json::from_slice(r).expect("a valid document's record parses"),
            Item::Oversize(_) => panic!("an oversize record under a limit no input reaches"),
        })
        .collect();
    assert_eq!(&got, want, "records differ from the parsed document");
});
