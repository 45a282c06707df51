//! One Sigma detection item — a field, its modifiers and one value — and what it says about a
//! parsed event. This is the Sigma semantics table:
//!
//! | value (after modifiers) | holds when some value the field reaches … |
//! |---|---|
//! | string (with `*`, `?` wildcards; `contains`/`startswith`/`endswith` add `*`) | is a string, number or boolean whose text matches, case-insensitively unless `cased`; an object or array matches when some scalar inside it does (search inside an object) |
//! | number | is that number, or a string spelling it |
//! | boolean | is that boolean, or the string `true`/`false` (any case) |
//! | `null` | — holds when *no* reached value is other than null (the field is absent or null) |
//! | `exists: true/false` | exists at all (even null) / no value is reached |
//! | `lt` `lte` `gt` `gte` | is a number (or a string spelling one) so ordered against the value |
//! | `cidr` | is a string spelling an IP address inside the network |
//! | `re` | is a scalar whose text the regex finds (unanchored, case-sensitive unless `i`) |
//! | `fieldref` | equals (or contains, starts or ends with) a value of the referenced field |
//!
//! A dotted field name `a.b.c` descends into nested objects; an array met on the way, or at the
//! end, stands for each of its elements ("any element"), as Sigma's JSON backends do. A keyword
//! (a value without a field) is tested against every string value of the event.

use std::net::IpAddr;
use std::sync::Arc;

use simd_json::Node;

use crate::ast::CmpOp;
use crate::tape::{self, JsonRef};

/// A dotted field name, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    pub(crate) text: String,
    pub(crate) steps: Vec<String>,
}

impl FieldPath {
    pub(crate) fn new(text: &str) -> FieldPath {
        FieldPath {
            text: text.to_owned(),
            steps: text.split('.').map(str::to_owned).collect(),
        }
    }
}

/// One piece of a Sigma string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    One,
}

/// A Sigma string value with its wildcards, compiled.
#[derive(Debug, Clone)]
pub(crate) struct TextMatch {
    pub(crate) pieces: Vec<Piece>,
    pub(crate) cased: bool,
    /// The value without wildcards, when it has none.
    exact: Option<String>,
    /// The whole-value regex; `None` only for a cased exact value.
    regex: Option<regex::Regex>,
    /// `x*`, `*x` or `*x*` with an ASCII literal `x`.
    ascii_affix: Option<(String, Affix)>,
}

#[derive(Debug, Clone, Copy)]
enum Affix {
    Prefix,
    Suffix,
    Infix,
}

impl TextMatch {
    pub(crate) fn new(pieces: Vec<Piece>, cased: bool) -> TextMatch {
        let pieces = normalise(pieces);
        let exact = match &pieces[..] {
            [] => Some(String::new()),
            [Piece::Lit(s)] => Some(s.clone()),
            _ => None,
        };
        let regex = if cased && exact.is_some() {
            None
        } else {
            // A leading (trailing) `*` is an unanchored start (end): `^.*x.*$` is a search for
            // `x`, which the regex engine runs as a literal search.
            let mut body = &pieces[..];
            let (mut open_start, mut open_end) = (false, false);
            if let [Piece::Star, rest @ ..] = body {
                open_start = true;
                body = rest;
            }
            if let [rest @ .., Piece::Star] = body {
                open_end = true;
                body = rest;
            }
            let mut re = String::from(if cased { "(?s)" } else { "(?si)" });
            if !open_start {
                re.push('^');
            }
            for p in body {
                match p {
                    Piece::Lit(s) => re.push_str(&regex::escape(s)),
                    Piece::Star => re.push_str(".*"),
                    Piece::One => re.push('.'),
                }
            }
            if !open_end {
                re.push('$');
            }
            // Built from escaped literals and `.`/`.*` only: it always compiles (and is small).
            regex::Regex::new(&re).ok()
        };
        let ascii_affix = match &pieces[..] {
            [Piece::Lit(l), Piece::Star] => Some((l.clone(), Affix::Prefix)),
            [Piece::Star, Piece::Lit(l)] => Some((l.clone(), Affix::Suffix)),
            [Piece::Star, Piece::Lit(l), Piece::Star] => Some((l.clone(), Affix::Infix)),
            _ => None,
        }
        .filter(|(l, _)| l.is_ascii());
        TextMatch {
            pieces,
            cased,
            exact,
            regex,
            ascii_affix,
        }
    }

    /// The value without wildcards, if it has none.
    pub(crate) fn exact(&self) -> Option<&str> {
        self.exact.as_deref()
    }

    /// The value as Sigma writes it (wildcards `*` and `?`, literal ones escaped).
    pub(crate) fn sigma_text(&self) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => {
                    for c in s.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
                Piece::Star => out.push('*'),
                Piece::One => out.push('?'),
            }
        }
        out
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        // `x*`, `*x`, `*x*` with an ASCII literal on ASCII text: byte comparisons (for ASCII
        // text, simple case folding is ASCII case folding).
        if let Some((lit, kind)) = &self.ascii_affix {
            if text.is_ascii() {
                let (t, l) = (text.as_bytes(), lit.as_bytes());
                let eq = |a: &[u8]| {
                    if self.cased {
                        a == l
                    } else {
                        a.eq_ignore_ascii_case(l)
                    }
                };
                return match kind {
                    Affix::Prefix => t.len() >= l.len() && eq(&t[..l.len()]),
                    Affix::Suffix => t.len() >= l.len() && eq(&t[t.len() - l.len()..]),
                    Affix::Infix => l.is_empty() || t.windows(l.len()).any(eq),
                };
            }
        }
        if let Some(exact) = &self.exact {
            if self.cased {
                return text == exact;
            }
            // ASCII against ASCII: simple case folding is ASCII case folding.
            if text.is_ascii() && exact.is_ascii() {
                return text.eq_ignore_ascii_case(exact);
            }
        }
        self.regex.as_ref().is_some_and(|r| r.is_match(text))
    }
}

/// Merges adjacent literals and stars.
fn normalise(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match (out.last_mut(), p) {
            (Some(Piece::Lit(a)), Piece::Lit(b)) => a.push_str(&b),
            (Some(Piece::Star), Piece::Star) => {}
            (_, Piece::Lit(b)) if b.is_empty() => {}
            (_, p) => out.push(p),
        }
    }
    out
}

/// An IP network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub(crate) text: String,
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let net: IpAddr = addr.trim().parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then(|| Cidr {
            text: text.to_owned(),
            net,
            bits,
        })
    }

    pub(crate) fn contains(&self, text: &str) -> bool {
        let Ok(ip) = text.trim().parse::<IpAddr>() else {
            return false;
        };
        let (a, b, width) = match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        if self.bits == 0 {
            return true;
        }
        let shift = width - u32::from(self.bits);
        (a >> shift) == (b >> shift)
    }
}

/// How a field reference compares the two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// What one item tests.
#[derive(Debug, Clone)]
pub(crate) enum LeafTest {
    Text(TextMatch),
    /// A YAML number, with its text as written.
    Number(f64, String),
    Bool(bool),
    Null,
    Exists(bool),
    Compare(CmpOp, f64),
    Cidr(Cidr),
    Regex(regex::Regex),
    FieldRef {
        other: FieldPath,
        kind: RefKind,
        cased: bool,
    },
    /// An empty expansion (a placeholder with no values): holds for no event.
    Never,
}

/// One detection item, placed in the rule's condition (possibly negated).
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    /// The search identifier it belongs to.
    pub(crate) selection: Arc<str>,
    /// `None` for a keyword.
    pub(crate) field: Option<FieldPath>,
    pub(crate) test: LeafTest,
    /// The condition negates it (`not` pushed down to the items).
    pub(crate) negated: bool,
    /// Line of the item in the rule.
    pub(crate) line: usize,
    /// The item as written, `userAgent|contains: 'S3 Browser'`.
    pub(crate) written: Arc<str>,
}

impl Leaf {
    /// Whether the item, with its negation, holds for the event on `tape` (root at 0).
    pub(crate) fn holds(&self, tape: &[Node<'_>]) -> bool {
        self.positive(tape) != self.negated
    }

    /// Whether the item holds, ignoring the negation.
    pub(crate) fn positive(&self, tape: &[Node<'_>]) -> bool {
        let Some(field) = &self.field else {
            return any_string(tape, 0, &mut |s| match &self.test {
                LeafTest::Text(t) => t.matches(s),
                LeafTest::Regex(r) => r.is_match(s),
                _ => false,
            });
        };
        match &self.test {
            LeafTest::Null => !reach(tape, 0, &field.steps, &mut |v| v != JsonRef::Null),
            LeafTest::Exists(want) => reach(tape, 0, &field.steps, &mut |_| true) == *want,
            LeafTest::Never => false,
            LeafTest::FieldRef { other, kind, cased } => reach(tape, 0, &field.steps, &mut |a| {
                let mut abuf = NumBuf::default();
                let Some(a) = scalar_text(a, &mut abuf) else {
                    return false;
                };
                reach(tape, 0, &other.steps, &mut |b| {
                    let mut bbuf = NumBuf::default();
                    scalar_text(b, &mut bbuf).is_some_and(|b| compare_ref(a, b, *kind, *cased))
                })
            }),
            test => reach(tape, 0, &field.steps, &mut |v| value_holds(test, v, tape)),
        }
    }
}

/// Whether `test` holds for one reached value.
fn value_holds(test: &LeafTest, v: JsonRef<'_>, tape: &[Node<'_>]) -> bool {
    match (test, v) {
        (LeafTest::Text(_) | LeafTest::Regex(_), JsonRef::Object(i) | JsonRef::Array(i)) => {
            any_scalar(tape, i, &mut |s| value_holds(test, s, tape))
        }
        (LeafTest::Text(t), v) => {
            let mut buf = NumBuf::default();
            scalar_text(v, &mut buf).is_some_and(|s| t.matches(s))
        }
        (LeafTest::Regex(r), v) => {
            let mut buf = NumBuf::default();
            scalar_text(v, &mut buf).is_some_and(|s| r.is_match(s))
        }
        (LeafTest::Number(n, _), JsonRef::Number(e)) => e.as_f64() == *n,
        (LeafTest::Number(_, text), JsonRef::Str(s)) => s == text,
        (LeafTest::Bool(b), JsonRef::Bool(e)) => *b == e,
        (LeafTest::Bool(b), JsonRef::Str(s)) => {
            s.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        (LeafTest::Compare(op, n), v) => {
            let value = match v {
                JsonRef::Number(e) => Some(e.as_f64()),
                JsonRef::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            };
            value.is_some_and(|x| match op {
                CmpOp::Lt => x < *n,
                CmpOp::Le => x <= *n,
                CmpOp::Gt => x > *n,
                CmpOp::Ge => x >= *n,
                CmpOp::Eq => x == *n,
                CmpOp::Ne => x != *n,
            })
        }
        (LeafTest::Cidr(c), JsonRef::Str(s)) => c.contains(s),
        _ => false,
    }
}

/// Room for a number's or boolean's text, so reading a scalar as text does not allocate.
#[derive(Default)]
struct NumBuf(Option<crate::number::NumberText>);

/// The text of a scalar: a string itself, a number as written, `true`/`false`.
fn scalar_text<'a>(v: JsonRef<'a>, buf: &'a mut NumBuf) -> Option<&'a str> {
    match v {
        JsonRef::Str(s) => Some(s),
        JsonRef::Bool(true) => Some("true"),
        JsonRef::Bool(false) => Some("false"),
        JsonRef::Number(n) => {
            buf.0 = Some(n.text());
            buf.0.as_ref().map(|t| t.as_str())
        }
        _ => None,
    }
}

fn compare_ref(a: &str, b: &str, kind: RefKind, cased: bool) -> bool {
    if cased {
        return match kind {
            RefKind::Equals => a == b,
            RefKind::Contains => a.contains(b),
            RefKind::StartsWith => a.starts_with(b),
            RefKind::EndsWith => a.ends_with(b),
        };
    }
    let starts = |hay: &str, needle: &str| -> bool {
        let mut h = hay.chars().flat_map(char::to_lowercase);
        needle
            .chars()
            .flat_map(char::to_lowercase)
            .all(|c| h.next() == Some(c))
    };
    let eq = |x: &str, y: &str| {
        x.chars()
            .flat_map(char::to_lowercase)
            .eq(y.chars().flat_map(char::to_lowercase))
    };
    match kind {
        RefKind::Equals => eq(a, b),
        RefKind::StartsWith => starts(a, b),
        RefKind::Contains => a.char_indices().any(|(i, _)| starts(&a[i..], b)) || b.is_empty(),
        RefKind::EndsWith => a
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(a.len()))
            .any(|i| eq(&a[i..], b)),
    }
}

/// Calls `f` on every value `steps` reach from the node at `at` (arrays stand for each element,
/// on the way and at the end); stops at the first `true`.
pub(crate) fn reach<'t>(
    tape: &[Node<'t>],
    at: usize,
    steps: &[String],
    f: &mut dyn FnMut(JsonRef<'t>) -> bool,
) -> bool {
    match tape.get(at) {
        Some(Node::Array { .. }) => tape::any_child(tape, at, |c| reach(tape, c, steps, f)),
        Some(Node::Object { .. }) if !steps.is_empty() => match tape::member(tape, at, &steps[0]) {
            Some(v) => reach(tape, v, &steps[1..], f),
            None => false,
        },
        Some(_) if steps.is_empty() => f(tape::view(tape, at as u32)),
        _ => false,
    }
}

/// Calls `f` on every scalar inside the object or array at `at`, depth first.
fn any_scalar<'t>(tape: &[Node<'t>], at: usize, f: &mut dyn FnMut(JsonRef<'t>) -> bool) -> bool {
    tape::any_child(tape, at, |c| match tape::view(tape, c as u32) {
        JsonRef::Object(i) | JsonRef::Array(i) => any_scalar(tape, i, f),
        v => f(v),
    })
}

/// Calls `f` on every string value of the event (keyword search).
fn any_string(tape: &[Node<'_>], at: usize, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match tape::view(tape, at as u32) {
        JsonRef::Object(i) | JsonRef::Array(i) => {
            any_scalar(tape, i, &mut |v| matches!(v, JsonRef::Str(s) if f(s)))
        }
        JsonRef::Str(s) => f(s),
        _ => false,
    }
}
