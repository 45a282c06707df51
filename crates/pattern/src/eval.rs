//! Evaluating a filter set on one event, with reusable per-worker scratch space.
//!
//! Order of work for one event: text filters (terms, regex, space-delimited) run on the raw
//! bytes; JSON filters first ask the prefilter, and only if some filter could match is the event
//! parsed (simd-json into a reused tape), every path resolved once, and the candidate programs
//! run. Metric values and dimensions are read while the tape is alive and copied into a reused
//! text buffer, so an [`Outcome`] borrows nothing from the event. After the buffers have grown to
//! the largest event seen, evaluation allocates nothing.

use std::ops::Range;

use simd_json::{Buffers, Tape};

use crate::ast::PatternKind;
use crate::delimited::{self, Token};
use crate::explain;
use crate::filter::{Filter, FilterSet, Matcher};
use crate::metric::{Metric, ValueSource};
use crate::number::parse_token_number;
use crate::paths::PathRef;
use crate::prefilter::PrefilterScratch;
use crate::tape::{self, JsonRef};
use crate::test_value::test_path;

/// How to evaluate.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalOptions {
    /// Parse every JSON-looking event, even when the prefilter rules out every filter (to
    /// validate all input, at the cost of speed).
    pub always_parse: bool,
    /// Record, per filter, the clause that decided the result (implies `always_parse`).
    pub explain: bool,
}

/// What happened to the event as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStatus {
    /// It does not start with `{`: only text filters apply.
    NotJson,
    /// It looks like JSON but no filter needed it parsed.
    NotParsed,
    /// It was parsed.
    Parsed,
    /// It starts with `{` but is not valid JSON (JSON filters do not match).
    Invalid,
}

#[derive(Debug, Clone, Default)]
struct FilterResult {
    matched: bool,
    value: Option<f64>,
    dims: Range<u32>,
    explain: Range<u32>,
}

/// Per-worker scratch space for evaluating events. Create one per thread and reuse it.
#[derive(Default)]
pub struct Evaluator {
    input: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
    slots: Vec<u32>,
    prefilter: PrefilterScratch,
    candidates: Vec<bool>,
    tokens: Vec<Token>,
    bound: Vec<(u32, u32)>,
    results: Vec<FilterResult>,
    /// Dimension values and explain texts, referenced by range.
    text: String,
    /// Byte ranges in `text`: dimension values.
    dim_values: Vec<Range<u32>>,
    json: Option<JsonStatus>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").finish_non_exhaustive()
    }
}

/// The result of evaluating a filter set on one event.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'e> {
    ev: &'e Evaluator,
    set: &'e FilterSet,
}

impl Evaluator {
    /// A new evaluator with empty buffers.
    pub fn new() -> Evaluator {
        Evaluator::default()
    }

    /// Evaluates every filter of `set` on `event` (one log event: a line, without its newline).
    ///
    /// ```
    /// use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};
    /// let set = FilterSet::new(vec![
    ///     Filter::compile("logins", r#"{ $.eventName = "ConsoleLogin" }"#, &MetricSpec::default())?,
    /// ]);
    /// let mut ev = Evaluator::new();
    /// let out = ev.evaluate(&set, br#"{"eventName":"ConsoleLogin"}"#, EvalOptions::default());
    /// assert!(out.matched(0));
    /// assert_eq!(out.value(0), Some(1.0));
    /// # Ok::<(), trailwatch_pattern::FilterError>(())
    /// ```
    pub fn evaluate<'e>(
        &'e mut self,
        set: &'e FilterSet,
        event: &[u8],
        opts: EvalOptions,
    ) -> Outcome<'e> {
        self.results.clear();
        self.results.resize(set.len(), FilterResult::default());
        self.text.clear();
        self.dim_values.clear();
        self.json = None;
        let mut tokenized = false;
        for (id, f) in set.filters.iter().enumerate() {
            match &f.matcher {
                Matcher::Json(_) | Matcher::Sigma(_) => continue,
                Matcher::All => {
                    self.results[id].matched = true;
                    if opts.explain {
                        let r = explain::write(&mut self.text, explain::match_all);
                        self.results[id].explain = r;
                    }
                }
                Matcher::Terms(t) => {
                    let (ok, by) = t.test(event);
                    self.results[id].matched = ok;
                    if opts.explain {
                        let r = explain::write(&mut self.text, |s| explain::terms(s, t, ok, by));
                        self.results[id].explain = r;
                    }
                }
                Matcher::Regex(r) => {
                    let ok = r.is_match(event);
                    self.results[id].matched = ok;
                    if opts.explain {
                        let x = explain::write(&mut self.text, |s| explain::regex(s, r, ok));
                        self.results[id].explain = x;
                    }
                }
                Matcher::Delimited(d) => {
                    if !tokenized {
                        delimited::tokenize(event, &mut self.tokens);
                        tokenized = true;
                    }
                    let bound = d.bind(event, &self.tokens, &mut self.bound);
                    let (ok, by) = if bound {
                        d.test(event, &self.bound)
                    } else {
                        (false, None)
                    };
                    self.results[id].matched = ok;
                    if ok {
                        self.delimited_metric(f, id, event);
                    }
                    if opts.explain {
                        let (tokens, bound_vals) = (&self.tokens, &self.bound);
                        let x = explain::write(&mut self.text, |s| {
                            explain::delimited(
                                s,
                                d,
                                event,
                                tokens.len(),
                                bound.then_some(&bound_vals[..]),
                                ok,
                                by,
                            )
                        });
                        self.results[id].explain = x;
                    }
                }
            }
        }
        self.json_filters(set, event, opts);
        for (id, f) in set.filters.iter().enumerate() {
            let r = &mut self.results[id];
            if !r.matched {
                r.value = f.metric.default_value;
            } else if let (
                ValueSource::Literal(v),
                Matcher::All | Matcher::Terms(_) | Matcher::Regex(_),
            ) = (&f.metric.value, &f.matcher)
            {
                r.value = Some(*v);
            }
        }
        Outcome { ev: self, set }
    }

    fn json_filters(&mut self, set: &FilterSet, event: &[u8], opts: EvalOptions) {
        let looks_json = event
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{');
        if !looks_json {
            self.json = Some(JsonStatus::NotJson);
            if opts.explain {
                for &id in &set.json_filters {
                    self.results[id].explain = explain::write(&mut self.text, explain::not_json);
                }
            }
            return;
        }
        if set.json_filters.is_empty() {
            self.json = Some(JsonStatus::NotParsed);
            return;
        }
        let force = opts.always_parse || opts.explain;
        self.prefilter.reset(&set.prefilter);
        self.candidates.clear();
        self.candidates.resize(set.len(), false);
        let mut any = false;
        for &id in &set.json_filters {
            let c = force
                || set
                    .prefilter
                    .could_match(id, &set.requirements[id], event, &mut self.prefilter);
            self.candidates[id] = c;
            any |= c;
        }
        if !any {
            self.json = Some(JsonStatus::NotParsed);
            return;
        }
        self.input.clear();
        self.input.extend_from_slice(event);
        self.input.resize(event.len() + simd_json::INPUT_PADDING, 0);
        let mut tape: Tape<'_> = self.tape.take().unwrap_or_else(Tape::null);
        let parsed =
            simd_json::fill_tape_padded(&mut self.input, event.len(), &mut self.buffers, &mut tape);
        let is_object = matches!(tape.0.first(), Some(simd_json::Node::Object { .. }));
        if parsed.is_ok() && is_object {
            self.json = Some(JsonStatus::Parsed);
            let nodes = &tape.0[..];
            self.slots.resize(set.trie.slot_count(), tape::NONE);
            set.trie.resolve(nodes, &mut self.slots);
            for &id in &set.json_filters {
                if !self.candidates[id] {
                    continue;
                }
                let f = &set.filters[id];
                let program = match &f.matcher {
                    Matcher::Json(program) => program,
                    Matcher::Sigma(sigma) => {
                        let program = &sigma.1;
                        let (ok, by) = program.run(|_, leaf| leaf.holds(nodes));
                        self.results[id].matched = ok;
                        self.results[id].value = ok.then_some(1.0);
                        if opts.explain {
                            let by = by.map(|i| &program.conds()[i as usize]);
                            self.results[id].explain = explain::write(&mut self.text, |s| {
                                explain::sigma(s, by, ok, nodes)
                            });
                        }
                        continue;
                    }
                    _ => continue,
                };
                let paths = &set.paths[id];
                let slots = &self.slots;
                let (ok, by) = program.run(|i, c| {
                    let p = &paths[i as usize];
                    test_path(
                        &c.test,
                        slots[p.slot as usize],
                        p.wildcard_rest.as_deref(),
                        nodes,
                    )
                });
                self.results[id].matched = ok;
                if ok {
                    let value = json_value(&f.metric, paths, slots, nodes);
                    self.results[id].value = value;
                    self.results[id].dims =
                        json_dims(f, paths, slots, nodes, &mut self.text, &mut self.dim_values);
                }
                if opts.explain {
                    let by = by.map(|i| {
                        let p = &paths[i as usize];
                        (&program.conds()[i as usize], slots[p.slot as usize], p)
                    });
                    self.results[id].explain =
                        explain::write(&mut self.text, |s| explain::json(s, by, ok, nodes));
                }
            }
        } else {
            self.json = Some(JsonStatus::Invalid);
            if opts.explain {
                for &id in &set.json_filters {
                    self.results[id].explain = explain::write(&mut self.text, explain::not_json);
                }
            }
        }
        self.tape = Some(tape.reset());
    }

    /// Reads a space-delimited match's value and dimensions from the bound tokens.
    fn delimited_metric(&mut self, f: &Filter, id: usize, event: &[u8]) {
        let text_of =
            |src: &ValueSource, bound: &[(u32, u32)], tokens: &[Token]| -> Option<(u32, u32)> {
                match src {
                    ValueSource::Field(i) => bound.get(*i).copied(),
                    ValueSource::Position(n) => tokens.get(n - 1).map(|t| (t.start, t.end)),
                    _ => None,
                }
            };
        let value = match &f.metric.value {
            ValueSource::Literal(v) => Some(*v),
            src => text_of(src, &self.bound, &self.tokens)
                .and_then(|(s, e)| parse_token_number(&event[s as usize..e as usize])),
        };
        self.results[id].value = value;
        let start = self.dim_values.len() as u32;
        for (_, src) in &f.metric.dimensions {
            let Some((s, e)) = text_of(src, &self.bound, &self.tokens) else {
                self.dim_values.truncate(start as usize);
                break;
            };
            let text = String::from_utf8_lossy(&event[s as usize..e as usize]);
            let at = self.text.len() as u32;
            self.text.push_str(&text);
            self.dim_values.push(at..self.text.len() as u32);
        }
        self.results[id].dims = start..self.dim_values.len() as u32;
    }
}

/// The number a JSON match publishes: a literal, or the referenced field's number. A missing or
/// null field publishes the default value (if any); other non-numbers publish nothing.
fn json_value(
    metric: &Metric,
    paths: &[PathRef],
    slots: &[u32],
    nodes: &[simd_json::Node<'_>],
) -> Option<f64> {
    match &metric.value {
        ValueSource::Literal(v) => Some(*v),
        ValueSource::Json(i) => match tape::view(nodes, slots[paths[*i].slot as usize]) {
            JsonRef::Number(n) => Some(n.as_f64()),
            JsonRef::Str(s) => parse_token_number(s.as_bytes()),
            JsonRef::Missing | JsonRef::Null => metric.default_value,
            _ => None,
        },
        _ => None,
    }
}

/// Copies a JSON match's dimension values into `text`; all or nothing (a missing field
/// publishes the sample without dimensions).
fn json_dims(
    f: &Filter,
    paths: &[PathRef],
    slots: &[u32],
    nodes: &[simd_json::Node<'_>],
    text: &mut String,
    dim_values: &mut Vec<Range<u32>>,
) -> Range<u32> {
    let start = dim_values.len() as u32;
    for (_, src) in &f.metric.dimensions {
        let ValueSource::Json(i) = src else { continue };
        let at = text.len() as u32;
        match tape::view(nodes, slots[paths[*i].slot as usize]) {
            JsonRef::Str(s) => text.push_str(s),
            JsonRef::Number(n) => text.push_str(n.text().as_str()),
            JsonRef::Bool(b) => text.push_str(if b { "true" } else { "false" }),
            _ => {
                dim_values.truncate(start as usize);
                text.truncate(at as usize);
                return start..start;
            }
        }
        dim_values.push(at..text.len() as u32);
    }
    start..dim_values.len() as u32
}

impl<'e> Outcome<'e> {
    /// What happened to the event as JSON.
    pub fn json(&self) -> JsonStatus {
        self.ev.json.unwrap_or(JsonStatus::NotJson)
    }

    /// Whether filter `id` matched.
    pub fn matched(&self, id: usize) -> bool {
        self.ev.results[id].matched
    }

    /// Ids of the filters that matched, in order.
    pub fn matches(&self) -> impl Iterator<Item = usize> + Clone + 'e {
        self.ev
            .results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matched)
            .map(|(i, _)| i)
    }

    /// The value filter `id` publishes for this event: the metric value of a match (if the
    /// referenced field is a number), or the default value of a non-match (if one is set).
    pub fn value(&self, id: usize) -> Option<f64> {
        self.ev.results[id].value
    }

    /// The dimensions filter `id` publishes with its value, `(name, value)`; empty when it has
    /// none or a referenced field was missing.
    pub fn dimensions(&self, id: usize) -> impl Iterator<Item = (&'e str, &'e str)> + 'e {
        let r = &self.ev.results[id];
        let ev = self.ev;
        let names = self.set.filters[id]
            .metric
            .dimensions
            .iter()
            .map(|(n, _)| n.as_str());
        let values = ev.dim_values[r.dims.start as usize..r.dims.end as usize]
            .iter()
            .map(move |v| &ev.text[v.start as usize..v.end as usize]);
        names.zip(values)
    }

    /// Whether filter `id`'s dimensions were published (false when a field was missing).
    pub fn has_dimensions(&self, id: usize) -> bool {
        let r = &self.ev.results[id];
        r.dims.end > r.dims.start
    }

    /// With [`EvalOptions::explain`]: the clause that decided filter `id`.
    pub fn explain(&self, id: usize) -> Option<&'e str> {
        let r = &self.ev.results[id].explain;
        (r.end > r.start).then(|| &self.ev.text[r.start as usize..r.end as usize])
    }
}

/// `TestMetricFilter`'s `extractedValues` for a space-delimited filter: `($name or $N, text)` for
/// every field and ellipsis token. Empty for other kinds or when the fields do not bind.
pub fn extracted_fields(filter: &Filter, event: &[u8]) -> Vec<(String, String)> {
    let (Matcher::Delimited(d), PatternKind::Delimited(_)) =
        (&filter.matcher, &filter.pattern().kind)
    else {
        return Vec::new();
    };
    let mut tokens = Vec::new();
    delimited::tokenize(event, &mut tokens);
    let mut bound = Vec::new();
    if !d.bind(event, &tokens, &mut bound) {
        return Vec::new();
    }
    let text =
        |(s, e): (u32, u32)| String::from_utf8_lossy(&event[s as usize..e as usize]).into_owned();
    let mut out = Vec::new();
    let before = d.ellipsis.unwrap_or(d.fields);
    let after_start = tokens.len() - (d.fields - before);
    let mut position = 0;
    for (i, range) in bound.iter().enumerate() {
        if i == before {
            // The tokens the ellipsis absorbed.
            for t in &tokens[before..after_start] {
                position += 1;
                out.push((format!("${position}"), text((t.start, t.end))));
            }
        }
        position += 1;
        let name = match &d.names[i] {
            Some(n) => format!("${n}"),
            None => format!("${position}"),
        };
        out.push((name, text(*range)));
    }
    if before == bound.len() && d.ellipsis.is_some() {
        for t in &tokens[before..after_start] {
            position += 1;
            out.push((format!("${position}"), text((t.start, t.end))));
        }
    }
    out
}
