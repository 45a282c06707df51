//! Newline framing of byte streams (stdin, TCP, NDJSON files) with a hard line limit.
//!
//! The caller appends what it reads to a buffer; [`LineFramer::take`] splits off every complete
//! line as one chunk (a batch). A line that grows past the limit without a newline is discarded
//! as it arrives — memory stays bounded by the limit — and reported once.

use bytes::{Bytes, BytesMut};

/// What [`LineFramer::take`] found.
#[derive(Debug, Default)]
pub struct Taken {
    /// Complete lines, newline-terminated.
    pub lines: Option<Bytes>,
    /// The start of a line that was discarded for being too long (up to 1 KiB, for the dead
    /// letter), if one ended or began being discarded.
    pub oversize: Option<Bytes>,
}

/// Splits a stream into chunks of whole lines.
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// Inside a too-long line: drop bytes until the next newline.
    discarding: bool,
}

/// How much of a discarded line is kept for the dead letter.
const OVERSIZE_SAMPLE: usize = 1024;

impl LineFramer {
    /// A framer for lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer {
            max_line,
            discarding: false,
        }
    }

    /// Takes every complete line from `buf`, leaving a partial last line in it.
    pub fn take(&mut self, buf: &mut BytesMut) -> Taken {
        let mut taken = Taken::default();
        if self.discarding {
            match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    let _ = buf.split_to(i + 1);
                    self.discarding = false;
                }
                None => {
                    buf.clear();
                    return taken;
                }
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', buf) {
            taken.lines = Some(buf.split_to(last + 1).freeze());
        }
        if buf.len() > self.max_line {
            // The partial line is already too long: keep a sample, drop the rest as it comes.
            taken.oversize = Some(Bytes::copy_from_slice(
                &buf[..OVERSIZE_SAMPLE.min(buf.len())],
            ));
            buf.clear();
            self.discarding = true;
        }
        taken
    }

    /// At end of input: the last line, if it had no newline.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Option<Bytes> {
        if self.discarding || buf.is_empty() {
            buf.clear();
            return None;
        }
        Some(buf.split().freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_whole_lines_and_bounds_long_ones() {
        let mut f = LineFramer::new(8);
        let mut buf = BytesMut::from(&b"a\nbb\ncc"[..]);
        let t = f.take(&mut buf);
        assert_eq!(t.lines.as_deref(), Some(&b"a\nbb\n"[..]));
        assert_eq!(&buf[..], b"cc");
        buf.extend_from_slice(b"ccccccccc");
        let t = f.take(&mut buf);
        assert!(t.lines.is_none());
        assert!(t.oversize.is_some());
        assert!(buf.is_empty());
        buf.extend_from_slice(b"still long\nok\n");
        let t = f.take(&mut buf);
        assert_eq!(t.lines.as_deref(), Some(&b"ok\n"[..]));
        buf.extend_from_slice(b"tail");
        assert!(f.take(&mut buf).lines.is_none());
        assert_eq!(f.finish(&mut buf).as_deref(), Some(&b"tail"[..]));
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
            Framing::Lines => vec!["<lines>".into()],
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
        assert!(frame_body(br#"{"a":"#, Some("application/json")).is_err());
    }
}
