//! The loaded Sigma rules as the workers run them: one filter set (evaluated beside the
//! CloudWatch filters), the enrichment object of each rule pre-rendered, and the per-rule match
//! counter `trailwatch_sigma_matches_total{rule,id,level}`.

use std::path::PathBuf;

use prometheus::IntCounterVec;
use trailwatch_pattern::FilterSet;
use trailwatch_pattern::sigma::SigmaOptions;

use super::load::{LoadedRule, SigmaRules, load};
use crate::config::ConfigError;

/// The checked Sigma rules of a configuration, compiled.
#[derive(Debug)]
pub struct SigmaPlan {
    /// The rules as filters; filter `i` is `rules[i]`.
    pub set: FilterSet,
    /// The rules.
    pub rules: Vec<LoadedRule>,
    /// Rule files skipped because their logsource is not AWS CloudTrail.
    pub skipped: Vec<PathBuf>,
    /// Per rule: `{"id":…,"title":…,"level":…}`, as forwarded events carry it.
    pub tags: Vec<Box<[u8]>>,
}

impl Default for SigmaPlan {
    fn default() -> Self {
        SigmaPlan::new(SigmaRules::default())
    }
}

impl SigmaPlan {
    /// Loads the rules under `paths` (none: an empty plan).
    pub fn load(paths: &[PathBuf]) -> Result<SigmaPlan, ConfigError> {
        if paths.is_empty() {
            return Ok(SigmaPlan::default());
        }
        let loaded = load(paths, &SigmaOptions::default())?;
        for r in &loaded.rules {
            for w in &r.rule.warnings {
                tracing::warn!(rule = %r.path.display(), "{w}");
            }
        }
        for p in &loaded.skipped {
            tracing::info!(rule = %p.display(), "skipped a Sigma rule whose logsource is not AWS CloudTrail");
        }
        Ok(SigmaPlan::new(loaded))
    }

    /// Compiles loaded rules.
    pub fn new(loaded: SigmaRules) -> SigmaPlan {
        let set = FilterSet::new(loaded.rules.iter().map(|r| r.rule.filter()).collect());
        let tags = loaded
            .rules
            .iter()
            .map(|r| {
                let tag = serde_json::json!({
                    "id": r.id(),
                    "title": r.rule.title,
                    "level": r.level(),
                });
                tag.to_string().into_bytes().into_boxed_slice()
            })
            .collect();
        SigmaPlan {
            set,
            rules: loaded.rules,
            skipped: loaded.skipped,
            tags,
        }
    }

    /// Whether no rule is loaded (the workers then do nothing for Sigma).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The counter's label values for rule `i`: title, id, level.
    pub fn labels(&self, i: usize) -> [&str; 3] {
        let r = &self.rules[i];
        [r.rule.title.as_str(), r.id(), r.level()]
    }

    /// Creates every rule's series at 0.
    pub fn register(&self, counter: &IntCounterVec) {
        for i in 0..self.rules.len() {
            counter.with_label_values(&self.labels(i));
        }
    }

    /// Adds a batch's match counts (by rule) to the counter and clears them.
    pub fn flush(&self, counts: &mut [u64], counter: &IntCounterVec) {
        for (i, n) in counts.iter_mut().enumerate() {
            if *n > 0 && i < self.rules.len() {
                counter.with_label_values(&self.labels(i)).inc_by(*n);
            }
            *n = 0;
        }
    }
}
