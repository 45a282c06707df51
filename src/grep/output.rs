//! How matching events are printed: NDJSON (each event's bytes as stored, one per line) or a
//! table (time, identity, event, source IP, region, error). Each thread fills its own buffer and
//! hands it to the shared writer in large pieces, so lines never interleave.

use std::io::{self, Write};
use std::sync::Mutex;

use serde_json::Value;

use crate::event::envelope::Event;

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One event per line, as stored.
    Ndjson,
    /// Aligned columns.
    Table,
    /// Nothing (`--count`).
    Count,
}

/// Where every thread's output goes.
pub type Shared<'a> = &'a Mutex<Box<dyn Write + Send>>;

/// A thread's output buffer.
pub struct Out<'a> {
    style: Style,
    buf: Vec<u8>,
    shared: Shared<'a>,
    /// Runs the write (to hide the progress bar while lines are printed on a terminal).
    around: &'a (dyn Fn(&mut dyn FnMut()) + Sync),
}

/// Buffered bytes handed to the writer at once.
const FLUSH_AT: usize = 64 << 10;

impl<'a> Out<'a> {
    /// A buffer writing to `shared`.
    pub fn new(
        style: Style,
        shared: Shared<'a>,
        around: &'a (dyn Fn(&mut dyn FnMut()) + Sync),
    ) -> Out<'a> {
        Out {
            style,
            buf: Vec::new(),
            shared,
            around,
        }
    }

    /// Prints one matching event.
    pub fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        match self.style {
            Style::Count => return Ok(()),
            Style::Ndjson => {
                if memchr::memchr2(b'\n', b'\r', e.forward).is_some() {
                    // A pretty-printed record: NDJSON needs it on one line.
                    compact_json(e.forward, &mut self.buf);
                } else {
                    self.buf.extend_from_slice(e.forward);
                }
                self.buf.push(b'\n');
            }
            Style::Table => table_row(e.eval, &mut self.buf),
        }
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands what is buffered to the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        let buf = &self.buf;
        let shared = self.shared;
        (self.around)(&mut || {
            result = match shared.lock() {
                Ok(mut w) => w.write_all(buf).and_then(|_| {
                    if buf.len() < FLUSH_AT {
                        w.flush()
                    } else {
                        Ok(())
                    }
                }),
                Err(_) => Err(io::Error::other("output writer poisoned")),
            };
        });
        self.buf.clear();
        result
    }
}

/// The table's header line.
pub fn table_header() -> String {
    format!(
        "{:<20}  {:<32}  {:<40}  {:<15}  {:<14}  {}\n",
        "TIME", "IDENTITY", "EVENT", "SOURCE IP", "REGION", "ERROR"
    )
}

fn table_row(event: &[u8], out: &mut Vec<u8>) {
    let Ok(v) = serde_json::from_slice::<Value>(event) else {
        // A text event: shown as is.
        out.extend_from_slice(&event[..event.len().min(200)]);
        out.push(b'\n');
        return;
    };
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    let source = s("/eventSource");
    let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    let event_name = if service.is_empty() {
        s("/eventName").to_owned()
    } else {
        format!("{service}:{}", s("/eventName"))
    };
    let error = match (s("/errorCode"), s("/responseElements/ConsoleLogin")) {
        ("", "Failure") => "Failure".to_owned(),
        (code, _) => code.to_owned(),
    };
    let line = format!(
        "{:<20}  {:<32}  {:<40}  {:<15}  {:<14}  {}\n",
        fit(s("/eventTime"), 20),
        fit(&identity(&v), 32),
        fit(&event_name, 40),
        fit(s("/sourceIPAddress"), 15),
        fit(s("/awsRegion"), 14),
        error
    );
    out.extend_from_slice(line.as_bytes());
}

/// Who acted, briefly: `root`, an IAM user's name, `role/session` for an assumed role, or the
/// service that acted.
fn identity(v: &Value) -> String {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    match s("/userIdentity/type") {
        "Root" => "root".into(),
        "IAMUser" if !s("/userIdentity/userName").is_empty() => s("/userIdentity/userName").into(),
        "AssumedRole" => {
            let role = s("/userIdentity/sessionContext/sessionIssuer/userName");
            let session = s("/userIdentity/arn").rsplit('/').next().unwrap_or("");
            format!("{role}/{session}")
        }
        "AWSService" => s("/userIdentity/invokedBy").into(),
        _ => {
            for p in [
                "/userIdentity/userName",
                "/userIdentity/arn",
                "/userIdentity/principalId",
            ] {
                if !s(p).is_empty() {
                    return s(p).into();
                }
            }
            s("/userIdentity/type").into()
        }
    }
}

/// `s` cut to `width` characters (with `…` when cut).
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(width - 1).collect();
    t.push('…');
    t
}

/// Copies JSON dropping whitespace outside strings.
fn compact_json(json: &[u8], out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &c in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            out.push(c);
        } else if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = c == b'"';
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_outside_strings_only() {
        let mut out = Vec::new();
        compact_json(b"{\n  \"a b\": \"x \\\" y\",\n  \"c\": [1, 2]\n}", &mut out);
        assert_eq!(out, br#"{"a b":"x \" y","c":[1,2]}"#);
    }

    #[test]
    fn table_rows() {
        let mut out = Vec::new();
        table_row(br#"{"eventTime":"2026-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","errorCode":"AccessDenied","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/alice","sessionContext":{"sessionIssuer":{"userName":"Admin"}}}}"#, &mut out);
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.starts_with("2026-03-01T10:00:00Z  Admin/alice "),
            "{line}"
        );
        assert!(line.contains("iam:CreateUser"));
        assert!(line.trim_end().ends_with("AccessDenied"));
    }
}
