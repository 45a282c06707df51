//! `trailwatch rules` and `trailwatch dashboard`: the configured alarms as a Prometheus rule file
//! (or Grafana alert-rule provisioning), and the Grafana dashboard, on stdout.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config::{self, Config};
use crate::error::CliError;

/// Output format of `trailwatch rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// A Prometheus rule file (`rule_files:`).
    Prometheus,
    /// Grafana alert-rule provisioning (`provisioning/alerting/`), with contact points and a
    /// notification policy.
    Grafana,
}

/// `trailwatch rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// trailwatch's TOML configuration (its filters, `[[alarms]]` and `aws_alarms`).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Metric filters as printed by `aws logs describe-metric-filters` (repeatable).
    #[arg(long = "aws-metric-filters", value_name = "FILE")]
    pub aws_metric_filters: Vec<PathBuf>,
    /// Alarms as printed by `aws cloudwatch describe-alarms` (repeatable), in addition to the
    /// configuration's.
    #[arg(long = "aws-alarms", value_name = "FILE")]
    pub aws_alarms: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Prometheus)]
    pub format: RulesFormat,
}

/// Loads the filters and alarms `args` name, checked.
pub fn load(
    config: &Option<PathBuf>,
    aws_metric_filters: &[PathBuf],
    aws_alarms: &[PathBuf],
) -> Result<Config, CliError> {
    let flags = config::Overrides {
        aws_metric_filters: aws_metric_filters.to_vec(),
        ..config::Overrides::default()
    };
    let mut config = config::load(config.as_deref(), &flags)?;
    super::config::add_aws_files(&mut config.alarms, aws_alarms, &config.filters)?;
    Ok(config)
}

/// The command line as the generated file's header shows it.
fn origin(args: &RulesArgs) -> String {
    let mut s = String::new();
    if let Some(c) = &args.config {
        s.push_str(&format!(" --config {}", c.display()));
    }
    for f in &args.aws_metric_filters {
        s.push_str(&format!(" --aws-metric-filters {}", f.display()));
    }
    for f in &args.aws_alarms {
        s.push_str(&format!(" --aws-alarms {}", f.display()));
    }
    s
}

/// Runs `trailwatch rules`.
pub fn rules(args: &RulesArgs) -> Result<(), CliError> {
    let config = load(&args.config, &args.aws_metric_filters, &args.aws_alarms)?;
    let text = match args.format {
        RulesFormat::Prometheus => super::prometheus::rule_file(
            &config.alarms,
            config.trail_health.as_ref(),
            config.anomalies.as_ref(),
            &origin(args),
        ),
        RulesFormat::Grafana => super::grafana::provisioning(
            &config.alarms,
            config.trail_health.as_ref(),
            config.anomalies.as_ref(),
            &origin(args),
        ),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `trailwatch dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// trailwatch's TOML configuration (its filters, `[[alarms]]` and `aws_alarms`).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Metric filters as printed by `aws logs describe-metric-filters` (repeatable).
    #[arg(long = "aws-metric-filters", value_name = "FILE")]
    pub aws_metric_filters: Vec<PathBuf>,
    /// Alarms as printed by `aws cloudwatch describe-alarms` (repeatable), in addition to the
    /// configuration's.
    #[arg(long = "aws-alarms", value_name = "FILE")]
    pub aws_alarms: Vec<PathBuf>,
}

/// Runs `trailwatch dashboard`.
pub fn dashboard(args: &DashboardArgs) -> Result<(), CliError> {
    let config = load(&args.config, &args.aws_metric_filters, &args.aws_alarms)?;
    let text = super::dashboard::dashboard(
        &config.filters,
        &config.alarms,
        config.trail_health.is_some(),
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
