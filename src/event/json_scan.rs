//! A structural JSON scanner: where values, members and elements begin and end, without
//! building values. Envelopes are unwrapped with it, so a record inside `{"Records":[…]}` is a
//! sub-slice of the original bytes (which the enricher then extends in place).
//!
//! It checks structure (strings closed, brackets balanced and matching, `:` and `,` where they
//! belong) but not every detail of the grammar; records it delimits are fully validated later by
//! simd-json when a filter needs them.

use std::ops::Range;

/// Why the bytes are not the JSON structure expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct ScanError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What was expected.
    pub what: &'static str,
    /// The input ended before the value did (more bytes could complete it).
    pub incomplete: bool,
}

fn err(at: usize, what: &'static str) -> ScanError {
    ScanError {
        at,
        what,
        incomplete: false,
    }
}

fn eof(at: usize, what: &'static str) -> ScanError {
    ScanError {
        at,
        what,
        incomplete: true,
    }
}

/// Index of the first non-whitespace byte at or after `i`.
#[inline]
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `b` without JSON whitespace at either end.
pub fn trim(b: &[u8]) -> &[u8] {
    let start = skip_ws(b, 0);
    let mut end = b.len();
    while end > start && matches!(b[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        end -= 1;
    }
    &b[start..end]
}

/// End (exclusive) of the string whose opening quote is at `i`.
#[inline]
pub fn string_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    loop {
        match memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
            Some(k) if b[j + k] == b'"' => return Ok(j + k + 1),
            Some(k) => j += k + 2, // skip the escaped character
            None => return Err(eof(i, "unterminated string")),
        }
    }
}

/// End (exclusive) of the value starting at `i` (which must not be whitespace).
///
/// A literal or number that runs to the end of `b` is incomplete: more input could extend it
/// (`12` then `3`), and a streaming caller must not take it as the whole value. Every value this
/// scanner delimits is inside a container, so complete input always has a delimiter after one.
pub fn value_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        None => Err(eof(i, "expected a value")),
        Some(b'"') => string_end(b, i),
        // The block scanner answers for complete, well-formed containers; errors and input that
        // ends early are reported by the byte-at-a-time scan.
        Some(b'{' | b'[') => match super::structural::container_end(b, i) {
            Some(end) => Ok(end),
            None => container_end_bytewise(b, i),
        },
        Some(_) => {
            // Literals and numbers run to the next structural character or whitespace.
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                if matches!(b[j], b'{' | b'[' | b'"' | b':') {
                    return Err(err(j, "unexpected character in a value"));
                }
                j += 1;
            }
            if j == i {
                Err(err(i, "expected a value"))
            } else if j == b.len() {
                Err(eof(j, "unexpected end of input in a value"))
            } else {
                Ok(j)
            }
        }
    }
}

/// Deepest nesting the scanner follows (simd-json's limit too).
pub const MAX_DEPTH: usize = 128;

/// End of the object or array at `i`, checking that brackets match, one byte at a time.
pub(crate) fn container_end_bytewise(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut stack = [0u8; MAX_DEPTH];
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_end(b, j)?;
                continue;
            }
            c @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return Err(err(j, "nesting too deep"));
                }
                stack[depth] = if c == b'{' { b'}' } else { b']' };
                depth += 1;
            }
            c @ (b'}' | b']') => {
                if depth == 0 || stack[depth - 1] != c {
                    return Err(err(j, "mismatched bracket"));
                }
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(eof(b.len(), "unexpected end of input (unclosed bracket)"))
}

/// Calls `f(key, value)` for each member of the object at `i` (`key` is the raw string content,
/// without quotes); returns the end of the object.
pub fn members(
    b: &[u8],
    i: usize,
    mut f: impl FnMut(&[u8], Range<usize>),
) -> Result<usize, ScanError> {
    if b.get(i) != Some(&b'{') {
        return Err(err(i, "expected an object"));
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Ok(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return Err(err(j, "expected a member name"));
        }
        let key_end = string_end(b, j)?;
        let key = &b[j + 1..key_end - 1];
        j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return Err(err(j, "expected ':'"));
        }
        j = skip_ws(b, j + 1);
        let end = value_end(b, j)?;
        f(key, j..end);
        j = skip_ws(b, end);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b'}') => return Ok(j + 1),
            _ => return Err(err(j, "expected ',' or '}'")),
        }
    }
}

/// Calls `f(element)` for each element of the array at `i`; returns the end of the array.
pub fn elements(b: &[u8], i: usize, mut f: impl FnMut(Range<usize>)) -> Result<usize, ScanError> {
    if b.get(i) != Some(&b'[') {
        return Err(err(i, "expected an array"));
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return Ok(j + 1);
    }
    loop {
        let end = value_end(b, j)?;
        f(j..end);
        j = skip_ws(b, end);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b']') => return Ok(j + 1),
            _ => return Err(err(j, "expected ',' or ']'")),
        }
    }
}

/// Decodes the JSON string whose raw content (between the quotes) is `raw` into `out`
/// (appending). Fails on bad escapes and lone surrogates.
pub fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Result<(), ScanError> {
    let mut i = 0;
    while i < raw.len() {
        let Some(k) = memchr::memchr(b'\\', &raw[i..]) else {
            out.extend_from_slice(&raw[i..]);
            return Ok(());
        };
        out.extend_from_slice(&raw[i..i + k]);
        i += k;
        let c = *raw.get(i + 1).ok_or_else(|| err(i, "bad escape"))?;
        i += 2;
        let byte = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut cp = hex4(raw, i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) {
                    if raw.get(i) != Some(&b'\\') || raw.get(i + 1) != Some(&b'u') {
                        return Err(err(i, "lone surrogate in \\u escape"));
                    }
                    let low = hex4(raw, i + 2)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(err(i, "lone surrogate in \\u escape"));
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
                let ch = char::from_u32(cp).ok_or_else(|| err(i, "invalid \\u escape"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return Err(err(i - 2, "bad escape")),
        };
        out.push(byte);
    }
    Ok(())
}

fn hex4(raw: &[u8], i: usize) -> Result<u32, ScanError> {
    let h = raw
        .get(i..i + 4)
        .ok_or_else(|| err(i, "short \\u escape"))?;
    let s = std::str::from_utf8(h).map_err(|_| err(i, "bad \\u escape"))?;
    u32::from_str_radix(s, 16).map_err(|_| err(i, "bad \\u escape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_members() {
        let doc = br#"{"a": {"b": [1, "x]}", {"c": null}]}, "d" : "e\"f", "g":-1.5e3}"#;
        let mut seen = Vec::new();
        let end = members(doc, 0, |k, v| {
            seen.push((
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(&doc[v]).into_owned(),
            ))
        })
        .unwrap();
        assert_eq!(end, doc.len());
        assert_eq!(
            seen[0],
            ("a".into(), r#"{"b": [1, "x]}", {"c": null}]}"#.into())
        );
        assert_eq!(seen[1], ("d".into(), r#""e\"f""#.into()));
        assert_eq!(seen[2], ("g".into(), "-1.5e3".into()));
    }

    #[test]
    fn elements_of_arrays() {
        let doc = br#"[ {"x":1} , {"y":[2]} ]"#;
        let mut got = Vec::new();
        elements(doc, 0, |r| got.push(r)).unwrap();
        assert_eq!(&doc[got[0].clone()], br#"{"x":1}"#);
        assert_eq!(&doc[got[1].clone()], br#"{"y":[2]}"#);
        assert!(elements(b"[]", 0, |_| panic!()).is_ok());
    }

    #[test]
    fn malformed() {
        assert!(value_end(br#"{"a":[1}"#, 0).is_err());
        assert!(value_end(br#"{"a":"#, 0).is_err());
        assert!(value_end(br#""abc"#, 0).is_err());
        // A number at the end of the input may go on in the next read.
        assert!(value_end(b"12", 0).is_err_and(|e| e.incomplete));
        assert_eq!(value_end(b"12,", 0), Ok(2));
        assert!(members(br#"{"a":12"#, 0, |_, _| {}).is_err_and(|e| e.incomplete));
        assert!(members(br#"{"a" 1}"#, 0, |_, _| {}).is_err());
        assert!(members(br#"{"a":1,}"#, 0, |_, _| {}).is_err());
        assert!(elements(br#"[1 2]"#, 0, |_| {}).is_err());
    }

    #[test]
    fn unescaping() {
        let mut out = Vec::new();
        unescape(br#"a\"b\\c\/d\n\u00e9\ud83d\ude00"#, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\"b\\c/d\né😀");
        assert!(unescape(br#"\ud83d"#, &mut Vec::new()).is_err());
        assert!(unescape(br#"\x"#, &mut Vec::new()).is_err());
    }
}
