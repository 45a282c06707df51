//! Reading Sigma rules from files and folders (recursive, `.yml`/`.yaml`): every rule is checked;
//! a rule that does not parse is an error naming its file, line, column and construct; rules for
//! another log source than AWS CloudTrail are skipped and counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailwatch_pattern::sigma::{SigmaOptions, SigmaRule};

use crate::config::ConfigError;

/// One loaded rule and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The rule file.
    pub path: PathBuf,
    /// The parsed rule.
    pub rule: Arc<SigmaRule>,
}

impl LoadedRule {
    /// The rule's id, or its title when it has none (the `id` label).
    pub fn id(&self) -> &str {
        self.rule.id.as_deref().unwrap_or(&self.rule.title)
    }

    /// The rule's level, `unknown` when it has none (the `level` label).
    pub fn level(&self) -> &str {
        self.rule.level.as_deref().unwrap_or("unknown")
    }
}

/// The checked Sigma rules of a configuration.
#[derive(Debug, Clone, Default)]
pub struct SigmaRules {
    /// CloudTrail rules, in path order.
    pub rules: Vec<LoadedRule>,
    /// Rule files skipped because their logsource is not AWS CloudTrail.
    pub skipped: Vec<PathBuf>,
}

/// Loads every rule under `paths` (files, or folders searched recursively).
pub fn load(paths: &[PathBuf], options: &SigmaOptions) -> Result<SigmaRules, ConfigError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, true, &mut files)?;
    }
    files.sort();
    files.dedup();
    let mut out = SigmaRules::default();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::in_file(&path, format!("cannot read Sigma rule: {e}")))?;
        let rule = SigmaRule::parse(&text, options).map_err(|e| ConfigError {
            file: Some(path.clone()),
            position: Some((e.line, e.column)),
            message: format!("Sigma rule: {}: {}", e.construct, e.message),
        })?;
        if rule.is_cloudtrail() {
            out.rules.push(LoadedRule {
                path,
                rule: Arc::new(rule),
            });
        } else {
            out.skipped.push(path);
        }
    }
    let mut seen = std::collections::HashMap::new();
    for r in &out.rules {
        if let Some(first) = seen.insert(r.id().to_owned(), r.path.clone()) {
            return Err(ConfigError::in_file(
                &r.path,
                format!(
                    "Sigma rule id {} is also the id of {}",
                    r.id(),
                    first.display()
                ),
            ));
        }
    }
    Ok(out)
}

fn collect(path: &Path, given: bool, out: &mut Vec<PathBuf>) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError::in_file(path, format!("cannot read Sigma rules: {e}")))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| ConfigError::in_file(path, format!("cannot list Sigma rules: {e}")))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| ConfigError::in_file(path, format!("cannot list Sigma rules: {e}")))?;
            collect(&entry.path(), false, out)?;
        }
    } else if given || path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
        out.push(path.to_owned());
    }
    Ok(())
}
