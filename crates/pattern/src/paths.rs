//! The union of every field path a filter set reads, as a trie resolved in one walk of the tape.
//!
//! Each distinct selector prefix (up to a wildcard, or the whole selector) is a trie node with a
//! slot. Resolving an event walks the parsed tape once, following only keys and indexes the trie
//! knows and skipping every other subtree by its node count, and stores the tape index each slot
//! reached. Conditions then read their value from a slot: no path is looked up twice per event.

use simd_json::Node;

use crate::ast::{Selector, Step};
use crate::tape::{self, JsonRef, NONE};

/// A selector interned in a [`PathTrie`]: the slot of its prefix up to the wildcard (or of the
/// whole path) and, for wildcard selectors, the steps applied to each child after the wildcard.
#[derive(Debug, Clone)]
pub(crate) struct PathRef {
    pub(crate) slot: u32,
    /// `Some(rest)` for a wildcard selector: the slot holds the wildcard's parent.
    pub(crate) wildcard_rest: Option<Box<[Step]>>,
}

#[derive(Debug, Default, Clone)]
struct TrieNode {
    keys: Vec<(Box<str>, u32)>,
    indexes: Vec<(usize, u32)>,
    slot: u32,
    /// Slots of this node and everything below it (cleared when a duplicate key is met again).
    subtree_slots: Vec<u32>,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct PathTrie {
    nodes: Vec<TrieNode>,
    slots: u32,
}

impl Default for PathTrie {
    fn default() -> Self {
        PathTrie {
            nodes: vec![TrieNode {
                slot: 0,
                ..TrieNode::default()
            }],
            slots: 1,
        }
    }
}

impl PathTrie {
    /// Interns `selector`, returning where its value will be.
    pub(crate) fn intern(&mut self, selector: &Selector) -> PathRef {
        let wildcard = selector.wildcard();
        let prefix = &selector.steps[..wildcard.unwrap_or(selector.steps.len())];
        let mut node = 0usize;
        for step in prefix {
            node = match step {
                Step::Key(k) => match self.nodes[node].keys.iter().find(|(key, _)| **key == **k) {
                    Some(&(_, child)) => child as usize,
                    None => {
                        let child = self.new_node();
                        self.nodes[node]
                            .keys
                            .push((k.as_str().into(), child as u32));
                        child
                    }
                },
                Step::Index(n) => match self.nodes[node].indexes.iter().find(|(i, _)| i == n) {
                    Some(&(_, child)) => child as usize,
                    None => {
                        let child = self.new_node();
                        self.nodes[node].indexes.push((*n, child as u32));
                        child
                    }
                },
                Step::Wildcard => unreachable!("the prefix stops before the wildcard"),
            };
        }
        PathRef {
            slot: self.nodes[node].slot,
            wildcard_rest: wildcard.map(|w| selector.steps[w + 1..].into()),
        }
    }

    fn new_node(&mut self) -> usize {
        let slot = self.slots;
        self.slots += 1;
        self.nodes.push(TrieNode {
            slot,
            ..TrieNode::default()
        });
        self.nodes.len() - 1
    }

    /// Computes each node's subtree slot list; call once after the last `intern`.
    pub(crate) fn seal(&mut self) {
        fn collect(nodes: &mut [TrieNode], n: usize) -> Vec<u32> {
            let children: Vec<usize> = nodes[n]
                .keys
                .iter()
                .map(|(_, c)| *c as usize)
                .chain(nodes[n].indexes.iter().map(|(_, c)| *c as usize))
                .collect();
            let mut all = vec![nodes[n].slot];
            for c in children {
                all.extend(collect(nodes, c));
            }
            nodes[n].subtree_slots = all.clone();
            all
        }
        collect(&mut self.nodes, 0);
    }

    /// Number of slots a resolution fills.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots as usize
    }

    /// Resolves every interned path against `tape` (a parsed object) into `slots`.
    pub(crate) fn resolve(&self, tape: &[Node<'_>], slots: &mut [u32]) {
        slots.fill(NONE);
        self.walk(tape, 0, 0, slots);
    }

    fn walk(&self, tape: &[Node<'_>], at: usize, node: usize, slots: &mut [u32]) {
        let n = &self.nodes[node];
        slots[n.slot as usize] = at as u32;
        match tape.get(at) {
            Some(Node::Object { len, .. }) if !n.keys.is_empty() => {
                let mut i = at + 1;
                for _ in 0..*len {
                    let value = i + 1;
                    if let Some(Node::String(key)) = tape.get(i) {
                        if let Some(&(_, child)) = n.keys.iter().find(|(k, _)| **k == **key) {
                            // A repeated key: the last occurrence wins, as in Jackson and serde.
                            for &s in &self.nodes[child as usize].subtree_slots {
                                slots[s as usize] = NONE;
                            }
                            self.walk(tape, value, child as usize, slots);
                        }
                    }
                    i = value + tape::width(tape, value);
                }
            }
            Some(Node::Array { len, .. }) if !n.indexes.is_empty() => {
                let mut i = at + 1;
                for k in 0..*len {
                    if let Some(&(_, child)) = n.indexes.iter().find(|(idx, _)| *idx == k) {
                        self.walk(tape, i, child as usize, slots);
                    }
                    i += tape::width(tape, i);
                }
            }
            _ => {}
        }
    }
}

/// Follows `steps` (no wildcards) from the node at `from`.
pub(crate) fn follow(tape: &[Node<'_>], from: usize, steps: &[Step]) -> Option<usize> {
    let mut at = from;
    for step in steps {
        at = match step {
            Step::Key(k) => tape::member(tape, at, k)?,
            Step::Index(n) => tape::element(tape, at, *n)?,
            Step::Wildcard => return None,
        };
    }
    Some(at)
}

/// The values a wildcard selector reaches: every child of the parent at `parent`, followed by
/// `rest`. Calls `f` on each until it returns `true`.
pub(crate) fn any_member<'t>(
    tape: &[Node<'t>],
    parent: u32,
    rest: &[Step],
    mut f: impl FnMut(JsonRef<'t>) -> bool,
) -> bool {
    if parent == NONE {
        return false;
    }
    tape::any_child(tape, parent as usize, |child| {
        match follow(tape, child, rest) {
            Some(at) => f(tape::view(tape, at as u32)),
            None => false,
        }
    })
}
