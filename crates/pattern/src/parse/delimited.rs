//! Space-delimited patterns: `[ip, user, ..., status = 4* || status = 5*, bytes > 1000]`.

use super::json::collapse;
use super::value::{Dialect, parse_op, parse_value};
use super::{Cursor, MAX_DEPTH};
use crate::ast::{Delimited, Expr, Field, FieldCondition, Span};
use crate::error::{ErrorKind, PatternError};

pub(super) fn parse_delimited(c: &mut Cursor<'_>) -> Result<Delimited, PatternError> {
    c.eat("[");
    let mut fields: Vec<Field> = Vec::new();
    let mut ellipsis = None;
    c.skip_ws();
    if c.eat("]") {
        c.finish()?;
        return Ok(Delimited { fields, ellipsis });
    }
    loop {
        c.skip_ws();
        let start = c.pos;
        if c.eat("...") {
            if ellipsis.is_some() {
                return Err(c.error_at(start, ErrorKind::DuplicateField("...".into())));
            }
            ellipsis = Some(fields.len());
        } else if matches!(c.peek(), Some(',' | ']')) {
            fields.push(Field {
                name: None,
                cond: None,
                span: Span { start, end: start },
            });
        } else {
            let field = field(c)?;
            if let Some(name) = &field.name {
                if fields.iter().any(|f| f.name.as_ref() == Some(name)) {
                    return Err(c.error_at(start, ErrorKind::DuplicateField(name.clone())));
                }
            }
            fields.push(field);
        }
        c.skip_ws();
        if c.eat(",") {
            continue;
        }
        if c.eat("]") {
            break;
        }
        return Err(c.expected("',' or ']'", None));
    }
    c.finish()?;
    Ok(Delimited { fields, ellipsis })
}

/// A field: a bare name, or conditions that all name the same field.
fn field(c: &mut Cursor<'_>) -> Result<Field, PatternError> {
    let start = c.pos;
    if c.peek() != Some('(') {
        let name = field_name(c)?;
        let after_name = c.pos;
        c.skip_ws();
        if matches!(c.peek(), Some(',' | ']') | None) {
            return Ok(Field {
                name: Some(name),
                cond: None,
                span: Span {
                    start,
                    end: after_name,
                },
            });
        }
        c.pos = start;
    }
    let mut name = None;
    let cond = or_expr(c, &mut name, 0)?;
    Ok(Field {
        name,
        cond: Some(cond),
        span: Span { start, end: c.pos },
    })
}

fn or_expr(
    c: &mut Cursor<'_>,
    name: &mut Option<String>,
    depth: usize,
) -> Result<Expr<FieldCondition>, PatternError> {
    let mut items = vec![and_expr(c, name, depth)?];
    loop {
        c.skip_ws();
        if c.eat("||") {
            items.push(and_expr(c, name, depth)?);
        } else {
            break;
        }
    }
    Ok(collapse(items, Expr::Or))
}

fn and_expr(
    c: &mut Cursor<'_>,
    name: &mut Option<String>,
    depth: usize,
) -> Result<Expr<FieldCondition>, PatternError> {
    let mut items = vec![primary(c, name, depth)?];
    loop {
        c.skip_ws();
        if c.eat("&&") {
            items.push(primary(c, name, depth)?);
        } else {
            break;
        }
    }
    Ok(collapse(items, Expr::And))
}

fn primary(
    c: &mut Cursor<'_>,
    name: &mut Option<String>,
    depth: usize,
) -> Result<Expr<FieldCondition>, PatternError> {
    c.skip_ws();
    if c.peek() == Some('(') {
        if depth >= MAX_DEPTH {
            return Err(c.error(ErrorKind::TooDeep));
        }
        c.bump();
        let inner = or_expr(c, name, depth + 1)?;
        c.skip_ws();
        if !c.eat(")") {
            return Err(c.expected("'&&', '||' or ')'", None));
        }
        return Ok(inner);
    }
    let start = c.pos;
    let this = field_name(c)?;
    match name {
        None => *name = Some(this.clone()),
        Some(field) if *field != this => {
            return Err(c.error_at(
                start,
                ErrorKind::CrossFieldCondition {
                    field: field.clone(),
                    other: this,
                },
            ));
        }
        Some(_) => {}
    }
    let op = parse_op(c, &this)?;
    let value = parse_value(c, op, Dialect::Delimited)?;
    Ok(Expr::Cond(FieldCondition {
        op,
        value,
        span: Span { start, end: c.pos },
    }))
}

/// `(letter | _) (letter | digit | _)*`
fn field_name(c: &mut Cursor<'_>) -> Result<String, PatternError> {
    let start = c.pos;
    let word = c.take_while(|ch| ch.is_alphanumeric() || ch == '_');
    if word.is_empty() {
        return Err(c.expected("a field name, '...' or ','", None));
    }
    if word.starts_with(|ch: char| ch.is_numeric()) {
        return Err(c.error_at(start, ErrorKind::InvalidFieldName(word.to_owned())));
    }
    Ok(word.to_owned())
}
