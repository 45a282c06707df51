//! Pattern text → AST: dispatch on the first character, then one recursive-descent parser per
//! pattern language, sharing a cursor and the value grammar.

mod cursor;
mod delimited;
mod json;
mod terms;
mod value;

use crate::ast::{Pattern, PatternKind};
use crate::error::{ErrorKind, PatternError};
use crate::regex::Regex;

pub(crate) use cursor::Cursor;
pub(crate) use json::parse_selector;

/// The longest pattern CloudWatch accepts, in characters.
pub const MAX_PATTERN_CHARS: usize = 1024;
/// Regexes allowed in one JSON or space-delimited pattern.
pub const MAX_REGEXES: usize = 2;
/// Wildcard selectors allowed in one pattern.
pub const MAX_WILDCARDS: usize = 3;
/// How deeply parentheses may nest (far beyond any real pattern; keeps recursion bounded).
pub const MAX_DEPTH: usize = 32;

/// Parses a filter pattern, checking it against the grammar and CloudWatch's limits.
///
/// ```
/// use trailwatch_pattern::{parse, PatternKind};
/// let p = parse(r#"{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed authentication") }"#)?;
/// assert!(matches!(p.kind, PatternKind::Json(_)));
/// let err = parse("{ $.eventName = }").unwrap_err();
/// assert_eq!(err.to_string(), "expected a value after '=', found '}' at column 17");
/// # Ok::<(), trailwatch_pattern::PatternError>(())
/// ```
pub fn parse(source: &str) -> Result<Pattern, PatternError> {
    let chars = source.chars().count();
    if chars > MAX_PATTERN_CHARS {
        let offset = source
            .char_indices()
            .nth(MAX_PATTERN_CHARS)
            .map_or(source.len(), |(i, _)| i);
        return Err(PatternError::at(source, offset, ErrorKind::TooLong(chars)));
    }
    let start = source.len() - source.trim_start_matches(is_space).len();
    let end = source.trim_end_matches(is_space).len().max(start);
    let mut cursor = Cursor::new(source, start, end);
    let kind = match cursor.peek() {
        None => PatternKind::MatchAll,
        Some('{') => PatternKind::Json(json::parse_json(&mut cursor)?),
        Some('[') => PatternKind::Delimited(delimited::parse_delimited(&mut cursor)?),
        Some('%') => PatternKind::Regex(standalone_regex(source, start, end)?),
        Some(_) => PatternKind::Terms(terms::parse_terms(&mut cursor)?),
    };
    Ok(Pattern {
        source: source.to_owned(),
        kind,
    })
}

/// A pattern that is one `%regex%` from start to end.
fn standalone_regex(source: &str, start: usize, end: usize) -> Result<Regex, PatternError> {
    let text = &source[start..end];
    if text.len() < 2 || !text.ends_with('%') {
        return Err(PatternError::at(source, end, ErrorKind::UnterminatedRegex));
    }
    Regex::new(&text[1..text.len() - 1], start + 1, source)
}

/// Whitespace between the parts of a pattern.
pub(crate) fn is_space(c: char) -> bool {
    c.is_ascii_whitespace()
}
