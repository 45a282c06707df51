//! Fuzz target: newline framing of a stream read in arbitrary pieces. Every line no longer than
//! the limit comes out whole, in order; every longer line either comes out whole (it arrived
//! complete in one read; the worker rejects it) or is reported once as oversize with a sample
//! of its start — memory stays bounded and nothing else is lost or invented. Input appended to
//! the framer's buffer (reads) and input handed over as shared buffers (a mapped file) alike.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use trailwatch::event::framing::{Frame, Framer, LineFramer};

#[derive(Debug)]
enum Out {
    Line(Vec<u8>),
    Oversize(Vec<u8>),
}

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, sizes], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let max_line = 1 + limit as usize % 64;
    let pieces = [1 + (sizes & 0x0f) as usize, 1 + (sizes >> 4) as usize * 5];

    let shared = sizes & 1 == 1;
    let mut framer = LineFramer::new(max_line);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut fed, mut piece) = (0, 0);
    'feed: loop {
        let n = pieces[piece % pieces.len()].min(data.len() - fed);
        piece += 1;
        let mut input = Bytes::copy_from_slice(&data[fed..fed + n]);
        if !shared {
            buf.extend_from_slice(&input);
        }
        fed += n;
        let eof = fed == data.len();
        loop {
            let frame = if shared {
                framer.next_shared(&mut buf, &mut input, eof)
            } else {
                framer.next(&mut buf, eof)
            };
            match frame {
                Frame::NeedMore => {
                    assert!(!eof, "NeedMore at end of input");
                    // The memory bound: between reads, at most one partial line of the limit
                    // (a batch may leave a longer tail, which the next call discards).
                    assert!(
                        buf.len() <= max_line,
                        "the framer holds more than one line's limit"
                    );
                    break;
                }
                Frame::Done => {
                    assert!(eof, "Done before end of input");
                    break 'feed;
                }
                Frame::Batch(lines, _) => {
                    let body = lines.strip_suffix(b"\n").unwrap_or(&lines);
                    if !lines.ends_with(b"\n") {
                        assert!(eof, "a chunk not ending with a newline before the end");
                    }
                    out.extend(body.split(|&b| b == b'\n').map(|l| Out::Line(l.to_vec())));
                }
                Frame::Oversize(sample) => out.push(Out::Oversize(sample.to_vec())),
                Frame::Reject { .. } => panic!("lines are never rejected"),
            }
        }
    }

    let mut want: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if want.last().is_some_and(|l| l.is_empty()) {
        want.pop();
    }
    assert_eq!(
        out.len(),
        want.len(),
        "lines lost or invented: {out:?} vs {want:?}"
    );
    for (got, line) in out.iter().zip(&want) {
        match got {
            Out::Line(l) => assert_eq!(l, line),
            Out::Oversize(sample) => {
                assert!(line.len() > max_line, "a short line reported as oversize");
                assert!(
                    line.starts_with(sample),
                    "the sample is not the line's start"
                );
                assert!(sample.len() >= (max_line + 1).min(1024));
            }
        }
    }
});
