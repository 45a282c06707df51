//! A slow, obviously-correct evaluator over the AST: the oracle the fast engine is tested against.
//!
//! It shares nothing with the compiled path but the AST and the literal types: events are parsed
//! with serde_json, every selector is walked from the root for every condition, globs are matched
//! by recursive backtracking, terms with a naive substring search, and space-delimited events are
//! tokenised by its own loop. Each rule is written the way the spec table states it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;
use trailwatch_pattern::ast::{
    CmpOp, Condition, Delimited, Expr, FieldCondition, Literal, Step, Term, TermKind, Test,
};
use trailwatch_pattern::{EventNumber, Number, Pattern, PatternKind};

/// What a filter publishes for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub matched: bool,
    pub value: Option<f64>,
    pub dimensions: BTreeMap<String, String>,
}

/// A metric transformation in reference terms.
#[derive(Debug, Clone, Default)]
pub struct RefMetric {
    pub value: String,
    pub default_value: Option<f64>,
    pub dimensions: Vec<(String, String)>,
}

pub fn matches(pattern: &Pattern, event: &[u8]) -> bool {
    match &pattern.kind {
        PatternKind::MatchAll => true,
        PatternKind::Terms(terms) => terms_match(terms, event),
        PatternKind::Regex(r) => r.is_match(event),
        PatternKind::Json(expr) => match json_object(event) {
            Some(root) => expr_holds(expr, &mut |c: &Condition| condition(c, &root)),
            None => false,
        },
        PatternKind::Delimited(d) => match bind(d, event) {
            Some(values) => d.fields.iter().zip(&values).all(|(f, v)| match &f.cond {
                Some(e) => expr_holds(e, &mut |c: &FieldCondition| field_condition(c, v)),
                None => true,
            }),
            None => false,
        },
        PatternKind::Sigma => unreachable!("the reference evaluates CloudWatch patterns only"),
    }
}

pub fn publish(pattern: &Pattern, metric: &RefMetric, event: &[u8]) -> Published {
    let matched = matches(pattern, event);
    if !matched {
        return Published {
            matched,
            value: metric.default_value,
            dimensions: BTreeMap::new(),
        };
    }
    let lookup = |reference: &str| -> Lookup {
        match &pattern.kind {
            PatternKind::Json(_) => {
                let Some(root) = json_object(event) else {
                    return Lookup::Missing;
                };
                let sel = trailwatch_pattern::parse(&format!("{{ {reference} = 1 }}"))
                    .expect("valid reference");
                let PatternKind::Json(Expr::Cond(c)) = sel.kind else {
                    unreachable!()
                };
                match get(&root, &c.selector.steps) {
                    None | Some(Value::Null) => Lookup::Missing,
                    Some(Value::Number(n)) => Lookup::Number(number_value(n), number_text(n)),
                    Some(Value::String(s)) => Lookup::Text(s.clone()),
                    Some(Value::Bool(b)) => Lookup::Text(b.to_string()),
                    Some(_) => Lookup::Other,
                }
            }
            PatternKind::Delimited(d) => {
                let name = &reference[1..];
                let tokens = tokens(event);
                let text = if let Ok(n) = name.parse::<usize>() {
                    tokens.get(n - 1).cloned()
                } else {
                    let i = d
                        .fields
                        .iter()
                        .position(|f| f.name.as_deref() == Some(name));
                    i.and_then(|i| bind(d, event).map(|v| v[i].clone()))
                };
                text.map_or(Lookup::Missing, Lookup::Text)
            }
            _ => Lookup::Missing,
        }
    };
    let value = match metric.value.trim().parse::<f64>() {
        Ok(v) if !metric.value.trim().starts_with('$') => Some(v),
        _ => match lookup(metric.value.trim()) {
            Lookup::Number(v, _) => Some(v),
            Lookup::Text(s) => token_number(&s).map(|(v, _)| v),
            Lookup::Missing => metric.default_value,
            Lookup::Other => None,
        },
    };
    let mut dimensions = BTreeMap::new();
    for (name, reference) in &metric.dimensions {
        match lookup(reference) {
            Lookup::Number(_, text) | Lookup::Text(text) => {
                dimensions.insert(name.clone(), text);
            }
            _ => {
                dimensions.clear();
                break;
            }
        }
    }
    Published {
        matched,
        value,
        dimensions,
    }
}

enum Lookup {
    Missing,
    Number(f64, String),
    Text(String),
    Other,
}

fn expr_holds<C>(expr: &Expr<C>, test: &mut impl FnMut(&C) -> bool) -> bool {
    match expr {
        Expr::Cond(c) => test(c),
        Expr::And(items) => {
            for i in items {
                if !expr_holds(i, test) {
                    return false;
                }
            }
            true
        }
        Expr::Or(items) => {
            for i in items {
                if expr_holds(i, test) {
                    return true;
                }
            }
            false
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn terms_match(terms: &[Term], event: &[u8]) -> bool {
    let only_optional = !terms.is_empty() && terms.iter().all(|t| t.kind == TermKind::Optional);
    if only_optional {
        return terms.iter().any(|t| contains(event, t.text.as_bytes()));
    }
    terms.iter().all(|t| match t.kind {
        TermKind::Required => contains(event, t.text.as_bytes()),
        TermKind::Excluded => !contains(event, t.text.as_bytes()),
        TermKind::Optional => true,
    })
}

fn json_object(event: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(event).ok()?;
    v.is_object().then_some(v)
}

fn get<'a>(root: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut at = root;
    for s in steps {
        at = match (s, at) {
            (Step::Key(k), Value::Object(m)) => m.get(k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

fn children(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(m)) => m.values().collect(),
        _ => Vec::new(),
    }
}

fn condition(c: &Condition, root: &Value) -> bool {
    let steps = &c.selector.steps;
    let Some(w) = steps.iter().position(|s| *s == Step::Wildcard) else {
        return test(&c.test, get(root, steps));
    };
    let parent = get(root, &steps[..w]);
    let members: Vec<&Value> = children(parent)
        .into_iter()
        .filter_map(|child| get(child, &steps[w + 1..]))
        .collect();
    match &c.test {
        Test::NotExists => members.is_empty(),
        Test::Compare(CmpOp::Ne, lit) => {
            parent.is_some() && !members.iter().any(|m| compare(CmpOp::Eq, lit, Some(m)))
        }
        t => members.iter().any(|m| test(t, Some(m))),
    }
}

fn test(t: &Test, v: Option<&Value>) -> bool {
    match t {
        Test::Compare(op, lit) => compare(*op, lit, v),
        Test::IsNull => match v {
            Some(Value::Null) => true,
            Some(Value::Array(a)) => a.iter().any(Value::is_null),
            _ => false,
        },
        Test::IsTrue => v == Some(&Value::Bool(true)),
        Test::IsFalse => v == Some(&Value::Bool(false)),
        Test::NotExists => v.is_none(),
    }
}

fn compare(op: CmpOp, lit: &Literal, v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => compare_text(op, lit, s.as_bytes()),
        Some(Value::Number(n)) => match lit {
            Literal::Num(l) => numeric(op, n, l),
            _ => compare_text(op, lit, number_text(n).as_bytes()),
        },
        _ => false,
    }
}

fn compare_text(op: CmpOp, lit: &Literal, text: &[u8]) -> bool {
    let positive = match lit {
        Literal::Str(g) => glob(&g.parts().collect::<Vec<_>>(), text),
        Literal::Num(n) => text == n.text().as_bytes(),
        Literal::Any => true,
        Literal::Regex(r) => r.is_match(text),
    };
    match op {
        CmpOp::Eq => positive,
        CmpOp::Ne => !positive,
        _ => false,
    }
}

/// `parts` joined by `*`, matched against all of `text` by backtracking.
fn glob(parts: &[&[u8]], text: &[u8]) -> bool {
    match parts {
        [] => text.is_empty(),
        [only] => text == *only,
        [first, rest @ ..] => {
            if !text.starts_with(first) {
                return false;
            }
            let tail = &text[first.len()..];
            (0..=tail.len()).any(|skip| glob(rest, &tail[skip..]))
        }
    }
}

fn numeric(op: CmpOp, n: &serde_json::Number, lit: &Number) -> bool {
    let ord = match (n.as_i64(), n.as_u64(), lit.int()) {
        (Some(i), _, Some(l)) => Some(i128::from(i).cmp(&l)),
        (_, Some(u), Some(l)) => Some(i128::from(u).cmp(&l)),
        _ => number_value(n).partial_cmp(&lit.value()),
    };
    ord.is_some_and(|o| match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    })
}

fn number_value(n: &serde_json::Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        EventNumber::Float(number_value(n))
            .text()
            .as_str()
            .to_owned()
    }
}

/// Splits an event into tokens: whitespace-separated, `"…"` and `[…]` as one token.
pub fn tokens(event: &[u8]) -> Vec<String> {
    tokens_with_raw(event).into_iter().map(|(t, _)| t).collect()
}

/// Tokens with the byte offset where each starts (including an opening delimiter).
fn tokens_with_raw(event: &[u8]) -> Vec<(String, usize)> {
    let s = String::from_utf8_lossy(event).into_owned();
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let space = |c: u8| c == b' ' || c == b'\t' || c == b'\r' || c == b'\n';
    while i < b.len() {
        if space(b[i]) {
            i += 1;
            continue;
        }
        let close = match b[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(close) = close {
            if let Some(j) = b[i + 1..].iter().position(|&c| c == close) {
                out.push((s[i + 1..i + 1 + j].to_owned(), i));
                i = i + 2 + j;
                continue;
            }
        }
        let start = i;
        while i < b.len() && !space(b[i]) {
            i += 1;
        }
        out.push((s[start..i].to_owned(), start));
    }
    out
}

/// The value of each field, or `None` when the event has too few tokens.
fn bind(d: &Delimited, event: &[u8]) -> Option<Vec<String>> {
    let toks = tokens_with_raw(event);
    let n = d.fields.len();
    if toks.len() < n {
        return None;
    }
    let text = String::from_utf8_lossy(event).into_owned();
    Some(match d.ellipsis {
        None => (0..n)
            .map(|i| {
                if i + 1 == n && toks.len() > n {
                    text[toks[i].1..].trim_end().to_owned()
                } else {
                    toks[i].0.clone()
                }
            })
            .collect(),
        Some(e) => {
            let mut v: Vec<String> = toks[..e].iter().map(|t| t.0.clone()).collect();
            v.extend(toks[toks.len() - (n - e)..].iter().map(|t| t.0.clone()));
            v
        }
    })
}

fn token_number(token: &str) -> Option<(f64, Option<i128>)> {
    match Number::parse(token) {
        Some(Ok(n)) => Some((n.value(), n.int())),
        _ => None,
    }
}

fn field_condition(c: &FieldCondition, token: &str) -> bool {
    if let Literal::Num(lit) = &c.value {
        if let Some((v, int)) = token_number(token) {
            let ord = match (int, lit.int()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => v.partial_cmp(&lit.value()),
            };
            return ord.is_some_and(|o| match c.op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
            });
        }
    }
    compare_text(c.op, &c.value, token.as_bytes())
}
