//! A position in the pattern text, with the small helpers every parser needs.

use crate::error::{ErrorKind, Found, PatternError};

/// Reads the pattern `src[pos..end]`; offsets stay relative to the whole text, for columns.
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pub(crate) pos: usize,
    end: usize,
    /// Regexes seen so far (limit: 2 per pattern).
    pub(crate) regexes: usize,
    /// Wildcard selectors seen so far (limit: 3 per pattern).
    pub(crate) wildcards: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str, pos: usize, end: usize) -> Self {
        Cursor {
            src,
            pos,
            end,
            regexes: 0,
            wildcards: 0,
        }
    }

    /// The whole pattern text.
    pub(crate) fn source(&self) -> &'a str {
        self.src
    }

    /// What is left.
    pub(crate) fn rest(&self) -> &'a str {
        &self.src[self.pos..self.end]
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes `s` if the rest starts with it.
    pub(crate) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(super::is_space) {
            self.pos += 1;
        }
    }

    /// Consumes characters while `f` holds and returns them.
    pub(crate) fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        &self.src[start..self.pos]
    }

    /// What is at the cursor, for messages: a word if one starts here, else a char.
    pub(crate) fn found(&self) -> Found {
        let rest = self.rest();
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .take(24)
            .collect();
        if !word.is_empty() {
            Found::Word(word)
        } else {
            rest.chars().next().map_or(Found::End, Found::Char)
        }
    }

    pub(crate) fn error(&self, kind: ErrorKind) -> PatternError {
        PatternError::at(self.src, self.pos, kind)
    }

    pub(crate) fn error_at(&self, offset: usize, kind: ErrorKind) -> PatternError {
        PatternError::at(self.src, offset, kind)
    }

    /// "expected `what` [after `after`], found ..." at the cursor.
    pub(crate) fn expected(&self, what: &'static str, after: Option<&str>) -> PatternError {
        self.error(ErrorKind::Expected {
            expected: what,
            after: after.map(str::to_owned),
            found: self.found(),
        })
    }

    /// Fails unless the cursor is at the end (only whitespace remains).
    pub(crate) fn finish(&mut self) -> Result<(), PatternError> {
        self.skip_ws();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error(ErrorKind::TrailingInput(self.found())))
        }
    }
}
