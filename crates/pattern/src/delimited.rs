//! Space-delimited patterns at evaluation time: split the event into tokens, bind fields to them,
//! test each field's conditions.
//!
//! Tokens are separated by runs of spaces and tabs. A token that starts with `"` runs to the next
//! `"`, one that starts with `[` to the next `]`, and the delimiters are stripped. Without `...`
//! the last field takes the rest of the line; with `...`, fields before it bind from the left and
//! fields after it from the right.

use crate::ast::{Delimited, FieldCondition, Literal};
use crate::number::{EventNumber, parse_token_number};
use crate::program::Program;
use crate::test_value::{compare_text, holds};

/// One token: the byte range of its text, and where it starts including an opening delimiter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Token {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) raw_start: u32,
}

/// A compiled space-delimited pattern.
#[derive(Debug, Clone)]
pub(crate) struct DelimitedMatcher {
    /// Number of fields (the ellipsis is not one).
    pub(crate) fields: usize,
    pub(crate) ellipsis: Option<usize>,
    /// Field names, by field index.
    pub(crate) names: Vec<Option<String>>,
    /// Conditions, by field index.
    pub(crate) programs: Vec<Option<Program<FieldCondition>>>,
}

impl DelimitedMatcher {
    pub(crate) fn compile(d: &Delimited) -> DelimitedMatcher {
        DelimitedMatcher {
            fields: d.fields.len(),
            ellipsis: d.ellipsis,
            names: d.fields.iter().map(|f| f.name.clone()).collect(),
            programs: d
                .fields
                .iter()
                .map(|f| f.cond.as_ref().map(Program::compile))
                .collect(),
        }
    }

    /// The field index of `name`.
    pub(crate) fn field_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_deref() == Some(name))
    }

    /// Binds fields to `tokens`: returns the byte range of each field's value, or `None` when the
    /// event has too few tokens. Ranges go into `out` (cleared first).
    pub(crate) fn bind(&self, line: &[u8], tokens: &[Token], out: &mut Vec<(u32, u32)>) -> bool {
        out.clear();
        let n = self.fields;
        if tokens.len() < n {
            return false;
        }
        match self.ellipsis {
            None => {
                for (i, t) in tokens.iter().take(n).enumerate() {
                    if i + 1 == n && tokens.len() > n {
                        // The last field takes the rest of the line, delimiters and all.
                        let end = trim_end(line).len() as u32;
                        out.push((t.raw_start, end));
                    } else {
                        out.push((t.start, t.end));
                    }
                }
            }
            Some(e) => {
                out.extend(tokens[..e].iter().map(|t| (t.start, t.end)));
                let after = n - e;
                out.extend(
                    tokens[tokens.len() - after..]
                        .iter()
                        .map(|t| (t.start, t.end)),
                );
            }
        }
        true
    }

    /// Evaluates every field's conditions on the bound values. Returns the result and, when a
    /// field decided it, (field index, condition id).
    pub(crate) fn test(&self, line: &[u8], bound: &[(u32, u32)]) -> (bool, Option<(usize, u32)>) {
        let mut last = None;
        for (i, program) in self.programs.iter().enumerate() {
            let Some(program) = program else { continue };
            let (start, end) = bound[i];
            let text = &line[start as usize..end as usize];
            let (ok, cond) = program.run(|_, c| test_token(c, text));
            last = cond.map(|c| (i, c));
            if !ok {
                return (false, last);
            }
        }
        (true, last)
    }
}

/// Splits `line` into tokens (into `out`, cleared first).
pub(crate) fn tokenize(line: &[u8], out: &mut Vec<Token>) {
    out.clear();
    let len = line.len();
    let mut i = 0;
    loop {
        while i < len && matches!(line[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if i >= len {
            return;
        }
        let close = match line[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(close) = close {
            if let Some(j) = memchr::memchr(close, &line[i + 1..]) {
                let end = i + 1 + j;
                out.push(Token {
                    start: (i + 1) as u32,
                    end: end as u32,
                    raw_start: i as u32,
                });
                i = end + 1;
                continue;
            }
        }
        let start = i;
        while i < len && !matches!(line[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        out.push(Token {
            start: start as u32,
            end: i as u32,
            raw_start: start as u32,
        });
    }
}

fn trim_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    &line[..end]
}

/// A token as a number, if it is one (integers exactly).
pub(crate) fn token_number(text: &[u8]) -> Option<EventNumber> {
    let digits = text
        .strip_prefix(b"-")
        .or_else(|| text.strip_prefix(b"+"))
        .unwrap_or(text);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        let s = std::str::from_utf8(text).ok()?;
        if let Ok(v) = s.parse::<u64>() {
            return Some(EventNumber::UInt(v));
        }
        if let Ok(v) = s.parse::<i64>() {
            return Some(EventNumber::Int(v));
        }
    }
    parse_token_number(text).map(EventNumber::Float)
}

/// One field condition on one token.
pub(crate) fn test_token(c: &FieldCondition, text: &[u8]) -> bool {
    if let Literal::Num(n) = &c.value {
        if let Some(v) = token_number(text) {
            return n.compare(v).is_some_and(|o| holds(c.op, o));
        }
    }
    // Relational operators need numbers on both sides; everything else compares text.
    !c.op.is_relational() && compare_text(c.op, &c.value, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokenize(line.as_bytes(), &mut out);
        out.iter()
            .map(|t| line[t.start as usize..t.end as usize].to_owned())
            .collect()
    }

    #[test]
    fn tokenizing() {
        assert_eq!(
            toks(
                r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#
            ),
            [
                "127.0.0.1",
                "Prod",
                "frank",
                "10/Oct/2000:13:25:15 -0700",
                "GET /index.html HTTP/1.0",
                "404",
                "1534"
            ]
        );
        assert_eq!(toks(r#"a "b"c d"#), ["a", "b", "c", "d"]);
        assert_eq!(toks("a \t b"), ["a", "b"]);
        assert_eq!(toks(r#"a "b c"#), ["a", "\"b", "c"]);
        assert!(toks("   ").is_empty());
    }
}
