//! The filters as `aws logs describe-metric-filters` JSON: the inverse of [`super::aws`], so
//! `trailwatch filters` output loads back with `--aws-metric-filters` (and into CloudWatch with
//! `aws logs put-metric-filter`, once a log group is chosen). `prometheus_name`, a trailwatch
//! setting, has no place in that format and is left out.

use serde_json::{Map, Value, json};

use super::filters::FilterSpec;

/// The `{"metricFilters": […]}` document for `specs`, pretty-printed.
pub fn metric_filters(specs: &[FilterSpec]) -> String {
    let filters: Vec<Value> = specs.iter().map(metric_filter).collect();
    serde_json::to_string_pretty(&json!({ "metricFilters": filters }))
        .unwrap_or_else(|_| "{}".to_owned())
}

fn metric_filter(spec: &FilterSpec) -> Value {
    let mut t = Map::new();
    t.insert("metricName".into(), json!(spec.metric_name));
    t.insert("metricNamespace".into(), json!(spec.namespace));
    t.insert("metricValue".into(), json!(spec.value));
    if let Some(d) = spec.default_value {
        t.insert("defaultValue".into(), json!(d));
    }
    if !spec.dimensions.is_empty() {
        let dims: Map<String, Value> = spec
            .dimensions
            .iter()
            .map(|(name, field)| (name.clone(), json!(field)))
            .collect();
        t.insert("dimensions".into(), Value::Object(dims));
    }
    if let Some(u) = &spec.unit {
        t.insert("unit".into(), json!(u));
    }
    json!({
        "filterName": spec.name,
        "filterPattern": spec.pattern,
        "metricTransformations": [Value::Object(t)],
    })
}
