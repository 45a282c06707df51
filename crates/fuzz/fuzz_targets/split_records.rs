//! Fuzz target: the streaming `{"Records":[…]}` splitter used by backfill. Fed in chunks whose
//! sizes come from the input, it must find exactly the records (and the same outcome) as when
//! fed the whole file at once — reads from disk or gunzip stop anywhere — and it must find every
//! record of a document that a JSON parser accepts.
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

/// Feeds `data` in pieces of the given sizes (cycled); returns the records and how it ended.
fn split(data: &[u8], pieces: &[usize]) -> (Vec<Vec<u8>>, Outcome) {
    // Larger than any input, so only the input decides; the limit is tested in the unit tests.
    let mut splitter = RecordsSplitter::new(1 << 20, 64);
    let mut buf = BytesMut::new();
    let mut records = Vec::new();
    let (mut fed, mut piece) = (0, 0);
    // Each step consumes input or emits a record, so this bound is never reached.
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
                    records.push(chunk[s..e].to_vec());
                }
            }
            Step::Done => return (records, Outcome::Done),
            Step::NotRecords => return (records, Outcome::NotRecords),
            Step::Error(message) => {
                assert!(!message.is_empty());
                return (records, Outcome::Error);
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
    let whole = split(data, &[data.len().max(1)]);
    let chunked = split(data, &pieces);
    assert_eq!(whole.1, chunked.1, "outcome depends on where reads stop");
    if whole.1 != Outcome::Error {
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
    assert_eq!(
        whole.1,
        Outcome::Done,
        "a valid Records document was not split"
    );
    let got: Vec<serde_json::Value> = whole
        .0
        .iter()
        .map(|r| serde_json::from_slice(r).expect("a record of a valid document parses"))
        .collect();
    assert_eq!(&got, want, "records differ from the parsed document");
});
