//! String values with `*` wildcards, compiled to literal searches.
//!
//! A glob is split at its wildcards into literal parts. The first part must be a prefix, the last
//! a suffix, and the parts between are found left to right with precompiled `memmem` finders;
//! leftmost-first search is exact for `*`-only globs, so no backtracking is needed.

use memchr::memmem;

/// A string literal from a pattern, where `*` matches any run of characters.
#[derive(Clone)]
pub struct Glob {
    source: String,
    parts: Vec<Box<[u8]>>,
    middle: Vec<memmem::Finder<'static>>,
}

impl std::fmt::Debug for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl Glob {
    /// Builds a glob from its literal parts (the text between wildcards, in order; a glob without
    /// wildcards has one part). `source` is the text to show in messages.
    pub fn from_parts(source: String, parts: Vec<String>) -> Glob {
        let parts: Vec<Box<[u8]>> = if parts.is_empty() {
            vec![Box::default()]
        } else {
            parts
                .into_iter()
                .map(|p| p.into_bytes().into_boxed_slice())
                .collect()
        };
        let middle = if parts.len() > 2 {
            parts[1..parts.len() - 1]
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| memmem::Finder::new(p).into_owned())
                .collect()
        } else {
            Vec::new()
        };
        Glob {
            source,
            parts,
            middle,
        }
    }

    /// Builds a glob without wildcards.
    pub fn exact(text: &str) -> Glob {
        Glob::from_parts(text.to_owned(), vec![text.to_owned()])
    }

    /// The literal as written (wildcards shown as `*`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The literal parts between wildcards.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        self.parts.iter().map(|p| &p[..])
    }

    /// Whether the glob has no wildcard (it matches one exact string).
    pub fn is_exact(&self) -> bool {
        self.parts.len() == 1
    }

    /// The exact string, when the glob has no wildcard.
    pub fn as_exact(&self) -> Option<&[u8]> {
        self.is_exact().then(|| &self.parts[0][..])
    }

    /// Whether `text` matches the whole glob.
    pub fn matches(&self, text: &[u8]) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some((last, _)) = rest.split_last() else {
            return text == &first[..];
        };
        if text.len() < first.len() + last.len()
            || !text.starts_with(first)
            || !text.ends_with(last)
        {
            return false;
        }
        let mut hay = &text[first.len()..text.len() - last.len()];
        for finder in &self.middle {
            match finder.find(hay) {
                Some(at) => hay = &hay[at + finder.needle().len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(parts: &[&str]) -> Glob {
        Glob::from_parts(
            parts.join("*"),
            parts.iter().map(|p| p.to_string()).collect(),
        )
    }

    #[test]
    fn wildcards_anywhere() {
        assert!(glob(&["", "UnauthorizedOperation"]).matches(b"Client.UnauthorizedOperation"));
        assert!(!glob(&["", "UnauthorizedOperation"]).matches(b"UnauthorizedOperationX"));
        assert!(glob(&["AccessDenied", ""]).matches(b"AccessDeniedException"));
        assert!(glob(&["AccessDenied", ""]).matches(b"AccessDenied"));
        assert!(glob(&["", ""]).matches(b""));
        assert!(glob(&["a", "b", "c"]).matches(b"a-b-c"));
        assert!(glob(&["a", "b", "c"]).matches(b"abc"));
        assert!(!glob(&["a", "b", "c"]).matches(b"acb"));
        assert!(!glob(&["ab", "ba"]).matches(b"aba"));
        assert!(glob(&["", ".html", ""]).matches(b"GET /index.html HTTP/1.0"));
        assert!(glob(&["exact"]).matches(b"exact"));
        assert!(!glob(&["exact"]).matches(b"exact!"));
        assert!(glob(&["a", "", "b"]).matches(b"ab"));
    }
}
