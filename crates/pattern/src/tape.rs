//! Reading values out of a simd-json tape: a typed view of one node, child lookup, and skipping.
//!
//! On the tape an object or array node is followed by its whole subtree; `count` is the number of
//! nodes in that subtree, so the next sibling of node `i` is at `i + count + 1`.

use simd_json::{Node, StaticNode};

use crate::number::EventNumber;

/// What a selector reached in one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JsonRef<'t> {
    /// Nothing there.
    Missing,
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Number(EventNumber),
    /// A string (unescaped).
    Str(&'t str),
    /// An array, by its tape index.
    Array(usize),
    /// An object, by its tape index.
    Object(usize),
}

/// Sentinel for "no node" in slot tables.
pub(crate) const NONE: u32 = u32::MAX;

/// The number of tape nodes the value at `i` occupies.
#[inline]
pub(crate) fn width(tape: &[Node<'_>], i: usize) -> usize {
    match tape.get(i) {
        Some(Node::Object { count, .. } | Node::Array { count, .. }) => count + 1,
        _ => 1,
    }
}

/// A typed view of the node at `i` (`Missing` for `NONE`/out of range).
#[inline]
pub(crate) fn view<'t>(tape: &[Node<'t>], i: u32) -> JsonRef<'t> {
    if i == NONE {
        return JsonRef::Missing;
    }
    let i = i as usize;
    match tape.get(i) {
        None => JsonRef::Missing,
        Some(Node::String(s)) => JsonRef::Str(s),
        Some(Node::Object { .. }) => JsonRef::Object(i),
        Some(Node::Array { .. }) => JsonRef::Array(i),
        Some(Node::Static(s)) => match *s {
            StaticNode::Null => JsonRef::Null,
            StaticNode::Bool(b) => JsonRef::Bool(b),
            StaticNode::I64(v) => JsonRef::Number(EventNumber::Int(v)),
            StaticNode::U64(v) => JsonRef::Number(EventNumber::UInt(v)),
            StaticNode::F64(v) => JsonRef::Number(EventNumber::Float(v)),
            #[allow(unreachable_patterns)]
            _ => JsonRef::Missing,
        },
    }
}

/// The value under `key` in the object at `i`, last one winning when a key repeats.
pub(crate) fn member(tape: &[Node<'_>], i: usize, key: &str) -> Option<usize> {
    let Some(Node::Object { len, .. }) = tape.get(i) else {
        return None;
    };
    let mut at = i + 1;
    let mut found = None;
    for _ in 0..*len {
        let value = at + 1;
        if matches!(tape.get(at), Some(Node::String(k)) if *k == key) {
            found = Some(value);
        }
        at = value + width(tape, value);
    }
    found
}

/// Element `n` of the array at `i`.
pub(crate) fn element(tape: &[Node<'_>], i: usize, n: usize) -> Option<usize> {
    let Some(Node::Array { len, .. }) = tape.get(i) else {
        return None;
    };
    if n >= *len {
        return None;
    }
    let mut at = i + 1;
    for _ in 0..n {
        at += width(tape, at);
    }
    Some(at)
}

/// Calls `f` with the tape index of every child value of the array or object at `i` (object
/// values, not keys); stops early when `f` returns `true`. Returns whether it stopped early.
pub(crate) fn any_child(tape: &[Node<'_>], i: usize, mut f: impl FnMut(usize) -> bool) -> bool {
    let (len, is_object) = match tape.get(i) {
        Some(Node::Object { len, .. }) => (*len, true),
        Some(Node::Array { len, .. }) => (*len, false),
        _ => return false,
    };
    let mut at = i + 1;
    for n in 0..len {
        let value = if is_object { at + 1 } else { at };
        let next = value + width(tape, value);
        if !(is_object && key_repeats(tape, at, next, len - n - 1)) && f(value) {
            return true;
        }
        at = next;
    }
    false
}

/// Whether the key at `key` appears again among the `remaining` entries starting at `from`
/// (a repeated key is shadowed by its last occurrence).
fn key_repeats(tape: &[Node<'_>], key: usize, mut from: usize, remaining: usize) -> bool {
    let Some(Node::String(k)) = tape.get(key) else {
        return false;
    };
    for _ in 0..remaining {
        if matches!(tape.get(from), Some(Node::String(other)) if other == k) {
            return true;
        }
        from += 1;
        from += width(tape, from);
    }
    false
}

/// Whether the array at `i` directly contains a `null` (the `IS NULL` quirk).
pub(crate) fn array_has_null(tape: &[Node<'_>], i: usize) -> bool {
    matches!(tape.get(i), Some(Node::Array { .. }))
        && any_child(tape, i, |c| {
            matches!(tape.get(c), Some(Node::Static(StaticNode::Null)))
        })
}
