//! What one condition says about one value: the semantics table of the pattern language.
//!
//! | condition | string | number | bool | null | array/object | missing |
//! |---|---|---|---|---|---|---|
//! | `= glob` | glob | glob on its text | no | no | no | no |
//! | `!= glob` | not glob | not glob on text | no | no | no | no |
//! | `= N` | text equals literal as written | numeric | no | no | no | no |
//! | `!= N` | text differs | numeric | no | no | no | no |
//! | `< <= > >= N` | no | numeric | no | no | no | no |
//! | `= *` | yes | yes | no | no | no | no |
//! | `= %re%` / `!= %re%` | search / no search | on its text | no | no | no | no |
//! | `IS NULL` | no | no | no | yes | array directly holding null | no |
//! | `IS TRUE` / `IS FALSE` | no | no | the value | no | no | no |
//! | `NOT EXISTS` | no | no | no | no | no | yes |
//!
//! Wildcard selectors reach a set of values: `!=` holds when no member satisfies the `=` form and
//! the wildcard's parent exists; `NOT EXISTS` when the set is empty; everything else when any
//! member satisfies it.

use std::cmp::Ordering;

use simd_json::Node;

use crate::ast::{CmpOp, Literal, Step, Test};
use crate::paths;
use crate::tape::{self, JsonRef, NONE};

/// Evaluates `test` on a single (non-wildcard) value.
pub(crate) fn test_value(test: &Test, value: JsonRef<'_>, tape: &[Node<'_>]) -> bool {
    match test {
        Test::Compare(op, lit) => compare(*op, lit, value),
        Test::IsNull => match value {
            JsonRef::Null => true,
            JsonRef::Array(i) => tape::array_has_null(tape, i),
            _ => false,
        },
        Test::IsTrue => value == JsonRef::Bool(true),
        Test::IsFalse => value == JsonRef::Bool(false),
        Test::NotExists => value == JsonRef::Missing,
    }
}

/// Evaluates `test` on what a selector reached: `slot` is the value (or, for wildcard selectors,
/// the wildcard's parent) and `wildcard_rest` the steps after the wildcard.
pub(crate) fn test_path(
    test: &Test,
    slot: u32,
    wildcard_rest: Option<&[Step]>,
    tape: &[Node<'_>],
) -> bool {
    let Some(rest) = wildcard_rest else {
        return test_value(test, tape::view(tape, slot), tape);
    };
    match test {
        Test::NotExists => !paths::any_member(tape, slot, rest, |_| true),
        Test::Compare(CmpOp::Ne, lit) => {
            slot != NONE && !paths::any_member(tape, slot, rest, |v| compare(CmpOp::Eq, lit, v))
        }
        _ => paths::any_member(tape, slot, rest, |v| test_value(test, v, tape)),
    }
}

/// `value op literal` for a single value.
pub(crate) fn compare(op: CmpOp, lit: &Literal, value: JsonRef<'_>) -> bool {
    match value {
        JsonRef::Str(s) => compare_text(op, lit, s.as_bytes()),
        JsonRef::Number(n) => match lit {
            Literal::Num(num) => {
                let ord = num.compare(n);
                ord.is_some_and(|o| holds(op, o))
            }
            _ => compare_text(op, lit, n.text().as_bytes()),
        },
        _ => false,
    }
}

/// A comparison on text: a string, or the text of a number meeting a non-numeric literal.
pub(crate) fn compare_text(op: CmpOp, lit: &Literal, text: &[u8]) -> bool {
    let positive = match (op, lit) {
        (CmpOp::Eq | CmpOp::Ne, Literal::Str(g)) => g.matches(text),
        (CmpOp::Eq | CmpOp::Ne, Literal::Num(n)) => text == n.text().as_bytes(),
        (CmpOp::Eq | CmpOp::Ne, Literal::Any) => true,
        (CmpOp::Eq | CmpOp::Ne, Literal::Regex(r)) => r.is_match(text),
        // Relational operators never compare strings (and the parser only pairs them with numbers).
        _ => return false,
    };
    match op {
        CmpOp::Eq => positive,
        CmpOp::Ne => !positive,
        _ => false,
    }
}

/// Whether `event ⋚ literal` satisfies `op`.
pub(crate) fn holds(op: CmpOp, ord: Ordering) -> bool {
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}
