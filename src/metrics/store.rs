//! The filter metrics: one counter family per CloudWatch metric, fed by workers once per batch,
//! read at scrape time.
//!
//! Workers add up what a batch published in local [`Deltas`] (no lock per event) and then
//! [`Generation::flush`] them, taking each touched family's lock once. A family holds at most
//! `max_series` label sets; new ones beyond that are dropped and counted. Families and per-filter
//! match counters are keyed by name, so a reload that keeps a filter keeps its counts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use prometheus::core::{Collector, Desc};
use prometheus::proto;

use super::internal::Telemetry;
use crate::config::FilterPlan;

/// Separates label values inside a series key (a byte that never occurs in text we accept).
const SEP: char = '\u{1f}';

#[derive(Debug)]
struct Series {
    labels: Box<[(Box<str>, Box<str>)]>,
    value: f64,
    /// How many values were published into it (CloudWatch's SampleCount).
    count: u64,
}

/// The family counting the values published into family `name` (CloudWatch's SampleCount, which
/// alarms need for `SampleCount` and `Average`), with the same labels.
pub fn sample_count_family(name: &str) -> String {
    format!("trailwatch_sample_count_{name}")
}

/// One counter family's series.
#[derive(Debug)]
pub struct FamilyState {
    /// The family name (ends in `_total`).
    pub name: String,
    help: String,
    max_series: usize,
    series: Mutex<HashMap<String, Series>>,
}

impl FamilyState {
    /// Adds `delta` to the series `key`, creating it with `labels()` if the cap allows.
    /// Returns false when the series was dropped by the cap.
    fn add(
        &self,
        key: &str,
        labels: impl FnOnce() -> Box<[(Box<str>, Box<str>)]>,
        delta: f64,
        count: u64,
    ) -> bool {
        let Ok(mut map) = self.series.lock() else {
            return true;
        };
        if let Some(s) = map.get_mut(key) {
            s.value += delta;
            s.count += count;
            return true;
        }
        if map.len() >= self.max_series {
            return false;
        }
        map.insert(
            key.to_owned(),
            Series {
                labels: labels(),
                value: delta,
                count,
            },
        );
        true
    }

    fn to_proto(&self) -> proto::MetricFamily {
        self.encode(self.name.clone(), self.help.clone(), |s| s.value)
    }

    /// The companion family of sample counts.
    fn samples_proto(&self) -> proto::MetricFamily {
        self.encode(
            sample_count_family(&self.name),
            format!(
                "Values published into {} (CloudWatch SampleCount)",
                self.name
            ),
            |s| s.count as f64,
        )
    }

    fn encode(
        &self,
        name: String,
        help: String,
        value: impl Fn(&Series) -> f64,
    ) -> proto::MetricFamily {
        let mut mf = proto::MetricFamily::default();
        mf.set_name(name);
        mf.set_help(help);
        mf.set_field_type(proto::MetricType::COUNTER);
        if let Ok(map) = self.series.lock() {
            let mut metrics: Vec<proto::Metric> = map
                .values()
                .map(|s| {
                    let labels = s
                        .labels
                        .iter()
                        .map(|(k, v)| {
                            let mut l = proto::LabelPair::default();
                            l.set_name(k.to_string());
                            l.set_value(v.to_string());
                            l
                        })
                        .collect();
                    let mut m = proto::Metric::from_label(labels);
                    let mut c = proto::Counter::default();
                    c.set_value(value(s));
                    m.set_counter(c);
                    m
                })
                .collect();
            metrics.sort_by(|a, b| {
                let key = |m: &proto::Metric| -> Vec<String> {
                    m.get_label().iter().map(|l| l.value().to_owned()).collect()
                };
                key(a).cmp(&key(b))
            });
            mf.set_metric(metrics);
        }
        mf
    }
}

/// Where one filter publishes.
#[derive(Debug)]
pub struct Output {
    family: Arc<FamilyState>,
    /// The filter name, the `filter` label value.
    filter: Box<str>,
    /// Label names after `filter`.
    dimension_labels: Box<[Box<str>]>,
    /// Counts matches (`trailwatch_filter_matches_total`).
    matches: Arc<AtomicU64>,
    /// Whether this output counts its filter's matches (a filter with several metric
    /// transformations has several outputs but one match count).
    counts_matches: bool,
}

/// The filter plan in force and the families it feeds. Workers load the current generation per
/// batch; a reload installs a new one.
#[derive(Debug)]
pub struct Generation {
    /// The compiled filters.
    pub plan: FilterPlan,
    /// By filter id.
    pub outputs: Vec<Output>,
    families: Vec<Arc<FamilyState>>,
}

/// A worker's per-batch sums.
#[derive(Debug, Default)]
pub struct Deltas {
    /// By filter id: the sum of dimensionless values.
    plain: Vec<f64>,
    /// By filter id: how many dimensionless values were published.
    plain_count: Vec<u64>,
    /// By filter id: matches.
    matches: Vec<u64>,
    /// By filter id: dimension values (joined) → (sum, values published).
    dimensioned: Vec<HashMap<String, (f64, u64)>>,
    /// Negative values seen, by filter id.
    negative: Vec<u64>,
    /// Scratch for building dimension keys.
    key: String,
}

impl Deltas {
    /// Sizes the sums for `generation` and zeroes them.
    pub fn reset(&mut self, generation: &Generation) {
        let n = generation.outputs.len();
        self.plain.clear();
        self.plain.resize(n, 0.0);
        self.plain_count.clear();
        self.plain_count.resize(n, 0);
        self.matches.clear();
        self.matches.resize(n, 0);
        self.negative.clear();
        self.negative.resize(n, 0);
        self.dimensioned.resize_with(n, HashMap::new);
        self.dimensioned.truncate(n);
        self.dimensioned.iter_mut().for_each(HashMap::clear);
    }

    /// Records that filter `id` matched.
    #[inline]
    pub fn matched(&mut self, id: usize) {
        self.matches[id] += 1;
    }

    /// Adds a published value of filter `id`, with its dimension values (empty: none).
    #[inline]
    pub fn add<'a>(&mut self, id: usize, value: f64, dimensions: impl Iterator<Item = &'a str>) {
        if value < 0.0 {
            self.negative[id] += 1;
            return;
        }
        let mut dims = dimensions.peekable();
        if dims.peek().is_none() {
            self.plain[id] += value;
            self.plain_count[id] += 1;
            return;
        }
        self.key.clear();
        for (i, d) in dims.enumerate() {
            if i > 0 {
                self.key.push(SEP);
            }
            self.key.push_str(d);
        }
        // Allocates only for a label set not yet seen in this batch.
        let map = &mut self.dimensioned[id];
        match map.get_mut(self.key.as_str()) {
            Some((sum, count)) => {
                *sum += value;
                *count += 1;
            }
            None => {
                map.insert(self.key.clone(), (value, 1));
            }
        }
    }
}

impl Generation {
    /// Adds a worker's batch sums to the families, then zeroes them.
    pub fn flush(&self, d: &mut Deltas, telemetry: &Telemetry) {
        let mut key = String::new();
        for (id, out) in self.outputs.iter().enumerate() {
            if out.counts_matches && d.matches.get(id).copied().unwrap_or(0) > 0 {
                out.matches.fetch_add(d.matches[id], Ordering::Relaxed);
            }
            if d.negative.get(id).copied().unwrap_or(0) > 0 {
                telemetry
                    .values_dropped
                    .with_label_values(&[&out.family.name, "negative"])
                    .inc_by(d.negative[id]);
            }
            let count = d.plain_count.get(id).copied().unwrap_or(0);
            if count > 0 {
                let ok = out
                    .family
                    .add(&out.filter, || plain_labels(out), d.plain[id], count);
                if !ok {
                    telemetry
                        .series_dropped
                        .with_label_values(&[&out.family.name])
                        .inc();
                }
            }
        }
        for (id, map) in d.dimensioned.iter_mut().enumerate() {
            let Some(out) = self.outputs.get(id) else {
                continue;
            };
            for (values, (delta, count)) in map.drain() {
                key.clear();
                let _ = write!(key, "{}{SEP}{values}", out.filter);
                let ok = out.family.add(
                    &key,
                    || {
                        let mut labels = vec![("filter".into(), out.filter.clone())];
                        for (name, value) in out.dimension_labels.iter().zip(values.split(SEP)) {
                            labels.push((name.clone(), value.into()));
                        }
                        labels.into_boxed_slice()
                    },
                    delta,
                    count,
                );
                if !ok {
                    telemetry
                        .series_dropped
                        .with_label_values(&[&out.family.name])
                        .inc();
                }
            }
        }
        d.reset(self);
    }
}

fn plain_labels(out: &Output) -> Box<[(Box<str>, Box<str>)]> {
    vec![("filter".into(), out.filter.clone())].into_boxed_slice()
}

/// All filter metrics, across reloads.
#[derive(Debug)]
pub struct Store {
    current: ArcSwap<Generation>,
    max_series: usize,
    /// Match counters by filter name (they outlive reloads).
    matches: Mutex<HashMap<String, Arc<AtomicU64>>>,
    /// Trail health per account and region (independent of the filters).
    pub trail: crate::trail::TrailHealth,
}

impl Store {
    /// A store serving `plan`.
    pub fn new(plan: FilterPlan, max_series: usize) -> Store {
        let matches = Mutex::new(HashMap::new());
        let generation = build(plan, &[], &matches, max_series);
        Store {
            current: ArcSwap::from_pointee(generation),
            max_series,
            matches,
            trail: crate::trail::TrailHealth::new(max_series),
        }
    }

    /// The generation in force.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Installs a new plan. Families (by name) and match counters (by filter) that remain keep
    /// their values; series of filters that no longer feed a family are removed.
    pub fn install(&self, plan: FilterPlan) {
        let old = self.current.load_full();
        let generation = build(plan, &old.families, &self.matches, self.max_series);
        self.current.store(Arc::new(generation));
    }
}

fn build(
    plan: FilterPlan,
    old: &[Arc<FamilyState>],
    matches: &Mutex<HashMap<String, Arc<AtomicU64>>>,
    max_series: usize,
) -> Generation {
    let families: Vec<Arc<FamilyState>> = plan
        .families
        .iter()
        .map(|f| match old.iter().find(|o| o.name == f.name) {
            Some(o) => o.clone(),
            None => Arc::new(FamilyState {
                name: f.name.clone(),
                help: f.help.clone(),
                max_series,
                series: Mutex::new(HashMap::new()),
            }),
        })
        .collect();
    let mut match_map = matches.lock().unwrap_or_else(|p| p.into_inner());
    let mut counted = std::collections::HashSet::new();
    let outputs: Vec<Output> = plan
        .set
        .filters()
        .iter()
        .zip(&plan.outputs)
        .map(|(filter, out)| Output {
            family: families[out.family].clone(),
            filter: filter.name().into(),
            dimension_labels: out
                .dimension_labels
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
            matches: match_map
                .entry(filter.name().to_owned())
                .or_insert_with(|| Arc::new(AtomicU64::new(0)))
                .clone(),
            counts_matches: counted.insert(filter.name().to_owned()),
        })
        .collect();
    let names: std::collections::HashSet<&str> =
        plan.set.filters().iter().map(|f| f.name()).collect();
    match_map.retain(|k, _| names.contains(k.as_str()));
    drop(match_map);
    // Series of a retained family whose filter (or label names) changed are stale.
    for fam in &families {
        if let Ok(mut map) = fam.series.lock() {
            map.retain(|_, s| {
                let filter = s.labels.first().map(|(_, v)| &**v).unwrap_or("");
                let names: Vec<&str> = s.labels.iter().skip(1).map(|(k, _)| &**k).collect();
                outputs.iter().any(|o| {
                    Arc::ptr_eq(&o.family, fam)
                        && &*o.filter == filter
                        && o.dimension_labels
                            .iter()
                            .map(|d| &**d)
                            .eq(names.iter().copied())
                })
            });
        }
    }
    // Dimensionless series exist at 0 from the start, so `increase()` sees the first match.
    for out in &outputs {
        if out.dimension_labels.is_empty() {
            out.family.add(&out.filter, || plain_labels(out), 0.0, 0);
        }
    }
    Generation {
        plan,
        outputs,
        families,
    }
}

/// Exposes the store to a Prometheus registry (gathered at scrape time).
#[derive(Debug)]
pub struct StoreCollector(pub Arc<Store>);

impl Collector for StoreCollector {
    fn desc(&self) -> Vec<&Desc> {
        // Families change with reloads; the registry gathers whatever `collect` returns.
        Vec::new()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let generation = self.0.current();
        let mut out: Vec<proto::MetricFamily> =
            generation.families.iter().map(|f| f.to_proto()).collect();
        out.extend(generation.families.iter().map(|f| f.samples_proto()));
        let mut mf = proto::MetricFamily::default();
        mf.set_name("trailwatch_filter_matches_total".into());
        mf.set_help("Events each filter matched".into());
        mf.set_field_type(proto::MetricType::COUNTER);
        let metrics = generation
            .outputs
            .iter()
            .filter(|o| o.counts_matches)
            .map(|o| {
                let mut l = proto::LabelPair::default();
                l.set_name("filter".into());
                l.set_value(o.filter.to_string());
                let mut m = proto::Metric::from_label(vec![l]);
                let mut c = proto::Counter::default();
                c.set_value(o.matches.load(Ordering::Relaxed) as f64);
                m.set_counter(c);
                m
            })
            .collect();
        mf.set_metric(metrics);
        out.push(mf);
        out.extend(self.0.trail.collect());
        out
    }
}
