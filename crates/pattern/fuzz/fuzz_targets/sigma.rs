//! Fuzz target: Sigma rules. The input is rule text, a NUL byte, and an event: loading the rule,
//! converting it and evaluating it must not panic, and the prefilter must not change a result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_pattern::sigma::{SigmaOptions, SigmaRule};
use trailwatch_pattern::{EvalOptions, Evaluator, FilterSet};

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let event = &data[split + 1..];
    let Ok(rule) = SigmaRule::parse(text, &SigmaOptions::default()) else {
        return;
    };
    let _ = rule.to_cloudwatch();
    let set = FilterSet::new(vec![rule.filter()]);
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
    assert_eq!(fast, full, "the prefilter changed the result of {text:?}");
});
