//! Fuzz target: differential evaluation. The input is a pattern, a newline, and an event; the
//! compiled engine (with and without its prefilter) must not panic and must agree with the
//! reference evaluator used by the property tests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};

#[path = "../../tests/engine/reference.rs"]
#[allow(dead_code)]
mod reference;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(pattern) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let event = &data[split + 1..];
    let Ok(filter) = Filter::compile("fuzz", pattern, &MetricSpec::default()) else {
        return;
    };
    let parsed = filter.pattern().clone();
    let set = FilterSet::new(vec![filter]);
    let mut ev = Evaluator::new();
    let fast = ev.evaluate(&set, event, EvalOptions::default()).matched(0);
    let full = ev
        .evaluate(
            &set,
            event,
            EvalOptions {
                always_parse: true,
                explain: true,
            },
        )
        .matched(0);
    assert_eq!(fast, full, "prefilter changed the result of {pattern:?}");
    // The reference parses with serde_json, which rejects a few documents simd-json accepts
    // (and vice versa) only on invalid UTF-8 or number overflow; compare on the common ground.
    if std::str::from_utf8(event).is_ok() {
        let want = reference::matches(&parsed, event);
        assert_eq!(fast, want, "engine and reference disagree on {pattern:?}");
    }
});
