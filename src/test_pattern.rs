//! `trailwatch test-pattern`: CloudWatch's `TestMetricFilter` on the command line.
//!
//! Reads one event per line from files (or stdin), evaluates the pattern with the same engine the
//! service uses, and prints matches (text) or one result object per line (JSON).

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec, extracted_fields};

use crate::cli::{Format, TestPatternArgs};
use crate::error::CliError;

/// Runs the subcommand; returns the number of matches.
pub fn run(args: &TestPatternArgs) -> Result<u64, CliError> {
    let mut dimensions = Vec::with_capacity(args.dimensions.len());
    for d in &args.dimensions {
        let (name, selector) = d
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--dimension '{d}': expected NAME=SELECTOR")))?;
        dimensions.push((name.trim().to_owned(), selector.trim().to_owned()));
    }
    let spec = MetricSpec {
        value: args.metric_value.clone(),
        default_value: args.default_value,
        dimensions,
        unit: None,
    };
    let mut files = args.files.clone();
    let filter = match &args.sigma {
        // With --sigma the positional argument is the first events file.
        Some(rule) => {
            files.insert(0, PathBuf::from(&args.pattern));
            sigma_filter(rule)?
        }
        None => Filter::compile("test-pattern", &args.pattern, &spec).map_err(|error| {
            CliError::Pattern {
                pattern: args.pattern.clone(),
                error: Box::new(error),
            }
        })?,
    };
    let set = FilterSet::new(vec![filter]);
    let stdout = io::stdout();
    let mut out = Tester {
        set: &set,
        evaluator: Evaluator::new(),
        out: BufWriter::with_capacity(1 << 16, stdout.lock()),
        format: args.format,
        explain: args.explain,
        events: 0,
        matches: 0,
        file_label: None,
    };
    if files.is_empty() {
        out.read(io::stdin().lock())?;
    } else {
        let labelled = files.len() > 1;
        for path in &files {
            let file = std::fs::File::open(path).map_err(|e| CliError::Io {
                path: Some(path.clone()),
                error: e,
            })?;
            out.file_label = labelled.then(|| path.clone());
            out.read(file)?;
        }
    }
    if out.format == Format::Text {
        writeln!(
            out.out,
            "Found {} matches out of {} event(s)",
            out.matches, out.events
        )?;
    }
    out.out.flush()?;
    Ok(out.matches)
}

/// The filter of one Sigma rule file (of any log source: testing is not running).
fn sigma_filter(path: &std::path::Path) -> Result<Filter, CliError> {
    let loaded = crate::sigma::load(
        &[path.to_owned()],
        &trailwatch_pattern::sigma::SigmaOptions::default(),
    )?;
    if let Some(skipped) = loaded.skipped.first() {
        eprintln!(
            "trailwatch: note: {} is not an AWS CloudTrail rule; testing it anyway",
            skipped.display()
        );
        let text = std::fs::read_to_string(skipped)?;
        let rule = trailwatch_pattern::sigma::SigmaRule::parse(
            &text,
            &trailwatch_pattern::sigma::SigmaOptions::default(),
        )
        .map_err(|e| crate::config::ConfigError {
            file: Some(skipped.clone()),
            position: Some((e.line, e.column)),
            message: format!("Sigma rule: {}: {}", e.construct, e.message),
        })?;
        return Ok(rule.filter());
    }
    match loaded.rules.first() {
        Some(r) => Ok(r.rule.filter()),
        None => Err(CliError::Usage(format!(
            "--sigma {}: no Sigma rule found",
            path.display()
        ))),
    }
}

struct Tester<'a, W: Write> {
    set: &'a FilterSet,
    evaluator: Evaluator,
    out: W,
    format: Format,
    explain: bool,
    events: u64,
    matches: u64,
    /// Set when several files are read, so text output names the file.
    file_label: Option<PathBuf>,
}

impl<W: Write> Tester<'_, W> {
    /// Reads `input` in large chunks and evaluates each line.
    fn read(&mut self, mut input: impl Read) -> Result<(), CliError> {
        let mut buf = vec![0u8; 1 << 20];
        let mut filled = 0;
        loop {
            let n = input.read(&mut buf[filled..]).map_err(|e| CliError::Io {
                path: self.file_label.clone(),
                error: e,
            })?;
            let end = filled + n;
            let mut start = 0;
            while let Some(nl) = memchr::memchr(b'\n', &buf[start..end]) {
                self.line(&buf[start..start + nl])?;
                start += nl + 1;
            }
            if n == 0 {
                if start < end {
                    self.line(&buf[start..end])?;
                }
                return Ok(());
            }
            buf.copy_within(start..end, 0);
            filled = end - start;
            if filled == buf.len() {
                // A line longer than the buffer: grow it.
                buf.resize(buf.len() * 2, 0);
            }
        }
    }

    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.events += 1;
        let opts = EvalOptions {
            always_parse: false,
            explain: self.explain,
        };
        let outcome = self.evaluator.evaluate(self.set, line, opts);
        let matched = outcome.matched(0);
        self.matches += u64::from(matched);
        match self.format {
            Format::Json => {
                let value = if matched { outcome.value(0) } else { None };
                let dimensions: serde_json::Map<String, serde_json::Value> = if matched {
                    outcome
                        .dimensions(0)
                        .map(|(k, v)| (k.to_owned(), v.into()))
                        .collect()
                } else {
                    serde_json::Map::new()
                };
                let line = JsonLine {
                    event: self.events,
                    file: self.file_label.as_ref().map(|f| f.display().to_string()),
                    matched,
                    value: value.map(json_number),
                    dimensions,
                    explain: outcome.explain(0),
                };
                serde_json::to_writer(&mut self.out, &line)?;
                self.out.write_all(b"\n")
            }
            Format::Text => {
                if !matched && !self.explain {
                    return Ok(());
                }
                let at = match &self.file_label {
                    Some(f) => format!("{}:{}", f.display(), self.events),
                    None => format!("Line {}", self.events),
                };
                if matched {
                    writeln!(self.out, "{at}: {}", String::from_utf8_lossy(line))?;
                    match outcome.value(0) {
                        Some(v) => writeln!(self.out, "  value: {v}")?,
                        None => writeln!(self.out, "  value: (nothing published)")?,
                    }
                    let dims: Vec<String> = outcome
                        .dimensions(0)
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    if !dims.is_empty() {
                        writeln!(self.out, "  dimensions: {}", dims.join(", "))?;
                    }
                    let fields = extracted_fields(&self.set.filters()[0], line);
                    if !fields.is_empty() {
                        let fields: Vec<String> =
                            fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        writeln!(self.out, "  fields: {}", fields.join(" "))?;
                    }
                } else {
                    writeln!(self.out, "{at}: no match")?;
                }
                if let Some(why) = outcome.explain(0) {
                    writeln!(self.out, "  explain: {why}")?;
                }
                Ok(())
            }
        }
    }
}

/// One `--format json` line; fields in the documented order.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    event: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(rename = "match")]
    matched: bool,
    value: Option<serde_json::Value>,
    dimensions: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<&'a str>,
}

/// A metric value as JSON: integral values as integers (`1`, not `1.0`).
fn json_number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}
