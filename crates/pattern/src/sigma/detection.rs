//! A rule's `detection`: search identifiers (maps ANDed, lists ORed, keyword lists), field
//! modifiers and values, compiled with the condition into one negation-free expression over
//! [`Leaf`] items.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::condition::{self, Cond};
use super::leaf::{Cidr, FieldPath, Leaf, LeafTest, Piece, RefKind, TextMatch};
use super::yaml::{Node, Pos, Scalar, Value};
use super::{SigmaError, SigmaOptions};
use crate::ast::{CmpOp, Expr};

/// The modifiers of one field, checked for combinations that mean nothing.
#[derive(Debug, Default, Clone)]
struct Mods {
    wrap: Option<&'static str>,
    all: bool,
    cased: bool,
    encoding: Option<&'static str>,
    base64: bool,
    base64offset: bool,
    windash: bool,
    expand: bool,
    kind: Option<&'static str>,
    cmp: Option<CmpOp>,
    re_flags: String,
}

const KINDS: [&str; 5] = ["re", "cidr", "exists", "fieldref", "compare"];

fn mods(spec: &str, pos: Pos, construct: &str) -> Result<Mods, SigmaError> {
    let err = |m: String| SigmaError::at(pos, construct, m);
    let mut m = Mods::default();
    for name in spec.split('|').skip(1) {
        let set_kind = |m: &mut Mods, k: &'static str| -> Result<(), SigmaError> {
            if let Some(prev) = m.kind {
                return Err(err(format!("'{name}' cannot be combined with '{prev}'")));
            }
            m.kind = Some(k);
            Ok(())
        };
        match name {
            "contains" | "startswith" | "endswith" => {
                if let Some(prev) = m.wrap {
                    return Err(err(format!("'{name}' cannot be combined with '{prev}'")));
                }
                m.wrap = Some(match name {
                    "contains" => "contains",
                    "startswith" => "startswith",
                    _ => "endswith",
                });
            }
            "all" => m.all = true,
            "cased" => m.cased = true,
            "utf16le" | "wide" => m.encoding = Some("utf16le"),
            "utf16be" => m.encoding = Some("utf16be"),
            "utf16" => m.encoding = Some("utf16"),
            "base64" => m.base64 = true,
            "base64offset" => m.base64offset = true,
            "windash" => m.windash = true,
            "expand" => m.expand = true,
            "re" => set_kind(&mut m, "re")?,
            "i" | "m" | "s" => m.re_flags.push_str(name),
            "cidr" => set_kind(&mut m, "cidr")?,
            "exists" => set_kind(&mut m, "exists")?,
            "fieldref" => set_kind(&mut m, "fieldref")?,
            "lt" | "lte" | "gt" | "gte" => {
                set_kind(&mut m, "compare")?;
                m.cmp = Some(match name {
                    "lt" => CmpOp::Lt,
                    "lte" => CmpOp::Le,
                    "gt" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                });
            }
            "" => return Err(err("an empty modifier (two '|' in a row)".into())),
            other => {
                return Err(err(format!(
                    "unknown modifier '{other}' (known: contains, startswith, endswith, all, cased, re, i, m, s, cidr, exists, fieldref, lt, lte, gt, gte, base64, base64offset, utf16le, utf16be, utf16, wide, windash, expand)"
                )));
            }
        }
    }
    if !m.re_flags.is_empty() && m.kind != Some("re") {
        return Err(err("the modifiers i, m and s apply only to 're'".into()));
    }
    if let Some(k) = m.kind {
        debug_assert!(KINDS.contains(&k));
        let transforms = m.base64 || m.base64offset || m.windash || m.encoding.is_some();
        let wrap_ok = k == "fieldref";
        if transforms || (m.wrap.is_some() && !wrap_ok) {
            return Err(err(format!(
                "'{}' cannot be combined with string modifiers",
                if k == "compare" { "lt/lte/gt/gte" } else { k }
            )));
        }
    }
    if m.base64 && m.base64offset {
        return Err(err("'base64' and 'base64offset' exclude each other".into()));
    }
    if m.base64offset && m.wrap != Some("contains") {
        return Err(err(
            "'base64offset' needs 'contains' (the encoded value sits inside a longer string)"
                .into(),
        ));
    }
    if m.encoding.is_some() && !(m.base64 || m.base64offset) {
        return Err(err(
            "utf16 encodings are only meaningful before 'base64' or 'base64offset'".into(),
        ));
    }
    Ok(m)
}

/// A Sigma string: `*` and `?` are wildcards; `\*`, `\?` and `\\` are literal; any other
/// backslash is itself.
fn wildcards(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                if let Some(n) = chars.next() {
                    lit.push(n);
                }
            }
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(if c == '*' { Piece::Star } else { Piece::One });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

fn encode(text: &str, encoding: Option<&str>) -> Vec<u8> {
    match encoding {
        Some("utf16le") => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some("utf16be") => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Some("utf16") => [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
        _ => text.as_bytes().to_vec(),
    }
}

/// The three shifted encodings of `value` that appear inside any base64 text containing it.
fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .filter_map(|i| {
            let mut shifted = vec![b' '; i];
            shifted.extend_from_slice(value);
            let encoded = STANDARD.encode(&shifted);
            let end = encoded.len().checked_sub(END[(value.len() + i) % 3])?;
            encoded.get(START[i]..end).map(str::to_owned)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// `windash`: every permutation of `-`, `/`, en dash, em dash and horizontal bar where one of
/// them starts a word.
fn windash(pieces: Vec<Piece>) -> Vec<Vec<Piece>> {
    const DASHES: [char; 5] = ['-', '/', '–', '—', '―'];
    let mut variants: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut prev_space = true;
    for p in pieces {
        match p {
            Piece::Lit(s) => {
                let mut lits: Vec<String> = vec![String::new()];
                for c in s.chars() {
                    if prev_space && DASHES.contains(&c) {
                        lits = lits
                            .into_iter()
                            .flat_map(|l| DASHES.iter().map(move |d| format!("{l}{d}")))
                            .collect();
                    } else {
                        for l in &mut lits {
                            l.push(c);
                        }
                    }
                    prev_space = c.is_whitespace();
                }
                variants = variants
                    .into_iter()
                    .flat_map(|v| {
                        lits.iter().map(move |l| {
                            let mut v = v.clone();
                            v.push(Piece::Lit(l.clone()));
                            v
                        })
                    })
                    .collect();
            }
            other => {
                prev_space = false;
                for v in &mut variants {
                    v.push(other.clone());
                }
            }
        }
    }
    variants
}

/// `expand`: replaces each `%name%` (not `\%`) with each of its values.
fn expand(text: &str, options: &SigmaOptions, missing: &mut Vec<String>) -> Vec<Vec<Piece>> {
    let mut variants: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut rest = text;
    let mut lit = String::new();
    let push_all = |variants: &mut Vec<Vec<Piece>>, pieces: &[Piece]| {
        for v in variants.iter_mut() {
            v.extend(pieces.iter().cloned());
        }
    };
    while let Some(i) = rest.find(['%', '\\']) {
        lit.push_str(&rest[..i]);
        if rest[i..].starts_with("\\%") {
            lit.push('%');
            rest = &rest[i + 2..];
            continue;
        }
        if rest[i..].starts_with('\\') {
            lit.push('\\');
            rest = &rest[i + 1..];
            continue;
        }
        let after = &rest[i + 1..];
        let Some(end) = after.find('%') else {
            lit.push('%');
            rest = after;
            continue;
        };
        let name = &after[..end];
        push_all(&mut variants, &wildcards(&std::mem::take(&mut lit)));
        match options.placeholders.get(name) {
            Some(values) if !values.is_empty() => {
                variants = variants
                    .into_iter()
                    .flat_map(|v| {
                        values.iter().map(move |val| {
                            let mut v = v.clone();
                            v.extend(wildcards(val));
                            v
                        })
                    })
                    .collect();
            }
            _ => {
                missing.push(name.to_owned());
                return Vec::new();
            }
        }
        rest = &after[end + 1..];
    }
    lit.push_str(rest);
    push_all(&mut variants, &wildcards(&lit));
    variants
}

struct Item<'a> {
    selection: &'a Arc<str>,
    field: Option<FieldPath>,
    key: &'a str,
    mods: Mods,
    construct: String,
}

impl Item<'_> {
    fn leaf(&self, test: LeafTest, value: &Node) -> Expr<Leaf> {
        let shown = match &value.value {
            Value::Scalar(Scalar::Str(s), _) => format!("'{s}'"),
            Value::Scalar(_, t) if t.is_empty() => "null".to_owned(),
            Value::Scalar(_, t) => t.clone(),
            _ => "…".to_owned(),
        };
        let written = if self.key.is_empty() {
            shown
        } else {
            format!("{}: {shown}", self.key)
        };
        Expr::Cond(Leaf {
            selection: self.selection.clone(),
            field: self.field.clone(),
            test,
            negated: false,
            line: value.pos.line,
            written: written.into(),
        })
    }

    /// The tests one YAML value stands for (several when a modifier expands it); ORed.
    fn tests(
        &self,
        value: &Node,
        options: &SigmaOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<LeafTest>, SigmaError> {
        let err = |m: String| SigmaError::at(value.pos, self.construct.clone(), m);
        let m = &self.mods;
        let (scalar, text) = match &value.value {
            Value::Scalar(s, t) => (s, t.as_str()),
            other => {
                let found = if matches!(other, Value::Map(_)) {
                    "a map"
                } else {
                    "a nested list"
                };
                return Err(err(format!(
                    "expected a value or a list of values, found {found}"
                )));
            }
        };
        if self.field.is_none() && !matches!(m.kind, None | Some("re")) {
            return Err(err(
                "a keyword (a value without a field) takes only string modifiers".into(),
            ));
        }
        match m.kind {
            Some("exists") => {
                return match scalar {
                    Scalar::Bool(b) => Ok(vec![LeafTest::Exists(*b)]),
                    _ => Err(err(format!("'exists' takes true or false, found '{text}'"))),
                };
            }
            Some("compare") => {
                let n = match scalar {
                    Scalar::Int(i) => Some(*i as f64),
                    Scalar::Float(f) => Some(*f),
                    Scalar::Str(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                return match (n.filter(|n| n.is_finite()), m.cmp) {
                    (Some(n), Some(op)) => Ok(vec![LeafTest::Compare(op, n)]),
                    _ => Err(err(format!("lt/lte/gt/gte take a number, found '{text}'"))),
                };
            }
            _ => {}
        }
        if matches!(scalar, Scalar::Null) {
            if m.kind.is_some() || m.wrap.is_some() || m.base64 || m.base64offset || m.expand {
                return Err(err("null takes no modifiers".into()));
            }
            if self.field.is_none() {
                return Err(err("a keyword cannot be null".into()));
            }
            return Ok(vec![LeafTest::Null]);
        }
        match m.kind {
            Some("cidr") => {
                return Cidr::parse(text)
                    .map(|c| vec![LeafTest::Cidr(c)])
                    .ok_or_else(|| {
                        err(format!(
                            "'{text}' is not an IP network (a.b.c.d/n or an IPv6 prefix)"
                        ))
                    });
            }
            Some("re") => {
                let pattern = if m.re_flags.is_empty() {
                    text.to_owned()
                } else {
                    format!("(?{}){text}", m.re_flags)
                };
                return regex::Regex::new(&pattern)
                    .map(|r| vec![LeafTest::Regex(r)])
                    .map_err(|e| err(format!("invalid regular expression: {e}")));
            }
            Some("fieldref") => {
                let kind = match m.wrap {
                    Some("contains") => RefKind::Contains,
                    Some("startswith") => RefKind::StartsWith,
                    Some("endswith") => RefKind::EndsWith,
                    _ => RefKind::Equals,
                };
                if text.is_empty() {
                    return Err(err("'fieldref' takes the name of another field".into()));
                }
                return Ok(vec![LeafTest::FieldRef {
                    other: FieldPath::new(text),
                    kind,
                    cased: m.cased,
                }]);
            }
            _ => {}
        }
        let plain = m.wrap.is_none() && !m.base64 && !m.base64offset && !m.windash && !m.expand;
        match scalar {
            Scalar::Int(i) if plain => {
                return Ok(vec![LeafTest::Number(*i as f64, text.to_owned())]);
            }
            Scalar::Float(f) if plain => return Ok(vec![LeafTest::Number(*f, text.to_owned())]),
            Scalar::Bool(b) if plain => return Ok(vec![LeafTest::Bool(*b)]),
            _ => {}
        }
        let mut variants: Vec<Vec<Piece>> = if m.base64 || m.base64offset {
            let bytes = encode(text, m.encoding);
            let encoded = if m.base64 {
                vec![STANDARD.encode(bytes)]
            } else {
                base64_offsets(&bytes)
            };
            encoded.into_iter().map(|e| vec![Piece::Lit(e)]).collect()
        } else if m.expand {
            let mut missing = Vec::new();
            let v = expand(text, options, &mut missing);
            for name in missing {
                warnings.push(format!(
                    "line {}: {}: the placeholder %{name}% has no values, so this item matches no event",
                    value.pos.line, self.construct
                ));
            }
            if v.is_empty() {
                return Ok(vec![LeafTest::Never]);
            }
            v
        } else {
            vec![wildcards(text)]
        };
        if m.windash {
            variants = variants.into_iter().flat_map(windash).collect();
        }
        Ok(variants
            .into_iter()
            .map(|mut p| {
                match m.wrap {
                    Some("contains") => {
                        p.insert(0, Piece::Star);
                        p.push(Piece::Star);
                    }
                    Some("startswith") => p.push(Piece::Star),
                    Some("endswith") => p.insert(0, Piece::Star),
                    _ => {}
                }
                LeafTest::Text(TextMatch::new(p, m.cased))
            })
            .collect())
    }

    /// A field (or keyword) with its value or list of values.
    fn expr(
        &self,
        value: &Node,
        options: &SigmaOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Expr<Leaf>, SigmaError> {
        let values: Vec<&Node> = match &value.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![value],
        };
        if self.mods.all && values.len() < 2 {
            return Err(SigmaError::at(
                value.pos,
                self.construct.clone(),
                "'all' needs a list of at least two values".into(),
            ));
        }
        let mut per_value = Vec::with_capacity(values.len());
        for v in values {
            let tests = self.tests(v, options, warnings)?;
            let mut leaves: Vec<Expr<Leaf>> = tests.into_iter().map(|t| self.leaf(t, v)).collect();
            per_value.push(if leaves.len() == 1 {
                leaves.remove(0)
            } else {
                Expr::Or(leaves)
            });
        }
        if per_value.len() == 1 {
            return Ok(per_value.remove(0));
        }
        Ok(if self.mods.all {
            Expr::And(per_value)
        } else {
            Expr::Or(per_value)
        })
    }
}

/// A search identifier's definition.
fn selection(
    name: &Arc<str>,
    node: &Node,
    options: &SigmaOptions,
    warnings: &mut Vec<String>,
) -> Result<Expr<Leaf>, SigmaError> {
    let map = |entries: &[(super::yaml::Key, Node)],
               warnings: &mut Vec<String>|
     -> Result<Expr<Leaf>, SigmaError> {
        let mut all = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let construct = format!("detection.{name}.{}", key.text);
            let field_name = key.text.split('|').next().unwrap_or("");
            let item = Item {
                selection: name,
                field: (!field_name.is_empty()).then(|| FieldPath::new(field_name)),
                key: &key.text,
                mods: mods(&key.text, key.pos, &construct)?,
                construct,
            };
            all.push(item.expr(value, options, warnings)?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    };
    match &node.value {
        Value::Map(entries) if entries.is_empty() => Err(SigmaError::at(
            node.pos,
            format!("detection.{name}"),
            "an empty search identifier".into(),
        )),
        Value::Map(entries) => map(entries, warnings),
        Value::Seq(items)
            if items.iter().all(|i| matches!(i.value, Value::Map(_))) && !items.is_empty() =>
        {
            let mut any = Vec::with_capacity(items.len());
            for i in items {
                if let Value::Map(entries) = &i.value {
                    any.push(map(entries, warnings)?);
                }
            }
            Ok(if any.len() == 1 {
                any.remove(0)
            } else {
                Expr::Or(any)
            })
        }
        Value::Seq(items) if items.iter().all(|i| matches!(i.value, Value::Scalar(..))) => {
            let item = Item {
                selection: name,
                field: None,
                key: "",
                mods: Mods::default(),
                construct: format!("detection.{name}"),
            };
            item.expr(node, options, warnings)
        }
        Value::Seq(_) => Err(SigmaError::at(
            node.pos,
            format!("detection.{name}"),
            "a list must hold either maps (ORed) or keywords, not both".into(),
        )),
        Value::Scalar(Scalar::Null, _) => Err(SigmaError::at(
            node.pos,
            format!("detection.{name}"),
            "a search identifier needs a map or a list".into(),
        )),
        Value::Scalar(..) => {
            let item = Item {
                selection: name,
                field: None,
                key: "",
                mods: Mods::default(),
                construct: format!("detection.{name}"),
            };
            item.expr(node, options, warnings)
        }
    }
}

/// Pushes a negation down to the items (De Morgan): the branch program has no `not`.
fn negate(expr: Expr<Leaf>) -> Expr<Leaf> {
    match expr {
        Expr::Cond(mut l) => {
            l.negated = !l.negated;
            Expr::Cond(l)
        }
        Expr::And(xs) => Expr::Or(xs.into_iter().map(negate).collect()),
        Expr::Or(xs) => Expr::And(xs.into_iter().map(negate).collect()),
    }
}

fn instantiate(cond: &Cond, negated: bool, selections: &[Expr<Leaf>]) -> Expr<Leaf> {
    match cond {
        Cond::Sel(i) => {
            let e = selections[*i].clone();
            if negated { negate(e) } else { e }
        }
        Cond::Not(c) => instantiate(c, !negated, selections),
        Cond::And(xs) | Cond::Or(xs) => {
            let items = xs
                .iter()
                .map(|x| instantiate(x, negated, selections))
                .collect();
            if matches!(cond, Cond::And(_)) != negated {
                Expr::And(items)
            } else {
                Expr::Or(items)
            }
        }
    }
}

/// Compiles `detection` into one expression; returns it with the condition text.
pub(crate) fn compile(
    detection: &Node,
    options: &SigmaOptions,
    warnings: &mut Vec<String>,
) -> Result<(Expr<Leaf>, String), SigmaError> {
    let Value::Map(entries) = &detection.value else {
        return Err(SigmaError::at(
            detection.pos,
            "detection",
            format!(
                "expected a map of search identifiers and a condition, found {}",
                detection.kind()
            ),
        ));
    };
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut condition = None;
    for (key, value) in entries {
        match key.text.as_str() {
            "condition" => condition = Some((key, value)),
            "timeframe" => {
                return Err(SigmaError::at(
                    key.pos,
                    "detection.timeframe",
                    "'timeframe' belongs to aggregations (Sigma 1.0), which are not supported"
                        .into(),
                ));
            }
            name => {
                let name: Arc<str> = name.into();
                selections.push(selection(&name, value, options, warnings)?);
                names.push(name.to_string());
            }
        }
    }
    let Some((key, value)) = condition else {
        return Err(SigmaError::at(
            detection.pos,
            "detection.condition",
            "the detection has no condition".into(),
        ));
    };
    let texts: Vec<(&str, Pos)> = match &value.value {
        Value::Scalar(Scalar::Str(s), _) => vec![(s.as_str(), value.pos)],
        Value::Seq(items) if !items.is_empty() => items
            .iter()
            .map(|i| match &i.value {
                Value::Scalar(Scalar::Str(s), _) => Ok((s.as_str(), i.pos)),
                _ => Err(SigmaError::at(
                    i.pos,
                    "detection.condition",
                    format!("expected a condition, found {}", i.kind()),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(SigmaError::at(
                key.pos,
                "detection.condition",
                format!(
                    "expected a condition (a string or a list of strings), found {}",
                    value.kind()
                ),
            ));
        }
    };
    let mut conds = Vec::with_capacity(texts.len());
    for (text, pos) in &texts {
        conds.push(condition::parse(text, *pos, &names)?);
    }
    let cond = if conds.len() == 1 {
        conds.remove(0)
    } else {
        Cond::Or(conds)
    };
    let joined = texts
        .iter()
        .map(|(t, _)| *t)
        .collect::<Vec<_>>()
        .join(" or ");
    Ok((instantiate(&cond, false, &selections), joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_pysigma() {
        // The three variants pySigma documents for "/bin/bash".
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn wildcard_escapes() {
        assert_eq!(wildcards(r"a\*b"), vec![Piece::Lit("a*b".into())]);
        assert_eq!(
            wildcards(r"a\\*"),
            vec![Piece::Lit(r"a\".into()), Piece::Star]
        );
        assert_eq!(
            wildcards(r"C:\Windows"),
            vec![Piece::Lit(r"C:\Windows".into())]
        );
        assert_eq!(
            wildcards("a?c*"),
            vec![
                Piece::Lit("a".into()),
                Piece::One,
                Piece::Lit("c".into()),
                Piece::Star
            ]
        );
    }
}
