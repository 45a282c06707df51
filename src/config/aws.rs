//! The JSON printed by `aws logs describe-metric-filters`, loaded as-is.
//!
//! Fields we do not use (`creationTime`, `logGroupName`, `applyOnTransformedLogs`, …) are ignored.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::SourceFile;
use super::error::ConfigError;
use super::filters::FilterSpec;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    metric_filters: Vec<MetricFilter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricFilter {
    filter_name: String,
    #[serde(default)]
    filter_pattern: String,
    metric_transformations: Vec<Transformation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Transformation {
    metric_name: String,
    metric_namespace: String,
    metric_value: String,
    default_value: Option<f64>,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    unit: Option<String>,
}

/// Reads the filters of one document. `text` is the file's content, used to locate errors.
pub fn load(file: &Arc<SourceFile>) -> Result<Vec<FilterSpec>, ConfigError> {
    let (path, text) = (file.path.as_path(), file.text.as_str());
    let doc: Document = serde_json::from_str(text).map_err(|e| ConfigError {
        file: Some(path.to_owned()),
        // serde_json counts columns from 1 but reports 0 when the input ends right after a
        // newline (or is empty); point at the first column then.
        position: (e.line() > 0).then(|| (e.line(), e.column().max(1))),
        message: format!("not a describe-metric-filters document: {e}"),
    })?;
    let mut specs = Vec::new();
    for (i, f) in doc.metric_filters.into_iter().enumerate() {
        if f.metric_transformations.is_empty() {
            return Err(ConfigError::at(
                path,
                text,
                locate(text, &f.filter_name).unwrap_or(0),
                format!(
                    "metricFilters[{i}] ({:?}) has no metricTransformations",
                    f.filter_name
                ),
            ));
        }
        // CloudWatch allows one transformation per filter; a document with more is still loaded,
        // as one metric per transformation.
        for t in f.metric_transformations {
            specs.push(FilterSpec {
                name: f.filter_name.clone(),
                pattern: f.filter_pattern.clone(),
                pattern_origin: Origin::Json {
                    offset: locate(text, &f.filter_pattern),
                },
                namespace: t.metric_namespace,
                metric_name: t.metric_name,
                value: t.metric_value,
                default_value: t.default_value,
                dimensions: t.dimensions.into_iter().collect(),
                unit: t.unit,
                prometheus_name: None,
                file: Some(file.clone()),
            });
        }
    }
    Ok(specs)
}

/// Where a filter's pattern text sits in its file, for error positions.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Given on the command line or built in.
    None,
    /// Inside a JSON string starting at this byte offset (of its opening quote; `None` when the
    /// string could not be found).
    Json {
        /// Offset of the opening quote.
        offset: Option<usize>,
    },
    /// Inside a TOML string whose token spans this byte range.
    Toml {
        /// The string token's span (quotes included).
        span: std::ops::Range<usize>,
    },
}

/// The byte offset of `value`, JSON-encoded, in `text` (best effort, for error messages).
fn locate(text: &str, value: &str) -> Option<usize> {
    let encoded = serde_json::to_string(value).ok()?;
    text.find(&encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Vec<FilterSpec>, ConfigError> {
        load(&Arc::new(SourceFile {
            path: "filters.json".into(),
            text: text.to_owned(),
        }))
    }

    #[test]
    fn json_errors_point_at_a_real_column() {
        // serde_json says column 0 for these; a position is 1-based.
        for (text, line) in [("", 1), ("{\"metricFilters\": [\n", 2), ("\n\n", 3)] {
            let e = load_text(text).unwrap_err();
            assert_eq!(e.position.map(|p| p.0), Some(line), "{text:?}: {e}");
            assert!(e.position.is_some_and(|p| p.1 >= 1), "{text:?}: {e}");
        }
        let e = load_text("{\"metricFilters\": 7}").unwrap_err();
        assert_eq!(e.position, Some((1, 19)), "{e}");
    }
}
