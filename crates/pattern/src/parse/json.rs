//! JSON patterns: `{ selector op value && (... || ...) }`.

use super::value::{Dialect, parse_op, parse_value};
use super::{Cursor, MAX_DEPTH, MAX_WILDCARDS};
use crate::ast::{Condition, Expr, Selector, Span, Step, Test};
use crate::error::{ErrorKind, PatternError};

pub(super) fn parse_json(c: &mut Cursor<'_>) -> Result<Expr<Condition>, PatternError> {
    c.eat("{");
    let expr = or_expr(c, 0)?;
    c.skip_ws();
    if !c.eat("}") {
        return Err(c.expected("'&&', '||' or '}'", None));
    }
    c.finish()?;
    Ok(expr)
}

fn or_expr(c: &mut Cursor<'_>, depth: usize) -> Result<Expr<Condition>, PatternError> {
    let mut items = vec![and_expr(c, depth)?];
    loop {
        c.skip_ws();
        if c.eat("||") {
            items.push(and_expr(c, depth)?);
        } else {
            break;
        }
    }
    Ok(collapse(items, Expr::Or))
}

fn and_expr(c: &mut Cursor<'_>, depth: usize) -> Result<Expr<Condition>, PatternError> {
    let mut items = vec![primary(c, depth)?];
    loop {
        c.skip_ws();
        if c.rest().starts_with("&&") {
            c.eat("&&");
            items.push(primary(c, depth)?);
        } else {
            break;
        }
    }
    Ok(collapse(items, Expr::And))
}

/// One item stays itself; several become `make(items)`.
pub(super) fn collapse<C>(mut items: Vec<Expr<C>>, make: fn(Vec<Expr<C>>) -> Expr<C>) -> Expr<C> {
    if items.len() == 1 {
        items.remove(0)
    } else {
        make(items)
    }
}

fn primary(c: &mut Cursor<'_>, depth: usize) -> Result<Expr<Condition>, PatternError> {
    c.skip_ws();
    if c.peek() == Some('(') {
        if depth >= MAX_DEPTH {
            return Err(c.error(ErrorKind::TooDeep));
        }
        c.bump();
        let inner = or_expr(c, depth + 1)?;
        c.skip_ws();
        if !c.eat(")") {
            return Err(c.expected("'&&', '||' or ')'", None));
        }
        return Ok(inner);
    }
    if c.peek() != Some('$') {
        return Err(c.expected("a condition ('$.field = value') or '('", None));
    }
    condition(c).map(Expr::Cond)
}

fn condition(c: &mut Cursor<'_>) -> Result<Condition, PatternError> {
    let start = c.pos;
    let selector = selector(c)?;
    if selector.wildcard().is_some() {
        c.wildcards += 1;
        if c.wildcards > MAX_WILDCARDS {
            return Err(c.error_at(start, ErrorKind::TooManyWildcards));
        }
    }
    c.skip_ws();
    let test = match c.peek() {
        Some('=' | '!' | '<' | '>') => {
            let op = parse_op(c, &selector.text)?;
            Test::Compare(op, parse_value(c, op, Dialect::Json)?)
        }
        _ => keyword_test(c, &selector.text)?,
    };
    Ok(Condition {
        selector,
        test,
        span: Span { start, end: c.pos },
    })
}

/// `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS` (keywords in any case).
fn keyword_test(c: &mut Cursor<'_>, selector: &str) -> Result<Test, PatternError> {
    let word_start = c.pos;
    let word = c.take_while(|ch| ch.is_ascii_alphabetic());
    let expected = "an operator, IS or NOT EXISTS";
    if word.eq_ignore_ascii_case("IS") {
        c.skip_ws();
        let what_start = c.pos;
        let what = c.take_while(|ch| ch.is_ascii_alphabetic());
        return match what.to_ascii_uppercase().as_str() {
            "NULL" => Ok(Test::IsNull),
            "TRUE" => Ok(Test::IsTrue),
            "FALSE" => Ok(Test::IsFalse),
            "NOT" => Err(c.error_at(what_start, ErrorKind::Unsupported("IS NOT"))),
            _ => {
                c.pos = what_start;
                Err(c.expected("NULL, TRUE or FALSE", Some("IS")))
            }
        };
    }
    if word.eq_ignore_ascii_case("NOT") {
        c.skip_ws();
        let what_start = c.pos;
        let what = c.take_while(|ch| ch.is_ascii_alphabetic());
        if what.eq_ignore_ascii_case("EXISTS") {
            return Ok(Test::NotExists);
        }
        c.pos = what_start;
        return Err(c.expected("EXISTS", Some("NOT")));
    }
    if word.eq_ignore_ascii_case("EXISTS") {
        return Err(c.error_at(
            word_start,
            ErrorKind::Unsupported("EXISTS (only NOT EXISTS is)"),
        ));
    }
    c.pos = word_start;
    Err(c.expected(expected, Some(selector)))
}

/// Characters of a property name in `$.name`.
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Parses a selector at the cursor: `$.a.b`, `$.a[0]`, `$.a[*]`, `$.*`, `$.['dotted.key']`.
pub(super) fn selector(c: &mut Cursor<'_>) -> Result<Selector, PatternError> {
    let start = c.pos;
    if !c.eat("$") {
        return Err(c.expected("a selector ('$.field')", None));
    }
    let mut steps = Vec::new();
    loop {
        match c.peek() {
            Some('.') => {
                c.bump();
                match c.peek() {
                    Some('*') => {
                        c.bump();
                        steps.push(Step::Wildcard);
                    }
                    Some('[') => {
                        c.bump();
                        if !c.eat("'") {
                            return Err(c.error(ErrorKind::InvalidSelector(
                                "write keys with dots as .['key'] (single quotes)",
                            )));
                        }
                        let Some(len) = c.rest().find('\'') else {
                            return Err(c.error(ErrorKind::UnterminatedString));
                        };
                        let key = c.rest()[..len].to_owned();
                        c.pos += len + 1;
                        if !c.eat("]") {
                            return Err(c.expected("']'", Some("'")));
                        }
                        steps.push(Step::Key(key));
                    }
                    Some(ch) if name_char(ch) => {
                        let name = c.take_while(name_char);
                        steps.push(Step::Key(name.to_owned()));
                    }
                    _ => return Err(c.expected("a property name", Some("."))),
                }
            }
            Some('[') => {
                if steps.is_empty() {
                    return Err(c.error(ErrorKind::InvalidSelector("a selector starts with '$.'")));
                }
                c.bump();
                if c.eat("*") {
                    steps.push(Step::Wildcard);
                } else {
                    let digits_at = c.pos;
                    let digits = c.take_while(|ch| ch.is_ascii_digit());
                    if digits.is_empty() {
                        return Err(c.error(ErrorKind::InvalidSelector(
                            "an index is a non-negative number or '*'",
                        )));
                    }
                    let index = digits.parse().map_err(|_| {
                        c.error_at(digits_at, ErrorKind::InvalidSelector("index too large"))
                    })?;
                    steps.push(Step::Index(index));
                }
                if !c.eat("]") {
                    return Err(c.expected("']'", None));
                }
            }
            _ => break,
        }
    }
    if steps.is_empty() {
        return Err(c.error_at(
            start,
            ErrorKind::InvalidSelector("'$' alone selects nothing; use '$.field'"),
        ));
    }
    if steps.iter().filter(|s| **s == Step::Wildcard).count() > 1 {
        return Err(c.error_at(start, ErrorKind::TooManyWildcardsInSelector));
    }
    Ok(Selector {
        text: c.source()[start..c.pos].to_owned(),
        steps,
    })
}

/// Parses a whole string as one selector (metric values and dimensions: `$.latency`).
pub(crate) fn parse_selector(text: &str) -> Result<Selector, PatternError> {
    let mut c = Cursor::new(text, 0, text.len());
    let s = selector(&mut c)?;
    c.finish()?;
    Ok(s)
}
