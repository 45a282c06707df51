//! Sigma detection rules: the engine's second front end.
//!
//! A rule's text (YAML) is parsed into its metadata and its detection; the detection — search
//! identifiers, modifiers, the condition — compiles into the same branch program CloudWatch JSON
//! patterns compile to (`not` is pushed down to the items with De Morgan's laws), so a rule is a
//! [`crate::Filter`] like any other: it joins a [`crate::FilterSet`], shares the event's one parse,
//! the literal prefilter (with case-folded literals where matching is case-insensitive) and
//! `--explain`.
//!
//! ```
//! use trailwatch_pattern::sigma::{SigmaOptions, SigmaRule};
//! use trailwatch_pattern::{EvalOptions, Evaluator, FilterSet};
//!
//! let rule = SigmaRule::parse(r#"
//! title: Disabled GuardDuty detector
//! logsource: { product: aws, service: cloudtrail }
//! detection:
//!     selection:
//!         eventSource: guardduty.amazonaws.com
//!         eventName: DeleteDetector
//!     condition: selection
//! level: high
//! "#, &SigmaOptions::default())?;
//! let set = FilterSet::new(vec![rule.filter()]);
//! let event = br#"{"eventSource":"guardduty.amazonaws.com","eventName":"deletedetector"}"#;
//! assert!(Evaluator::new().evaluate(&set, event, EvalOptions::default()).matched(0));
//! # Ok::<(), trailwatch_pattern::sigma::SigmaError>(())
//! ```

mod condition;
mod convert;
mod detection;
pub(crate) mod leaf;
mod yaml;

use std::collections::BTreeMap;

use crate::ast::Expr;
use crate::filter::Filter;
use crate::program::Program;

pub use convert::{Conversion, Unconvertible};
pub use yaml::Pos;

use leaf::Leaf;

/// A rule that cannot be loaded: where, in which construct, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {construct}: {message}")]
pub struct SigmaError {
    /// Line in the rule text, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// The construct, e.g. `detection.selection.userAgent|contains` or `title`.
    pub construct: String,
    /// What is wrong.
    pub message: String,
}

impl SigmaError {
    pub(crate) fn at(pos: Pos, construct: impl Into<String>, message: String) -> SigmaError {
        SigmaError {
            line: pos.line,
            column: pos.column,
            construct: construct.into(),
            message,
        }
    }
}

/// How rules are loaded.
#[derive(Debug, Clone, Default)]
pub struct SigmaOptions {
    /// Values of `%placeholder%`s used with `|expand` (name without the percent signs → values,
    /// each of which may carry wildcards). A placeholder without values expands to nothing: the
    /// item matches no event, and the rule carries a warning saying so.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

/// The rule's `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    /// `product`, e.g. `aws`.
    pub product: Option<String>,
    /// `service`, e.g. `cloudtrail`.
    pub service: Option<String>,
    /// `category`.
    pub category: Option<String>,
}

/// A parsed, checked Sigma rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// `title`.
    pub title: String,
    /// `id` (a UUID in SigmaHQ rules).
    pub id: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `author` (kept in anything derived from the rule, as the Detection Rule License asks).
    pub author: Option<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `level`: informational, low, medium, high or critical.
    pub level: Option<String>,
    /// `logsource`.
    pub logsource: LogSource,
    /// `tags`.
    pub tags: Vec<String>,
    /// Things worth telling whoever loads the rule (e.g. a placeholder without values).
    pub warnings: Vec<String>,
    /// The condition, as written (conditions given as a list are joined with `or`).
    pub condition: String,
    pub(crate) expr: Expr<Leaf>,
}

const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

impl SigmaRule {
    /// Parses and checks one rule (one YAML document).
    pub fn parse(text: &str, options: &SigmaOptions) -> Result<SigmaRule, SigmaError> {
        let doc = yaml::parse(text)?;
        let yaml::Value::Map(_) = &doc.value else {
            return Err(SigmaError::at(
                doc.pos,
                "rule",
                format!(
                    "a Sigma rule is a map of attributes (title, logsource, detection, …), found {}",
                    doc.kind()
                ),
            ));
        };
        let string = |key: &str| -> Result<Option<String>, SigmaError> {
            match doc.get(key) {
                None => Ok(None),
                Some(n) => match n.text() {
                    Some(t) => Ok(Some(t.to_owned())),
                    None => Err(SigmaError::at(
                        n.pos,
                        key,
                        format!("expected a string, found {}", n.kind()),
                    )),
                },
            }
        };
        let list = |key: &str| -> Result<Vec<String>, SigmaError> {
            match doc.get(key).map(|n| (&n.value, n)) {
                None => Ok(Vec::new()),
                Some((yaml::Value::Seq(items), _)) => items
                    .iter()
                    .map(|i| {
                        i.text().map(str::to_owned).ok_or_else(|| {
                            SigmaError::at(
                                i.pos,
                                key,
                                format!("expected a string, found {}", i.kind()),
                            )
                        })
                    })
                    .collect(),
                Some((_, n)) => Err(SigmaError::at(
                    n.pos,
                    key,
                    format!("expected a list of strings, found {}", n.kind()),
                )),
            }
        };
        let title = string("title")?
            .ok_or_else(|| SigmaError::at(doc.pos, "title", "a rule needs a title".into()))?;
        let level = string("level")?;
        if let (Some(l), Some(n)) = (&level, doc.get("level")) {
            if !LEVELS.contains(&l.as_str()) {
                return Err(SigmaError::at(
                    n.pos,
                    "level",
                    format!(
                        "'{l}' is not a level; expected one of {}",
                        LEVELS.join(", ")
                    ),
                ));
            }
        }
        let logsource = match doc.get("logsource") {
            None => {
                return Err(SigmaError::at(
                    doc.pos,
                    "logsource",
                    "a rule needs a logsource".into(),
                ));
            }
            Some(n) => {
                let yaml::Value::Map(_) = &n.value else {
                    return Err(SigmaError::at(
                        n.pos,
                        "logsource",
                        format!("expected a map, found {}", n.kind()),
                    ));
                };
                let field = |k: &str| n.get(k).and_then(|v| v.text()).map(str::to_owned);
                LogSource {
                    product: field("product"),
                    service: field("service"),
                    category: field("category"),
                }
            }
        };
        let Some(detection) = doc.get("detection") else {
            return Err(SigmaError::at(
                doc.pos,
                "detection",
                "a rule needs a detection".into(),
            ));
        };
        let mut warnings = Vec::new();
        let (expr, condition) = detection::compile(detection, options, &mut warnings)?;
        Ok(SigmaRule {
            title,
            id: string("id")?,
            status: string("status")?,
            description: string("description")?,
            author: string("author")?,
            references: list("references")?,
            level,
            logsource,
            tags: list("tags")?,
            warnings,
            condition,
            expr,
        })
    }

    /// Whether the rule is for AWS CloudTrail (`logsource: {product: aws, service: cloudtrail}`).
    pub fn is_cloudtrail(&self) -> bool {
        let is = |v: &Option<String>, want: &str| {
            v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(want))
        };
        is(&self.logsource.product, "aws") && is(&self.logsource.service, "cloudtrail")
    }

    /// The rule as a filter (named by its id, or its title when it has none), to put in a
    /// [`crate::FilterSet`] beside CloudWatch patterns. Every match publishes 1.
    pub fn filter(&self) -> Filter {
        let name = self.id.clone().unwrap_or_else(|| self.title.clone());
        Filter::sigma(
            name,
            self.condition.clone(),
            self.expr.clone(),
            Program::compile(&self.expr),
        )
    }

    /// The exact CloudWatch filter pattern for this rule, or why there is none.
    pub fn to_cloudwatch(&self) -> Result<Conversion, Unconvertible> {
        convert::convert(&self.expr)
    }
}
