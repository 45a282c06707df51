//! Table tests: every documented AWS example (`aws-doc-examples.toml`) and every observed-semantics
//! rule (`semantics.toml`), run through the compiled engine (with and without the prefilter) and
//! through the reference evaluator.

use std::collections::BTreeMap;

use serde::Deserialize;
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec, extracted_fields};

use crate::reference::{self, RefMetric};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(default)]
    case: Vec<Case>,
    #[serde(default)]
    invalid: Vec<Invalid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(alias = "rule")]
    source: String,
    pattern: String,
    #[serde(default)]
    note: Option<String>,
    metric_value: Option<String>,
    default_value: Option<f64>,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    #[serde(default)]
    event: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    text: String,
    #[serde(rename = "match")]
    matches: bool,
    value: Option<f64>,
    #[serde(default)]
    no_value: bool,
    dimensions: Option<BTreeMap<String, String>>,
    fields: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invalid {
    name: String,
    #[serde(alias = "rule")]
    source: String,
    pattern: String,
    #[serde(default)]
    note: Option<String>,
}

fn load(name: &str) -> Table {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs every case of a table; collects all failures before failing, so one run shows them all.
fn run(name: &str) {
    let table = load(name);
    let mut failures = Vec::new();
    let mut evaluator = Evaluator::new();
    let mut events = 0;
    for case in &table.case {
        let spec = MetricSpec {
            value: case.metric_value.clone().unwrap_or_else(|| "1".into()),
            default_value: case.default_value,
            dimensions: case.dimensions.clone().into_iter().collect(),
            unit: None,
        };
        let filter = match Filter::compile(&case.name, &case.pattern, &spec) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!(
                    "{}: `{}` failed to compile: {e}",
                    case.name, case.pattern
                ));
                continue;
            }
        };
        let pattern = filter.pattern().clone();
        let ref_metric = RefMetric {
            value: spec.value.clone(),
            default_value: spec.default_value,
            dimensions: spec.dimensions.clone(),
        };
        let set = FilterSet::new(vec![filter]);
        for (i, ev) in case.event.iter().enumerate() {
            events += 1;
            let at = format!("{} event {} ({})", case.name, i + 1, case.source);
            let text = ev.text.as_bytes();
            for opts in [
                EvalOptions::default(),
                EvalOptions {
                    always_parse: true,
                    explain: true,
                },
            ] {
                let out = evaluator.evaluate(&set, text, opts);
                if out.matched(0) != ev.matches {
                    failures.push(format!(
                        "{at}: `{}` on `{}`: matched={}, expected {} ({:?}){}",
                        case.pattern,
                        ev.text,
                        out.matched(0),
                        ev.matches,
                        out.explain(0),
                        case.note
                            .as_deref()
                            .map(|n| format!("\n    note: {n}"))
                            .unwrap_or_default()
                    ));
                    break;
                }
                if let Some(v) = ev.value {
                    if out.value(0) != Some(v) {
                        failures.push(format!("{at}: value {:?}, expected {v}", out.value(0)));
                    }
                }
                if ev.no_value && out.value(0).is_some() {
                    failures.push(format!(
                        "{at}: published {:?}, expected nothing",
                        out.value(0)
                    ));
                }
                if let Some(dims) = &ev.dimensions {
                    let got: BTreeMap<String, String> = out
                        .dimensions(0)
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    if &got != dims {
                        failures.push(format!("{at}: dimensions {got:?}, expected {dims:?}"));
                    }
                }
            }
            if let Some(fields) = &ev.fields {
                let got: BTreeMap<String, String> = extracted_fields(&set.filters()[0], text)
                    .into_iter()
                    .collect();
                if &got != fields {
                    failures.push(format!("{at}: fields {got:?}, expected {fields:?}"));
                }
            }
            let reference = reference::publish(&pattern, &ref_metric, text);
            if reference.matched != ev.matches {
                failures.push(format!(
                    "{at}: the REFERENCE evaluator says matched={}, table says {}",
                    reference.matched, ev.matches
                ));
            }
        }
    }
    for inv in &table.invalid {
        if let Ok(p) = trailwatch_pattern::parse(&inv.pattern) {
            failures.push(format!(
                "{} ({}): `{}` should be rejected but parsed as {} pattern{}",
                inv.name,
                inv.source,
                inv.pattern,
                p.kind.name(),
                inv.note
                    .as_deref()
                    .map(|n| format!("\n    note: {n}"))
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases/{} events/{} invalid failed:\n{}",
        failures.len(),
        table.case.len(),
        events,
        table.invalid.len(),
        failures.join("\n")
    );
    assert!(events > 0 || !table.invalid.is_empty(), "{name} is empty");
}

#[test]
fn aws_documented_examples() {
    run("aws-doc-examples.toml");
}

#[test]
fn observed_semantics() {
    run("semantics.toml");
}
