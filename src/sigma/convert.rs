//! `trailwatch sigma convert`: for each rule, the exact CloudWatch filter pattern where one exists
//! — as a describe-metric-filters document, `aws logs put-metric-filter` commands, or a Markdown
//! table — and for every other rule the reason it has none. Everything printed names the rule's
//! id and author, as the Detection Rule License asks of material derived from a rule.

use std::io::Write;

use serde_json::json;
use trailwatch_pattern::sigma::{SigmaOptions, Unconvertible};

use super::load::{LoadedRule, load};
use crate::cli::{SigmaConvertArgs, SigmaFormat};
use crate::error::CliError;

/// A rule's conversion: its pattern, or why there is none.
pub fn outcome(rule: &LoadedRule) -> Result<String, Unconvertible> {
    rule.rule.to_cloudwatch().map(|c| c.pattern)
}

/// The CloudWatch metric name for a rule: its title in CamelCase, letters and digits only.
pub fn metric_name(rule: &LoadedRule) -> String {
    let mut out = String::new();
    for word in rule
        .rule
        .title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() {
        out.push_str("SigmaRule");
    }
    out
}

fn filter_name(rule: &LoadedRule) -> String {
    format!("sigma-{}", rule.id().replace([':', '*'], "-"))
}

fn author(rule: &LoadedRule) -> &str {
    rule.rule.author.as_deref().unwrap_or("unknown author")
}

fn file_name(rule: &LoadedRule) -> String {
    rule.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A describe-metric-filters document of the convertible rules (loadable with
/// `--aws-metric-filters`), with the attribution and the rules not converted under `trailwatchSigma`.
pub fn metric_filters_json(rules: &[LoadedRule], log_group: &str, namespace: &str) -> String {
    let mut filters = Vec::new();
    let mut derived = Vec::new();
    let mut not_converted = Vec::new();
    for r in rules {
        match outcome(r) {
            Ok(pattern) => {
                filters.push(json!({
                    "filterName": filter_name(r),
                    "logGroupName": log_group,
                    "filterPattern": pattern,
                    "metricTransformations": [{
                        "metricName": metric_name(r),
                        "metricNamespace": namespace,
                        "metricValue": "1",
                    }],
                }));
                derived.push(json!({
                    "filterName": filter_name(r),
                    "id": r.id(),
                    "title": r.rule.title,
                    "author": author(r),
                    "level": r.level(),
                }));
            }
            Err(reason) => not_converted.push(json!({
                "id": r.id(),
                "title": r.rule.title,
                "author": author(r),
                "reason": reason.to_string(),
            })),
        }
    }
    let doc = json!({
        "metricFilters": filters,
        "trailwatchSigma": {
            "license": "Derived from Sigma rules under the Detection Rule License 1.1; each filter names its rule's id and author.",
            "derivedFrom": derived,
            "notConverted": not_converted,
        },
    });
    // A json! value always serialises.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `aws logs put-metric-filter` commands, each after a comment naming its rule; the rules not
/// converted as comments with the reason.
pub fn commands(rules: &[LoadedRule], log_group: &str, namespace: &str) -> String {
    let mut out = String::from(
        "#!/bin/sh\n# CloudWatch metric filters derived from Sigma rules (Detection Rule License 1.1).\nset -e\n",
    );
    for r in rules {
        let head = format!(
            "# {} ({}) by {}, level {}",
            r.rule.title,
            r.id(),
            author(r),
            r.level()
        );
        match outcome(r) {
            Ok(pattern) => out.push_str(&format!(
                "\n{head}\naws logs put-metric-filter --log-group-name {} --filter-name {} \\\n  --filter-pattern {} \\\n  --metric-transformations metricName={},metricNamespace={},metricValue=1\n",
                shell_quote(log_group),
                shell_quote(&filter_name(r)),
                shell_quote(&pattern),
                metric_name(r),
                shell_quote(namespace),
            )),
            Err(reason) => out.push_str(&format!("\n{head}\n# not converted: {reason}\n")),
        }
    }
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', r"\|").replace('\n', " ")
}

/// The conversion table, in Markdown: rule → pattern or reason.
pub fn table(rules: &[LoadedRule]) -> String {
    let converted = rules.iter().filter(|r| outcome(r).is_ok()).count();
    let mut out = String::from(
        "| rule (file) | id | author | level | CloudWatch filter pattern, or why there is none |\n|---|---|---|---|---|\n",
    );
    for r in rules {
        let cell = match outcome(r) {
            Ok(p) => format!("`{}`", md_cell(&p)),
            Err(reason) => format!("none: {}", md_cell(&reason.to_string())),
        };
        out.push_str(&format!(
            "| {} (`{}`) | `{}` | {} | {} | {} |\n",
            md_cell(&r.rule.title),
            file_name(r),
            r.id(),
            md_cell(author(r)),
            r.level(),
            cell
        ));
    }
    out.push_str(&format!(
        "\n{converted} of {} rules have an exact CloudWatch pattern.\n",
        rules.len()
    ));
    out
}

/// Runs `trailwatch sigma convert`.
pub fn run(args: &SigmaConvertArgs) -> Result<(), CliError> {
    let loaded = load(&args.paths, &SigmaOptions::default())?;
    for path in &loaded.skipped {
        eprintln!(
            "trailwatch: skipped {} (its logsource is not AWS CloudTrail)",
            path.display()
        );
    }
    let text = match args.format {
        SigmaFormat::Json => metric_filters_json(&loaded.rules, &args.log_group, &args.namespace),
        SigmaFormat::Commands => commands(&loaded.rules, &args.log_group, &args.namespace),
        SigmaFormat::Table => table(&loaded.rules),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
