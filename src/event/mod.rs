//! What moves through the pipeline: batches of documents, and the fixed vocabulary (sources,
//! envelopes, rejection reasons) used to label them.

pub mod decompress;
pub mod entries;
pub mod envelope;
pub mod forward;
pub mod framing;
pub mod json_scan;
pub mod msgpack;
pub mod records;
pub mod structural;

use std::ops::Range;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use crate::ack::Ack;

/// Where a batch came from (the `source` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// `--stdin`
    Stdin,
    /// `--tcp`
    Tcp,
    /// `--http`
    Http,
    /// `--files`
    Files,
    /// `--fluent` (the Forward protocol)
    Fluent,
}

impl SourceKind {
    /// Every kind, for pre-registering labels.
    pub const ALL: [SourceKind; 5] = [
        SourceKind::Stdin,
        SourceKind::Tcp,
        SourceKind::Http,
        SourceKind::Files,
        SourceKind::Fluent,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Stdin => "stdin",
            SourceKind::Tcp => "tcp",
            SourceKind::Http => "http",
            SourceKind::Files => "files",
            SourceKind::Fluent => "fluent",
        }
    }
}

/// Which envelope an event came out of (the `envelope` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvelopeKind {
    /// A JSON object that is its own event.
    Bare,
    /// A line that is not a JSON object.
    Text,
    /// `{"Records":[…]}`
    Records,
    /// EventBridge "… via CloudTrail".
    EventBridge,
    /// CloudWatch Logs subscription payload.
    CloudWatchLogs,
    /// LookupEvents row (`CloudTrailEvent` string).
    LookupEvents,
    /// A shipper's wrapper (`message`, `log`).
    Shipper,
}

impl EnvelopeKind {
    /// Every kind, for pre-registering labels.
    pub const ALL: [EnvelopeKind; 7] = [
        EnvelopeKind::Bare,
        EnvelopeKind::Text,
        EnvelopeKind::Records,
        EnvelopeKind::EventBridge,
        EnvelopeKind::CloudWatchLogs,
        EnvelopeKind::LookupEvents,
        EnvelopeKind::Shipper,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::Bare => "bare",
            EnvelopeKind::Text => "text",
            EnvelopeKind::Records => "records",
            EnvelopeKind::EventBridge => "eventbridge",
            EnvelopeKind::CloudWatchLogs => "cloudwatch_logs",
            EnvelopeKind::LookupEvents => "lookup_events",
            EnvelopeKind::Shipper => "shipper",
        }
    }
}

/// Why an event was rejected (the `reason` label of `trailwatch_events_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Not UTF-8.
    InvalidUtf8,
    /// Starts like JSON but does not parse.
    InvalidJson,
    /// A JSON object that is not closed.
    TruncatedJson,
    /// Longer than `--max-event-bytes`.
    Oversize,
    /// An envelope with the wrong shape.
    InvalidEnvelope,
    /// A base64 field that does not decode.
    InvalidBase64,
    /// Compressed data that does not decompress (or expands past the limit).
    InvalidCompression,
    /// MessagePack that does not decode, or an entry of the wrong shape.
    InvalidMsgpack,
}

impl RejectReason {
    /// Every reason, for pre-registering labels.
    pub const ALL: [RejectReason; 8] = [
        RejectReason::InvalidUtf8,
        RejectReason::InvalidJson,
        RejectReason::TruncatedJson,
        RejectReason::Oversize,
        RejectReason::InvalidEnvelope,
        RejectReason::InvalidBase64,
        RejectReason::InvalidCompression,
        RejectReason::InvalidMsgpack,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::TruncatedJson => "truncated_json",
            RejectReason::Oversize => "oversize",
            RejectReason::InvalidEnvelope => "invalid_envelope",
            RejectReason::InvalidBase64 => "invalid_base64",
            RejectReason::InvalidCompression => "invalid_compression",
            RejectReason::InvalidMsgpack => "invalid_msgpack",
        }
    }
}

/// How the documents of a batch are delimited.
#[derive(Debug, Clone)]
pub enum Framing {
    /// Newline-delimited (a trailing `\r` is dropped; empty lines are skipped).
    Lines,
    /// Already split: byte ranges of `data`.
    Documents(Vec<Range<u32>>),
    /// MessagePack records (maps) at these byte ranges of `data`, checked by
    /// [`msgpack::ValueScan`]; each is handed on as JSON text.
    Msgpack(Vec<Range<u32>>),
}

/// A unit of work for a worker: a buffer of documents from one source.
#[derive(Debug)]
pub struct Batch {
    /// Where it came from.
    pub source: SourceKind,
    /// The documents' bytes.
    pub data: Bytes,
    /// How to find the documents in `data`.
    pub framing: Framing,
    /// Holds this batch's share of the pipeline's memory budget until it is processed.
    pub budget: Option<OwnedSemaphorePermit>,
    /// Signalled when every event of the batch has been processed (and, when forwarding,
    /// accepted by every sink).
    pub ack: Option<Ack>,
}

impl Batch {
    /// A batch of newline-delimited documents.
    pub fn lines(source: SourceKind, data: Bytes) -> Batch {
        Batch {
            source,
            data,
            framing: Framing::Lines,
            budget: None,
            ack: None,
        }
    }

    /// Calls `f` on each document.
    pub fn for_each_document(&self, mut f: impl FnMut(&[u8])) {
        match &self.framing {
            Framing::Lines => {
                let mut rest = &self.data[..];
                while !rest.is_empty() {
                    let (line, next) = match memchr::memchr(b'\n', rest) {
                        Some(i) => (&rest[..i], &rest[i + 1..]),
                        None => (rest, &rest[rest.len()..]),
                    };
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if !line.is_empty() {
                        f(line);
                    }
                    rest = next;
                }
            }
            Framing::Documents(ranges) => {
                for r in ranges {
                    f(&self.data[r.start as usize..r.end as usize]);
                }
            }
            Framing::Msgpack(ranges) => {
                let mut json = Vec::new();
                for r in ranges {
                    json.clear();
                    // Cannot fail: the framer scanned every record whole.
                    if msgpack::to_json(&self.data[r.start as usize..r.end as usize], &mut json)
                        .is_ok()
                    {
                        f(&json);
                    }
                }
            }
        }
    }
}
