//! Fuzz target: MessagePack entry streams (Fluent Bit's `tcp` output, `Format msgpack`) read in
//! arbitrary pieces give exactly the records the whole stream read at once gives (the scan is
//! resumable, so where reads stop changes nothing), every record transcodes to JSON that parses
//! whenever its strings are UTF-8, and Forward protocol messages decode without panicking.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trailwatch::event::entries::EntryFramer;
use trailwatch::event::forward::{self, Entries, Message};
use trailwatch::event::framing::{Frame, Framer};
use trailwatch::event::{Batch, SourceKind};

/// The records (as JSON text) and the number of other frames, reading `piece` bytes at a time.
fn frame(data: &[u8], piece: usize, max: usize) -> (Vec<Vec<u8>>, usize) {
    let mut framer = EntryFramer::new(max);
    let mut buf = BytesMut::new();
    let mut records = Vec::new();
    let mut other = 0;
    let mut fed = 0;
    // Bounded: each round either consumes input or ends the stream.
    for _ in 0..data.len() * 4 + 16 {
        let eof = fed == data.len();
        match framer.next(&mut buf, eof) {
            Frame::NeedMore => {
                assert!(!eof, "NeedMore at the end of input");
                let n = piece.min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + n]);
                fed += n;
            }
            Frame::Batch(data, framing) => {
                let batch = Batch {
                    source: SourceKind::Tcp,
                    data,
                    framing,
                    budget: None,
                    ack: None,
                };
                batch.for_each_document(|d| records.push(d.to_vec()));
            }
            Frame::Oversize(sample) => {
                assert!(sample.len() <= 1024);
                other += 1;
            }
            Frame::Reject { .. } => other += 1,
            Frame::Done => return (records, other),
        }
    }
    panic!("the framer did not finish");
}

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, piece], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let max = 1 + limit as usize * 4;
    // (How many frames report drops may differ: an oversize entry that turns out malformed is
    // reported once whole, twice when it streams past. The records may not.)
    let (whole, _) = frame(data, data.len().max(1), max);
    let (pieces, _) = frame(data, 1 + piece as usize % 17, max);
    assert_eq!(whole, pieces, "records depend on where reads stop");
    for r in &whole {
        if std::str::from_utf8(r).is_ok() {
            serde_json::from_slice::<serde_json::Value>(r).expect("transcoded JSON parses");
        }
    }
    if let Ok(Message::Events(e)) = forward::decode(data) {
        if let Entries::Packed(p) = e.entries {
            let _ = forward::packed_records(&data[p]);
        }
    }
});
