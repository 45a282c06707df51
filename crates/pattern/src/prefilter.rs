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
use std::hash::{BuildHasherDefault, Hasher};

use memchr::memmem;

use crate::ast::{CmpOp, Condition, Expr, Literal, Step, Test};
use crate::glob::Glob;
use crate::sigma::leaf::{Leaf, LeafTest, TextMatch};

/// A set of atoms, one bit each.
type Bits = Box<[u64]>;

fn bit_set(bits: &mut [u64], i: u32) {
    bits[(i / 64) as usize] |= 1 << (i % 64);
}

/// The exact-value tables are looked up with short strings on every event; a hash of the length
/// and the first and last eight bytes costs the same whatever the length (the table compares
/// the whole key anyway).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        let n = bytes.len();
        let head = word(&bytes[..n.min(8)]);
        let tail = word(&bytes[n.saturating_sub(8)..]);
        let mut h = self.0 ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h = (h ^ head).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h = (h ^ tail).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        self.0 = h ^ (h >> 33);
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// What a filter needs from the raw event, as a tree of `&&`/`||` nodes. Each node tests its
/// direct atoms a key at a time (one mask per key), then its child nodes.
#[derive(Debug, Clone)]
pub(crate) enum Requirement {
    /// Nothing can be ruled out.
    Always,
    /// Every group and child must hold.
    All(Node),
    /// Some group or child must hold.
    Any(Node),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Direct atoms, grouped by key: (key, atom bits).
    groups: Vec<(u32, Vec<u32>)>,
    /// The same groups as masks, built by `Prefilter::seal`.
    masks: Vec<(u32, Bits)>,
    children: Vec<Requirement>,
    /// Every key this node or its children read (so a child can be tried first when all of its
    /// keys are already scanned).
    keys: Vec<u32>,
}

impl Requirement {
    fn keys(&self) -> &[u32] {
        match self {
            Requirement::Always => &[],
            Requirement::All(n) | Requirement::Any(n) => &n.keys,
        }
    }
}

/// Built form of a requirement before it is grouped.
enum Raw {
    Always,
    Atom(u32, u32),
    All(Vec<Raw>),
    Any(Vec<Raw>),
}

#[derive(Debug, Clone)]
struct AnchorKey {
    /// `"key"`, quotes included.
    finder: memmem::Finder<'static>,
    /// Atoms that hold when the key occurs at all.
    present: Vec<u32>,
    /// Atoms that hold when the key's value is a given string.
    exact: FnvMap<Box<[u8]>, Vec<u32>>,
    /// Atoms that hold when the key's value matches a glob.
    globs: Vec<(Glob, u32)>,
    /// Masks of the above, built by `seal`.
    present_mask: Bits,
    exact_masks: FnvMap<Box<[u8]>, Bits>,
    /// Every value atom (exact and glob): what a number or escaped string could satisfy.
    value_mask: Bits,
    /// Sigma value atoms, kept apart because Sigma compares more than strings (numbers and
    /// booleans by their text, and searches inside objects and arrays).
    sigma: SigmaAtoms,
}

/// A Sigma item's value test, run on a raw string value that has no escapes (so it reads the
/// same raw and decoded).
#[derive(Debug, Clone)]
enum SigmaValue {
    Text(TextMatch),
    Regex(regex::Regex),
}

impl SigmaValue {
    fn matches(&self, text: &str) -> bool {
        match self {
            SigmaValue::Text(t) => t.matches(text),
            SigmaValue::Regex(r) => r.is_match(text),
        }
    }
}

/// The Sigma value atoms of one key.
#[derive(Debug, Clone, Default)]
struct SigmaAtoms {
    /// Case-sensitive exact values.
    exact: FnvMap<Box<[u8]>, Vec<u32>>,
    /// Case-insensitive ASCII exact values, lower-cased: an ASCII value is lower-cased and looked
    /// up (for ASCII text, Unicode simple case folding is ASCII case folding).
    folded: FnvMap<Box<[u8]>, Vec<u32>>,
    /// Anything else (wildcards, non-ASCII, regexes): the test itself.
    tests: Vec<(SigmaValue, u32)>,
    exact_masks: FnvMap<Box<[u8]>, Bits>,
    folded_masks: FnvMap<Box<[u8]>, Bits>,
    /// Every folded atom: what a non-ASCII value could satisfy.
    folded_all: Bits,
    /// Every Sigma value atom: what a number, boolean, object, array or escaped string could
    /// satisfy.
    all: Bits,
    /// Whether there is any (so keys without Sigma atoms do no extra work).
    any: bool,
}

/// The prefilter of a filter set: anchor keys, atoms and per-filter requirements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefilter {
    keys: Vec<AnchorKey>,
    key_index: HashMap<String, u32>,
    atom_index: HashMap<(u32, AtomKind), u32>,
    /// Per atom: its key, and whether it tests a value (rather than presence).
    atom_keys: Vec<(u32, bool)>,
    atoms: u32,
    /// Per requirement (as passed to `seal`): atoms one of which must hold for it to hold, how
    /// to settle them, and their mask. One mask test then rejects most events without walking
    /// the requirement.
    necessary: Vec<Option<(Vec<Settle>, Bits)>>,
    /// Per atom: a search for its exact value with quotes (`"Root"`), when that settles it more
    /// cheaply than scanning its key (see [`Settle`]).
    probes: Vec<Option<memmem::Finder<'static>>>,
    words: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AtomKind {
    Present,
    Exact(Box<[u8]>),
    Glob(String),
    SigmaExact(Box<[u8]>),
    SigmaFolded(Box<[u8]>),
    /// A Sigma test, by a text that identifies it.
    SigmaTest(String),
}

/// How a necessary atom is settled for an event.
#[derive(Debug, Clone)]
pub(crate) enum Settle {
    /// Scan this key (settles all of its atoms).
    Key(u32),
    /// Probe for this exact-value atom's `"value"`: absent means false; present means its key is
    /// scanned. Used for keys with few value atoms that occur many times per event (`type`).
    Probe(u32),
}

/// Per-event state of the prefilter (reused; reset by [`PrefilterScratch::reset`]).
#[derive(Debug, Default)]
pub(crate) struct PrefilterScratch {
    /// Per atom: probed and found absent.
    probed_absent: Vec<bool>,
    /// A value lower-cased for the folded Sigma lookup.
    folded: Vec<u8>,
    key_done: Vec<bool>,
    atom_true: Vec<u64>,
    escapes: Option<bool>,
}

impl PrefilterScratch {
    pub(crate) fn reset(&mut self, p: &Prefilter) {
        self.key_done.clear();
        self.key_done.resize(p.keys.len(), false);
        self.probed_absent.clear();
        self.probed_absent.resize(p.probes.len(), false);
        self.atom_true.clear();
        self.atom_true.resize(p.words, 0);
        self.escapes = None;
    }
}

/// Text usable as an anchor: it reads the same raw and decoded (see the module docs).
fn anchorable(text: &[u8]) -> bool {
    !text.is_empty()
        && text
            .iter()
            .all(|&b| b >= 0x20 && !matches!(b, b'"' | b'\\' | b'/'))
}

impl Prefilter {
    /// Builds the requirement of a JSON filter, adding its atoms. Call [`Prefilter::seal`] after
    /// the last filter.
    pub(crate) fn add(&mut self, expr: &Expr<Condition>) -> Requirement {
        let raw = self.raw(expr);
        group(raw)
    }

    /// Builds the requirement of a Sigma rule's (negation-free) expression.
    pub(crate) fn add_sigma(&mut self, expr: &Expr<Leaf>) -> Requirement {
        let raw = self.raw_of(expr, &mut Prefilter::sigma_leaf);
        group(raw)
    }

    fn raw(&mut self, expr: &Expr<Condition>) -> Raw {
        self.raw_of(expr, &mut Prefilter::condition)
    }

    fn raw_of<C>(&mut self, expr: &Expr<C>, atom: &mut impl FnMut(&mut Self, &C) -> Raw) -> Raw {
        match expr {
            Expr::Cond(c) => atom(self, c),
            Expr::And(items) => {
                let all: Vec<Raw> = items
                    .iter()
                    .map(|i| self.raw_of(i, atom))
                    .filter(|r| !matches!(r, Raw::Always))
                    .collect();
                if all.is_empty() {
                    Raw::Always
                } else {
                    Raw::All(all)
                }
            }
            Expr::Or(items) => {
                let any: Vec<Raw> = items.iter().map(|i| self.raw_of(i, atom)).collect();
                if any.iter().any(|r| matches!(r, Raw::Always)) {
                    Raw::Always
                } else {
                    Raw::Any(any)
                }
            }
        }
    }

    fn condition(&mut self, c: &Condition) -> Raw {
        let steps = &c.selector.steps;
        let last_key = |steps: &[Step]| {
            steps.iter().rev().find_map(|s| match s {
                Step::Key(k) => Some(k.clone()),
                _ => None,
            })
        };
        let wildcard = c.selector.wildcard();
        let (key, value_test) = match &c.test {
            Test::NotExists => return Raw::Always,
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
            return Raw::Always;
        };
        let key_id = self.key(&key);
        let kind = match &value_test {
            Some(g) => match g.as_exact() {
                Some(exact) => AtomKind::Exact(exact.into()),
                None => AtomKind::Glob(g.source().to_owned()),
            },
            None => AtomKind::Present,
        };
        if let Some(&atom) = self.atom_index.get(&(key_id, kind.clone())) {
            return Raw::Atom(key_id, atom);
        }
        let atom = self.atoms;
        self.atoms += 1;
        self.atom_keys
            .push((key_id, !matches!(kind, AtomKind::Present)));
        let k = &mut self.keys[key_id as usize];
        match (&kind, value_test) {
            (AtomKind::Present, _) => k.present.push(atom),
            (AtomKind::Exact(v), _) => k.exact.entry(v.clone()).or_default().push(atom),
            (AtomKind::Glob(_), Some(g)) => k.globs.push((g, atom)),
            (AtomKind::Glob(_), None) => unreachable!("a glob atom has a glob"),
            (AtomKind::SigmaExact(_) | AtomKind::SigmaFolded(_) | AtomKind::SigmaTest(_), _) => {
                unreachable!("CloudWatch conditions make no Sigma atoms")
            }
        }
        self.atom_index.insert((key_id, kind), atom);
        Raw::Atom(key_id, atom)
    }

    /// What a Sigma item needs from the raw event. A negated item, `null`, `exists: false` and
    /// keywords need nothing that can be anchored; other items need the field's last key, and
    /// string tests a value of it that passes.
    fn sigma_leaf(&mut self, leaf: &Leaf) -> Raw {
        let Some(field) = &leaf.field else {
            return Raw::Always;
        };
        if leaf.negated {
            return Raw::Always;
        }
        let value = match &leaf.test {
            LeafTest::Null | LeafTest::Exists(false) => return Raw::Always,
            LeafTest::Never => return Raw::Any(Vec::new()),
            LeafTest::Text(t) => Some(match t.exact() {
                Some(e) if t.cased && anchorable(e.as_bytes()) => {
                    (AtomKind::SigmaExact(e.as_bytes().into()), None)
                }
                Some(e) if !t.cased && e.is_ascii() && anchorable(e.as_bytes()) => (
                    AtomKind::SigmaFolded(e.to_ascii_lowercase().into_bytes().into()),
                    None,
                ),
                _ => (
                    AtomKind::SigmaTest(format!("text {} {}", t.cased, t.sigma_text())),
                    Some(SigmaValue::Text(t.clone())),
                ),
            }),
            LeafTest::Regex(r) => Some((
                AtomKind::SigmaTest(format!("re {}", r.as_str())),
                Some(SigmaValue::Regex(r.clone())),
            )),
            _ => None,
        };
        let Some(key) = field.steps.last().filter(|k| anchorable(k.as_bytes())) else {
            return Raw::Always;
        };
        let key_id = self.key(key);
        let kind = value.as_ref().map_or(AtomKind::Present, |(k, _)| k.clone());
        if let Some(&atom) = self.atom_index.get(&(key_id, kind.clone())) {
            return Raw::Atom(key_id, atom);
        }
        let atom = self.atoms;
        self.atoms += 1;
        self.atom_keys.push((key_id, value.is_some()));
        let sigma = &mut self.keys[key_id as usize].sigma;
        match (&kind, value) {
            (AtomKind::SigmaExact(v), _) => sigma.exact.entry(v.clone()).or_default().push(atom),
            (AtomKind::SigmaFolded(v), _) => sigma.folded.entry(v.clone()).or_default().push(atom),
            (AtomKind::SigmaTest(_), Some((_, Some(test)))) => sigma.tests.push((test, atom)),
            _ => self.keys[key_id as usize].present.push(atom),
        }
        self.atom_index.insert((key_id, kind), atom);
        Raw::Atom(key_id, atom)
    }

    fn key(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.key_index.get(key) {
            return id;
        }
        let id = self.keys.len() as u32;
        let quoted = format!("\"{key}\"");
        self.keys.push(AnchorKey {
            finder: memmem::FinderBuilder::new()
                .build_forward_with_ranker(crate::json_rank::JsonRank, quoted.as_bytes())
                .into_owned(),
            present: Vec::new(),
            exact: FnvMap::default(),
            globs: Vec::new(),
            present_mask: Bits::default(),
            exact_masks: FnvMap::default(),
            value_mask: Bits::default(),
            sigma: SigmaAtoms::default(),
        });
        self.key_index.insert(key.to_owned(), id);
        id
    }

    /// Builds the masks, now that the number of atoms is known; `reqs` are the requirements
    /// returned by `add`.
    pub(crate) fn seal(&mut self, reqs: &mut [Requirement]) {
        self.words = (self.atoms as usize).div_ceil(64);
        let words = self.words;
        let mask = |atoms: &[u32]| -> Bits {
            let mut b = vec![0u64; words].into_boxed_slice();
            for &a in atoms {
                bit_set(&mut b, a);
            }
            b
        };
        for k in &mut self.keys {
            k.present_mask = mask(&k.present);
            k.exact_masks = k.exact.iter().map(|(v, a)| (v.clone(), mask(a))).collect();
            let values: Vec<u32> = k
                .exact
                .values()
                .flatten()
                .copied()
                .chain(k.globs.iter().map(|(_, a)| *a))
                .collect();
            k.value_mask = mask(&values);
            let sg = &mut k.sigma;
            sg.exact_masks = sg.exact.iter().map(|(v, a)| (v.clone(), mask(a))).collect();
            sg.folded_masks = sg
                .folded
                .iter()
                .map(|(v, a)| (v.clone(), mask(a)))
                .collect();
            let folded: Vec<u32> = sg.folded.values().flatten().copied().collect();
            sg.folded_all = mask(&folded);
            let all: Vec<u32> = sg
                .exact
                .values()
                .flatten()
                .copied()
                .chain(folded)
                .chain(sg.tests.iter().map(|(_, a)| *a))
                .collect();
            sg.any = !all.is_empty();
            sg.all = mask(&all);
        }
        fn seal_req(r: &mut Requirement, mask: &dyn Fn(&[u32]) -> Bits) {
            if let Requirement::All(n) | Requirement::Any(n) = r {
                n.masks = n
                    .groups
                    .iter()
                    .map(|(k, atoms)| (*k, mask(atoms)))
                    .collect();
                for c in &mut n.children {
                    seal_req(c, mask);
                }
            }
        }
        for r in reqs.iter_mut() {
            seal_req(r, &mask);
        }
        let mut popularity = vec![0usize; self.keys.len()];
        for r in reqs.iter() {
            for &k in r.keys() {
                popularity[k as usize] += 1;
            }
        }
        // Exact values worth probing: on keys with at most two value atoms (a key like
        // `eventName`, with dozens, is cheaper to scan once), not spelling a number (a number
        // value is not quoted, and could match).
        let mut probes: Vec<Option<memmem::Finder<'static>>> = vec![None; self.atoms as usize];
        for k in &self.keys {
            if k.exact.len() > 2 {
                continue;
            }
            for (value, atoms) in &k.exact {
                let numeric = std::str::from_utf8(value)
                    .ok()
                    .and_then(crate::number::Number::parse)
                    .is_some();
                if value.len() < 3 || numeric {
                    continue;
                }
                let quoted = [&b"\""[..], value, b"\""].concat();
                for &a in atoms {
                    probes[a as usize] = Some(
                        memmem::FinderBuilder::new()
                            .build_forward_with_ranker(crate::json_rank::JsonRank, &quoted)
                            .into_owned(),
                    );
                }
            }
        }
        self.probes = probes;
        self.necessary = reqs
            .iter()
            .map(|r| {
                let atoms = self.necessary_atoms(r, &popularity)?;
                let mut settle: Vec<Settle> = Vec::new();
                for &a in &atoms {
                    let key = self.atom_keys[a as usize].0;
                    let item = if self.probes[a as usize].is_some() {
                        Settle::Probe(a)
                    } else {
                        Settle::Key(key)
                    };
                    let dup = settle.iter().any(|s| match (s, &item) {
                        (Settle::Key(x), Settle::Key(y)) => x == y,
                        (Settle::Probe(x), Settle::Probe(y)) => x == y,
                        _ => false,
                    });
                    if !dup {
                        settle.push(item);
                    }
                }
                Some((settle, mask(&atoms)))
            })
            .collect();
    }

    /// Atoms one of which must hold for `r` to hold (`None`: no such set). For `&&`, the
    /// cheapest conjunct: fewest keys, on the keys most filters read (scanned anyway), testing
    /// values rather than presence (values rule out more).
    fn necessary_atoms(&self, r: &Requirement, popularity: &[usize]) -> Option<Vec<u32>> {
        match r {
            Requirement::Always => None,
            Requirement::Any(n) => {
                let mut out: Vec<u32> = n
                    .groups
                    .iter()
                    .flat_map(|(_, atoms)| atoms.iter().copied())
                    .collect();
                for c in &n.children {
                    out.extend(self.necessary_atoms(c, popularity)?);
                }
                Some(out)
            }
            Requirement::All(n) => {
                let options = n
                    .groups
                    .iter()
                    .flat_map(|(_, atoms)| atoms.iter().map(|&a| vec![a]))
                    .chain(
                        n.children
                            .iter()
                            .filter_map(|c| self.necessary_atoms(c, popularity)),
                    );
                options.min_by_key(|atoms| {
                    let mut keys: Vec<u32> = atoms
                        .iter()
                        .map(|&a| self.atom_keys[a as usize].0)
                        .collect();
                    keys.sort_unstable();
                    keys.dedup();
                    let pop: usize = keys.iter().map(|&k| popularity[k as usize]).sum();
                    let presence = atoms
                        .iter()
                        .filter(|&&a| !self.atom_keys[a as usize].1)
                        .count();
                    (keys.len(), usize::MAX - pop, presence)
                })
            }
        }
    }

    /// Whether `req` could hold for the raw JSON event `line`.
    /// `id` is the requirement's position in what was passed to `seal`.
    pub(crate) fn could_match(
        &self,
        id: usize,
        req: &Requirement,
        line: &[u8],
        s: &mut PrefilterScratch,
    ) -> bool {
        if matches!(req, Requirement::Always) {
            return true;
        }
        let escapes = *s.escapes.get_or_insert_with(|| has_unicode_escape(line));
        if escapes {
            return true;
        }
        if let Some(Some((settle, mask))) = self.necessary.get(id) {
            for item in settle {
                let key = match *item {
                    Settle::Key(k) => k,
                    Settle::Probe(a) => {
                        let key = self.atom_keys[a as usize].0;
                        if s.key_done[key as usize] || s.probed_absent[a as usize] {
                            continue;
                        }
                        let found = self.probes[a as usize]
                            .as_ref()
                            .is_some_and(|f| f.find(line).is_some());
                        if !found {
                            s.probed_absent[a as usize] = true;
                            continue;
                        }
                        key
                    }
                };
                if !s.key_done[key as usize] {
                    self.scan(key as usize, line, s);
                }
            }
            if s.atom_true.iter().zip(mask.iter()).all(|(t, m)| t & m == 0) {
                return false;
            }
        }
        self.eval(req, line, s)
    }

    fn eval(&self, req: &Requirement, line: &[u8], s: &mut PrefilterScratch) -> bool {
        let (node, all) = match req {
            Requirement::Always => return true,
            Requirement::All(n) => (n, true),
            Requirement::Any(n) => (n, false),
        };
        // The common shape (`eventName` ∈ {…}, one key's atoms and nothing else): no loops.
        if let ([(key, mask)], []) = (&node.masks[..], &node.children[..]) {
            if !s.key_done[*key as usize] {
                self.scan(*key as usize, line, s);
            }
            return self.group_holds(mask, all, s);
        }
        let decides = |holds: bool| holds != all;
        // Work that needs no new scan first: groups and children whose keys are all scanned
        // already can decide the node without touching the event again.
        for (key, mask) in &node.masks {
            if s.key_done[*key as usize] && decides(self.group_holds(mask, all, s)) {
                return !all;
            }
        }
        for child in &node.children {
            if child.keys().iter().all(|k| s.key_done[*k as usize])
                && decides(self.eval(child, line, s))
            {
                return !all;
            }
        }
        for (key, mask) in &node.masks {
            if !s.key_done[*key as usize] {
                self.scan(*key as usize, line, s);
                if decides(self.group_holds(mask, all, s)) {
                    return !all;
                }
            }
        }
        for child in &node.children {
            if !child.keys().iter().all(|k| s.key_done[*k as usize])
                && decides(self.eval(child, line, s))
            {
                return !all;
            }
        }
        all
    }

    /// Whether all (for `&&`) or any (for `||`) of the atoms in `mask` hold.
    fn group_holds(&self, mask: &[u64], all: bool, s: &PrefilterScratch) -> bool {
        let mut hits = s.atom_true.iter().zip(mask);
        if all {
            hits.all(|(t, m)| t & m == *m)
        } else {
            hits.any(|(t, m)| t & m != 0)
        }
    }

    /// Finds every occurrence of key `k` and settles all of its atoms.
    fn scan(&self, k: usize, line: &[u8], s: &mut PrefilterScratch) {
        s.key_done[k] = true;
        let key = &self.keys[k];
        let needle = key.finder.needle().len();
        let or =
            |bits: &mut [u64], mask: &[u64]| bits.iter_mut().zip(mask).for_each(|(b, m)| *b |= m);
        for at in key.finder.find_iter(line) {
            let mut i = skip_ws(line, at + needle);
            if line.get(i) != Some(&b':') {
                continue; // a string value that happens to spell the key
            }
            i = skip_ws(line, i + 1);
            or(&mut s.atom_true, &key.present_mask);
            match line.get(i) {
                Some(b'"') => {
                    let body = &line[i + 1..];
                    match memchr::memchr2(b'"', b'\\', body) {
                        Some(end) if body[end] == b'"' => {
                            let value = &body[..end];
                            if let Some(mask) = key.exact_masks.get(value) {
                                or(&mut s.atom_true, mask);
                            }
                            for (g, a) in &key.globs {
                                if g.matches(value) {
                                    bit_set(&mut s.atom_true, *a);
                                }
                            }
                            if key.sigma.any {
                                sigma_string(&key.sigma, value, s);
                            }
                        }
                        // An escape inside the value (or no closing quote): could be anything.
                        _ => {
                            or(&mut s.atom_true, &key.value_mask);
                            if key.sigma.any {
                                or(&mut s.atom_true, &key.sigma.all);
                            }
                        }
                    }
                }
                // Null satisfies no value test.
                Some(b'n') => {}
                // Objects, arrays and booleans never satisfy a string condition; a Sigma test
                // reads booleans as text and searches inside objects and arrays.
                Some(b'{' | b'[' | b't' | b'f') => {
                    if key.sigma.any {
                        or(&mut s.atom_true, &key.sigma.all);
                    }
                }
                // A number: its text could match.
                _ => {
                    or(&mut s.atom_true, &key.value_mask);
                    if key.sigma.any {
                        or(&mut s.atom_true, &key.sigma.all);
                    }
                }
            }
        }
    }
}

/// Settles a key's Sigma atoms for one string value without escapes.
fn sigma_string(sg: &SigmaAtoms, value: &[u8], s: &mut PrefilterScratch) {
    let or = |bits: &mut [u64], mask: &[u64]| bits.iter_mut().zip(mask).for_each(|(b, m)| *b |= m);
    if let Some(mask) = sg.exact_masks.get(value) {
        or(&mut s.atom_true, mask);
    }
    if !sg.folded_masks.is_empty() {
        if value.is_ascii() {
            s.folded.clear();
            s.folded.extend(value.iter().map(u8::to_ascii_lowercase));
            if let Some(mask) = sg.folded_masks.get(&s.folded[..]) {
                or(&mut s.atom_true, mask);
            }
        } else {
            or(&mut s.atom_true, &sg.folded_all);
        }
    }
    if !sg.tests.is_empty() {
        match std::str::from_utf8(value) {
            Ok(text) => {
                for (test, atom) in &sg.tests {
                    if test.matches(text) {
                        bit_set(&mut s.atom_true, *atom);
                    }
                }
            }
            Err(_) => or(&mut s.atom_true, &sg.all),
        }
    }
}

/// Turns a raw requirement into nodes whose direct atoms are grouped by key.
fn group(raw: Raw) -> Requirement {
    fn node(items: Vec<Raw>) -> Node {
        let mut n = Node::default();
        for item in items {
            match item {
                Raw::Atom(key, atom) => match n.groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, atoms)) => atoms.push(atom),
                    None => n.groups.push((key, vec![atom])),
                },
                Raw::Always => {}
                other => n.children.push(group(other)),
            }
        }
        n
    }
    let with_keys = |mut n: Node| {
        let mut keys: Vec<u32> = n.groups.iter().map(|(k, _)| *k).collect();
        keys.extend(n.children.iter().flat_map(|c| c.keys().iter().copied()));
        keys.sort_unstable();
        keys.dedup();
        n.keys = keys;
        n
    };
    match raw {
        Raw::Always => Requirement::Always,
        Raw::Atom(key, atom) => Requirement::All(with_keys(Node {
            groups: vec![(key, vec![atom])],
            ..Node::default()
        })),
        Raw::All(items) => Requirement::All(with_keys(node(items))),
        Raw::Any(items) => Requirement::Any(with_keys(node(items))),
    }
}

/// Whether `line` contains `\u`. Backslashes are rare in most records, so a one-byte search
/// for them beats a two-byte substring search.
fn has_unicode_escape(line: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', line).any(|i| line.get(i + 1) == Some(&b'u'))
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while matches!(line.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use crate::{EvalOptions, Evaluator, Filter, FilterSet, JsonStatus, MetricSpec};

    fn outcome(pattern: &str, event: &str) -> (bool, JsonStatus) {
        let set = FilterSet::new(vec![
            Filter::compile("f", pattern, &MetricSpec::default()).unwrap(),
        ]);
        let mut ev = Evaluator::new();
        let out = ev.evaluate(&set, event.as_bytes(), EvalOptions::default());
        (out.matched(0), out.json())
    }

    #[test]
    fn value_probes_decide_without_scanning_the_key() {
        let p = r#"{ $.userIdentity.type = "Root" && $.eventType != "AwsServiceEvent" }"#;
        // Probed and absent: the event is never parsed.
        let (m, status) = outcome(
            p,
            r#"{"userIdentity":{"type":"IAMUser"},"resources":[{"type":"AWS::S3::Object"}],"eventType":"AwsApiCall"}"#,
        );
        assert!(!m);
        assert_eq!(status, JsonStatus::NotParsed);
        // Present: the key is scanned and the event parsed.
        let (m, status) = outcome(
            p,
            r#"{"userIdentity":{"type" : "Root"},"eventType":"AwsApiCall"}"#,
        );
        assert!(m);
        assert_eq!(status, JsonStatus::Parsed);
        // "Root" elsewhere does not make the filter match, but may make it a candidate.
        let (m, _) = outcome(
            p,
            r#"{"userIdentity":{"type":"IAMUser","userName":"Root"},"eventType":"AwsApiCall"}"#,
        );
        assert!(!m);
        // A literal that spells a number is never probed: a number value is not quoted.
        let (m, _) = outcome(r#"{ $.code = "404" }"#, r#"{"code":404}"#);
        assert!(m);
        // Escapes switch the prefilter off.
        let (m, _) = outcome(
            p,
            r#"{"userIdentity":{"type":"Ro\u006ft"},"eventType":"AwsApiCall"}"#,
        );
        assert!(m);
    }
}
