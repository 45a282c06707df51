//! What `grep` looks for: the PATTERN and the shortcuts (`--user`, `--ip`, `--event`,
//! `--failed`) compiled into filters that must all match, and the `eventTime` window
//! (`--since`, `--until`).

use jiff::Timestamp;
use trailwatch_pattern::{Filter, FilterSet, MetricSpec};

use crate::error::CliError;
use crate::event::json_scan::{members, skip_ws};

/// The compiled query.
pub struct Query {
    /// One set per filter; every one must match (none: every event matches). Evaluated in
    /// order, stopping at the first that does not match, so the filters the prefilter can rule
    /// out on raw bytes come first and most events never reach the ones that need a parse.
    pub sets: Vec<FilterSet>,
    /// `eventTime` bounds.
    pub window: TimeWindow,
}

/// `--since` (inclusive) and `--until` (exclusive) on `eventTime`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeWindow {
    /// `--since`
    pub since: Option<Timestamp>,
    /// `--until`
    pub until: Option<Timestamp>,
}

impl TimeWindow {
    /// Whether any bound is set.
    pub fn is_set(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether the event's top-level `eventTime` is in the window (an event without one, or
    /// with one that is not a timestamp, is not).
    pub fn contains_event(&self, event: &[u8]) -> bool {
        match event_time(event) {
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u),
            None => false,
        }
    }
}

/// The shortcuts as given.
#[derive(Debug, Default)]
pub struct Shortcuts<'a> {
    /// `--user` values.
    pub users: &'a [String],
    /// `--ip` values.
    pub ips: &'a [String],
    /// `--event` values.
    pub events: &'a [String],
    /// `--failed`
    pub failed: bool,
}

impl Shortcuts<'_> {
    /// Whether any shortcut is given.
    pub fn any(&self) -> bool {
        !self.users.is_empty() || !self.ips.is_empty() || !self.events.is_empty() || self.failed
    }

    /// Each shortcut as a JSON filter pattern (name, pattern); values may hold `*` wildcards.
    pub fn patterns(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !self.users.is_empty() {
            let clauses: Vec<String> = self.users.iter().map(|u| user_clause(u)).collect();
            out.push(("--user", format!("{{ {} }}", clauses.join(" || "))));
        }
        if !self.ips.is_empty() {
            out.push(("--ip", any_of("$.sourceIPAddress", self.ips)));
        }
        if !self.events.is_empty() {
            out.push(("--event", any_of("$.eventName", self.events)));
        }
        if self.failed {
            out.push((
                "--failed",
                r#"{ ($.errorCode = "*") || ($.errorMessage = "*") || ($.responseElements.ConsoleLogin = "Failure") }"#
                    .to_owned(),
            ));
        }
        out
    }
}

/// Who a `--user` value names: an ARN is matched exactly; a name matches an IAM user's name,
/// the last part of any ARN (role session, user path), the role behind an assumed-role session,
/// an access key id, or `root` for the root user.
fn user_clause(value: &str) -> String {
    let v = quote(value);
    if value.starts_with("arn:") {
        return format!("($.userIdentity.arn = {v})");
    }
    let mut clauses = vec![
        format!("($.userIdentity.userName = {v})"),
        format!("($.userIdentity.arn = {})", quote(&format!("*/{value}"))),
        format!("($.userIdentity.sessionContext.sessionIssuer.userName = {v})"),
        format!("($.userIdentity.accessKeyId = {v})"),
        format!("($.userIdentity.principalId = {v})"),
    ];
    if value.eq_ignore_ascii_case("root") {
        clauses.push(r#"($.userIdentity.type = "Root")"#.to_owned());
    }
    clauses.join(" || ")
}

fn any_of(selector: &str, values: &[String]) -> String {
    let clauses: Vec<String> = values
        .iter()
        .map(|v| format!("({selector} = {})", quote(v)))
        .collect();
    format!("{{ {} }}", clauses.join(" || "))
}

/// A JSON-pattern string literal: `"` and `\` escaped, `*` left as a wildcard.
fn quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Compiles the PATTERN (if any) and the shortcuts.
pub fn compile(
    pattern: Option<&str>,
    shortcuts: &Shortcuts<'_>,
    window: TimeWindow,
) -> Result<Query, CliError> {
    let spec = MetricSpec::default();
    let mut filters = Vec::new();
    let mut compile_one = |name: &str, text: &str| -> Result<(), CliError> {
        let f = Filter::compile(name, text, &spec).map_err(|error| CliError::Pattern {
            pattern: text.to_owned(),
            error: Box::new(error),
        })?;
        filters.push(f);
        Ok(())
    };
    if let Some(p) = pattern {
        compile_one("pattern", p)?;
    }
    for (name, text) in shortcuts.patterns() {
        compile_one(name.trim_start_matches('-'), &text)?;
    }
    let mut sets: Vec<FilterSet> = filters
        .into_iter()
        .map(|f| FilterSet::new(vec![f]))
        .collect();
    sets.sort_by_key(|set| !set.is_prefiltered(0));
    Ok(Query { sets, window })
}

/// The top-level `eventTime` of a JSON object, if it is a timestamp.
pub fn event_time(event: &[u8]) -> Option<Timestamp> {
    memchr::memmem::find(event, b"\"eventTime\"")?;
    let mut value = None;
    let _ = members(event, skip_ws(event, 0), |key, range| {
        if value.is_none() && key == b"eventTime" {
            value = Some(range);
        }
    });
    let raw = &event[value?];
    let text = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch_pattern::{EvalOptions, Evaluator};

    fn matches(sets: &[FilterSet], event: &str) -> bool {
        let mut e = Evaluator::new();
        sets.iter().all(|set| {
            e.evaluate(set, event.as_bytes(), EvalOptions::default())
                .matched(0)
        })
    }

    #[test]
    fn shortcuts_compile_to_patterns_that_match() {
        let users = vec!["alice".to_owned()];
        let ips = vec!["203.0.113.*".to_owned()];
        let q = compile(
            None,
            &Shortcuts {
                users: &users,
                ips: &ips,
                events: &[],
                failed: true,
            },
            TimeWindow::default(),
        )
        .unwrap();
        let hit = r#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/alice"},"sourceIPAddress":"203.0.113.9","errorCode":"AccessDenied"}"#;
        assert!(matches(&q.sets, hit));
        assert!(!matches(
            &q.sets,
            &hit.replace("AccessDenied\"", "x\"")
                .replace("\"errorCode\"", "\"other\"")
        ));
        assert!(!matches(
            &q.sets,
            &hit.replace("203.0.113.9", "198.51.100.1")
        ));
        assert!(!matches(&q.sets, &hit.replace("/alice", "/bob")));
        let quoted = Shortcuts {
            users: &["a\"b".to_owned()],
            ..Shortcuts::default()
        };
        assert!(compile(None, &quoted, TimeWindow::default()).is_ok());
    }

    #[test]
    fn event_time_is_the_top_level_one() {
        let e = br#"{"requestParameters":{"eventTime":"1999-01-01T00:00:00Z"},"eventTime":"2026-03-01T10:00:00Z"}"#;
        assert_eq!(event_time(e).unwrap().to_string(), "2026-03-01T10:00:00Z");
        assert!(event_time(br#"{"eventTime":"yesterday"}"#).is_none());
        assert!(event_time(b"plain text").is_none());
    }
}
