//! A YAML document as a tree whose every node knows its line and column, so that rule errors
//! can point at the construct that is wrong (yaml-rust2's own tree forgets positions).

use std::collections::HashMap;

use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::SigmaError;

/// A position in the rule text (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Pos {
    fn of(m: Marker) -> Pos {
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// A scalar as YAML resolves it: plain `null`, `true`, `12` are typed; quoted scalars are strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Scalar(Scalar, String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) text: String,
    pub(crate) pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) pos: Pos,
}

impl Node {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The scalar's text when it is a string or a plain scalar (numbers read as written).
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Scalar::Null, _) => None,
            Value::Scalar(_, text) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar(Scalar::Null, _) => "null",
            Value::Scalar(_, _) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

enum Partial {
    Seq(Vec<Node>, Pos, usize),
    Map(Vec<(Key, Node)>, Option<Key>, Pos, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Partial>,
    docs: Vec<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<SigmaError>,
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(SigmaError::at(pos, "YAML", message));
        }
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Partial::Seq(items, _, _)) => items.push(node),
            Some(Partial::Map(entries, pending, _, _)) => match pending.take() {
                Some(key) => {
                    if entries.iter().any(|(k, _)| k.text == key.text) {
                        let message = format!("the key '{}' appears twice in one map", key.text);
                        self.fail(key.pos, message);
                        return;
                    }
                    entries.push((key, node));
                }
                None => match node.value {
                    Value::Scalar(_, text) => {
                        *pending = Some(Key {
                            text,
                            pos: node.pos,
                        })
                    }
                    _ => self.fail(node.pos, "a map key must be a scalar".into()),
                },
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::of(mark);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let scalar = if style == TScalarStyle::Plain {
                    match Yaml::from_str(&text) {
                        Yaml::Null => Scalar::Null,
                        Yaml::Boolean(b) => Scalar::Bool(b),
                        Yaml::Integer(i) => Scalar::Int(i),
                        Yaml::Real(r) => match r.parse::<f64>() {
                            Ok(f) => Scalar::Float(f),
                            Err(_) => Scalar::Str(text.clone()),
                        },
                        _ => Scalar::Str(text.clone()),
                    }
                } else {
                    Scalar::Str(text.clone())
                };
                self.push(
                    Node {
                        value: Value::Scalar(scalar, text),
                        pos,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Partial::Seq(Vec::new(), pos, anchor))
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Partial::Map(Vec::new(), None, pos, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Partial::Seq(items, pos, anchor)) => (
                        Node {
                            value: Value::Seq(items),
                            pos,
                        },
                        anchor,
                    ),
                    Some(Partial::Map(entries, _, pos, anchor)) => (
                        Node {
                            value: Value::Map(entries),
                            pos,
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.push(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push(node, 0),
                None => self.fail(pos, "an alias refers to an unknown anchor".into()),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Parses `text` as one YAML document.
pub(crate) fn parse(text: &str) -> Result<Node, SigmaError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(SigmaError::at(
            Pos::of(*e.marker()),
            "YAML",
            e.info().to_owned(),
        ));
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    let mut docs = builder.docs.into_iter();
    let Some(doc) = docs.next() else {
        return Err(SigmaError::at(
            Pos { line: 1, column: 1 },
            "YAML",
            "the file holds no YAML document".into(),
        ));
    };
    if let Some(second) = docs.next() {
        return Err(SigmaError::at(
            second.pos,
            "YAML",
            "a second YAML document: Sigma rule collections (several rules in one file) are not supported; put each rule in its own file".into(),
        ));
    }
    Ok(doc)
}
