//! Filters (a compiled pattern plus its metric transformation) and filter sets (many filters
//! evaluated together, sharing one parse, one path resolution and one prefilter).

use memchr::memmem;

use crate::ast::{Condition, Expr, Pattern, PatternKind, Selector, Term, TermKind};
use crate::delimited::DelimitedMatcher;
use crate::error::FilterError;
use crate::metric::{Metric, MetricSpec};
use crate::parse::parse;
use crate::paths::{PathRef, PathTrie};
use crate::prefilter::{Prefilter, Requirement};
use crate::program::Program;
use crate::regex::Regex;
use crate::sigma::leaf::Leaf;

/// An unstructured term pattern, compiled to substring searches.
#[derive(Debug, Clone)]
pub(crate) struct TermMatcher {
    pub(crate) terms: Vec<Term>,
    finders: Vec<memmem::Finder<'static>>,
    /// Every term carries `?`: at least one must appear. Otherwise `?` terms are ignored.
    only_optional: bool,
}

impl TermMatcher {
    fn compile(terms: &[Term]) -> TermMatcher {
        TermMatcher {
            terms: terms.to_vec(),
            finders: terms
                .iter()
                .map(|t| memmem::Finder::new(t.text.as_bytes()).into_owned())
                .collect(),
            only_optional: !terms.is_empty() && terms.iter().all(|t| t.kind == TermKind::Optional),
        }
    }

    /// Whether `line` matches, and the index of the term that decided it.
    pub(crate) fn test(&self, line: &[u8]) -> (bool, Option<usize>) {
        if self.only_optional {
            let hit = self.finders.iter().position(|f| f.find(line).is_some());
            return (hit.is_some(), hit);
        }
        for (i, (term, finder)) in self.terms.iter().zip(&self.finders).enumerate() {
            let found = finder.find(line).is_some();
            match term.kind {
                TermKind::Required if !found => return (false, Some(i)),
                TermKind::Excluded if found => return (false, Some(i)),
                _ => {}
            }
        }
        (true, None)
    }
}

/// How a filter decides whether an event matches.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    All,
    Terms(TermMatcher),
    Regex(Regex),
    /// Condition `i` reads the filter's selector `i`.
    Json(Program<Condition>),
    Delimited(DelimitedMatcher),
    /// A Sigma rule: its negation-free expression (for the prefilter) and its program.
    Sigma(Box<(Expr<Leaf>, Program<Leaf>)>),
}

/// A compiled metric filter: pattern, matcher and metric transformation.
#[derive(Debug, Clone)]
pub struct Filter {
    name: String,
    pattern: Pattern,
    pub(crate) matcher: Matcher,
    pub(crate) metric: Metric,
    /// JSON selectors this filter reads: one per condition, in order, then the metric's.
    pub(crate) selectors: Vec<Selector>,
}

impl Filter {
    /// Compiles a filter from its pattern and metric transformation.
    ///
    /// ```
    /// use trailwatch_pattern::{Filter, MetricSpec};
    /// let f = Filter::compile("failures", r#"{ $.errorMessage = "Failed authentication" }"#, &MetricSpec::default())?;
    /// assert_eq!(f.name(), "failures");
    /// # Ok::<(), trailwatch_pattern::FilterError>(())
    /// ```
    pub fn compile(name: &str, pattern: &str, metric: &MetricSpec) -> Result<Filter, FilterError> {
        let pattern = parse(pattern)?;
        let mut selectors = Vec::new();
        let matcher = match &pattern.kind {
            PatternKind::MatchAll => Matcher::All,
            PatternKind::Terms(terms) => Matcher::Terms(TermMatcher::compile(terms)),
            PatternKind::Regex(r) => Matcher::Regex(r.clone()),
            PatternKind::Json(expr) => {
                expr.for_each(&mut |c: &Condition| selectors.push(c.selector.clone()));
                Matcher::Json(Program::compile(expr))
            }
            PatternKind::Delimited(d) => Matcher::Delimited(DelimitedMatcher::compile(d)),
            PatternKind::Sigma => unreachable!("the pattern parser never yields a Sigma kind"),
        };
        let field_index = |name: &str| match &matcher {
            Matcher::Delimited(d) => d.field_index(name),
            _ => None,
        };
        let metric = Metric::compile(metric, &pattern.kind, field_index, &mut selectors)?;
        Ok(Filter {
            name: name.to_owned(),
            pattern,
            matcher,
            metric,
            selectors,
        })
    }

    /// A Sigma rule's filter: `condition` is shown as its pattern text.
    pub(crate) fn sigma(
        name: String,
        condition: String,
        expr: Expr<Leaf>,
        program: Program<Leaf>,
    ) -> Filter {
        Filter {
            name,
            pattern: Pattern {
                source: condition,
                kind: PatternKind::Sigma,
            },
            matcher: Matcher::Sigma(Box::new((expr, program))),
            metric: Metric::one(),
            selectors: Vec::new(),
        }
    }

    /// Whether the filter is a Sigma rule.
    pub fn is_sigma(&self) -> bool {
        matches!(self.matcher, Matcher::Sigma(_))
    }

    /// The filter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parsed pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// The value published for events that do not match, if any.
    pub fn default_value(&self) -> Option<f64> {
        self.metric.default_value
    }

    /// The configured dimension names, in order.
    pub fn dimension_names(&self) -> impl Iterator<Item = &str> {
        self.metric.dimensions.iter().map(|(n, _)| n.as_str())
    }

    /// The CloudWatch unit, if configured.
    pub fn unit(&self) -> Option<&str> {
        self.metric.unit.as_deref()
    }

    /// Whether the pattern is a JSON pattern (evaluated on parsed events).
    pub fn is_json(&self) -> bool {
        matches!(self.matcher, Matcher::Json(_) | Matcher::Sigma(_))
    }
}

/// Many filters evaluated together. Immutable and `Send + Sync`: share one between workers,
/// each with its own [`crate::Evaluator`].
#[derive(Debug, Clone)]
pub struct FilterSet {
    pub(crate) filters: Vec<Filter>,
    pub(crate) trie: PathTrie,
    /// Per filter: where each of its selectors resolves.
    pub(crate) paths: Vec<Vec<PathRef>>,
    pub(crate) prefilter: Prefilter,
    /// Per filter: what its prefilter needs (`Always` for non-JSON filters).
    pub(crate) requirements: Vec<Requirement>,
    pub(crate) json_filters: Vec<usize>,
}

impl FilterSet {
    /// Builds a set; filter `i` of `filters` has id `i`.
    pub fn new(filters: Vec<Filter>) -> FilterSet {
        let mut trie = PathTrie::default();
        let mut prefilter = Prefilter::default();
        let mut paths = Vec::with_capacity(filters.len());
        let mut requirements = Vec::with_capacity(filters.len());
        let mut json_filters = Vec::new();
        for (id, f) in filters.iter().enumerate() {
            paths.push(f.selectors.iter().map(|s| trie.intern(s)).collect());
            requirements.push(match (&f.pattern.kind, &f.matcher) {
                (PatternKind::Json(expr), _) => {
                    json_filters.push(id);
                    prefilter.add(expr)
                }
                (_, Matcher::Sigma(sigma)) => {
                    json_filters.push(id);
                    prefilter.add_sigma(&sigma.0)
                }
                _ => Requirement::Always,
            });
        }
        trie.seal();
        prefilter.seal(&mut requirements);
        FilterSet {
            filters,
            trie,
            paths,
            prefilter,
            requirements,
            json_filters,
        }
    }

    /// The filters, by id.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether the set has no filters.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Whether the prefilter can rule anything out for filter `id` (false when the filter must
    /// always be evaluated on a parsed event, e.g. one made only of `!=` and `NOT EXISTS` on
    /// keys that cannot be anchored).
    pub fn is_prefiltered(&self, id: usize) -> bool {
        self.filters[id].is_json() && !matches!(self.requirements[id], Requirement::Always)
    }
}
