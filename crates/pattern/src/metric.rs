//! The metric side of a filter: what value a match publishes, the default for non-matching
//! events, dimensions and unit, checked against the pattern they belong to.

use crate::ast::{PatternKind, Selector};
use crate::error::MetricError;
use crate::parse::parse_selector;

/// A metric transformation as configured (the `metricTransformations` entry of
/// `describe-metric-filters`, minus the name and namespace, which belong to the service).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// `"1"`, a number, `$.selector` (JSON patterns) or `$field` (space-delimited patterns).
    pub value: String,
    /// Published for each event that does not match.
    pub default_value: Option<f64>,
    /// Up to three `(name, "$.selector" | "$field")` pairs.
    pub dimensions: Vec<(String, String)>,
    /// A CloudWatch unit name (`Count`, `Bytes`, …).
    pub unit: Option<String>,
}

impl Default for MetricSpec {
    fn default() -> Self {
        MetricSpec {
            value: "1".into(),
            default_value: None,
            dimensions: Vec::new(),
            unit: None,
        }
    }
}

/// Where a published value comes from.
#[derive(Debug, Clone)]
pub(crate) enum ValueSource {
    /// A fixed number.
    Literal(f64),
    /// A JSON selector, by its index in the filter's selector list.
    Json(usize),
    /// A space-delimited field, by field index.
    Field(usize),
    /// A space-delimited token by 1-based position (`$3`).
    Position(usize),
}

/// A checked metric transformation.
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    pub(crate) value: ValueSource,
    pub(crate) default_value: Option<f64>,
    pub(crate) dimensions: Vec<(String, ValueSource)>,
    pub(crate) unit: Option<String>,
}

/// The CloudWatch `StandardUnit` names.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

impl Metric {
    /// Every match publishes 1: no default, no dimensions, no unit.
    pub(crate) fn one() -> Metric {
        Metric {
            value: ValueSource::Literal(1.0),
            default_value: None,
            dimensions: Vec::new(),
            unit: None,
        }
    }

    /// Checks `spec` against the pattern. JSON selectors are appended to `selectors` (the
    /// filter's list of paths to resolve) and referenced by index.
    pub(crate) fn compile(
        spec: &MetricSpec,
        kind: &PatternKind,
        field_index: impl Fn(&str) -> Option<usize>,
        selectors: &mut Vec<Selector>,
    ) -> Result<Metric, MetricError> {
        let mut source = |text: &str| -> Result<ValueSource, MetricError> {
            reference(text, kind, &field_index, selectors)
        };
        let value = match spec.value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && !spec.value.trim().starts_with('$') => {
                ValueSource::Literal(v)
            }
            _ => source(spec.value.trim())?,
        };
        if spec.dimensions.len() > 3 {
            return Err(MetricError::TooManyDimensions(spec.dimensions.len()));
        }
        if spec.default_value.is_some() && !spec.dimensions.is_empty() {
            return Err(MetricError::DefaultWithDimensions);
        }
        if spec.default_value.is_some_and(|d| !d.is_finite()) {
            return Err(MetricError::InvalidDefault);
        }
        let mut dimensions = Vec::with_capacity(spec.dimensions.len());
        for (name, reference) in &spec.dimensions {
            let valid = !name.is_empty()
                && name.chars().count() <= 255
                && !name.starts_with(':')
                && name.chars().all(|c| !c.is_control());
            if !valid || dimensions.iter().any(|(n, _)| n == name) {
                return Err(MetricError::InvalidDimensionName(name.clone()));
            }
            let src = source(reference.trim())?;
            if matches!(src, ValueSource::Literal(_)) {
                return Err(MetricError::InvalidValue(reference.clone()));
            }
            dimensions.push((name.clone(), src));
        }
        if let Some(unit) = &spec.unit {
            if !UNITS.contains(&unit.as_str()) {
                return Err(MetricError::InvalidUnit(unit.clone()));
            }
        }
        Ok(Metric {
            value,
            default_value: spec.default_value,
            dimensions,
            unit: spec.unit.clone(),
        })
    }
}

/// Resolves `$.selector` / `$field` / `$N` against the pattern kind.
fn reference(
    text: &str,
    kind: &PatternKind,
    field_index: &impl Fn(&str) -> Option<usize>,
    selectors: &mut Vec<Selector>,
) -> Result<ValueSource, MetricError> {
    let Some(name) = text.strip_prefix('$') else {
        return Err(MetricError::InvalidValue(text.to_owned()));
    };
    match kind {
        PatternKind::Json(_) => {
            if !name.starts_with('.') {
                return Err(MetricError::WrongReference {
                    reference: text.to_owned(),
                    kind: "JSON",
                });
            }
            let selector = parse_selector(text).map_err(|error| MetricError::Selector {
                reference: text.to_owned(),
                error,
            })?;
            if selector.wildcard().is_some() {
                return Err(MetricError::Wildcard(text.to_owned()));
            }
            selectors.push(selector);
            Ok(ValueSource::Json(selectors.len() - 1))
        }
        PatternKind::Delimited(_) => {
            if name.starts_with('.') {
                return Err(MetricError::WrongReference {
                    reference: text.to_owned(),
                    kind: "space-delimited",
                });
            }
            if let Ok(n) = name.parse::<usize>() {
                if n >= 1 {
                    return Ok(ValueSource::Position(n));
                }
            }
            field_index(name)
                .map(ValueSource::Field)
                .ok_or_else(|| MetricError::UnknownField(text.to_owned()))
        }
        _ => Err(MetricError::NoFields(text.to_owned())),
    }
}
