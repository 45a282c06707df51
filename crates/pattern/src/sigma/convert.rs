//! Sigma → CloudWatch: the exact filter pattern for a rule, or the reason none exists.
//!
//! A rule converts only when every item has a CloudWatch condition that holds on exactly the
//! same CloudTrail records. `not` is no obstacle by itself (it is pushed down to the items; a
//! negated item becomes `!=` with `NOT EXISTS`/`IS NULL` for the records without the value), but
//! what it negates may be. Exactness rests on the CloudTrail record schema: which fields are
//! strings written in one fixed spelling (so Sigma's case-insensitive comparison cannot differ
//! from CloudWatch's case-sensitive one), which are booleans, and which are objects or arrays
//! (which CloudWatch cannot search inside). A field this module does not know is not guessed.

use std::fmt;

use crate::ast::Expr;
use crate::sigma::leaf::{Leaf, LeafTest, Piece, TextMatch};

/// The JSON type a CloudTrail field has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A string AWS writes in one spelling (an API name, an enumeration).
    FixedString,
    /// A string whose case varies (user agents, messages, names chosen by users).
    FreeString,
    Bool,
    /// An object or array.
    Container,
}

/// CloudTrail record fields (the record body and `userIdentity`, from the CloudTrail record
/// contents reference) and the service-specific `requestParameters`/`responseElements`/
/// `additionalEventData` members the SigmaHQ rules test (from those services' CloudTrail
/// examples).
const SCHEMA: &[(&str, Shape)] = &[
    ("eventVersion", Shape::FixedString),
    ("eventTime", Shape::FixedString),
    ("eventSource", Shape::FixedString),
    ("eventName", Shape::FixedString),
    ("awsRegion", Shape::FixedString),
    ("eventType", Shape::FixedString),
    ("eventCategory", Shape::FixedString),
    ("errorCode", Shape::FixedString),
    ("readOnly", Shape::Bool),
    ("managementEvent", Shape::Bool),
    ("sourceIPAddress", Shape::FreeString),
    ("userAgent", Shape::FreeString),
    ("errorMessage", Shape::FreeString),
    ("requestID", Shape::FreeString),
    ("eventID", Shape::FreeString),
    ("recipientAccountId", Shape::FixedString),
    ("userIdentity", Shape::Container),
    ("userIdentity.type", Shape::FixedString),
    ("userIdentity.principalId", Shape::FreeString),
    ("userIdentity.arn", Shape::FreeString),
    ("userIdentity.accountId", Shape::FixedString),
    ("userIdentity.accessKeyId", Shape::FreeString),
    ("userIdentity.userName", Shape::FreeString),
    ("userIdentity.invokedBy", Shape::FreeString),
    ("userIdentity.sessionContext", Shape::Container),
    (
        "userIdentity.sessionContext.sessionIssuer.type",
        Shape::FixedString,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        Shape::FreeString,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        Shape::FreeString,
    ),
    ("requestParameters", Shape::Container),
    ("responseElements", Shape::Container),
    ("additionalEventData", Shape::Container),
    ("resources", Shape::Container),
    // ConsoleLogin: "Yes"/"No", and "YES" in AWS's own examples: the case varies.
    ("additionalEventData.MFAUsed", Shape::FreeString),
    ("responseElements.ConsoleLogin", Shape::FixedString),
    // ModifyInstanceAttribute / DescribeInstanceAttribute: the attribute's API name.
    ("requestParameters.attribute", Shape::FixedString),
    // UpdateDetector: a JSON boolean.
    ("requestParameters.enable", Shape::Bool),
    // RestoreDBInstanceFromDBSnapshot / ModifyDBInstance.
    ("responseElements.publiclyAccessible", Shape::Bool),
    (
        "responseElements.pendingModifiedValues.masterUserPassword",
        Shape::FreeString,
    ),
    // RegisterTaskDefinition: arrays of objects holding arrays of strings.
    ("requestParameters.containerDefinitions", Shape::Container),
    (
        "requestParameters.containerDefinitions.command",
        Shape::Container,
    ),
    // UpdateFunctionConfiguration: an array of layer ARNs.
    ("requestParameters.layers", Shape::Container),
    // CreateAccessKey / UpdateLoginProfile.
    ("responseElements.accessKey.userName", Shape::FreeString),
    ("requestParameters.userName", Shape::FreeString),
];

fn shape(field: &str) -> Option<Shape> {
    SCHEMA.iter().find(|(f, _)| *f == field).map(|(_, s)| *s)
}

/// Why a rule has no exact CloudWatch pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unconvertible {
    /// A keyword search over every string of the event.
    Keyword,
    /// A field compared with another field (`|fieldref`).
    FieldReference(String),
    /// A string test on an object or array (Sigma searches inside it; CloudWatch selectors must
    /// reach a scalar, and have no `[*]` that matches any element in metric filters).
    SearchInsideObject(String),
    /// A case-insensitive comparison on a field whose case varies.
    CaseInsensitive(String),
    /// A negation CloudWatch cannot state (e.g. "has some value" for an object).
    GroupNegation(String),
    /// A field whose JSON type in CloudTrail records is not known here.
    UnknownShape(String),
    /// A construct CloudWatch has no equivalent of (regex dialect, CIDR, `?`, …).
    NoEquivalent(String),
    /// The pattern exceeds CloudWatch's limits.
    Limits(String),
}

impl fmt::Display for Unconvertible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unconvertible::Keyword => f.write_str("keyword search over every string of the event: CloudWatch JSON patterns test named fields"),
            Unconvertible::FieldReference(x) => write!(f, "field reference: {x} compares two fields of the event; CloudWatch compares a field with a literal"),
            Unconvertible::SearchInsideObject(x) => write!(f, "search inside an object: {x}; CloudWatch selectors must reach a scalar"),
            Unconvertible::CaseInsensitive(x) => write!(f, "case-insensitivity that matters: {x}; CloudWatch compares case-sensitively"),
            Unconvertible::GroupNegation(x) => write!(f, "negation: {x}"),
            Unconvertible::UnknownShape(x) => write!(f, "the JSON type of {x} in CloudTrail records is not known, so the conversion cannot be shown exact"),
            Unconvertible::NoEquivalent(x) => write!(f, "no CloudWatch equivalent: {x}"),
            Unconvertible::Limits(x) => write!(f, "beyond CloudWatch's pattern limits: {x}"),
        }
    }
}

/// An exact CloudWatch filter pattern for a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The pattern, `{ … }`.
    pub pattern: String,
}

/// A CloudWatch string literal (`"…"` with `"` and `\` escaped); `*` is its wildcard.
fn quote(pieces: &[Piece]) -> Option<String> {
    let mut out = String::from("\"");
    for p in pieces {
        match p {
            Piece::Lit(s) => {
                if s.contains('*') {
                    return None; // CloudWatch has no way to write a literal `*`.
                }
                for c in s.chars() {
                    if matches!(c, '"' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Piece::Star => out.push('*'),
            Piece::One => return None,
        }
    }
    out.push('"');
    Some(out)
}

fn has_letters(t: &TextMatch) -> bool {
    t.pieces
        .iter()
        .any(|p| matches!(p, Piece::Lit(s) if s.chars().any(|c| c.is_alphabetic())))
}

fn leaf(l: &Leaf) -> Result<String, Unconvertible> {
    let Some(field) = &l.field else {
        return Err(Unconvertible::Keyword);
    };
    let sel = format!("$.{}", field.text);
    let w = &l.written;
    if let LeafTest::FieldRef { .. } = l.test {
        return Err(Unconvertible::FieldReference(format!("`{w}`")));
    }
    let Some(shape) = shape(&field.text) else {
        return Err(Unconvertible::UnknownShape(format!(
            "`{}` (in `{w}`)",
            field.text
        )));
    };
    let absent = format!("{sel} NOT EXISTS || {sel} IS NULL");
    match (&l.test, shape) {
        (LeafTest::Null, Shape::Container) if l.negated => {
            Err(Unconvertible::GroupNegation(format!(
                "`not {w}` needs \"{} has a value\", which CloudWatch cannot say of an object",
                field.text
            )))
        }
        (LeafTest::Null, _) if !l.negated => Ok(format!("({absent})")),
        (LeafTest::Null, Shape::Bool) => Ok(format!("({sel} IS TRUE || {sel} IS FALSE)")),
        (LeafTest::Null, _) => Ok(format!("{sel} = *")),
        (LeafTest::Exists(want), s) => {
            let present = match s {
                Shape::Container => None,
                Shape::Bool => Some(format!("{sel} IS TRUE || {sel} IS FALSE || {sel} IS NULL")),
                _ => Some(format!("{sel} = * || {sel} IS NULL")),
            };
            match (*want != l.negated, present) {
                (false, _) => Ok(format!("{sel} NOT EXISTS")),
                (true, Some(p)) => Ok(format!("({p})")),
                (true, None) => Err(Unconvertible::GroupNegation(format!(
                    "`{w}`: CloudWatch cannot say that an object exists"
                ))),
            }
        }
        (LeafTest::Text(_) | LeafTest::Regex(_), Shape::Container) => {
            Err(Unconvertible::SearchInsideObject(format!(
                "`{w}` tests the object or array `{}`",
                field.text
            )))
        }
        (LeafTest::Text(t), Shape::Bool) => {
            let value = t.exact().map(str::to_ascii_lowercase);
            let b = match value.as_deref() {
                Some("true") => true,
                Some("false") => false,
                _ => {
                    return Err(Unconvertible::NoEquivalent(format!(
                        "`{w}` compares the boolean `{}` with text other than true/false",
                        field.text
                    )));
                }
            };
            Ok(bool_test(&sel, b, l.negated))
        }
        (LeafTest::Bool(b), Shape::Bool) => Ok(bool_test(&sel, *b, l.negated)),
        (LeafTest::Text(t), s) => {
            if !t.cased && s == Shape::FreeString && has_letters(t) {
                return Err(Unconvertible::CaseInsensitive(format!(
                    "`{w}` matches any case of the letters, and the case of `{}` varies",
                    field.text
                )));
            }
            let Some(lit) = quote(&t.pieces) else {
                return Err(Unconvertible::NoEquivalent(format!(
                    "`{w}` uses `?` or a literal `*`, which CloudWatch strings cannot express"
                )));
            };
            Ok(if l.negated {
                format!("({sel} != {lit} || {absent})")
            } else {
                format!("{sel} = {lit}")
            })
        }
        (LeafTest::Regex(_), _) => Err(Unconvertible::NoEquivalent(format!(
            "`{w}`: CloudWatch's %regex% is a restricted dialect, not Sigma's regular expressions"
        ))),
        (LeafTest::Cidr(_), _) => Err(Unconvertible::NoEquivalent(format!("`{w}`: CIDR ranges"))),
        (LeafTest::Compare(..), _) | (LeafTest::Number(..), _) => Err(Unconvertible::NoEquivalent(
            format!("`{w}`: a numeric test on a string field (Sigma reads numbers out of strings)"),
        )),
        (LeafTest::Never, _) => Err(Unconvertible::NoEquivalent(format!(
            "`{w}`: a placeholder without values"
        ))),
        (LeafTest::Bool(_), _) => Err(Unconvertible::NoEquivalent(format!(
            "`{w}`: a boolean test on a string field"
        ))),
        (LeafTest::FieldRef { .. }, _) => Err(Unconvertible::FieldReference(format!("`{w}`"))),
    }
}

fn bool_test(sel: &str, b: bool, negated: bool) -> String {
    let (yes, no) = if b {
        ("TRUE", "FALSE")
    } else {
        ("FALSE", "TRUE")
    };
    if negated {
        format!("({sel} IS {no} || {sel} NOT EXISTS || {sel} IS NULL)")
    } else {
        format!("{sel} IS {yes}")
    }
}

fn expr(e: &Expr<Leaf>, top: bool) -> Result<String, Unconvertible> {
    match e {
        Expr::Cond(l) => leaf(l),
        Expr::And(xs) | Expr::Or(xs) => {
            if xs.is_empty() {
                return Err(Unconvertible::NoEquivalent(
                    "an empty list of values (always true or always false)".into(),
                ));
            }
            let and = matches!(e, Expr::And(_));
            let op = if and { " && " } else { " || " };
            // `a && (b && c)` is written `a && b && c`.
            let mut flat = Vec::with_capacity(xs.len());
            flatten(xs, and, &mut flat);
            let parts = flat
                .into_iter()
                .map(|x| expr(x, false))
                .collect::<Result<Vec<_>, _>>()?;
            if parts.len() == 1 {
                return Ok(parts.into_iter().next().unwrap_or_default());
            }
            let joined = parts.join(op);
            Ok(if top { joined } else { format!("({joined})") })
        }
    }
}

fn flatten<'a>(xs: &'a [Expr<Leaf>], and: bool, out: &mut Vec<&'a Expr<Leaf>>) {
    for x in xs {
        match x {
            Expr::And(inner) if and && !inner.is_empty() => flatten(inner, and, out),
            Expr::Or(inner) if !and && !inner.is_empty() => flatten(inner, and, out),
            other => out.push(other),
        }
    }
}

pub(crate) fn convert(e: &Expr<Leaf>) -> Result<Conversion, Unconvertible> {
    let pattern = format!("{{ {} }}", expr(e, true)?);
    // The pattern must be one CloudWatch accepts (length, wildcard and nesting limits).
    crate::parse::parse(&pattern).map_err(|err| Unconvertible::Limits(err.to_string()))?;
    Ok(Conversion { pattern })
}
