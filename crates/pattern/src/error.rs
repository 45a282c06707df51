//! Typed errors for pattern compilation and metric transformations.

use std::fmt;

/// A filter pattern that CloudWatch Logs would reject (or that we cannot honour).
///
/// Carries the byte `offset` into the original pattern text and the 1-based character `column`
/// derived from it, so a command line or a config loader can point at the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} at column {column}")]
pub struct PatternError {
    /// Byte offset into the pattern text where the problem was found.
    pub offset: usize,
    /// 1-based column (in characters) of `offset`.
    pub column: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl PatternError {
    /// Builds an error at `offset` of `source`, computing the column.
    pub(crate) fn at(source: &str, offset: usize, kind: ErrorKind) -> Self {
        let offset = offset.min(source.len());
        // `offset` always lies on a char boundary: the parsers only produce offsets of chars.
        let column = source
            .get(..offset)
            .map_or(offset, |prefix| prefix.chars().count())
            + 1;
        PatternError {
            offset,
            column,
            kind,
        }
    }
}

/// Something found where something else was expected, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The pattern ended.
    End,
    /// A character.
    Char(char),
    /// A word (keyword, bare value).
    Word(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::End => f.write_str("the end of the pattern"),
            Found::Char(c) => write!(f, "'{c}'"),
            Found::Word(w) => write!(f, "'{w}'"),
        }
    }
}

/// The kinds of pattern errors. New kinds may be added in any release.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The grammar wanted `expected` (after `after`, when given) and found something else.
    #[error("expected {expected}{}, found {found}", after.as_ref().map(|a| format!(" after '{a}'")).unwrap_or_default())]
    Expected {
        /// What the grammar wanted, e.g. "a value".
        expected: &'static str,
        /// The token it follows, e.g. "=".
        after: Option<String>,
        /// What was there instead.
        found: Found,
    },
    /// The pattern is longer than CloudWatch allows.
    #[error("the pattern is {0} characters long; the maximum is 1024")]
    TooLong(usize),
    /// More than two regular expressions in a JSON or space-delimited pattern.
    #[error("exceeded the maximum of 2 regular expressions per filter pattern")]
    TooManyRegexes,
    /// A selector with two wildcards.
    #[error("exceeds the maximum of 1 wildcard allowed per json selector")]
    TooManyWildcardsInSelector,
    /// More than three wildcards in one pattern.
    #[error("exceeds the maximum of 3 wildcards allowed per filter pattern")]
    TooManyWildcards,
    /// A character that may not appear in an unquoted term.
    #[error("invalid character '{0}' in term; quote terms that contain symbols")]
    InvalidTermChar(char),
    /// A character outside the CloudWatch regex whitelist.
    #[error("invalid character '{0}' in regular expression")]
    InvalidRegexChar(char),
    /// A regex the engine cannot compile.
    #[error("failed to compile regular expression: {0}")]
    InvalidRegex(String),
    /// `%%`.
    #[error("empty regular expression")]
    EmptyRegex,
    /// A `"` that is never closed.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// A `%` that is never closed.
    #[error("unterminated regular expression (missing closing '%')")]
    UnterminatedRegex,
    /// `""` as a term.
    #[error("empty quoted term")]
    EmptyPhrase,
    /// A regex inside a term pattern.
    #[error("regular expressions cannot be combined with terms; use a single %regex% pattern")]
    RegexInTerms,
    /// A construct CloudWatch does not support.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// Text after the end of a complete pattern.
    #[error("unexpected text after the end of the pattern, found {0}")]
    TrailingInput(Found),
    /// A space-delimited field name used twice.
    #[error("duplicate field '{0}'")]
    DuplicateField(String),
    /// A space-delimited field name that starts with a digit or has odd characters.
    #[error(
        "invalid field name '{0}': names start with a letter or '_' and contain letters, digits and '_'"
    )]
    InvalidFieldName(String),
    /// A space-delimited condition that names another field.
    #[error(
        "condition on '{other}' inside field '{field}': each field's conditions may only name that field"
    )]
    CrossFieldCondition {
        /// The field the condition belongs to.
        field: String,
        /// The field it names instead.
        other: String,
    },
    /// Unquoted `null` as a value.
    #[error("'null' is not a value; use IS NULL")]
    BareNull,
    /// A numeric literal too large to represent.
    #[error("number '{0}' is out of range")]
    NumberOutOfRange(String),
    /// `<`, `<=`, `>`, `>=` with something other than a number.
    #[error("'{0}' compares numbers only; expected a number")]
    RelationalNeedsNumber(&'static str),
    /// An invalid selector such as `$[1]` or `$.a[-1]`.
    #[error("invalid selector: {0}")]
    InvalidSelector(&'static str),
    /// Parentheses nested deeper than the parser allows.
    #[error("parentheses nested too deeply")]
    TooDeep,
}

/// A metric transformation (value, default, dimensions, unit) that cannot be used with its pattern.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// The metric value is neither a number nor a field reference.
    #[error("metric value '{0}' is not a number, a '$.selector' or a '$field' reference")]
    InvalidValue(String),
    /// A field reference used with a pattern kind that has no fields.
    #[error("'{0}' refers to a field, but term and regex patterns have no fields")]
    NoFields(String),
    /// A `$name` that the space-delimited pattern does not define.
    #[error("'{0}' is not a field of this space-delimited pattern")]
    UnknownField(String),
    /// A `$.selector` reference in a space-delimited pattern or `$name` in a JSON one.
    #[error("'{reference}' does not fit a {kind} pattern")]
    WrongReference {
        /// The reference as written.
        reference: String,
        /// "JSON" or "space-delimited".
        kind: &'static str,
    },
    /// A wildcard selector used as a value or dimension.
    #[error("'{0}' contains a wildcard; metric values and dimensions need a single field")]
    Wildcard(String),
    /// A selector that does not parse.
    #[error("invalid selector '{reference}': {error}")]
    Selector {
        /// The reference as written.
        reference: String,
        /// The parse error.
        error: PatternError,
    },
    /// More than three dimensions.
    #[error("a metric may have at most 3 dimensions, found {0}")]
    TooManyDimensions(usize),
    /// A dimension name CloudWatch would reject.
    #[error("invalid dimension name '{0}'")]
    InvalidDimensionName(String),
    /// A default value together with dimensions.
    #[error("a default value cannot be combined with dimensions")]
    DefaultWithDimensions,
    /// A default value that is not finite.
    #[error("default value must be a finite number")]
    InvalidDefault,
    /// A unit outside the CloudWatch list.
    #[error("unknown unit '{0}'")]
    InvalidUnit(String),
}

/// Why a filter (pattern plus metric transformation) failed to compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The pattern is invalid.
    #[error("invalid filter pattern: {0}")]
    Pattern(#[from] PatternError),
    /// The metric transformation is invalid.
    #[error("invalid metric transformation: {0}")]
    Metric(#[from] MetricError),
}
