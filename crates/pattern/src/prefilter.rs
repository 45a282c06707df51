//! An exact prefilter for JSON filters: decide from the raw bytes, without parsing, that a filter
//! cannot match.
//!
//! Every JSON condition except `NOT EXISTS` is false when its value is missing, so it needs the
//! last key of its selector to occur in the event as `"key"` followed by `:`. A condition
//! `= "literal"` on a selector ending in a key needs more: some occurrence of that key whose value
//! is the string `literal` (or matches the glob), or a number (whose text could match). These
//! *atoms* combine with the pattern's own `&&`/`||` into a requirement per filter; a filter whose
//! requirement fails is skipped, and an event no filter needs is never parsed.
//!
//! Exactness. Without `\u` escapes, a JSON string's decoded text differs from its raw bytes only
//! where `\"`, `\\`, `\/` or a control-character escape appear. Keys and literals used as anchors
//! contain none of `" \ /` or control characters, so they occur raw exactly when they occur
//! decoded; a value string containing a backslash counts as "could match". An event containing
//! `\u` anywhere skips the prefilter. Extra occurrences (nested keys, keys of other objects) can
//! only make more filters candidates, never fewer. The property tests compare prefiltered and
//! full evaluation.

use std::collections::HashMap;

use memchr::memmem;

use crate::ast::{CmpOp, Condition, Expr, Literal, Step, Test};
use crate::glob::Glob;

/// What a filter needs from the raw event.
#[derive(Debug, Clone)]
pub(crate) enum Requirement {
    /// Nothing can be ruled out.
    Always,
    Atom(u32),
    All(Vec<Requirement>),
    Any(Vec<Requirement>),
}

#[derive(Debug, Clone)]
enum AtomTest {
    Present,
    Exact,
    Glob(Glob),
}

#[derive(Debug, Clone)]
struct Atom {
    key: u32,
    test: AtomTest,
}

#[derive(Debug, Clone)]
struct AnchorKey {
    /// `"key"`, quotes included.
    finder: memmem::Finder<'static>,
    /// Exact-value atoms by the value they need.
    exact: HashMap<Box<[u8]>, Vec<u32>>,
    /// Every atom on this key.
    atoms: Vec<u32>,
}

/// The prefilter of a filter set: anchor keys, atoms and per-filter requirements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefilter {
    keys: Vec<AnchorKey>,
    key_index: HashMap<String, u32>,
    atoms: Vec<Atom>,
}

/// Per-event state of the prefilter (reused; reset by [`PrefilterScratch::reset`]).
#[derive(Debug, Default)]
pub(crate) struct PrefilterScratch {
    key_done: Vec<bool>,
    atom_true: Vec<bool>,
    escapes: Option<bool>,
}

impl PrefilterScratch {
    pub(crate) fn reset(&mut self, p: &Prefilter) {
        self.key_done.clear();
        self.key_done.resize(p.keys.len(), false);
        self.atom_true.clear();
        self.atom_true.resize(p.atoms.len(), false);
        self.escapes = None;
    }
}

/// Text usable as an anchor: it reads the same raw and decoded (see the module docs).
fn anchorable(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(|&b| b >= 0x20 && !matches!(b, b'"' | b'\\' | b'/'))
}

impl Prefilter {
    /// Builds the requirement of a JSON filter, adding its atoms.
    pub(crate) fn add(&mut self, expr: &Expr<Condition>) -> Requirement {
        match expr {
            Expr::Cond(c) => self.condition(c),
            Expr::And(items) => {
                let mut all: Vec<Requirement> = items
                    .iter()
                    .map(|i| self.add(i))
                    .filter(|r| !matches!(r, Requirement::Always))
                    .collect();
                match all.len() {
                    0 => Requirement::Always,
                    1 => all.remove(0),
                    _ => Requirement::All(all),
                }
            }
            Expr::Or(items) => {
                let any: Vec<Requirement> = items.iter().map(|i| self.add(i)).collect();
                if any.iter().any(|r| matches!(r, Requirement::Always)) {
                    Requirement::Always
                } else {
                    Requirement::Any(any)
                }
            }
        }
    }

    fn condition(&mut self, c: &Condition) -> Requirement {
        let steps = &c.selector.steps;
        let last_key = |steps: &[Step]| {
            steps.iter().rev().find_map(|s| match s {
                Step::Key(k) => Some(k.clone()),
                _ => None,
            })
        };
        let wildcard = c.selector.wildcard();
        let (key, value_test) = match &c.test {
            Test::NotExists => return Requirement::Always,
            // `!=` on a wildcard holds for an empty member set: only the parent must exist.
            Test::Compare(CmpOp::Ne, _) if wildcard.is_some() => {
                (last_key(&steps[..wildcard.unwrap_or(0)]), None)
            }
            Test::Compare(CmpOp::Eq, Literal::Str(glob))
                if matches!(steps.last(), Some(Step::Key(_))) =>
            {
                let usable = glob.parts().all(|p| p.is_empty() || anchorable(p))
                    && glob.parts().any(|p| !p.is_empty());
                (last_key(steps), usable.then(|| glob.clone()))
            }
            _ => (last_key(steps), None),
        };
        let Some(key) = key.filter(|k| anchorable(k.as_bytes())) else {
            return Requirement::Always;
        };
        let key_id = self.key(&key);
        let test = match value_test {
            Some(g) if g.is_exact() => AtomTest::Exact,
            Some(g) => AtomTest::Glob(g),
            None => AtomTest::Present,
        };
        let atom = self.atoms.len() as u32;
        if let (AtomTest::Exact, Test::Compare(_, Literal::Str(g))) = (&test, &c.test) {
            let value: Box<[u8]> = g.as_exact().unwrap_or_default().into();
            self.keys[key_id as usize]
                .exact
                .entry(value)
                .or_default()
                .push(atom);
        }
        self.keys[key_id as usize].atoms.push(atom);
        self.atoms.push(Atom { key: key_id, test });
        Requirement::Atom(atom)
    }

    fn key(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.key_index.get(key) {
            return id;
        }
        let id = self.keys.len() as u32;
        let quoted = format!("\"{key}\"");
        self.keys.push(AnchorKey {
            finder: memmem::Finder::new(quoted.as_bytes()).into_owned(),
            exact: HashMap::new(),
            atoms: Vec::new(),
        });
        self.key_index.insert(key.to_owned(), id);
        id
    }

    /// Whether `req` could hold for the raw JSON event `line`.
    pub(crate) fn could_match(
        &self,
        req: &Requirement,
        line: &[u8],
        s: &mut PrefilterScratch,
    ) -> bool {
        if matches!(req, Requirement::Always) {
            return true;
        }
        let escapes = *s
            .escapes
            .get_or_insert_with(|| memmem::find(line, b"\\u").is_some());
        escapes || self.eval(req, line, s)
    }

    fn eval(&self, req: &Requirement, line: &[u8], s: &mut PrefilterScratch) -> bool {
        match req {
            Requirement::Always => true,
            Requirement::Atom(a) => {
                let key = self.atoms[*a as usize].key as usize;
                if !s.key_done[key] {
                    self.scan(key, line, s);
                }
                s.atom_true[*a as usize]
            }
            Requirement::All(items) => items.iter().all(|r| self.eval(r, line, s)),
            Requirement::Any(items) => items.iter().any(|r| self.eval(r, line, s)),
        }
    }

    /// Finds every occurrence of key `k` and settles all of its atoms.
    fn scan(&self, k: usize, line: &[u8], s: &mut PrefilterScratch) {
        s.key_done[k] = true;
        let key = &self.keys[k];
        let needle = key.finder.needle().len();
        for at in key.finder.find_iter(line) {
            let mut i = skip_ws(line, at + needle);
            if line.get(i) != Some(&b':') {
                continue; // a string value that happens to spell the key
            }
            i = skip_ws(line, i + 1);
            for &a in &key.atoms {
                if matches!(self.atoms[a as usize].test, AtomTest::Present) {
                    s.atom_true[a as usize] = true;
                }
            }
            match line.get(i) {
                Some(b'"') => {
                    let body = &line[i + 1..];
                    match memchr::memchr2(b'"', b'\\', body) {
                        Some(end) if body[end] == b'"' => {
                            let value = &body[..end];
                            if let Some(atoms) = key.exact.get(value) {
                                for &a in atoms {
                                    s.atom_true[a as usize] = true;
                                }
                            }
                            for &a in &key.atoms {
                                if let AtomTest::Glob(g) = &self.atoms[a as usize].test {
                                    if g.matches(value) {
                                        s.atom_true[a as usize] = true;
                                    }
                                }
                            }
                        }
                        // An escape inside the value (or no closing quote): could be anything.
                        _ => self.all_true(key, s),
                    }
                }
                // Objects, arrays, booleans and null never satisfy a string condition.
                Some(b'{' | b'[' | b't' | b'f' | b'n') => {}
                // A number: its text could match.
                _ => self.all_true(key, s),
            }
        }
    }

    fn all_true(&self, key: &AnchorKey, s: &mut PrefilterScratch) {
        for &a in &key.atoms {
            s.atom_true[a as usize] = true;
        }
    }
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while matches!(line.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}
