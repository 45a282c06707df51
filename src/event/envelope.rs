//! Documents → events: CloudTrail's delivery envelopes and shippers' wrappers, unwrapped.
//!
//! A document (one line, one HTTP array element, one file) is, by shape:
//! * a bare CloudTrail record (or any JSON object) — one event;
//! * `{"Records":[…]}` (S3 delivery) — one event per record, each a sub-slice of the document;
//! * an EventBridge envelope whose `detail-type` ends in "via CloudTrail" — the event is `detail`,
//!   and the whole envelope is what gets forwarded;
//! * a CloudWatch Logs subscription payload, raw (`messageType`, `logEvents`) or as Lambda gets it
//!   (`awslogs.data`, base64 of gzip) — one event per `logEvents[].message`; control messages are
//!   skipped;
//! * a LookupEvents row (`CloudTrailEvent` as a string) — the decoded string;
//! * a shipper's wrapper (`message` for Vector, `log` for Fluent Bit, configurable) holding the
//!   event as a string — the decoded string is evaluated (and unwrapped again if it is itself an
//!   envelope), the wrapper is forwarded;
//! * a JSON array of objects — each element is a document;
//! * anything else — a text event (term and space-delimited patterns apply).
//!
//! Envelope keys are found with one multi-literal search; a document without any of them is a
//! bare record and costs nothing more. Only then is the top level scanned for real.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

use super::decompress::{Coding, decompress, is_gzip};
use super::json_scan::{self, elements, members, skip_ws, trim, unescape};
use super::{EnvelopeKind, RejectReason};

/// The most nested envelopes followed (a wrapper holding a Records file is depth 2).
const MAX_NESTING: usize = 3;

/// One event found in a document.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The bytes filters evaluate.
    pub eval: &'a [u8],
    /// The bytes forwarded (the record itself, or the one-to-one wrapper around it).
    pub forward: &'a [u8],
    /// Which envelope it came out of.
    pub envelope: EnvelopeKind,
}

/// Receives what a document decodes to.
pub trait Output {
    /// An event.
    fn event(&mut self, event: Event<'_>);
    /// A part of the document that could not be decoded: why, the bytes, and a detail message.
    fn reject(&mut self, reason: RejectReason, bytes: &[u8], detail: &str);
    /// An envelope that carried no events (a CloudWatch Logs control message).
    fn skipped(&mut self, _kind: EnvelopeKind) {}
}

/// Buffers for one nesting level of decoded content.
#[derive(Default)]
struct Level {
    base64: Vec<u8>,
    gunzipped: Vec<u8>,
    string: Vec<u8>,
}

/// Finds envelope keys.
enum KeySearch {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl KeySearch {
    fn is_match(&self, doc: &[u8]) -> bool {
        match self {
            KeySearch::Packed(p) => p.find(doc).is_some(),
            KeySearch::Automaton(a) => a.is_match(doc),
        }
    }
}

/// Decodes documents into events; reuse one per worker (its buffers are kept).
pub struct Decoder {
    keys: KeySearch,
    event_fields: Vec<Vec<u8>>,
    max_decoded: usize,
    levels: Vec<Level>,
}

impl Decoder {
    /// `event_fields`: the shipper wrapper fields; `max_decoded`: the most bytes a compressed
    /// envelope may expand to.
    pub fn new(event_fields: &[String], max_decoded: usize) -> Decoder {
        let mut needles: Vec<String> = [
            "Records",
            "detail-type",
            "awslogs",
            "logEvents",
            "CloudTrailEvent",
        ]
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect();
        needles.extend(event_fields.iter().map(|f| format!("\"{f}\"")));
        // The packed (Teddy, SIMD) searcher checks several bytes of every needle at once. The
        // general automaton would pick a one-byte prefilter on the needles' common first byte
        // `"`, the most frequent byte in JSON, and crawl; it is kept only for CPUs without the
        // instructions Teddy needs.
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&needles)
            .build();
        let keys = match packed {
            Some(p) => KeySearch::Packed(p),
            None => KeySearch::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&needles)
                    .unwrap_or_else(|_| {
                        AhoCorasick::new(["\"Records\""]).expect("a one-literal automaton builds")
                    }),
            ),
        };
        Decoder {
            keys,
            event_fields: event_fields.iter().map(|f| f.as_bytes().to_vec()).collect(),
            max_decoded,
            levels: (0..=MAX_NESTING).map(|_| Level::default()).collect(),
        }
    }

    /// Decodes one document (without its line terminator).
    pub fn decode(&mut self, doc: &[u8], out: &mut dyn Output) {
        if simdutf8::basic::from_utf8(doc).is_err() {
            out.reject(
                RejectReason::InvalidUtf8,
                doc,
                "the event is not valid UTF-8",
            );
            return;
        }
        self.document(doc, 0, out);
    }

    fn document(&mut self, doc: &[u8], depth: usize, out: &mut dyn Output) {
        let doc = trim(doc);
        match doc.first() {
            Some(b'{') => self.object(doc, depth, out),
            Some(b'[') => self.array(doc, depth, out),
            _ => out.event(Event {
                eval: doc,
                forward: doc,
                envelope: EnvelopeKind::Text,
            }),
        }
    }

    fn array(&mut self, doc: &[u8], depth: usize, out: &mut dyn Output) {
        // A JSON array of objects is a list of documents; anything else is a text line that
        // happens to start with '[' (`[INFO] ...`).
        let mut items: Vec<Range<usize>> = Vec::new();
        let all_objects = json_scan::value_end(doc, 0)
            .is_ok_and(|end| skip_ws(doc, end) == doc.len())
            && elements(doc, 0, |r| items.push(r)).is_ok()
            && !items.is_empty()
            && items.iter().all(|r| doc[r.start] == b'{');
        if all_objects && depth < MAX_NESTING {
            for r in items {
                self.object(&doc[r], depth + 1, out);
            }
        } else {
            out.event(Event {
                eval: doc,
                forward: doc,
                envelope: EnvelopeKind::Text,
            });
        }
    }

    fn object(&mut self, doc: &[u8], depth: usize, out: &mut dyn Output) {
        // CloudTrail writes every record with `eventVersion` first, and no envelope starts that
        // way: such a document is a record without searching it for envelope keys.
        if starts_with_key(doc, b"eventVersion") || !self.keys.is_match(doc) {
            return bare(doc, out);
        }
        let mut top = TopLevel::default();
        let fields = &self.event_fields;
        let scanned = members(doc, 0, |key, value| {
            top.note(key, &doc[value.clone()], value, fields)
        });
        match scanned {
            Ok(end) if skip_ws(doc, end) == doc.len() => {}
            Ok(end) => {
                return out.reject(
                    RejectReason::InvalidJson,
                    doc,
                    &format!("unexpected text after the object at byte {end}"),
                );
            }
            Err(e) => return out.reject(RejectReason::InvalidJson, doc, &e.to_string()),
        }
        if depth >= MAX_NESTING {
            return bare(doc, out);
        }
        if let Some(records) = top.records.filter(|r| doc[r.start] == b'[') {
            let _ = elements(doc, records.start, |r| {
                let rec = &doc[r];
                if rec.first() == Some(&b'{') {
                    out.event(Event {
                        eval: rec,
                        forward: rec,
                        envelope: EnvelopeKind::Records,
                    });
                } else {
                    out.reject(
                        RejectReason::InvalidEnvelope,
                        rec,
                        "a Records element is not an object",
                    );
                }
            });
            return;
        }
        if let (Some(dt), Some(detail)) = (&top.detail_type, &top.detail) {
            if doc[dt.clone()].ends_with(b"via CloudTrail\"") && doc[detail.start] == b'{' {
                return out.event(Event {
                    eval: &doc[detail.clone()],
                    forward: doc,
                    envelope: EnvelopeKind::EventBridge,
                });
            }
        }
        if let Some(awslogs) = top.awslogs.filter(|r| doc[r.start] == b'{') {
            return self.awslogs(doc, awslogs, depth, out);
        }
        if let Some(log_events) = top.log_events.filter(|r| doc[r.start] == b'[') {
            return self.cloudwatch_logs(doc, log_events, top.control, depth, out);
        }
        if let Some(s) = top.cloudtrail_event.filter(|r| doc[r.start] == b'"') {
            return self.string_event(doc, s, None, EnvelopeKind::LookupEvents, depth, out);
        }
        if let Some(s) = top.event_field.filter(|r| doc[r.start] == b'"') {
            return self.string_event(doc, s, Some(doc), EnvelopeKind::Shipper, depth, out);
        }
        bare(doc, out)
    }

    /// An event held as a JSON string in `doc[s]`. `wrapper`: what to forward when the string
    /// holds exactly one event (the shipper's object); otherwise the events forward themselves.
    fn string_event(
        &mut self,
        doc: &[u8],
        s: Range<usize>,
        wrapper: Option<&[u8]>,
        kind: EnvelopeKind,
        depth: usize,
        out: &mut dyn Output,
    ) {
        let mut level = std::mem::take(&mut self.levels[depth]);
        level.string.clear();
        match unescape(&doc[s.start + 1..s.end - 1], &mut level.string) {
            Err(e) => out.reject(
                RejectReason::InvalidJson,
                doc,
                &format!("bad string escape: {e}"),
            ),
            Ok(()) => {
                let inner = trim(&level.string);
                let mut relay = Relay { out, wrapper, kind };
                self.document(inner, depth + 1, &mut relay);
            }
        }
        self.levels[depth] = level;
    }

    fn awslogs(&mut self, doc: &[u8], awslogs: Range<usize>, depth: usize, out: &mut dyn Output) {
        let mut data = None;
        let _ = members(doc, awslogs.start, |k, v| {
            if k == b"data" && doc[v.start] == b'"' {
                data = Some(v);
            }
        });
        let Some(data) = data else {
            return out.reject(
                RejectReason::InvalidEnvelope,
                doc,
                "awslogs has no data string",
            );
        };
        // This level's buffers are taken out while the payload is decoded (deeper levels use
        // their own), then put back so their capacity is kept.
        let mut level = std::mem::take(&mut self.levels[depth]);
        level.base64.clear();
        let raw = &doc[data.start + 1..data.end - 1];
        let decoded =
            match base64::engine::general_purpose::STANDARD.decode_vec(raw, &mut level.base64) {
                Err(e) => Err((
                    RejectReason::InvalidBase64,
                    format!("awslogs.data is not base64: {e}"),
                )),
                Ok(()) if !is_gzip(&level.base64) => Err((
                    RejectReason::InvalidCompression,
                    "awslogs.data is not gzip".to_owned(),
                )),
                Ok(()) => decompress(
                    &level.base64,
                    Coding::Gzip,
                    self.max_decoded,
                    &mut level.gunzipped,
                )
                .map_err(|e| {
                    (
                        RejectReason::InvalidCompression,
                        format!("awslogs.data: {e}"),
                    )
                }),
            };
        match decoded {
            Err((reason, detail)) => out.reject(reason, doc, &detail),
            Ok(()) if simdutf8::basic::from_utf8(&level.gunzipped).is_err() => out.reject(
                RejectReason::InvalidUtf8,
                doc,
                "awslogs payload is not UTF-8",
            ),
            Ok(()) => self.document(&level.gunzipped, depth + 1, out),
        }
        self.levels[depth] = level;
    }

    fn cloudwatch_logs(
        &mut self,
        doc: &[u8],
        log_events: Range<usize>,
        control: bool,
        depth: usize,
        out: &mut dyn Output,
    ) {
        if control {
            return out.skipped(EnvelopeKind::CloudWatchLogs);
        }
        let mut messages: Vec<Range<usize>> = Vec::new();
        let listed = elements(doc, log_events.start, |e| {
            if doc[e.start] != b'{' {
                return;
            }
            let _ = members(doc, e.start, |k, v| {
                if k == b"message" && doc[v.start] == b'"' {
                    messages.push(v);
                }
            });
        });
        if let Err(e) = listed {
            return out.reject(RejectReason::InvalidEnvelope, doc, &e.to_string());
        }
        for m in messages {
            self.string_event(doc, m, None, EnvelopeKind::CloudWatchLogs, depth, out);
        }
    }
}

/// Whether the object `doc` begins with the member name `key`.
fn starts_with_key(doc: &[u8], key: &[u8]) -> bool {
    let i = skip_ws(doc, 1);
    doc.get(i) == Some(&b'"')
        && doc.get(i + 1..i + 1 + key.len()) == Some(key)
        && doc.get(i + 1 + key.len()) == Some(&b'"')
}

/// A document that is its own event; it must at least be closed.
fn bare(doc: &[u8], out: &mut dyn Output) {
    if doc.last() == Some(&b'}') {
        out.event(Event {
            eval: doc,
            forward: doc,
            envelope: EnvelopeKind::Bare,
        });
    } else {
        out.reject(
            RejectReason::TruncatedJson,
            doc,
            "the JSON object is not closed (truncated?)",
        );
    }
}

/// The top-level members of an object that decide its envelope.
#[derive(Default)]
struct TopLevel {
    records: Option<Range<usize>>,
    detail_type: Option<Range<usize>>,
    detail: Option<Range<usize>>,
    awslogs: Option<Range<usize>>,
    log_events: Option<Range<usize>>,
    control: bool,
    cloudtrail_event: Option<Range<usize>>,
    event_field: Option<Range<usize>>,
}

impl TopLevel {
    fn note(&mut self, key: &[u8], bytes: &[u8], value: Range<usize>, event_fields: &[Vec<u8>]) {
        match key {
            b"Records" => self.records = Some(value),
            b"detail-type" => self.detail_type = Some(value),
            b"detail" => self.detail = Some(value),
            b"awslogs" => self.awslogs = Some(value),
            b"logEvents" => self.log_events = Some(value),
            b"CloudTrailEvent" => self.cloudtrail_event = Some(value),
            b"messageType" => self.control = bytes == b"\"CONTROL_MESSAGE\"",
            k if self.event_field.is_none() && event_fields.iter().any(|f| f.as_slice() == k) => {
                self.event_field = Some(value);
            }
            _ => {}
        }
    }
}

/// Passes events through, replacing the forwarded bytes and envelope kind of a single bare
/// event by the wrapper's.
struct Relay<'o, 'w> {
    out: &'o mut dyn Output,
    wrapper: Option<&'w [u8]>,
    kind: EnvelopeKind,
}

impl Output for Relay<'_, '_> {
    fn event(&mut self, e: Event<'_>) {
        let one_to_one = matches!(e.envelope, EnvelopeKind::Bare | EnvelopeKind::Text);
        match (self.wrapper, one_to_one) {
            (Some(w), true) => self.out.event(Event {
                eval: e.eval,
                forward: w,
                envelope: self.kind,
            }),
            (None, true) => self.out.event(Event {
                envelope: self.kind,
                ..e
            }),
            _ => self.out.event(e),
        }
    }
    fn reject(&mut self, reason: RejectReason, bytes: &[u8], detail: &str) {
        self.out.reject(reason, bytes, detail);
    }
    fn skipped(&mut self, kind: EnvelopeKind) {
        self.out.skipped(kind);
    }
}
