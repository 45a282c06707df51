//! Human-readable reasons: which clause decided a filter's result on an event.
//!
//! Format, for JSON conditions: `selector: <what the event has> <relation that holds> <literal>`,
//! e.g. `$.errorMessage: "Success" != "Failed authentication"`.

use std::fmt::Write as _;
use std::ops::Range;

use simd_json::Node;

use crate::ast::{CmpOp, Condition, FieldCondition, Literal, TermKind, Test};
use crate::delimited::DelimitedMatcher;
use crate::filter::TermMatcher;
use crate::paths::PathRef;
use crate::regex::Regex;
use crate::sigma::leaf::Leaf;
use crate::tape::{self, JsonRef};
use crate::test_value::test_path;

/// Appends what `f` writes to `text` and returns its range.
pub(crate) fn write(text: &mut String, f: impl FnOnce(&mut String)) -> Range<u32> {
    let start = text.len() as u32;
    f(text);
    start..text.len() as u32
}

pub(crate) fn match_all(out: &mut String) {
    out.push_str("an empty pattern matches every event");
}

pub(crate) fn not_json(out: &mut String) {
    out.push_str("the event is not a JSON object");
}

pub(crate) fn regex(out: &mut String, r: &Regex, found: bool) {
    let _ = write!(
        out,
        "%{}% {}",
        r.source(),
        if found { "found" } else { "not found" }
    );
}

pub(crate) fn terms(out: &mut String, t: &TermMatcher, ok: bool, by: Option<usize>) {
    let Some(term) = by.and_then(|i| t.terms.get(i)) else {
        out.push_str(if ok {
            "every required term found, no excluded term found"
        } else {
            "no optional term found"
        });
        return;
    };
    let _ = match (term.kind, ok) {
        (TermKind::Optional, _) => write!(out, "optional term \"{}\" found", term.text),
        (TermKind::Required, _) => write!(out, "term \"{}\" not found", term.text),
        (TermKind::Excluded, _) => write!(out, "excluded term \"{}\" found", term.text),
    };
}

pub(crate) fn delimited(
    out: &mut String,
    d: &DelimitedMatcher,
    event: &[u8],
    tokens: usize,
    bound: Option<&[(u32, u32)]>,
    ok: bool,
    by: Option<(usize, u32)>,
) {
    let Some(bound) = bound else {
        let _ = write!(
            out,
            "the event has {tokens} field(s); the pattern needs {}",
            d.fields
        );
        return;
    };
    let Some((field, cond)) = by else {
        out.push_str("every field is present (no conditions)");
        return;
    };
    let Some(program) = &d.programs[field] else {
        return;
    };
    let c: &FieldCondition = &program.conds()[cond as usize];
    let name = match &d.names[field] {
        Some(n) => format!("${n}"),
        None => format!("field {}", field + 1),
    };
    let (s, e) = bound[field];
    let text = String::from_utf8_lossy(&event[s as usize..e as usize]);
    let holds = crate::delimited::test_token(c, &event[s as usize..e as usize]);
    let op = if holds { c.op } else { c.op.negated() };
    let _ = write!(
        out,
        "{name}: \"{}\" {} {}",
        escape(&text),
        op.as_str(),
        c.value
    );
    let _ = ok;
}

/// A Sigma rule: the item that decided, in which search identifier, and what the event has.
pub(crate) fn sigma(out: &mut String, by: Option<&Leaf>, ok: bool, tape: &[Node<'_>]) {
    let Some(leaf) = by else {
        out.push_str(if ok { "matched" } else { "no match" });
        return;
    };
    let holds = leaf.positive(tape);
    let found = match &leaf.field {
        Some(field) => {
            let mut first = None;
            crate::sigma::leaf::reach(tape, 0, &field.steps, &mut |v| {
                first = Some(render(v));
                true
            });
            match first {
                Some(v) => format!("{} is {v}", field.text),
                None => format!("{} is missing", field.text),
            }
        }
        None => "keyword search over the event's strings".to_owned(),
    };
    let _ = write!(
        out,
        "{}selection '{}' (line {}): {} {} ({found})",
        if leaf.negated { "not " } else { "" },
        leaf.selection,
        leaf.line,
        leaf.written,
        if holds { "holds" } else { "does not hold" },
    );
    let _ = ok;
}

/// `by` is the deciding condition with the slot it read and where that slot resolves.
pub(crate) fn json(
    out: &mut String,
    by: Option<(&Condition, u32, &PathRef)>,
    ok: bool,
    tape: &[Node<'_>],
) {
    let Some((cond, slot, path)) = by else {
        out.push_str(if ok { "matched" } else { "no match" });
        return;
    };
    let sel = &cond.selector.text;
    let holds = test_path(&cond.test, slot, path.wildcard_rest.as_deref(), tape);
    if path.wildcard_rest.is_some() {
        let what = if slot == tape::NONE {
            "missing".to_owned()
        } else {
            render(tape::view(tape, slot))
        };
        let _ = match &cond.test {
            Test::Compare(CmpOp::Ne, lit) => write!(
                out,
                "{sel}: {} = {lit} (in {what})",
                if holds { "no element" } else { "an element" }
            ),
            Test::Compare(op, lit) => write!(
                out,
                "{sel}: {} {} {lit} (in {what})",
                if holds { "an element" } else { "no element" },
                op.as_str()
            ),
            test => write!(
                out,
                "{sel}: {} {} (in {what})",
                if holds {
                    "an element is"
                } else {
                    "no element is"
                },
                keyword(test)
            ),
        };
        return;
    }
    let value = tape::view(tape, slot);
    let shown = render(value);
    let _ = match &cond.test {
        Test::Compare(op, lit) if comparable(value, lit, *op) => {
            let rel = if holds { *op } else { op.negated() };
            write!(out, "{sel}: {shown} {} {lit}", rel.as_str())
        }
        Test::Compare(op, lit) => {
            write!(out, "{sel}: {shown}, so {} {lit} is {holds}", op.as_str())
        }
        test => write!(out, "{sel}: {shown}, so {} is {holds}", keyword(test)),
    };
}

/// Whether "value op literal" reads naturally (both sides are of comparable kinds).
fn comparable(value: JsonRef<'_>, lit: &Literal, op: CmpOp) -> bool {
    match value {
        JsonRef::Str(_) => !op.is_relational(),
        JsonRef::Number(_) => !op.is_relational() || matches!(lit, Literal::Num(_)),
        _ => false,
    }
}

fn keyword(test: &Test) -> &'static str {
    match test {
        Test::IsNull => "IS NULL",
        Test::IsTrue => "IS TRUE",
        Test::IsFalse => "IS FALSE",
        Test::NotExists => "NOT EXISTS",
        Test::Compare(..) => "",
    }
}

/// A short rendering of an event value.
fn render(v: JsonRef<'_>) -> String {
    match v {
        JsonRef::Missing => "missing".into(),
        JsonRef::Null => "null".into(),
        JsonRef::Bool(b) => b.to_string(),
        JsonRef::Number(n) => n.text().as_str().to_owned(),
        JsonRef::Str(s) => format!("\"{}\"", escape(s)),
        JsonRef::Array(_) => "an array".into(),
        JsonRef::Object(_) => "an object".into(),
    }
}

fn escape(s: &str) -> String {
    let shortened: String = if s.chars().count() > 80 {
        s.chars().take(77).chain("...".chars()).collect()
    } else {
        s.to_owned()
    };
    shortened.replace('\\', "\\\\").replace('"', "\\\"")
}
