//! The CloudWatch Logs filter-pattern language, compiled: lex → parse → compile → evaluate.
//!
//! This crate does no I/O. It turns pattern text into checked programs and evaluates sets of them
//! on log events, exactly as CloudWatch Logs metric filters do:
//!
//! * **JSON patterns** `{ $.eventName = "ConsoleLogin" && $.errorMessage = "Failed*" }` with
//!   selectors, wildcards, numeric comparison, `IS NULL`, `NOT EXISTS`, `IS TRUE`/`IS FALSE` and
//!   regexes;
//! * **space-delimited patterns** `[ip, user, ..., status = 4*, bytes > 1000]`;
//! * **term patterns** `ERROR -DEBUG ?WARN "a phrase"` and standalone `%regex%`;
//! * the **metric transformation**: value (`1`, a number, `$.field`, `$name`), default value,
//!   up to three dimensions, unit.
//!
//! [`sigma`] is a second front end: Sigma detection rules (YAML) compile into the same filters,
//! with Sigma's semantics (case-insensitive by default, every modifier, any-element arrays).
//!
//! ```
//! use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};
//!
//! let failures = Filter::compile(
//!     "console_signin_failures",
//!     r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
//!     &MetricSpec::default(),
//! )?;
//! let set = FilterSet::new(vec![failures]);
//! let mut evaluator = Evaluator::new(); // one per worker thread; reuse it
//! let event = br#"{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}"#;
//! let outcome = evaluator.evaluate(&set, event, EvalOptions::default());
//! assert!(outcome.matched(0));
//! # Ok::<(), trailwatch_pattern::FilterError>(())
//! ```
//!
//! # How evaluation is fast
//! A [`FilterSet`] holds the union of its filters' field paths as a trie and an exact prefilter
//! built from their literals. Evaluating an event runs the prefilter on the raw bytes, parses the
//! event with simd-json only when some JSON filter could match, resolves every path in one walk
//! of the tape, and runs each filter's branch program over the resolved values. An [`Evaluator`]
//! keeps all buffers between events, so steady-state evaluation does not allocate.
//!
//! # Semantics
//! Where AWS documentation and observed AWS behaviour differ, this crate follows observed
//! behaviour (the `TestMetricFilter` results), e.g. `!=` never matches a missing field, the last
//! space-delimited field takes the rest of the line, and integers compare exactly.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod ast;
mod delimited;
mod error;
mod eval;
mod explain;
mod filter;
mod glob;
mod json_rank;
mod metric;
mod number;
mod parse;
mod paths;
mod prefilter;
mod program;
mod regex;
pub mod sigma;
mod tape;
mod test_value;

pub use ast::{Pattern, PatternKind};
pub use error::{ErrorKind, FilterError, Found, MetricError, PatternError};
pub use eval::{EvalOptions, Evaluator, JsonStatus, Outcome, extracted_fields};
pub use filter::{Filter, FilterSet};
pub use glob::Glob;
pub use metric::{MetricSpec, UNITS};
pub use number::{EventNumber, Number};
pub use parse::{MAX_DEPTH, MAX_PATTERN_CHARS, MAX_REGEXES, MAX_WILDCARDS, parse};
pub use regex::Regex;
pub use tape::JsonRef;
