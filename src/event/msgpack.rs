//! MessagePack: where values end in a stream, the record inside a Fluent entry, and records as
//! JSON text for the engine.
//!
//! Fluent Bit and Fluentd speak MessagePack (the `forward` output, and `tcp` with `Format
//! msgpack`). The engine reads JSON, so each record is transcoded to compact JSON once, in the
//! worker, with nothing parsed twice: [`ValueScan`] checks a stream's structure as it arrives
//! (resumably, so a value split over reads is never rescanned and an oversize one can be skipped
//! without holding it), and [`to_json`] writes a value that passed the scan.

use std::ops::Range;

use base64::Engine as _;
use rmp::Marker;

/// Deepest nesting accepted (a record deeper than this is not an event anyone sends).
pub const MAX_DEPTH: usize = 128;

/// Why bytes are not the MessagePack expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    /// 0xc1 is reserved and never valid.
    #[error("byte 0xc1 at offset {0} is not a MessagePack type")]
    Reserved(usize),
    /// Too deep to be a record.
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The value ends before its declared length.
    #[error("the value is truncated")]
    Truncated,
    /// Well-formed, but not the shape the protocol defines.
    #[error("{0}")]
    Shape(&'static str),
}

/// The head of one value: what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// A scalar whose payload (string bytes, binary, extension data) is this long.
    Scalar(u64),
    /// An array or map with this many child values (a map counts keys and values).
    Container(u64),
}

/// Reads the head at the start of `b`: `None` if `b` is too short to hold it.
fn head(b: &[u8], at: usize) -> Result<Option<(Head, usize)>, MsgpackError> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    let be = |n: usize| -> Option<u64> {
        let bytes = b.get(1..1 + n)?;
        Some(bytes.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
    };
    // (head, bytes of the head) for a head with an `n`-byte big-endian length after the marker.
    let sized = |n: usize, extra: usize, container: bool, factor: u64| {
        be(n).map(|len| {
            let count = len * factor;
            let h = if container {
                Head::Container(count)
            } else {
                Head::Scalar(count + extra as u64)
            };
            (h, 1 + n)
        })
    };
    let fixed = |payload: u64| Some((Head::Scalar(payload), 1));
    Ok(match Marker::from_u8(first) {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            fixed(0)
        }
        Marker::Reserved => return Err(MsgpackError::Reserved(at)),
        Marker::U8 | Marker::I8 => fixed(1),
        Marker::U16 | Marker::I16 => fixed(2),
        Marker::U32 | Marker::I32 | Marker::F32 => fixed(4),
        Marker::U64 | Marker::I64 | Marker::F64 => fixed(8),
        // Fixed extensions: a type byte and 1–16 data bytes.
        Marker::FixExt1 => fixed(2),
        Marker::FixExt2 => fixed(3),
        Marker::FixExt4 => fixed(5),
        Marker::FixExt8 => fixed(9),
        Marker::FixExt16 => fixed(17),
        Marker::FixStr(n) => fixed(u64::from(n)),
        Marker::Str8 | Marker::Bin8 => sized(1, 0, false, 1),
        Marker::Str16 | Marker::Bin16 => sized(2, 0, false, 1),
        Marker::Str32 | Marker::Bin32 => sized(4, 0, false, 1),
        // The extension's type byte follows the length.
        Marker::Ext8 => sized(1, 1, false, 1),
        Marker::Ext16 => sized(2, 1, false, 1),
        Marker::Ext32 => sized(4, 1, false, 1),
        Marker::FixArray(n) => Some((Head::Container(u64::from(n)), 1)),
        Marker::FixMap(n) => Some((Head::Container(2 * u64::from(n)), 1)),
        Marker::Array16 => sized(2, 0, true, 1),
        Marker::Array32 => sized(4, 0, true, 1),
        Marker::Map16 => sized(2, 0, true, 2),
        Marker::Map32 => sized(4, 0, true, 2),
    })
}

/// How far [`ValueScan::advance`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The value ends after this many bytes of the input.
    Ended(usize),
    /// The value goes on: this many bytes were consumed (the rest is the start of a head that
    /// did not fit; pass it again with more input).
    Partial(usize),
}

/// A resumable scan of one value: feed it input as it arrives and it says where the value ends,
/// having checked every head on the way (see the module docs).
#[derive(Debug, Default, Clone)]
pub struct ValueScan {
    /// Child values still to come, per open container.
    open: Vec<u64>,
    /// Payload bytes of the current scalar still to skip.
    skip: u64,
    /// Bytes consumed since the value began (for error offsets).
    offset: usize,
}

impl ValueScan {
    /// Consumes input from the start of `b`; see [`Scan`].
    pub fn advance(&mut self, b: &[u8]) -> Result<Scan, MsgpackError> {
        let mut i = 0;
        loop {
            if self.skip > 0 {
                let take = self.skip.min((b.len() - i) as u64);
                i += take as usize;
                self.skip -= take;
                if self.skip > 0 {
                    self.offset += i;
                    return Ok(Scan::Partial(i));
                }
                if self.close_value() {
                    return Ok(self.ended(i));
                }
                continue;
            }
            let Some((h, len)) = head(&b[i..], self.offset + i)? else {
                self.offset += i;
                return Ok(Scan::Partial(i));
            };
            i += len;
            match h {
                Head::Scalar(0) | Head::Container(0) => {
                    if self.close_value() {
                        return Ok(self.ended(i));
                    }
                }
                Head::Scalar(n) => self.skip = n,
                Head::Container(n) => {
                    if self.open.len() == MAX_DEPTH {
                        return Err(MsgpackError::TooDeep);
                    }
                    self.open.push(n);
                }
            }
        }
    }

    fn ended(&mut self, i: usize) -> Scan {
        self.offset = 0;
        Scan::Ended(i)
    }

    /// A value is complete: counts it against its container; true when the outermost value is
    /// complete.
    fn close_value(&mut self) -> bool {
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }
}

/// The end of the value starting at `start` (`None` when `b` ends first).
pub fn value_end(b: &[u8], start: usize) -> Result<Option<usize>, MsgpackError> {
    match ValueScan::default().advance(b.get(start..).unwrap_or_default())? {
        Scan::Ended(n) => Ok(Some(start + n)),
        Scan::Partial(_) => Ok(None),
    }
}

/// The end of the complete value at `start`; truncation is an error.
pub fn complete_end(b: &[u8], start: usize) -> Result<usize, MsgpackError> {
    value_end(b, start)?.ok_or(MsgpackError::Truncated)
}

/// An array's length and the offset of its first element, if `b[at..]` starts with an array.
pub fn array_len(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let rest = b.get(at..).unwrap_or_default();
    match (rest.first().map(|&m| Marker::from_u8(m)), head(rest, at)) {
        (Some(Marker::FixArray(_) | Marker::Array16 | Marker::Array32), Ok(Some((h, len)))) => {
            match h {
                Head::Container(n) => Some((usize::try_from(n).ok()?, at + len)),
                Head::Scalar(_) => None,
            }
        }
        _ => None,
    }
}

/// A map's number of pairs and the offset of its first key, if `b[at..]` starts with a map.
pub fn map_len(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let rest = b.get(at..).unwrap_or_default();
    match (rest.first().map(|&m| Marker::from_u8(m)), head(rest, at)) {
        (Some(Marker::FixMap(_) | Marker::Map16 | Marker::Map32), Ok(Some((h, len)))) => match h {
            Head::Container(n) => Some((usize::try_from(n / 2).ok()?, at + len)),
            Head::Scalar(_) => None,
        },
        _ => None,
    }
}

/// The bytes of a string or binary value at `at`, and where the value ends.
pub fn bytes_at(b: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let marker = Marker::from_u8(*b.get(at)?);
    let is_bytes = matches!(
        marker,
        Marker::FixStr(_)
            | Marker::Str8
            | Marker::Str16
            | Marker::Str32
            | Marker::Bin8
            | Marker::Bin16
            | Marker::Bin32
    );
    if !is_bytes {
        return None;
    }
    let (Head::Scalar(n), len) = head(&b[at..], at).ok()?? else {
        return None;
    };
    let start = at + len;
    let end = start.checked_add(usize::try_from(n).ok()?)?;
    Some((b.get(start..end)?, end))
}

/// Whether the value at `at` is a map (a record).
pub fn is_map(b: &[u8], at: usize) -> bool {
    map_len(b, at).is_some()
}

/// The record of one Fluent entry held whole in `b[range]`: `[time, record]`, `[[time,
/// metadata], record]` (Fluent Bit's event format 2), or a bare record map.
pub fn entry_record(b: &[u8], range: Range<usize>) -> Result<Range<usize>, MsgpackError> {
    const SHAPE: &str = "expected an entry [time, record] or [[time, metadata], record]";
    let entry = &b[..range.end];
    if is_map(entry, range.start) {
        return Ok(range);
    }
    let Some((2, first)) = array_len(entry, range.start) else {
        return Err(MsgpackError::Shape(SHAPE));
    };
    let record = complete_end(entry, first)?;
    if !is_map(entry, record) {
        return Err(MsgpackError::Shape(
            "the entry's record is not a map (expected [time, record])",
        ));
    }
    Ok(record..complete_end(entry, record)?)
}

/// Appends the JSON text of the complete value at the start of `b` to `out`; returns the bytes
/// the value took. Strings are copied as they are (invalid UTF-8 is caught where every event is
/// checked); binary values and unknown extensions become base64 strings; Fluent's EventTime
/// (extension 0) becomes seconds with nanoseconds; map keys that are numbers, booleans, nil or
/// binary are written as strings of their JSON, and keys that are arrays or maps (which JSON
/// cannot express) as `"(array)"` and `"(map)"`.
pub fn to_json(b: &[u8], out: &mut Vec<u8>) -> Result<usize, MsgpackError> {
    write_value(b, 0, out, 0)
}

fn write_value(
    b: &[u8],
    at: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<usize, MsgpackError> {
    if depth > MAX_DEPTH {
        return Err(MsgpackError::TooDeep);
    }
    let Some(&first) = b.get(at) else {
        return Err(MsgpackError::Truncated);
    };
    let int = |n: usize| -> Result<&[u8], MsgpackError> {
        b.get(at + 1..at + 1 + n).ok_or(MsgpackError::Truncated)
    };
    let mut itoa = itoa::Buffer::new();
    let marker = Marker::from_u8(first);
    let end = match marker {
        Marker::Null => {
            out.extend_from_slice(b"null");
            at + 1
        }
        Marker::True => {
            out.extend_from_slice(b"true");
            at + 1
        }
        Marker::False => {
            out.extend_from_slice(b"false");
            at + 1
        }
        Marker::FixPos(n) => {
            out.extend_from_slice(itoa.format(n).as_bytes());
            at + 1
        }
        Marker::FixNeg(n) => {
            out.extend_from_slice(itoa.format(n).as_bytes());
            at + 1
        }
        Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            let n = 1 << (first - 0xcc);
            let v = int(n)?.iter().fold(0u64, |a, &x| a << 8 | u64::from(x));
            out.extend_from_slice(itoa.format(v).as_bytes());
            at + 1 + n
        }
        Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
            let n = 1 << (first - 0xd0);
            let raw = int(n)?.iter().fold(0u64, |a, &x| a << 8 | u64::from(x));
            // Sign-extend from n bytes.
            let shift = 64 - 8 * n as u32;
            let v = ((raw << shift) as i64) >> shift;
            out.extend_from_slice(itoa.format(v).as_bytes());
            at + 1 + n
        }
        Marker::F32 => {
            let bytes: [u8; 4] = int(4)?.try_into().map_err(|_| MsgpackError::Truncated)?;
            write_float(f64::from(f32::from_be_bytes(bytes)), out);
            at + 5
        }
        Marker::F64 => {
            let bytes: [u8; 8] = int(8)?.try_into().map_err(|_| MsgpackError::Truncated)?;
            write_float(f64::from_be_bytes(bytes), out);
            at + 9
        }
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let (s, end) = bytes_at(b, at).ok_or(MsgpackError::Truncated)?;
            write_string(s, out);
            end
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let (s, end) = bytes_at(b, at).ok_or(MsgpackError::Truncated)?;
            write_base64(s, out);
            end
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => {
            let Some((Head::Scalar(n), len)) = head(&b[at..], at)? else {
                return Err(MsgpackError::Truncated);
            };
            let end = (at + len)
                .checked_add(usize::try_from(n).map_err(|_| MsgpackError::Truncated)?)
                .ok_or(MsgpackError::Truncated)?;
            let body = b.get(at + len..end).ok_or(MsgpackError::Truncated)?;
            let (kind, data) = body.split_first().ok_or(MsgpackError::Truncated)?;
            match (kind, data.len()) {
                (0, 8) => {
                    let secs = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                    let nanos = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                    out.extend_from_slice(itoa.format(secs).as_bytes());
                    out.push(b'.');
                    let frac = itoa::Buffer::new().format(nanos).to_owned();
                    out.extend(std::iter::repeat_n(b'0', 9usize.saturating_sub(frac.len())));
                    out.extend_from_slice(frac.as_bytes());
                }
                _ => write_base64(data, out),
            }
            end
        }
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let (n, mut i) = array_len(b, at).ok_or(MsgpackError::Truncated)?;
            out.push(b'[');
            for k in 0..n {
                if k > 0 {
                    out.push(b',');
                }
                i = write_value(b, i, out, depth + 1)?;
            }
            out.push(b']');
            i
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let (n, mut i) = map_len(b, at).ok_or(MsgpackError::Truncated)?;
            out.push(b'{');
            for k in 0..n {
                if k > 0 {
                    out.push(b',');
                }
                i = match bytes_at(b, i) {
                    Some((key, end)) if !matches!(b[i], 0xc4..=0xc6) => {
                        write_string(key, out);
                        end
                    }
                    _ if array_len(b, i).is_some() || map_len(b, i).is_some() => {
                        // JSON has no such key, and writing its JSON as a string would escape
                        // the keys inside it again at every level (exponential output).
                        let name: &[u8] = if array_len(b, i).is_some() {
                            b"(array)"
                        } else {
                            b"(map)"
                        };
                        write_string(name, out);
                        complete_end(b, i)?
                    }
                    _ => {
                        // A scalar key that is not a string (a number, bool, nil, binary): its
                        // JSON, as a string.
                        let mut key = Vec::new();
                        let end = write_value(b, i, &mut key, depth + 1)?;
                        write_string(&key, out);
                        end
                    }
                };
                out.push(b':');
                i = write_value(b, i, out, depth + 1)?;
            }
            out.push(b'}');
            i
        }
        Marker::Reserved => return Err(MsgpackError::Reserved(at)),
    };
    Ok(end)
}

fn write_float(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        // JSON has no NaN or infinity.
        out.extend_from_slice(b"null");
    }
}

fn write_base64(data: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(data)
            .as_bytes(),
    );
    out.push(b'"');
}

/// Writes `s` as a JSON string: quotes, backslashes and control characters escaped, every
/// other byte as it is.
fn write_string(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut clean = 0;
    for (i, &c) in s.iter().enumerate() {
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[clean..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        clean = i + 1;
    }
    out.extend_from_slice(&s[clean..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &serde_json::Value) -> String {
        let packed = rmp_serde::to_vec(v).unwrap();
        let mut out = Vec::new();
        let n = to_json(&packed, &mut out).unwrap();
        assert_eq!(n, packed.len());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn transcodes_every_json_type() {
        let v = serde_json::json!({
            "s": "a \"q\" \\ \n\t\u{1}é", "i": -5, "big": 18446744073709551615u64,
            "neg": -9223372036854775808i64, "f": 1.5, "t": true, "n": null,
            "a": [1, {"x": []}, "y"], "e": {}
        });
        let back: serde_json::Value = serde_json::from_str(&json(&v)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn event_time_binary_and_odd_keys() {
        // {1: bin "hi", "t": ext0(1700000000, 5 ns)}
        let mut b = vec![0x82, 0x01, 0xc4, 2, b'h', b'i', 0xa1, b't', 0xd7, 0x00];
        b.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        b.extend_from_slice(&5u32.to_be_bytes());
        let mut out = Vec::new();
        assert_eq!(to_json(&b, &mut out), Ok(b.len()));
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"1":"aGk=","t":1700000000.000000005}"#
        );
    }

    #[test]
    fn scan_finds_ends_across_any_split() {
        let v =
            serde_json::json!([[1, {}], {"eventName": "ConsoleLogin", "n": [1, 2, {"x": "yz"}]}]);
        let mut stream = rmp_serde::to_vec(&v).unwrap();
        let one = stream.len();
        stream.extend_from_slice(&stream.clone());
        for split in 0..=one {
            let mut scan = ValueScan::default();
            let got = match scan.advance(&stream[..split]).unwrap() {
                Scan::Ended(n) => n,
                Scan::Partial(n) => match scan.advance(&stream[n..]).unwrap() {
                    Scan::Ended(m) => n + m,
                    Scan::Partial(_) => panic!("no end after split {split}"),
                },
            };
            assert_eq!(got, one, "split at {split}");
        }
        assert_eq!(value_end(&stream, 0), Ok(Some(one)));
        assert_eq!(value_end(&stream[..one - 1], 0), Ok(None));
    }

    #[test]
    fn container_keys_do_not_blow_up() {
        // {{{…{1: 1}…: 1}: 1}: 1}, 100 levels: its JSON stays small.
        let mut b = vec![0x81; 100];
        b.extend_from_slice(&[0x81, 0x01, 0x01]);
        b.extend(std::iter::repeat_n(0x01, 100));
        let mut out = Vec::new();
        assert_eq!(to_json(&b, &mut out), Ok(b.len()));
        assert_eq!(out, br#"{"(map)":1}"#);
    }

    #[test]
    fn scan_rejects_reserved_and_deep_values() {
        assert_eq!(
            ValueScan::default().advance(&[0x92, 0x01, 0xc1]),
            Err(MsgpackError::Reserved(2))
        );
        let deep = vec![0x91; MAX_DEPTH + 1];
        assert_eq!(
            ValueScan::default().advance(&deep),
            Err(MsgpackError::TooDeep)
        );
        let mut out = Vec::new();
        assert_eq!(
            to_json(&[0xa5, b'a'], &mut out),
            Err(MsgpackError::Truncated)
        );
    }

    #[test]
    fn entries_give_their_record() {
        for v in [
            serde_json::json!([1700000000, {"a": 1}]),
            serde_json::json!([[1700000000, {}], {"a": 1}]),
            serde_json::json!({"a": 1}),
        ] {
            let b = rmp_serde::to_vec(&v).unwrap();
            let r = entry_record(&b, 0..b.len()).unwrap();
            let mut out = Vec::new();
            to_json(&b[r], &mut out).unwrap();
            assert_eq!(out, br#"{"a":1}"#);
        }
        for bad in [
            serde_json::json!([1, 2]),
            serde_json::json!("x"),
            serde_json::json!([1]),
        ] {
            let b = rmp_serde::to_vec(&bad).unwrap();
            assert!(matches!(
                entry_record(&b, 0..b.len()),
                Err(MsgpackError::Shape(_))
            ));
        }
    }
}
