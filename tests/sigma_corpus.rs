//! The 58 SigmaHQ CloudTrail rules (read from the folder named by TRAILWATCH_SIGMA_CORPUS; they
//! are not this project's to ship): every rule loads; each matches its events and no other in
//! `tests/data/sigma/cloudtrail-events.json`; each converted CloudWatch pattern gives the same
//! result as its rule on every event; and `docs/sigma-cloudwatch.md` holds the current table
//! (`TRAILWATCH_BLESS=1` rewrites it), as `configs/prometheus/sigma-alerts.yml` holds the alerts.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trailwatch::sigma::{LoadedRule, alerts, convert, load};
use trailwatch_pattern::sigma::SigmaOptions;
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};

const VAR: &str = "TRAILWATCH_SIGMA_CORPUS";

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(VAR)?);
    // A relative path is relative to the repository root (where .ci/run runs).
    Some(if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
    } else {
        dir
    })
}

fn merge(base: &Value, over: &Value) -> Value {
    let mut out = base.clone();
    if let (Value::Object(o), Value::Object(m)) = (&mut out, over) {
        for (k, v) in m {
            if v.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

struct Case {
    file: String,
    event: String,
    expected: bool,
}

fn cases() -> (Vec<Case>, Vec<String>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigma/cloudtrail-events.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let base = &doc["base"];
    let mut cases = Vec::new();
    let mut files = Vec::new();
    for r in doc["rules"].as_array().unwrap() {
        let file = r["file"].as_str().unwrap().to_owned();
        files.push(file.clone());
        for (key, expected) in [("match", true), ("no_match", false)] {
            let events = r[key].as_array().unwrap();
            assert!(!events.is_empty(), "{file}: no {key} event");
            for e in events {
                cases.push(Case {
                    file: file.clone(),
                    event: merge(base, e).to_string(),
                    expected,
                });
            }
        }
    }
    (cases, files)
}

fn file_of(r: &LoadedRule) -> String {
    r.path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The rules are not the project's to ship: without the variable these tests are ignored (run
/// them with `--include-ignored`, as .ci/run does), and they fail rather than pass when run
/// without it.
fn rules() -> Vec<LoadedRule> {
    let Some(dir) = corpus() else {
        panic!("set {VAR} to the folder of the SigmaHQ CloudTrail rules; .ci/run does");
    };
    let loaded = load(std::slice::from_ref(&dir), &SigmaOptions::default())
        .unwrap_or_else(|e| panic!("the corpus in {} does not load: {e}", dir.display()));
    assert!(loaded.skipped.is_empty(), "skipped: {:?}", loaded.skipped);
    loaded.rules
}

#[test]
#[ignore = "needs the SigmaHQ rules: set TRAILWATCH_SIGMA_CORPUS (.ci/run runs it)"]
fn every_rule_loads_and_decides_its_events() {
    let rules = rules();
    assert_eq!(rules.len(), 58, "the corpus has 58 CloudTrail rules");
    let (cases, files) = cases();
    let mut names: Vec<String> = rules.iter().map(file_of).collect();
    names.sort();
    let mut listed = files.clone();
    listed.sort();
    assert_eq!(
        names, listed,
        "every rule has events, and every event file names a rule"
    );
    // All rules in one set, as the service runs them: one parse, one prefilter.
    let set = FilterSet::new(rules.iter().map(|r| r.rule.filter()).collect());
    let index = |file: &str| rules.iter().position(|r| file_of(r) == file).unwrap();
    let mut ev = Evaluator::new();
    let mut checked = 0;
    for case in &cases {
        let id = index(&case.file);
        let fast = ev
            .evaluate(&set, case.event.as_bytes(), EvalOptions::default())
            .matched(id);
        let full_opts = EvalOptions {
            always_parse: true,
            explain: false,
        };
        let full = ev
            .evaluate(&set, case.event.as_bytes(), full_opts)
            .matched(id);
        assert_eq!(
            fast, full,
            "{}: the prefilter changed the result on {}",
            case.file, case.event
        );
        assert_eq!(
            fast, case.expected,
            "{} ({}): expected match = {} on {}",
            case.file, rules[id].rule.title, case.expected, case.event
        );
        checked += 1;
    }
    assert!(checked >= 116, "{checked} events checked");
}

#[test]
#[ignore = "needs the SigmaHQ rules: set TRAILWATCH_SIGMA_CORPUS (.ci/run runs it)"]
fn converted_patterns_agree_with_their_rules() {
    let rules = rules();
    let (cases, _) = cases();
    let mut converted = 0;
    for r in &rules {
        let Ok(pattern) = convert::outcome(r) else {
            continue;
        };
        converted += 1;
        let cw = Filter::compile("cw", &pattern, &MetricSpec::default())
            .unwrap_or_else(|e| panic!("{}: {pattern} does not compile: {e}", file_of(r)));
        let set = FilterSet::new(vec![r.rule.filter(), cw]);
        let mut ev = Evaluator::new();
        let mut matched = 0;
        // Every event of the corpus, not only the rule's own.
        for case in &cases {
            let out = ev.evaluate(&set, case.event.as_bytes(), EvalOptions::default());
            assert_eq!(
                out.matched(0),
                out.matched(1),
                "{}: the rule and `{pattern}` disagree on {}",
                file_of(r),
                case.event
            );
            matched += usize::from(out.matched(0));
        }
        assert!(matched > 0, "{}: no event matched", file_of(r));
    }
    assert!(converted >= 40, "only {converted} rules converted");
}

#[test]
#[ignore = "needs the SigmaHQ rules: set TRAILWATCH_SIGMA_CORPUS (.ci/run runs it)"]
fn the_conversion_table_is_current() {
    let rules = rules();
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sigma-cloudwatch.md");
    let text = std::fs::read_to_string(&doc).unwrap_or_default();
    const START: &str = "<!-- table: generated by tests/sigma_corpus.rs -->\n";
    const END: &str = "<!-- end of table -->\n";
    let table = convert::table(&rules);
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        panic!("{} lacks the table markers", doc.display());
    };
    let current = &text[a + START.len()..b];
    if current != table {
        if std::env::var_os("TRAILWATCH_BLESS").is_some() {
            let updated = format!("{}{START}{table}{}", &text[..a], &text[b..]);
            std::fs::write(&doc, updated).unwrap();
        } else {
            panic!(
                "{} is out of date; run with TRAILWATCH_BLESS=1 to rewrite it. Expected:\n{table}",
                doc.display()
            );
        }
    }
}

#[test]
#[ignore = "needs the SigmaHQ rules: set TRAILWATCH_SIGMA_CORPUS (.ci/run runs it)"]
fn the_sigma_alert_rules_are_current() {
    let rules = rules();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prometheus/sigma-alerts.yml");
    let expected = alerts::rule_file(&rules);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != expected {
        if std::env::var_os("TRAILWATCH_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        } else {
            panic!(
                "{} is out of date; run with TRAILWATCH_BLESS=1 (or `trailwatch sigma alerts RULES`) to rewrite it",
                path.display()
            );
        }
    }
    assert_eq!(
        expected.matches("- alert:").count(),
        rules.iter().filter(|r| alerts::alerts_on(r)).count()
    );
}
