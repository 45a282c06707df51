//! The `condition` of a Sigma rule: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `1 of them`, `all of them`, search identifiers. Precedence, least binding first: `or`,
//! `and`, `not`, `x of`, parentheses.

use super::SigmaError;
use super::yaml::Pos;

/// A parsed condition over search identifiers (by index into the rule's list).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Pipe,
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    at: usize,
    names: &'a [String],
    text: &'a str,
    pos: Pos,
}

/// Parses `text` (written at `pos`) against the rule's search identifiers `names`.
pub(crate) fn parse(text: &str, pos: Pos, names: &[String]) -> Result<Cond, SigmaError> {
    let mut toks = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                toks.push((Tok::Open, i));
            }
            ')' => {
                chars.next();
                toks.push((Tok::Close, i));
            }
            '|' => {
                chars.next();
                toks.push((Tok::Pipe, i));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '|') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                toks.push((Tok::Word(word), i));
            }
        }
    }
    let mut p = Parser {
        toks,
        at: 0,
        names,
        text,
        pos,
    };
    let cond = p.or()?;
    match p.toks.get(p.at) {
        None => Ok(cond),
        Some((Tok::Pipe, i)) => Err(p.error(
            *i,
            "aggregations (`| count() …`, Sigma 1.0) are not supported; Sigma 2 expresses them as correlation rules",
        )),
        Some((_, i)) => Err(p.error(*i, "expected 'and', 'or' or the end of the condition")),
    }
}

impl Parser<'_> {
    fn error(&self, offset: usize, message: &str) -> SigmaError {
        // Exact for a plain one-line condition, which starts at `pos`.
        let pos = Pos {
            line: self.pos.line,
            column: self.pos.column + self.text[..offset].chars().count(),
        };
        SigmaError::at(pos, "detection.condition", message.to_owned())
    }

    fn end(&self) -> usize {
        self.text.len()
    }

    fn word(&self) -> Option<&str> {
        match self.toks.get(self.at) {
            Some((Tok::Word(w), _)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.end(), |(_, i)| *i)
    }

    fn or(&mut self) -> Result<Cond, SigmaError> {
        let mut items = vec![self.and()?];
        while self.word() == Some("or") {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, SigmaError> {
        let mut items = vec![self.not()?];
        while self.word() == Some("and") {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, SigmaError> {
        if self.word() == Some("not") {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, SigmaError> {
        let offset = self.offset();
        match self.toks.get(self.at).cloned() {
            Some((Tok::Open, _)) => {
                self.at += 1;
                let inner = self.or()?;
                match self.toks.get(self.at) {
                    Some((Tok::Close, _)) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err(self.error(self.offset(), "expected ')'")),
                }
            }
            Some((Tok::Word(w), _)) => {
                self.at += 1;
                if self.word() == Some("of") {
                    let all = match w.as_str() {
                        "1" | "any" => false,
                        "all" => true,
                        _ => {
                            return Err(self.error(offset, "expected '1 of' or 'all of'"));
                        }
                    };
                    self.at += 1;
                    let target_at = self.offset();
                    let Some(target) = self.word().map(str::to_owned) else {
                        return Err(self.error(
                            target_at,
                            "expected a search-identifier pattern or 'them' after 'of'",
                        ));
                    };
                    self.at += 1;
                    let picked: Vec<Cond> = self
                        .names
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| {
                            if target == "them" {
                                !n.starts_with('_')
                            } else {
                                wildcard_match(&target, n)
                            }
                        })
                        .map(|(i, _)| Cond::Sel(i))
                        .collect();
                    if picked.is_empty() {
                        return Err(self.error(
                            target_at,
                            &format!("no search identifier matches '{target}'"),
                        ));
                    }
                    return Ok(if all { Cond::And(picked) } else { Cond::Or(picked) });
                }
                if matches!(w.as_str(), "and" | "or" | "not" | "of" | "them") {
                    return Err(self.error(offset, &format!("expected a search identifier, found '{w}'")));
                }
                match self.names.iter().position(|n| *n == w) {
                    Some(i) => Ok(Cond::Sel(i)),
                    None => Err(self.error(
                        offset,
                        &format!("unknown search identifier '{w}' (the detection defines {})", self.names.join(", ")),
                    )),
                }
            }
            Some((Tok::Close, _)) => Err(self.error(offset, "unexpected ')'")),
            Some((Tok::Pipe, _)) => Err(self.error(
                offset,
                "aggregations (`| count() …`, Sigma 1.0) are not supported; Sigma 2 expresses them as correlation rules",
            )),
            None => Err(self.error(offset, "the condition ends where a search identifier was expected")),
        }
    }
}

/// `*` matches any run of characters.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["selection", "filter_a", "filter_b", "_hidden"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn p(text: &str) -> Result<Cond, SigmaError> {
        parse(
            text,
            Pos {
                line: 3,
                column: 16,
            },
            &names(),
        )
    }

    #[test]
    fn precedence_or_and_not() {
        use Cond::*;
        assert_eq!(
            p("selection or filter_a and not filter_b").unwrap(),
            Or(vec![Sel(0), And(vec![Sel(1), Not(Box::new(Sel(2)))])])
        );
        assert_eq!(
            p("(selection or filter_a) and filter_b").unwrap(),
            And(vec![Or(vec![Sel(0), Sel(1)]), Sel(2)])
        );
        assert_eq!(
            p("not not selection").unwrap(),
            Not(Box::new(Not(Box::new(Sel(0)))))
        );
    }

    #[test]
    fn of_patterns_and_them() {
        use Cond::*;
        assert_eq!(p("1 of filter_*").unwrap(), Or(vec![Sel(1), Sel(2)]));
        assert_eq!(p("all of filter*").unwrap(), And(vec![Sel(1), Sel(2)]));
        // `them` leaves out identifiers starting with an underscore.
        assert_eq!(p("1 of them").unwrap(), Or(vec![Sel(0), Sel(1), Sel(2)]));
        assert_eq!(p("all of them").unwrap(), And(vec![Sel(0), Sel(1), Sel(2)]));
        assert_eq!(
            p("selection and not 1 of filter_*").unwrap(),
            And(vec![Sel(0), Not(Box::new(Or(vec![Sel(1), Sel(2)])))])
        );
    }

    #[test]
    fn errors_point_at_the_construct() {
        let e = p("selection and nope").unwrap_err();
        assert_eq!((e.line, e.column), (3, 16 + 14));
        assert!(
            e.message.contains("unknown search identifier 'nope'"),
            "{e}"
        );
        let e = p("1 of x*").unwrap_err();
        assert!(
            e.message.contains("no search identifier matches 'x*'"),
            "{e}"
        );
        let e = p("selection | count() > 5").unwrap_err();
        assert!(e.message.contains("aggregations"), "{e}");
        let e = p("(selection").unwrap_err();
        assert!(e.message.contains("expected ')'"), "{e}");
        let e = p("selection filter_a").unwrap_err();
        assert!(e.message.contains("expected 'and', 'or'"), "{e}");
    }
}
