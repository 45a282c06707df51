//! The CloudWatch Logs regex dialect (`%...%`): whitelist check, translation, compilation.
//!
//! CloudWatch accepts a small RE2-like dialect: letters, digits, a few symbols and the operators
//! `^ $ ? [ ] { } | \ * + .`, with no groups. We check that whitelist first (so we reject exactly
//! what CloudWatch rejects, e.g. `(` even when escaped), then translate the few places where the
//! `regex` crate reads the syntax differently from RE2: `\d \w \s` are ASCII classes, `{,n}` means
//! `{0,n}`, a `{` that starts no repetition is a literal, stacked quantifiers (`a++`) are errors,
//! and `--` inside a class is two literal dashes, not set difference.

use crate::error::{ErrorKind, PatternError};

/// A compiled CloudWatch regex. Matching is an unanchored search.
#[derive(Clone)]
pub struct Regex {
    source: String,
    compiled: regex::bytes::Regex,
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex(%{}%)", self.source)
    }
}

/// Compiled programs larger than this are refused, so a pattern cannot exhaust memory.
const SIZE_LIMIT: usize = 1 << 20;

impl Regex {
    /// Compiles the regex body `body` (without the `%` delimiters), which starts at byte `offset`
    /// of `pattern` (for error columns).
    pub fn new(body: &str, offset: usize, pattern: &str) -> Result<Regex, PatternError> {
        let err = |at: usize, kind| PatternError::at(pattern, offset + at, kind);
        if body.is_empty() {
            return Err(err(0, ErrorKind::EmptyRegex));
        }
        for (at, c) in body.char_indices() {
            if !allowed(c) {
                return Err(err(at, ErrorKind::InvalidRegexChar(c)));
            }
        }
        let translated = translate(body).map_err(|(at, kind)| err(at, kind))?;
        let compiled = regex::bytes::RegexBuilder::new(&translated)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| {
                let msg = e.to_string();
                let last = msg
                    .lines()
                    .last()
                    .unwrap_or(&msg)
                    .trim_start_matches("error: ");
                err(0, ErrorKind::InvalidRegex(last.to_owned()))
            })?;
        Ok(Regex {
            source: body.to_owned(),
            compiled,
        })
    }

    /// The regex as written, without `%` delimiters.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the regex is found anywhere in `text`.
    pub fn is_match(&self, text: &[u8]) -> bool {
        self.compiled.is_match(text)
    }
}

/// The CloudWatch regex character whitelist.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ':' | '_'
                | '#'
                | '='
                | '@'
                | '/'
                | ';'
                | ','
                | '-'
                | ' '
                | '^'
                | '$'
                | '?'
                | '['
                | ']'
                | '{'
                | '}'
                | '|'
                | '\\'
                | '*'
                | '+'
                | '.'
        )
}

type TranslateError = (usize, ErrorKind);

/// Rewrites the CloudWatch dialect into `regex` crate syntax with the same meaning.
fn translate(body: &str) -> Result<String, TranslateError> {
    let b = body.as_bytes();
    let mut out = String::with_capacity(body.len() * 2);
    let mut in_class = false;
    let mut class_len = 0usize; // items emitted since '[' (to spot a leading ']' or '^')
    // What the previous outside-class item was, to catch stacked quantifiers.
    #[derive(PartialEq)]
    enum Prev {
        Nothing,
        Atom,
        Quantifier,
        Lazy,
    }
    let mut prev = Prev::Nothing;
    let mut prev_class_dash = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_class {
            match c {
                b']' if class_len > 0 => {
                    out.push(']');
                    in_class = false;
                    prev = Prev::Atom;
                    i += 1;
                    continue;
                }
                b'^' if class_len == 0 => {
                    out.push('^');
                    i += 1;
                    continue;
                }
                b'\\' => {
                    let (text, used) = escape(b, i, true)?;
                    out.push_str(&text);
                    i += used;
                    class_len += 1;
                    prev_class_dash = false;
                    continue;
                }
                b'-' if prev_class_dash => out.push_str("\\-"),
                b'[' | b'&' | b'~' | b'{' | b'}' => {
                    out.push('\\');
                    out.push(char::from(c));
                }
                _ => out.push(char::from(c)),
            }
            prev_class_dash = c == b'-';
            class_len += 1;
            i += 1;
            continue;
        }
        match c {
            b'[' => {
                out.push('[');
                in_class = true;
                class_len = 0;
                prev_class_dash = false;
                i += 1;
            }
            b'\\' => {
                let (text, used) = escape(b, i, false)?;
                out.push_str(&text);
                i += used;
                prev = Prev::Atom;
            }
            b'*' | b'+' | b'?' => {
                match prev {
                    Prev::Quantifier if c == b'?' => {
                        out.push('?');
                        prev = Prev::Lazy;
                    }
                    Prev::Quantifier | Prev::Lazy => {
                        return Err((
                            i,
                            if c == b'+' {
                                ErrorKind::Unsupported("a possessive quantifier")
                            } else {
                                ErrorKind::InvalidRegex("repetition of a repetition".into())
                            },
                        ));
                    }
                    // RE2 and the regex crate both reject a quantifier with nothing before it.
                    Prev::Nothing | Prev::Atom => {
                        out.push(char::from(c));
                        prev = Prev::Quantifier;
                    }
                }
                i += 1;
            }
            b'{' => match repetition(&b[i..]) {
                Some((min, max, used)) => {
                    if matches!(prev, Prev::Quantifier | Prev::Lazy) {
                        return Err((
                            i,
                            ErrorKind::InvalidRegex("repetition of a repetition".into()),
                        ));
                    }
                    out.push('{');
                    out.push_str(min.unwrap_or("0"));
                    if let Some(max) = max {
                        out.push(',');
                        out.push_str(max);
                    }
                    out.push('}');
                    prev = Prev::Quantifier;
                    i += used;
                }
                None => {
                    out.push_str("\\{");
                    prev = Prev::Atom;
                    i += 1;
                }
            },
            b'}' => {
                out.push_str("\\}");
                prev = Prev::Atom;
                i += 1;
            }
            b'|' => {
                out.push('|');
                prev = Prev::Nothing;
                i += 1;
            }
            b'^' | b'$' => {
                out.push(char::from(c));
                prev = Prev::Atom;
                i += 1;
            }
            // '#' and ' ' are literal outside verbose mode; everything else left is a literal.
            _ => {
                out.push(char::from(c));
                prev = Prev::Atom;
                i += 1;
            }
        }
    }
    if in_class {
        return Err((
            body.len(),
            ErrorKind::InvalidRegex("unclosed character class".into()),
        ));
    }
    Ok(out)
}

/// Parses `{m}`, `{m,}`, `{m,n}` or `{,n}` at the start of `b`. Returns (min, max, bytes used),
/// where max is `Some("")` for `{m,}` and `None` for `{m}`.
fn repetition(b: &[u8]) -> Option<(Option<&str>, Option<&str>, usize)> {
    let close = b.iter().position(|&c| c == b'}')?;
    let inner = std::str::from_utf8(&b[1..close]).ok()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match inner.split_once(',') {
        None if digits(inner) => Some((Some(inner), None, close + 1)),
        Some((m, n)) if digits(m) && (n.is_empty() || digits(n)) => {
            Some((Some(m), Some(n), close + 1))
        }
        Some(("", n)) if digits(n) => Some((None, Some(n), close + 1)),
        _ => None,
    }
}

/// Translates the escape at `b[i]` (a backslash). Returns the replacement and the bytes used.
fn escape(b: &[u8], i: usize, in_class: bool) -> Result<(String, usize), TranslateError> {
    let Some(&c) = b.get(i + 1) else {
        return Err((i, ErrorKind::InvalidRegex("trailing backslash".into())));
    };
    let class = |inner: &str, negated: bool| -> String {
        match (in_class, negated) {
            (true, false) => inner.to_owned(),
            (_, true) => format!("[^{inner}]"),
            (false, false) => format!("[{inner}]"),
        }
    };
    const DIGIT: &str = "0-9";
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = "\\t\\n\\x0B\\x0C\\r ";
    let text = match c {
        b'd' => class(DIGIT, false),
        b'D' => class(DIGIT, true),
        b'w' => class(WORD, false),
        b'W' => class(WORD, true),
        b's' => class(SPACE, false),
        b'S' => class(SPACE, true),
        b'x' => {
            let hex = b
                .get(i + 2..i + 4)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let Some(hex) = hex else {
                return Err((
                    i,
                    ErrorKind::InvalidRegex("\\x needs two hex digits".into()),
                ));
            };
            let hex = std::str::from_utf8(hex).unwrap_or("00");
            return Ok((format!("\\x{hex}"), 4));
        }
        b't' | b'n' | b'r' | b'f' | b'v' => format!("\\{}", char::from(c)),
        b'b' | b'B' | b'A' | b'z' if !in_class => format!("\\{}", char::from(c)),
        c if c.is_ascii_punctuation() || c == b' ' => format!("\\{}", char::from(c)),
        _ => {
            return Err((
                i,
                ErrorKind::InvalidRegex(format!("unknown escape sequence '\\{}'", char::from(c))),
            ));
        }
    };
    Ok((text, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(body: &str) -> Result<Regex, PatternError> {
        let pattern = format!("%{body}%");
        Regex::new(body, 1, &pattern)
    }

    fn is(body: &str, text: &str) -> bool {
        re(body).unwrap().is_match(text.as_bytes())
    }

    #[test]
    fn documented_examples() {
        assert!(is("AUTHORIZED", "UNAUTHORIZED"));
        assert!(is("^[hc]at", "hat trick"));
        assert!(!is("^[hc]at", "that"));
        assert!(is("[hc]at$", "the cat"));
        assert!(is("colou?r", "color"));
        assert!(is("a{3,5}", "baaab"));
        assert!(!is("a{3,5}", "baab"));
        assert!(is("gra|ey", "grey"));
        assert!(is("gra|ey", "hey"));
        assert!(is(r"\[.\]", "[x]"));
        assert!(is(r"10\.10\.0\.1", "ip 10.10.0.1"));
        assert!(!is(r"10\.10\.0\.1", "ip 10x10.0.1"));
        assert!(is(r"\x3A", "a:b"));
        assert!(is(r"\x28", "f(x)"));
        assert!(is(
            r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
            "from 192.168.0.1"
        ));
        assert!(is("[Ee]rror|[Ff]ail", "Failure"));
        assert!(is(
            "^starting|^initializing|^shutting down",
            "shutting down now"
        ));
    }

    #[test]
    fn ascii_classes_and_newlines() {
        assert!(!is(r"\d", "٣"));
        assert!(!is(r"\w", "é"));
        assert!(is(r"\s", "a\nb"));
        assert!(!is("a.b", "a\nb"));
        assert!(is(r"[\d]x", "5x"));
        assert!(is(r"[^\d]x", "ax"));
        assert!(!is(r"[^\d]x", "5x"));
    }

    #[test]
    fn re2_syntax_differences() {
        assert!(is("a{,2}b", "b"));
        assert!(is("a{", "a{"));
        assert!(is("a{x}", "a{x}"));
        assert!(is("}", "}"));
        assert!(is("[-a]", "-"));
        assert!(is("[a-c-]", "-"));
        assert!(is("a+?", "a"));
        assert!(is("[]a]", "]"));
    }

    #[test]
    fn rejected_like_cloudwatch() {
        for body in [
            "a(b)", r"\(", "a!", "a&b", "é", "a++", "a**", r"\p", "[z-a]", "", "a\"b", "a%b",
            "[abc", r"\1",
        ] {
            assert!(re(body).is_err(), "{body:?} should be rejected");
        }
    }
}
