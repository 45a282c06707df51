//! Finding where a JSON object or array ends, 64 bytes at a time: bitmasks of quotes,
//! backslashes and brackets, the escaped characters and the inside of strings derived from them
//! (simdjson's stage-1 idea), then only the brackets outside strings visited one by one.
//!
//! It is the fast path of [`super::json_scan::value_end`] for containers, which is what splits a
//! `{"Records":[…]}` file into records: the byte-at-a-time scan there spent most of its time
//! stepping through strings, which are most of CloudTrail's bytes. It answers only when the
//! container is complete and well-bracketed and every backslash is inside a string; anything
//! else (an error, or input that ends first) is left to the byte-at-a-time scanner, which then
//! reports exactly what is wrong. So both always agree, which a property test checks.

use super::json_scan::MAX_DEPTH;

/// The end (exclusive) of the object or array whose opening bracket is at `i`, or `None` when
/// the byte-at-a-time scanner must decide.
pub fn container_end(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?;
    let mut stack = [0u8; MAX_DEPTH];
    let mut depth = 0usize;
    // Carried from block to block: inside a string; the next byte is escaped.
    let mut in_string = false;
    let mut escape_next = false;
    let mut blocks = rest.chunks_exact(64);
    let mut base = 0usize;
    let mut visit =
        |block: &[u8; 64], base: usize, in_string: &mut bool, escape_next: &mut bool| {
            let m = classify(block);
            let escaped = escaped(m.backslash, escape_next);
            let quotes = m.quote & !escaped;
            let inside = prefix_xor(quotes) ^ if *in_string { u64::MAX } else { 0 };
            *in_string = inside >> 63 == 1;
            if m.backslash & !inside != 0 {
                // A backslash outside a string: not JSON; let the byte scanner say so.
                return Err(());
            }
            let mut brackets = (m.open | m.close) & !inside;
            while brackets != 0 {
                let k = brackets.trailing_zeros() as usize;
                brackets &= brackets - 1;
                let c = block[k];
                if c == b'{' || c == b'[' {
                    if depth == MAX_DEPTH {
                        return Err(());
                    }
                    stack[depth] = if c == b'{' { b'}' } else { b']' };
                    depth += 1;
                } else {
                    if depth == 0 || stack[depth - 1] != c {
                        return Err(());
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Some(i + base + k + 1));
                    }
                }
            }
            Ok(None)
        };
    for block in blocks.by_ref() {
        let block: &[u8; 64] = block.try_into().ok()?;
        match visit(block, base, &mut in_string, &mut escape_next) {
            Ok(Some(end)) => return Some(end),
            Ok(None) => base += 64,
            Err(()) => return None,
        }
    }
    let tail = blocks.remainder();
    if tail.is_empty() {
        return None;
    }
    // The last partial block, padded with spaces (which are nothing to the scan).
    let mut last = [b' '; 64];
    last[..tail.len()].copy_from_slice(tail);
    match visit(&last, base, &mut in_string, &mut escape_next) {
        Ok(Some(end)) => Some(end),
        _ => None,
    }
}

/// One bit per byte of a 64-byte block.
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

/// Bit `k` set where `block[k] == c`, for each byte of interest.
#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; 64]) -> Masks {
    // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
    unsafe { sse2::classify(block) }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    use super::Masks;

    #[target_feature(enable = "sse2")]
    fn eq(v: __m128i, c: u8) -> __m128i {
        _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))
    }

    #[target_feature(enable = "sse2")]
    fn bits(v: __m128i) -> u64 {
        _mm_movemask_epi8(v) as u16 as u64
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn classify(block: &[u8; 64]) -> Masks {
        let mut m = Masks {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for (lane, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: `chunk` is 16 readable bytes; `loadu` has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>()) };
            let shift = 16 * lane;
            m.quote |= bits(eq(v, b'"')) << shift;
            m.backslash |= bits(eq(v, b'\\')) << shift;
            m.open |= bits(_mm_or_si128(eq(v, b'{'), eq(v, b'['))) << shift;
            m.close |= bits(_mm_or_si128(eq(v, b'}'), eq(v, b']'))) << shift;
        }
        m
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64]) -> Masks {
    let mut m = Masks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    for (k, &c) in block.iter().enumerate() {
        let bit = 1u64 << k;
        match c {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            _ => {}
        }
    }
    m
}

/// The bytes escaped by a backslash: each backslash that is not itself escaped escapes the next
/// byte (which may be in the next block: `escape_next`). Backslashes are rare in CloudTrail,
/// so visiting them one by one is cheaper than simdjson's carry arithmetic, and plainly right.
fn escaped(mut backslash: u64, escape_next: &mut bool) -> u64 {
    let mut escaped = 0u64;
    if std::mem::take(escape_next) {
        escaped |= 1;
        backslash &= !1;
    }
    while backslash != 0 {
        let k = backslash.trailing_zeros();
        if k == 63 {
            *escape_next = true;
            break;
        }
        escaped |= 1 << (k + 1);
        // The escaped byte, if a backslash, escapes nothing.
        backslash &= !(0b11 << k);
    }
    escaped
}

/// Bit `k` of the result is the parity of bits `0..=k` of `x`: 1 from an opening quote up to
/// (not including) its closing quote.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json_scan::container_end_bytewise;
    use proptest::prelude::*;

    /// The byte-at-a-time answer.
    fn reference(b: &[u8], i: usize) -> Option<usize> {
        container_end_bytewise(b, i).ok()
    }

    #[test]
    fn ends_of_containers_across_blocks() {
        let long = format!(r#"{{"a":"{}","b":[1,{{"c":"]}}"}}]}}"#, "x".repeat(100));
        assert_eq!(container_end(long.as_bytes(), 0), Some(long.len()));
        let doc = br#"[{"k":"v\"}"},{"k":"\\"}] trailing"#;
        assert_eq!(container_end(doc, 0), Some(25));
        assert_eq!(container_end(doc, 1), Some(13));
        assert_eq!(reference(doc, 0), Some(25));
        // Escapes across a block boundary: the backslash is byte 63, the quote byte 64.
        let mut s = String::from(r#"{"k":""#);
        s.push_str(&"y".repeat(63 - s.len()));
        s.push_str(r#"\"still inside"}"#);
        assert_eq!(s.as_bytes()[63], b'\\');
        assert_eq!(container_end(s.as_bytes(), 0), Some(s.len()));
        assert_eq!(container_end(s.as_bytes(), 0), reference(s.as_bytes(), 0));
    }

    #[test]
    fn leaves_errors_and_incomplete_input_to_the_byte_scanner() {
        for bad in [
            &br#"{"a":[1}"#[..],
            br#"{"a":"#,
            br#"{"a":"unterminated}"#,
            br#"{"a":1"#,
            br#"{\"a":1}"#,
            br#"]"#,
        ] {
            assert_eq!(
                container_end(bad, 0),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(container_end(deep.as_bytes(), 0), None);
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(container_end(ok.as_bytes(), 0), Some(ok.len()));
    }

    /// Short JSON-ish documents made of the bytes that matter, in runs long enough to cross
    /// block boundaries.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"{"[..]),
            Just(&b"}"[..]),
            Just(&b"["[..]),
            Just(&b"]"[..]),
            Just(&b"\""[..]),
            Just(&b"\\"[..]),
            Just(&b"\\\\"[..]),
            Just(&b"\\\""[..]),
            Just(&b","[..]),
            Just(&b":"[..]),
            Just(&b"abcdefghijklmnopqrstuvwxyz0123456789"[..]),
            Just(&b" "[..]),
        ];
        prop::collection::vec(piece, 0..80).prop_map(|ps| {
            let mut v = vec![b'{'];
            ps.iter().for_each(|p| v.extend_from_slice(p));
            v
        })
    }

    /// Well-formed containers with strings full of escapes.
    fn valid() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            "[\"\\\\a-z{}\\[\\]\u{e9} ]{0,70}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::vec(("[a-z\"\\\\]{0,8}", inner), 0..6)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
        .prop_map(|v| {
            let v = match v {
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => v,
                other => serde_json::Value::Array(vec![other]),
            };
            let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
            bytes.extend_from_slice(b" ,{\"next\":1}");
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_the_byte_scanner_when_it_answers(doc in jsonish()) {
            if let Some(end) = container_end(&doc, 0) {
                prop_assert_eq!(Some(end), reference(&doc, 0));
            }
        }

        #[test]
        fn answers_for_every_valid_container(doc in valid()) {
            let end = container_end(&doc, 0);
            prop_assert!(end.is_some());
            prop_assert_eq!(end, reference(&doc, 0));
            prop_assert_eq!(&doc[end.unwrap_or(0)..], &b" ,{\"next\":1}"[..]);
        }
    }
}
