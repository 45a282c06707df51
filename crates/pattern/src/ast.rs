//! The parsed form of a filter pattern: what the user wrote, checked against the grammar and limits.
//!
//! The AST is public so tools (explain output, the reference evaluator in the tests) can walk it;
//! the fast path never evaluates it directly but compiles it into a [`crate::Program`].

use std::fmt;

use crate::glob::Glob;
use crate::number::Number;
use crate::regex::Regex;

/// A byte range in the pattern text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern exactly as given.
    pub source: String,
    /// What kind of pattern it is, with its parts.
    pub kind: PatternKind,
}

/// The four pattern languages CloudWatch dispatches on, plus the empty pattern.
#[derive(Debug, Clone)]
pub enum PatternKind {
    /// Empty or whitespace-only: matches every event.
    MatchAll,
    /// Unstructured terms, phrases, `?` and `-` terms.
    Terms(Vec<Term>),
    /// A single `%regex%` applied to the whole event.
    Regex(Regex),
    /// `{ ... }`: conditions on JSON fields.
    Json(Expr<Condition>),
    /// `[ ... ]`: space-delimited fields.
    Delimited(Delimited),
    /// A Sigma rule's detection (see [`crate::sigma`]); the source is its condition.
    Sigma,
}

impl PatternKind {
    /// A short lower-case name of the kind, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            PatternKind::MatchAll => "match-all",
            PatternKind::Terms(_) => "term",
            PatternKind::Regex(_) => "regex",
            PatternKind::Json(_) => "JSON",
            PatternKind::Delimited(_) => "space-delimited",
            PatternKind::Sigma => "Sigma",
        }
    }
}

/// How a term takes part in the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// No prefix: must appear.
    Required,
    /// `?term`: at least one must appear, but only when every term is optional.
    Optional,
    /// `-term`: must not appear.
    Excluded,
}

/// One term of an unstructured pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Required, optional or excluded.
    pub kind: TermKind,
    /// The text to find (a phrase without its quotes).
    pub text: String,
    /// Whether it was written as a quoted phrase.
    pub quoted: bool,
    /// Where it is in the pattern.
    pub span: Span,
}

/// A boolean expression over conditions, `&&` binding tighter than `||`.
#[derive(Debug, Clone)]
pub enum Expr<C> {
    /// A single condition.
    Cond(C),
    /// All must hold (evaluated left to right, short-circuit).
    And(Vec<Expr<C>>),
    /// Any must hold (evaluated left to right, short-circuit).
    Or(Vec<Expr<C>>),
}

impl<C> Expr<C> {
    /// Visits every condition, left to right.
    pub fn for_each<'a>(&'a self, f: &mut impl FnMut(&'a C)) {
        match self {
            Expr::Cond(c) => f(c),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| x.for_each(f)),
        }
    }
}

/// One step of a JSON selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name` or `.['name']`.
    Key(String),
    /// `[n]`.
    Index(usize),
    /// `[*]` or `.*`: every child of an array or object.
    Wildcard,
}

/// A JSON selector such as `$.userIdentity.type` or `$.items[*].id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The selector as written.
    pub text: String,
    /// Its steps from the root.
    pub steps: Vec<Step>,
}

impl Selector {
    /// The position of the wildcard step, if any (there is at most one).
    pub fn wildcard(&self) -> Option<usize> {
        self.steps.iter().position(|s| *s == Step::Wildcard)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator that holds when this one does not.
    pub fn negated(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }

    /// Whether this is `<`, `<=`, `>` or `>=`.
    pub fn is_relational(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Literal {
    /// A string (quoted or bare), possibly with `*` wildcards.
    Str(Glob),
    /// A numeric literal.
    Num(Number),
    /// A bare `*`: any string or number.
    Any,
    /// `%regex%`.
    Regex(Regex),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(g) => write!(f, "\"{}\"", g.source()),
            Literal::Num(n) => f.write_str(n.text()),
            Literal::Any => f.write_str("*"),
            Literal::Regex(r) => write!(f, "%{}%", r.source()),
        }
    }
}

/// What a JSON condition tests.
#[derive(Debug, Clone)]
pub enum Test {
    /// `op value`
    Compare(CmpOp, Literal),
    /// `IS NULL`
    IsNull,
    /// `IS TRUE`
    IsTrue,
    /// `IS FALSE`
    IsFalse,
    /// `NOT EXISTS`
    NotExists,
}

/// One JSON condition: a selector and a test.
#[derive(Debug, Clone)]
pub struct Condition {
    /// What it looks at.
    pub selector: Selector,
    /// What it checks.
    pub test: Test,
    /// Where it is in the pattern.
    pub span: Span,
}

/// A space-delimited pattern `[a, b, ..., c = 1]`.
#[derive(Debug, Clone)]
pub struct Delimited {
    /// The fields, in order; the ellipsis is not among them.
    pub fields: Vec<Field>,
    /// Where the `...` sits: the number of fields before it.
    pub ellipsis: Option<usize>,
}

/// One space-delimited field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name, if it has one (unnamed fields are written as nothing between commas).
    pub name: Option<String>,
    /// Conditions on the token it binds to.
    pub cond: Option<Expr<FieldCondition>>,
    /// Where it is in the pattern.
    pub span: Span,
}

/// A condition on one space-delimited field: `status = 4*`.
#[derive(Debug, Clone)]
pub struct FieldCondition {
    /// The operator.
    pub op: CmpOp,
    /// The value.
    pub value: Literal,
    /// Where it is in the pattern.
    pub span: Span,
}
