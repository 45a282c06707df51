//! Term patterns for unstructured text: `ERROR -DEBUG ?WARN "a phrase"`.

use super::Cursor;
use crate::ast::{Span, Term, TermKind};
use crate::error::{ErrorKind, PatternError};

/// Characters of an unquoted term: letters (any script), digits, `_` and `.`.
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

pub(super) fn parse_terms(c: &mut Cursor<'_>) -> Result<Vec<Term>, PatternError> {
    let mut terms = Vec::new();
    loop {
        c.skip_ws();
        if c.at_end() {
            return Ok(terms);
        }
        let start = c.pos;
        let kind = match c.peek() {
            Some('-') => {
                c.bump();
                TermKind::Excluded
            }
            Some('?') => {
                c.bump();
                TermKind::Optional
            }
            _ => TermKind::Required,
        };
        let prefix = match kind {
            TermKind::Excluded => Some("-"),
            TermKind::Optional => Some("?"),
            TermKind::Required => None,
        };
        let (text, quoted) = match c.peek() {
            Some('"') => (phrase(c)?, true),
            Some('%') => return Err(c.error(ErrorKind::RegexInTerms)),
            Some(ch) if word_char(ch) => (c.take_while(word_char).to_owned(), false),
            Some(ch) if prefix.is_none() => return Err(c.error(ErrorKind::InvalidTermChar(ch))),
            _ => return Err(c.expected("a term", prefix)),
        };
        terms.push(Term {
            kind,
            text,
            quoted,
            span: Span { start, end: c.pos },
        });
        // A term ends at whitespace, the end, or a '-'/'?' that starts the next term (`a-b`).
        match c.peek() {
            None | Some('-' | '?') => {}
            Some(ch) if super::is_space(ch) => {}
            Some('"') if quoted => {
                return Err(c.expected("a space between quoted terms", None));
            }
            Some(ch) => return Err(c.error(ErrorKind::InvalidTermChar(ch))),
        }
    }
}

/// `"..."`: everything up to the next quote, which must be followed by a space or the end.
fn phrase(c: &mut Cursor<'_>) -> Result<String, PatternError> {
    let start = c.pos;
    c.bump();
    let Some(len) = c.rest().find('"') else {
        return Err(c.error_at(start, ErrorKind::UnterminatedString));
    };
    if len == 0 {
        return Err(c.error_at(start, ErrorKind::EmptyPhrase));
    }
    let text = c.rest()[..len].to_owned();
    c.pos += len + 1;
    if let Some(ch) = c.peek() {
        if !super::is_space(ch) {
            return Err(c.expected("a space after the quoted term", None));
        }
    }
    Ok(text)
}
