//! The CIS AWS Foundations pack: every pattern (and every version variant) in the shared
//! reference list compiles or is rejected as expected, and the built-in pack matches exactly the
//! events it is meant to catch (`tests/data/cis-events.toml`).

use std::collections::BTreeMap;

use serde::Deserialize;
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};

#[derive(Deserialize)]
struct Table {
    filter: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    metric_name: String,
    #[serde(default)]
    variants_agree: Vec<usize>,
    #[serde(default)]
    variants_invalid: Vec<usize>,
    event: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    name: String,
    #[serde(rename = "match")]
    matches: bool,
    text: String,
}

fn builtin() -> BTreeMap<String, String> {
    let doc: serde_json::Value = serde_json::from_str(trailwatch::config::BUILTIN_FILTERS).unwrap();
    doc["metricFilters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filterName"].as_str().unwrap().to_owned(),
                f["filterPattern"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The external reference list (the CIS / Security Hub patterns with their published variants),
/// by metric name: (pattern, variant patterns). It is not the project's to ship: its path comes
/// from `TRAILWATCH_CIS_REFERENCE`, which `.ci/run` sets.
fn reference() -> BTreeMap<String, (String, Vec<String>)> {
    let Some(path) = std::env::var_os(REFERENCE_VAR) else {
        panic!(
            "set {REFERENCE_VAR} to the CIS reference list (cis-metric-filters.json); .ci/run does"
        );
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{REFERENCE_VAR}={}: {e}", path.to_string_lossy()));
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    list.iter()
        .map(|e| {
            let variants = e["variants"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|x| x["pattern"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (
                e["metric_name"].as_str().unwrap().to_owned(),
                (e["pattern"].as_str().unwrap().to_owned(), variants),
            )
        })
        .collect()
}

const REFERENCE_VAR: &str = "TRAILWATCH_CIS_REFERENCE";

#[test]
#[ignore = "needs the external CIS reference list: set TRAILWATCH_CIS_REFERENCE (.ci/run runs it)"]
fn the_builtin_pack_is_the_reference_list() {
    let builtin = builtin();
    let reference = reference();
    assert_eq!(builtin.len(), 15);
    for (name, (pattern, _)) in &reference {
        assert_eq!(builtin.get(name), Some(pattern), "{name}");
    }
}

#[test]
fn every_cis_pattern_catches_exactly_its_events() {
    check_events(None);
}

#[test]
#[ignore = "needs the external CIS reference list: set TRAILWATCH_CIS_REFERENCE (.ci/run runs it)"]
fn the_reference_variants_agree_with_the_pack_on_every_event() {
    check_events(Some(&reference()));
}

/// The pack against every event of the table; with the reference list, also each published
/// variant that the table says agrees (or must be rejected).
fn check_events(reference: Option<&BTreeMap<String, (String, Vec<String>)>>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cis-events.toml"
    ))
    .unwrap();
    let table: Table = toml::from_str(&text).unwrap();
    let builtin = builtin();
    // The whole pack evaluated together, as the service does.
    let names: Vec<&String> = builtin.keys().collect();
    let pack = FilterSet::new(
        builtin
            .iter()
            .map(|(n, p)| {
                Filter::compile(n, p, &MetricSpec::default()).unwrap_or_else(|e| panic!("{n}: {e}"))
            })
            .collect(),
    );
    let mut ev = Evaluator::new();
    let mut failures = Vec::new();
    let mut events = 0;
    for entry in &table.filter {
        let id = names
            .iter()
            .position(|n| **n == entry.metric_name)
            .unwrap_or_else(|| panic!("{} not in the pack", entry.metric_name));
        let no_variants = Vec::new();
        let variants = reference.map_or(&no_variants, |r| &r[&entry.metric_name].1);
        for (i, v) in variants.iter().enumerate() {
            let compiled = Filter::compile("v", v, &MetricSpec::default());
            if entry.variants_invalid.contains(&i) {
                if compiled.is_ok() {
                    failures.push(format!(
                        "{} variant {i} should be rejected: {v}",
                        entry.metric_name
                    ));
                }
            } else if let Err(e) = &compiled {
                failures.push(format!(
                    "{} variant {i} does not compile: {e}",
                    entry.metric_name
                ));
            }
        }
        let agreeing: Vec<FilterSet> = entry
            .variants_agree
            .iter()
            .filter(|_| reference.is_some())
            .map(|&i| {
                FilterSet::new(vec![
                    Filter::compile("v", &variants[i], &MetricSpec::default()).unwrap(),
                ])
            })
            .collect();
        for e in &entry.event {
            events += 1;
            for opts in [
                EvalOptions::default(),
                EvalOptions {
                    always_parse: true,
                    explain: false,
                },
            ] {
                let got = ev.evaluate(&pack, e.text.as_bytes(), opts).matched(id);
                if got != e.matches {
                    failures.push(format!(
                        "{} / {}: matched={got}, expected {}",
                        entry.metric_name, e.name, e.matches
                    ));
                }
            }
            for (set, i) in agreeing.iter().zip(&entry.variants_agree) {
                if ev
                    .evaluate(set, e.text.as_bytes(), EvalOptions::default())
                    .matched(0)
                    != e.matches
                {
                    failures.push(format!(
                        "{} variant {i} disagrees on {}",
                        entry.metric_name, e.name
                    ));
                }
            }
        }
    }
    assert!(events > 100, "only {events} events");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
