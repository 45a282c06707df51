//! Property tests: the compiled engine (with and without its prefilter) agrees with the reference
//! evaluator on generated patterns and events, and no input panics the parser or the evaluator.
//!
//! Events are generated as values and written out with random JSON formatting: whitespace
//! around separators, `\u` and `\/` escapes, and repeated keys (last one wins), which is what an
//! inexact prefilter or path resolver would get wrong.

use proptest::prelude::*;
use serde_json::{Map, Value};
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec, parse};

use crate::reference::{self, RefMetric};

const KEYS: &[&str] = &["a", "b", "c", "eventName", "type", "ü", "x.y", "a/b"];
const STRINGS: &[&str] = &[
    "x",
    "Root",
    "ConsoleLogin",
    "AccessDenied",
    "AccessDeniedException",
    "Client.UnauthorizedOperation",
    "1",
    "01",
    "1.0",
    "a*b",
    "",
    "x\"y",
    "a/b",
    "é",
    "true",
    "null",
    "Roo",
    "Yes",
    "ab",
    "ba",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-5),
            Just(2),
            Just(404),
            Just(1000)
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just(9007199254740993u64),
            Just(9007199254740992u64),
            Just(u64::MAX)
        ]
        .prop_map(Value::from),
        prop_oneof![Just(1.0f64), Just(0.5), Just(1e10), Just(-2.5)].prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), value()), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// Writes JSON with formatting choices taken from `style` (cycled).
struct Writer<'a> {
    out: String,
    style: &'a [u8],
    at: usize,
    /// Whether `\u` escapes may appear (they switch the prefilter off for the whole event, so
    /// most events have none).
    unicode_escapes: bool,
}

impl Writer<'_> {
    fn bit(&mut self, modulo: u8) -> u8 {
        let b = self
            .style
            .get(self.at % self.style.len().max(1))
            .copied()
            .unwrap_or(0);
        self.at += 1;
        b % modulo
    }

    fn ws(&mut self) {
        match self.bit(6) {
            0 => self.out.push(' '),
            1 => self.out.push_str(" \t"),
            _ => {}
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '/' if self.bit(2) == 0 => self.out.push_str("\\/"),
                c if (c as u32) < 0x20 => self.out.push_str(&format!("\\u{:04x}", c as u32)),
                c if self.unicode_escapes && self.bit(9) == 0 => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        self.out.push_str(&format!("\\u{u:04X}"));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                self.out.push('{');
                let mut first = true;
                for (k, v) in m {
                    // Sometimes an earlier entry with the same key: the later one must win.
                    if self.bit(7) == 0 {
                        self.entry(&mut first, k, &Value::String("shadowed".into()));
                    }
                    self.entry(&mut first, k, v);
                }
                self.ws();
                self.out.push('}');
            }
            Value::Array(a) => {
                self.out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.ws();
                    self.value(v);
                }
                self.out.push(']');
            }
            Value::String(s) => self.string(s),
            other => self.out.push_str(&other.to_string()),
        }
    }

    fn entry(&mut self, first: &mut bool, k: &str, v: &Value) {
        if !*first {
            self.out.push(',');
        }
        *first = false;
        self.ws();
        self.string(k);
        self.ws();
        self.out.push(':');
        self.ws();
        self.value(v);
    }
}

fn write_json(v: &Value, style: &[u8]) -> String {
    let mut w = Writer {
        out: String::new(),
        style,
        at: 1,
        unicode_escapes: style.first().is_some_and(|b| b % 3 == 0),
    };
    w.value(v);
    w.out
}

fn selector() -> impl Strategy<Value = String> {
    let step = prop_oneof![
        4 => prop::sample::select(&["a", "b", "c", "eventName", "type", "ü"][..]).prop_map(|k| format!(".{k}")),
        1 => Just(".['x.y']".to_owned()),
        1 => Just(".['a/b']".to_owned()),
        1 => prop::sample::select(&["[0]", "[1]"][..]).prop_map(str::to_owned),
        1 => prop::sample::select(&["[*]", ".*"][..]).prop_map(str::to_owned),
    ];
    prop::collection::vec(step, 1..4).prop_map(|steps| {
        // At most one wildcard per selector: later wildcards become index 0.
        let mut seen = false;
        let steps: Vec<String> = steps
            .into_iter()
            .map(|s| {
                if s == "[*]" || s == ".*" {
                    if seen {
                        return "[0]".to_owned();
                    }
                    seen = true;
                }
                s
            })
            .collect();
        format!("${}", steps.concat())
    })
}

fn test_text() -> impl Strategy<Value = String> {
    let quoted = prop::sample::select(
        &[
            "\"x\"",
            "\"Root\"",
            "\"ConsoleLogin\"",
            "\"AccessDenied*\"",
            "\"*UnauthorizedOperation\"",
            "\"*\"",
            "\"1\"",
            "\"01\"",
            "\"a*b\"",
            "\"\"",
            "\"é\"",
            "\"a*\"",
            "\"*b\"",
            "\"true\"",
            "\"1.0\"",
            "\"a/b\"",
            "\"Ro*t\"",
        ][..],
    );
    prop_oneof![
        (prop::sample::select(&["=", "!="][..]), quoted).prop_map(|(o, v)| format!("{o} {v}")),
        (
            prop::sample::select(&["=", "!="][..]),
            prop::sample::select(
                &["x", "Root", "ConsoleLogin", "AccessDenied*", "true", "ab.c"][..]
            )
        )
            .prop_map(|(o, v)| format!("{o} {v}")),
        (
            prop::sample::select(&["=", "!=", "<", "<=", ">", ">="][..]),
            prop::sample::select(
                &[
                    "0",
                    "1",
                    "2",
                    "-5",
                    "1.0",
                    "1e3",
                    "404",
                    "9007199254740993",
                    "0.5",
                    "1e10"
                ][..]
            )
        )
            .prop_map(|(o, v)| format!("{o} {v}")),
        prop::sample::select(&["= *", "!= *", "= %Ro+t%", "!= %^x$%", "= %1%", "= %[0-9]%"][..])
            .prop_map(str::to_owned),
        prop::sample::select(
            &[
                "IS NULL",
                "IS TRUE",
                "IS FALSE",
                "NOT EXISTS",
                "is null",
                "not exists"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

fn json_pattern() -> impl Strategy<Value = String> {
    let cond = (selector(), test_text()).prop_map(|(s, t)| format!("{s} {t}"));
    let expr = cond.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} || {b}")),
            inner.prop_map(|a| format!("({a})")),
        ]
    });
    expr.prop_map(|e| format!("{{ {e} }}"))
}

fn check_set(
    patterns: &[String],
    events: &[String],
    metric_value: &str,
) -> Result<(), TestCaseError> {
    let mut filters = Vec::new();
    let mut parsed = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let spec = MetricSpec {
            value: metric_value.to_owned(),
            ..MetricSpec::default()
        };
        match Filter::compile(&format!("f{i}"), p, &spec) {
            Ok(f) => {
                parsed.push(f.pattern().clone());
                filters.push(f);
            }
            // Generated patterns can exceed the wildcard/regex quotas: those are not under test.
            Err(_) => return Err(TestCaseError::reject("over quota")),
        }
    }
    let set = FilterSet::new(filters);
    let mut ev = Evaluator::new();
    let metric = RefMetric {
        value: metric_value.to_owned(),
        ..RefMetric::default()
    };
    for e in events {
        let expected: Vec<_> = parsed
            .iter()
            .map(|p| reference::publish(p, &metric, e.as_bytes()))
            .collect();
        for opts in [
            EvalOptions::default(),
            EvalOptions {
                always_parse: true,
                explain: false,
            },
        ] {
            let out = ev.evaluate(&set, e.as_bytes(), opts);
            for (i, want) in expected.iter().enumerate() {
                prop_assert_eq!(
                    out.matched(i),
                    want.matched,
                    "pattern {:?} on event {} (always_parse={})",
                    patterns[i],
                    e,
                    opts.always_parse
                );
                prop_assert_eq!(
                    out.value(i),
                    want.value,
                    "value of {:?} on {}",
                    patterns[i],
                    e
                );
            }
        }
    }
    Ok(())
}

/// A dense corner of the space for the prefilter: few keys, literals that overlap the values
/// (strings, numbers whose text matches a string literal, nested repeats of the same key).
fn dense_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(&["Root", "1", "404", "x", "a/b", "x\"y", "Roo", "10"][..])
            .prop_map(|s| Value::String(s.to_owned())),
        prop::sample::select(&[1i64, 404, -1, 10][..]).prop_map(Value::from),
        Just(Value::from(1.0f64)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn dense_event() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(&["a", "b", "type", "a/b"][..]);
    let inner = prop_oneof![
        3 => dense_leaf(),
        1 => (keys.clone(), dense_leaf()).prop_map(|(k, v)| serde_json::json!({ k: v })),
        1 => prop::collection::vec(dense_leaf(), 0..3).prop_map(Value::Array),
    ];
    prop::collection::vec((keys, inner), 0..5)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn dense_pattern() -> impl Strategy<Value = String> {
    let sel = prop::sample::select(
        &[
            "$.a",
            "$.b",
            "$.type",
            "$.b.a",
            "$.a[0]",
            "$.b[*]",
            "$.*",
            "$.['a/b']",
            "$.b.type",
        ][..],
    );
    let test = prop::sample::select(
        &[
            "= \"Root\"",
            "= Root",
            "= \"1\"",
            "= 1",
            "= \"404\"",
            "= 4*",
            "= \"*0*\"",
            "= \"1*\"",
            "!= \"x\"",
            "= \"a/b\"",
            "= \"x\\\"y\"",
            "= \"1.0\"",
            "> 5",
            "= *",
            "IS NULL",
            "IS TRUE",
            "NOT EXISTS",
            "= %^1%",
            "!= 1",
            "= \"Ro*\"",
        ][..],
    );
    let cond = (sel, test).prop_map(|(s, t)| format!("{s} {t}"));
    prop::collection::vec((cond, prop::sample::select(&["&&", "||"][..])), 1..4).prop_map(|cs| {
        let mut out = String::from("{ ");
        for (i, (c, op)) in cs.iter().enumerate() {
            if i > 0 {
                out.push_str(&format!(" {op} "));
            }
            out.push_str(c);
        }
        out.push_str(" }");
        out
    })
}

/// Generated cases checked, per property (rejects do not count towards `cases`): a property
/// whose generator mostly produces rejected cases checks little while looking green, so each
/// block caps its rejects. JSON patterns are rejected when they exceed CloudWatch's wildcard and
/// regex quotas; measured on this generator: 514 checked, 780 rejected (40 %). Floor: 1 in 3.
const CASES: u32 = 512;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, max_global_rejects: 2 * CASES, ..ProptestConfig::default() })]

    #[test]
    fn json_engine_agrees_with_reference(
        patterns in prop::collection::vec(json_pattern(), 1..5),
        events in prop::collection::vec((event(), prop::collection::vec(any::<u8>(), 1..16)), 1..6),
        value in prop::sample::select(&["1", "$.a", "$.b.c", "2.5"][..]),
    ) {
        let events: Vec<String> = events.iter().map(|(v, style)| write_json(v, style)).collect();
        check_set(&patterns, &events, value)?;
    }
}

// These generators produce valid patterns only (measured: 0 rejects in 512 cases); the floor is
// 8 in 9 checked.
proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, max_global_rejects: CASES / 8, ..ProptestConfig::default() })]

    #[test]
    fn prefilter_is_exact(
        patterns in prop::collection::vec(dense_pattern(), 1..4),
        events in prop::collection::vec((dense_event(), prop::collection::vec(any::<u8>(), 1..16)), 1..8),
    ) {
        let events: Vec<String> = events.iter().map(|(v, style)| write_json(v, style)).collect();
        check_set(&patterns, &events, "1")?;
    }

    /// One filter at a time: keys then carry few exact values, which makes the prefilter probe
    /// for values instead of scanning keys.
    #[test]
    fn prefilter_probes_are_exact(
        pattern in dense_pattern(),
        events in prop::collection::vec((dense_event(), prop::collection::vec(any::<u8>(), 1..16)), 1..8),
    ) {
        let events: Vec<String> = events.iter().map(|(v, style)| write_json(v, style)).collect();
        check_set(&[pattern], &events, "1")?;
    }

    #[test]
    fn terms_agree_with_reference(
        pattern in prop::collection::vec(
            (prop::sample::select(&["", "-", "?"][..]),
             prop::sample::select(&["ERROR", "WARN", "error", "x.y", "ab", "\"two words\"", "\"a-b\"", "\"ERR*\"", "é"][..])),
            0..5),
        lines in prop::collection::vec(
            prop::collection::vec(prop::sample::select(&["ERROR", "WARN", "two", "words", "a-b", "ERR*", "xERRORS", "é", "ab", "  "][..]), 0..6),
            1..6),
    ) {
        let pattern: Vec<String> = pattern.iter().map(|(p, t)| format!("{p}{t}")).collect();
        let lines: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
        check_set(&[pattern.join(" ")], &lines, "1")?;
    }

    #[test]
    fn delimited_agrees_with_reference(
        fields in prop::collection::vec(
            prop::sample::select(&["a", "b = 1", "c != x", "d = 4*", "e > 100", "f = %^[0-9]+$%", "g = \"GET*\"",
                                   "h = 404 || h = 410", "i <= 1.5", "j = *", ""][..]),
            0..5),
        ellipsis in prop::option::of(0usize..5),
        lines in prop::collection::vec(
            prop::collection::vec(prop::sample::select(&["1", "1.0", "x", "404", "410", "4xx", "\"GET /a\"", "[10/Oct]", "-", "200", "0.5", "1e3", "abc"][..]), 0..8),
            1..6),
    ) {
        // Field names must be unique: number repeated names.
        let mut fields: Vec<String> = fields.iter().enumerate().map(|(i, f)| {
            if f.is_empty() { String::new() } else {
                let name = &f[..1];
                f.replacen(name, &format!("{name}{i}"), 1).replace(&format!("|| {name} "), &format!("|| {name}{i} "))
            }
        }).collect();
        if let Some(e) = ellipsis {
            let at = e.min(fields.len());
            fields.insert(at, "...".into());
        }
        let pattern = format!("[{}]", fields.join(", "));
        let lines: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
        check_set(&[pattern], &lines, "1")?;
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_pattern_alphabet(s in "[{}\\[\\]()$.*\"'%=!<>&|?, a-zA-Z0-9_\\\\-]{0,60}") {
        let _ = parse(&s);
    }

    #[test]
    fn evaluator_never_panics(
        pattern in "[{}\\[\\]()$.*\"%=!<>&|?, a-z0-9_-]{0,40}",
        event in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(f) = Filter::compile("f", &pattern, &MetricSpec::default()) {
            let set = FilterSet::new(vec![f]);
            let mut ev = Evaluator::new();
            let _ = ev.evaluate(&set, &event, EvalOptions::default());
            let _ = ev.evaluate(&set, &event, EvalOptions { always_parse: true, explain: true });
        }
    }
}
