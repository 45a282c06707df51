//! Enrichment: each forwarded event is its original bytes plus one added object, spliced in
//! before the closing brace (no re-serialisation), e.g.
//! `{…original…,"trailwatch":{"filters":["console_signin_failure_metric"],"cluster":"prod"}}`.
//! A text event (not JSON) is forwarded as `{"message":"<text>","trailwatch":{…}}`.
//!
//! The enricher also records what sinks need per event, read from the record with the
//! structural scanner: its time (`eventTime`), its `eventID` and Loki label fields.

use std::borrow::Cow;
use std::ops::Range;

use super::OutBatch;
use crate::event::EnvelopeKind;
use crate::event::envelope::Event;
use crate::event::json_scan::{members, skip_ws, trim, unescape};

/// What enrichment adds, and what metadata to record.
#[derive(Debug, Clone)]
pub struct Enricher {
    /// `"trailwatch":` (the key, JSON-encoded, with the colon).
    key: Vec<u8>,
    /// Static members, pre-rendered: `,"cluster":"prod"`.
    static_members: Vec<u8>,
    /// Add actor, account, region, failed, root, mfa.
    cloudtrail_fields: bool,
    /// Record each event's time.
    pub needs_time: bool,
    /// Record each event's `eventID`.
    pub needs_id: bool,
    /// Record these fields' values (the union of Loki label fields).
    pub label_paths: Vec<Vec<String>>,
}

/// Writes `s` as a JSON string.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

impl Enricher {
    /// An enricher adding `field` with `static_fields`.
    pub fn new(
        field: &str,
        static_fields: &[(String, String)],
        cloudtrail_fields: bool,
    ) -> Enricher {
        let mut key = Vec::new();
        json_str(&mut key, field);
        key.push(b':');
        let mut static_members = Vec::new();
        for (k, v) in static_fields {
            static_members.push(b',');
            json_str(&mut static_members, k);
            static_members.push(b':');
            json_str(&mut static_members, v);
        }
        Enricher {
            key,
            static_members,
            cloudtrail_fields,
            needs_time: false,
            needs_id: false,
            label_paths: Vec::new(),
        }
    }

    /// Appends `event`, enriched with the names of the filters it matched, to `out`.
    pub fn append<'n>(
        &self,
        event: &Event<'_>,
        matched: impl Iterator<Item = &'n str> + Clone,
        out: &mut OutBatch,
    ) {
        self.append_with_sigma(event, matched, &[], &[], out);
    }

    /// [`Enricher::append`], plus `"sigma":[…]`: the pre-rendered `tags` of the Sigma rules
    /// `sigma` (by index) the event matched, when there are any.
    pub fn append_with_sigma<'n>(
        &self,
        event: &Event<'_>,
        matched: impl Iterator<Item = &'n str> + Clone,
        sigma: &[u32],
        tags: &[Box<[u8]>],
        out: &mut OutBatch,
    ) {
        let start = out.data.len();
        let doc = trim(event.forward);
        let is_object = event.envelope != EnvelopeKind::Text
            && doc.first() == Some(&b'{')
            && doc.last() == Some(&b'}');
        if is_object {
            let close = doc.len() - 1;
            out.data.extend_from_slice(&doc[..close]);
            if !object_is_empty(doc) {
                out.data.push(b',');
            }
        } else {
            out.data.extend_from_slice(b"{\"message\":");
            json_str(&mut out.data, &String::from_utf8_lossy(doc));
            out.data.push(b',');
        }
        out.data.extend_from_slice(&self.key);
        out.data.extend_from_slice(b"{\"filters\":[");
        // A name is listed once even if several filters share it; matches are few, so the
        // quadratic check is cheaper than a set.
        let mut listed = 0;
        for (i, name) in matched.clone().enumerate() {
            if matched.clone().take(i).any(|earlier| earlier == name) {
                continue;
            }
            if listed > 0 {
                out.data.push(b',');
            }
            listed += 1;
            json_str(&mut out.data, name);
        }
        out.data.push(b']');
        if !sigma.is_empty() {
            out.data.extend_from_slice(b",\"sigma\":[");
            for (i, &rule) in sigma.iter().enumerate() {
                if i > 0 {
                    out.data.push(b',');
                }
                out.data.extend_from_slice(&tags[rule as usize]);
            }
            out.data.push(b']');
        }
        out.data.extend_from_slice(&self.static_members);
        let record = if is_object || event.eval.first() == Some(&b'{') {
            Some(event.eval)
        } else {
            None
        };
        if self.cloudtrail_fields {
            if let Some(r) = record {
                self.cloudtrail(r, &mut out.data);
            }
        }
        out.data.extend_from_slice(b"}}");
        let line = start as u32..out.data.len() as u32;
        out.data.push(b'\n');

        let time_ns = match (self.needs_time, record) {
            (true, Some(r)) => string_field(r, &["eventTime"])
                .and_then(|t| crate::time::parse_rfc3339_nanos(&t))
                .and_then(|ns| i64::try_from(ns).ok())
                .unwrap_or(0),
            _ => 0,
        };
        let id = match (self.needs_id, record) {
            (true, Some(r)) => raw_string(r, &["eventID"]).map_or(0..0, |raw| {
                let s = out.aux.len() as u32;
                out.aux.extend_from_slice(raw);
                s..out.aux.len() as u32
            }),
            _ => 0..0,
        };
        let labels = out.label_values.len() as u32;
        for path in &self.label_paths {
            let value = record
                .and_then(|r| string_field(r, path))
                .unwrap_or_default();
            let s = out.aux.len() as u32;
            out.aux.extend_from_slice(value.as_bytes());
            out.label_values.push(s..out.aux.len() as u32);
        }
        out.events.push(super::OutEvent {
            line,
            time_ns,
            id,
            labels,
        });
    }

    fn cloudtrail(&self, record: &[u8], out: &mut Vec<u8>) {
        let member = |out: &mut Vec<u8>, k: &str, v: &str| {
            out.push(b',');
            json_str(out, k);
            out.push(b':');
            json_str(out, v);
        };
        let actor = string_field(record, &["userIdentity", "arn"])
            .or_else(|| string_field(record, &["userIdentity", "principalId"]))
            .or_else(|| string_field(record, &["userIdentity", "invokedBy"]));
        if let Some(a) = actor {
            member(out, "actor", &a);
        }
        let account = string_field(record, &["recipientAccountId"])
            .or_else(|| string_field(record, &["userIdentity", "accountId"]));
        if let Some(a) = account {
            member(out, "account", &a);
        }
        if let Some(r) = string_field(record, &["awsRegion"]) {
            member(out, "region", &r);
        }
        let flag = |out: &mut Vec<u8>, k: &str, v: bool| {
            out.push(b',');
            json_str(out, k);
            out.extend_from_slice(if v { b":true" } else { b":false" });
        };
        flag(out, "failed", lookup(record, &["errorCode"]).is_some());
        flag(
            out,
            "root",
            string_field(record, &["userIdentity", "type"]).as_deref() == Some("Root"),
        );
        let mfa = string_field(record, &["additionalEventData", "MFAUsed"]).as_deref()
            == Some("Yes")
            || string_field(
                record,
                &[
                    "userIdentity",
                    "sessionContext",
                    "attributes",
                    "mfaAuthenticated",
                ],
            )
            .as_deref()
                == Some("true");
        flag(out, "mfa", mfa);
    }
}

fn object_is_empty(doc: &[u8]) -> bool {
    skip_ws(doc, 1) == doc.len() - 1
}

/// The value range at `path` in the JSON object `doc` (last occurrence of a repeated key wins).
pub fn lookup<S: AsRef<str>>(doc: &[u8], path: &[S]) -> Option<Range<usize>> {
    let mut at = skip_ws(doc, 0);
    let mut found = None;
    for (depth, key) in path.iter().enumerate() {
        if doc.get(at) != Some(&b'{') {
            return None;
        }
        found = None;
        let _ = members(doc, at, |k, v| {
            if k == key.as_ref().as_bytes() {
                found = Some(v);
            }
        });
        let range = found.clone()?;
        if depth + 1 < path.len() {
            at = range.start;
        }
    }
    found
}

/// The raw (still escaped) content of the string at `path`.
fn raw_string<'a, S: AsRef<str>>(doc: &'a [u8], path: &[S]) -> Option<&'a [u8]> {
    let r = lookup(doc, path)?;
    (doc[r.start] == b'"' && r.len() >= 2).then(|| &doc[r.start + 1..r.end - 1])
}

/// The decoded string at `path`: borrowed from `doc` unless it has escapes to decode.
pub fn string_field<'a, S: AsRef<str>>(doc: &'a [u8], path: &[S]) -> Option<Cow<'a, str>> {
    let raw = raw_string(doc, path)?;
    if !raw.contains(&b'\\') {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(raw.len());
    unescape(raw, &mut out).ok()?;
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrich(
        e: &Enricher,
        forward: &str,
        eval: &str,
        kind: EnvelopeKind,
        names: &[&str],
    ) -> (String, OutBatch) {
        let mut out = OutBatch::default();
        let ev = Event {
            eval: eval.as_bytes(),
            forward: forward.as_bytes(),
            envelope: kind,
        };
        e.append(&ev, names.iter().copied(), &mut out);
        (String::from_utf8(out.data.clone()).unwrap(), out)
    }

    #[test]
    fn splices_into_the_original_bytes() {
        let e = Enricher::new("trailwatch", &[("cluster".into(), "prod".into())], false);
        let rec = r#"{ "eventName" : "ConsoleLogin" }"#;
        let (line, _) = enrich(&e, rec, rec, EnvelopeKind::Bare, &["a", "b", "a"]);
        assert_eq!(
            line,
            "{ \"eventName\" : \"ConsoleLogin\" ,\"trailwatch\":{\"filters\":[\"a\",\"b\"],\"cluster\":\"prod\"}}\n"
        );
        let (line, _) = enrich(&e, "{ }", "{ }", EnvelopeKind::Bare, &[]);
        assert_eq!(
            line,
            "{ \"trailwatch\":{\"filters\":[],\"cluster\":\"prod\"}}\n"
        );
        let (line, _) = enrich(
            &e,
            "ERROR \"quoted\"",
            "ERROR \"quoted\"",
            EnvelopeKind::Text,
            &[],
        );
        assert_eq!(
            line,
            "{\"message\":\"ERROR \\\"quoted\\\"\",\"trailwatch\":{\"filters\":[],\"cluster\":\"prod\"}}\n"
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["message"], "ERROR \"quoted\"");
    }

    #[test]
    fn cloudtrail_fields_and_metadata() {
        let mut e = Enricher::new("tw", &[], true);
        e.needs_time = true;
        e.needs_id = true;
        e.label_paths = vec![
            vec!["awsRegion".into()],
            vec!["userIdentity".into(), "type".into()],
        ];
        let rec = r#"{"eventTime":"1970-01-01T00:00:02Z","eventID":"id-\"1","awsRegion":"eu-west-1","recipientAccountId":"123","userIdentity":{"type":"Root","arn":"arn:aws:iam::123:root"},"errorCode":"AccessDenied","additionalEventData":{"MFAUsed":"No"}}"#;
        let (line, out) = enrich(&e, rec, rec, EnvelopeKind::Bare, &["root"]);
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["tw"]["actor"], "arn:aws:iam::123:root");
        assert_eq!(v["tw"]["account"], "123");
        assert_eq!(v["tw"]["region"], "eu-west-1");
        assert_eq!(v["tw"]["failed"], true);
        assert_eq!(v["tw"]["root"], true);
        assert_eq!(v["tw"]["mfa"], false);
        let ev = &out.events[0];
        assert_eq!(ev.time_ns, 2_000_000_000);
        assert_eq!(
            &out.aux[ev.id.start as usize..ev.id.end as usize],
            br#"id-\"1"#
        );
        let labels: Vec<&[u8]> = out.label_values[ev.labels as usize..]
            .iter()
            .map(|r| &out.aux[r.start as usize..r.end as usize])
            .collect();
        assert_eq!(labels, [&b"eu-west-1"[..], b"Root"]);
    }
}
