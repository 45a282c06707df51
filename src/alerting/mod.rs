//! Alerting: CloudWatch alarms (TOML `[[alarms]]`, `aws cloudwatch describe-alarms` JSON, the
//! built-in CIS pack) checked against the configured filters, and turned into Prometheus alerting
//! rules with CloudWatch's semantics. Alarms are evaluated where the metrics of every trailwatch
//! instance are summed (Prometheus, Grafana), never inside one instance.

pub mod aws;
pub mod command;
pub mod config;
pub mod dashboard;
pub mod grafana;
pub mod prometheus;
pub mod trail_rules;

pub use config::attach;

/// The built-in alarms: the CIS AWS Foundations pack, in `[[alarms]]` form, included whenever the
/// built-in filters are.
pub const BUILTIN_ALARMS: &str = include_str!("../../configs/alarms/cis-aws-foundations.toml");

/// A checked alarm, bound to the metric family that feeds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// `AlarmName`, exactly (the `alarm` label).
    pub name: String,
    /// `AlarmDescription`.
    pub description: Option<String>,
    /// The CloudWatch metric namespace.
    pub namespace: String,
    /// The CloudWatch metric name.
    pub metric: String,
    /// The alarm's dimensions: (CloudWatch name, value), in the alarm's order.
    pub dimensions: Vec<(String, String)>,
    /// The per-period statistic.
    pub statistic: Statistic,
    /// Period length in seconds.
    pub period_secs: u64,
    /// `EvaluationPeriods` (N).
    pub evaluation_periods: u32,
    /// `DatapointsToAlarm` (M ≤ N).
    pub datapoints_to_alarm: u32,
    /// The threshold comparison.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
    /// How periods without a scrape count.
    pub missing: MissingData,
    /// Extra alert labels (e.g. `severity`), sorted by name.
    pub labels: Vec<(String, String)>,
    /// Notification targets (from `AlarmActions`: an SNS topic's name, or the action as given).
    pub notify: Vec<String>,
    /// Where the metric lives in Prometheus.
    pub target: Target,
}

/// The Prometheus series an alarm reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The counter family of the metric's values.
    pub family: String,
    /// The counter family of how many values were published (for SampleCount and Average).
    pub samples_family: String,
    /// Label matchers selecting exactly the alarm's dimension set: (label, value), where a label
    /// of another dimension of the family is matched against "" (CloudWatch treats each set of
    /// dimensions as its own metric).
    pub matchers: Vec<(String, String)>,
    /// The Prometheus labels of the alarm's dimensions, in the alarm's order, with their values.
    pub dimension_labels: Vec<(String, String)>,
}

/// CloudWatch statistics trailwatch's counters can compute exactly per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// The sum of the published values.
    Sum,
    /// How many values were published.
    SampleCount,
    /// Sum / SampleCount.
    Average,
}

impl Statistic {
    /// The CloudWatch spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Sum => "Sum",
            Statistic::SampleCount => "SampleCount",
            Statistic::Average => "Average",
        }
    }
}

/// Threshold `ComparisonOperator`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `GreaterThanOrEqualToThreshold`
    GreaterOrEqual,
    /// `GreaterThanThreshold`
    Greater,
    /// `LessThanThreshold`
    Less,
    /// `LessThanOrEqualToThreshold`
    LessOrEqual,
}

impl Comparison {
    /// The PromQL operator.
    pub fn promql(self) -> &'static str {
        match self {
            Comparison::GreaterOrEqual => ">=",
            Comparison::Greater => ">",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }

    /// The CloudWatch spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterOrEqual => "GreaterThanOrEqualToThreshold",
            Comparison::Greater => "GreaterThanThreshold",
            Comparison::Less => "LessThanThreshold",
            Comparison::LessOrEqual => "LessThanOrEqualToThreshold",
        }
    }
}

/// `TreatMissingData`. A datapoint is missing when no trailwatch instance was scraped in its
/// period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingData {
    /// `missing` (CloudWatch's default): missing datapoints are left out; with none at all the
    /// alarm is INSUFFICIENT_DATA (not firing).
    Missing,
    /// `notBreaching`: missing datapoints count as good.
    NotBreaching,
    /// `breaching`: missing datapoints count as breaching.
    Breaching,
    /// `ignore`: with no datapoint at all, the alarm keeps its state (a firing alert goes on).
    Ignore,
}

impl MissingData {
    /// The CloudWatch spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MissingData::Missing => "missing",
            MissingData::NotBreaching => "notBreaching",
            MissingData::Breaching => "breaching",
            MissingData::Ignore => "ignore",
        }
    }
}
