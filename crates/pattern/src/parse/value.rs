//! The right-hand side of a comparison, shared by JSON and space-delimited patterns.

use super::Cursor;
use crate::ast::{CmpOp, Literal};
use crate::error::{ErrorKind, PatternError};
use crate::glob::Glob;
use crate::number::Number;
use crate::regex::Regex;

/// Which pattern language a value sits in: they differ in the characters a bare value may use.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Dialect {
    Json,
    Delimited,
}

impl Dialect {
    /// Characters allowed in an unquoted value.
    fn bare(self, c: char) -> bool {
        match self {
            // The documented set (letters, digits, '_', '.', '*'), '-' inside words such as
            // region names, and '+'/'-' signs of numbers. Anything else must be quoted.
            Dialect::Json => c.is_alphanumeric() || matches!(c, '_' | '.' | '*' | '-' | '+'),
            // Log tokens are free-form (`127.0.0.1`, `10/Oct/2000:13:25:15`, `-`): everything up
            // to a character that ends the value.
            Dialect::Delimited => {
                !super::is_space(c)
                    && !matches!(
                        c,
                        ',' | ']' | '[' | '(' | ')' | '&' | '|' | '"' | '%' | '=' | '<' | '>' | '!'
                    )
            }
        }
    }

    /// Characters that may follow a value.
    fn ends_value(self, c: char) -> bool {
        super::is_space(c)
            || matches!(c, ')' | '&' | '|')
            || match self {
                Dialect::Json => c == '}',
                Dialect::Delimited => matches!(c, ',' | ']'),
            }
    }
}

/// Parses a comparison operator, rejecting `==`, `<>` and friends with a clear message.
pub(super) fn parse_op(c: &mut Cursor<'_>, after: &str) -> Result<CmpOp, PatternError> {
    c.skip_ws();
    let op = if c.eat("!=") {
        CmpOp::Ne
    } else if c.eat("<=") {
        CmpOp::Le
    } else if c.eat(">=") {
        CmpOp::Ge
    } else if c.eat("<>") {
        return Err(c.error_at(c.pos - 2, ErrorKind::Unsupported("'<>' (use '!=')")));
    } else if c.eat("=") {
        if c.peek() == Some('=') {
            return Err(c.error_at(c.pos - 1, ErrorKind::Unsupported("'==' (use '=')")));
        }
        CmpOp::Eq
    } else if c.eat("<") {
        CmpOp::Lt
    } else if c.eat(">") {
        CmpOp::Gt
    } else {
        return Err(c.expected("an operator (=, !=, <, <=, >, >=)", Some(after)));
    };
    Ok(op)
}

/// Parses the value after `op`.
pub(super) fn parse_value(
    c: &mut Cursor<'_>,
    op: CmpOp,
    dialect: Dialect,
) -> Result<Literal, PatternError> {
    c.skip_ws();
    let start = c.pos;
    let relational =
        |c: &Cursor<'_>| c.error_at(start, ErrorKind::RelationalNeedsNumber(op.as_str()));
    let literal = match c.peek() {
        Some('"') => {
            let glob = quoted(c)?;
            if op.is_relational() {
                return Err(relational(c));
            }
            Literal::Str(glob)
        }
        Some('%') => {
            c.bump();
            let body_start = c.pos;
            let Some(len) = c.rest().find('%') else {
                return Err(c.error_at(start, ErrorKind::UnterminatedRegex));
            };
            c.regexes += 1;
            if c.regexes > super::MAX_REGEXES {
                return Err(c.error_at(start, ErrorKind::TooManyRegexes));
            }
            if op.is_relational() {
                return Err(relational(c));
            }
            let body = &c.rest()[..len];
            let regex = Regex::new(body, body_start, c.source())?;
            c.pos += len + 1;
            Literal::Regex(regex)
        }
        _ => {
            let word = c.take_while(|ch| dialect.bare(ch));
            if word.is_empty() {
                return Err(c.expected("a value", Some(op.as_str())));
            }
            bare(c, word, start, op, dialect)?
        }
    };
    if let Some(next) = c.peek() {
        if !dialect.ends_value(next) {
            return Err(c
                .expected("a space, '&&', '||' or the end of the condition", None)
                .with_hint_if(next == ':' || next == '/' || next == '@'));
        }
    }
    Ok(literal)
}

/// Classifies an unquoted value: `*`, a number, or a (glob) string.
fn bare(
    c: &Cursor<'_>,
    word: &str,
    start: usize,
    op: CmpOp,
    dialect: Dialect,
) -> Result<Literal, PatternError> {
    if word == "*" {
        if op.is_relational() {
            return Err(c.error_at(start, ErrorKind::RelationalNeedsNumber(op.as_str())));
        }
        return Ok(Literal::Any);
    }
    match Number::parse(word) {
        Some(Ok(n)) => return Ok(Literal::Num(n)),
        Some(Err(())) => {
            return Err(c.error_at(start, ErrorKind::NumberOutOfRange(word.to_owned())));
        }
        None => {}
    }
    if op.is_relational() {
        return Err(c.error_at(start, ErrorKind::RelationalNeedsNumber(op.as_str())));
    }
    if word.eq_ignore_ascii_case("null") {
        return Err(c.error_at(start, ErrorKind::BareNull));
    }
    if dialect == Dialect::Json && (word.starts_with('-') || word.starts_with('+')) {
        return Err(c.error_at(
            start,
            ErrorKind::Expected {
                expected: "a number or a quoted string",
                after: Some(op.as_str().to_owned()),
                found: crate::error::Found::Word(word.to_owned()),
            },
        ));
    }
    let parts = word.split('*').map(str::to_owned).collect();
    Ok(Literal::Str(Glob::from_parts(word.to_owned(), parts)))
}

/// Parses `"..."`: `\"` is a quote, `\\` a backslash, `\*` a literal star; an unescaped `*` is a
/// wildcard.
fn quoted(c: &mut Cursor<'_>) -> Result<Glob, PatternError> {
    let start = c.pos;
    c.bump(); // the opening quote
    let mut parts = Vec::new();
    let mut part = String::new();
    let text_start = c.pos;
    loop {
        let Some(ch) = c.bump() else {
            return Err(c.error_at(start, ErrorKind::UnterminatedString));
        };
        match ch {
            '"' => break,
            '\\' => match c.peek() {
                Some(e @ ('"' | '\\' | '*')) => {
                    c.bump();
                    part.push(e);
                }
                _ => part.push('\\'),
            },
            '*' => parts.push(std::mem::take(&mut part)),
            other => part.push(other),
        }
    }
    parts.push(part);
    let source = c.source()[text_start..c.pos - 1].to_owned();
    Ok(Glob::from_parts(source, parts))
}

trait HintExt {
    fn with_hint_if(self, cond: bool) -> Self;
}

impl HintExt for PatternError {
    /// Unquoted values with symbols are the most common mistake: say what to do about it.
    fn with_hint_if(mut self, cond: bool) -> Self {
        if cond {
            if let ErrorKind::Expected { expected, .. } = &mut self.kind {
                *expected = "the end of the value (quote values that contain symbols)";
            }
        }
        self
    }
}
