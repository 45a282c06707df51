//! Request bodies, one encoder per wire format, each following its API's documented shape:
//! NDJSON (ending in a newline), a JSON array, the Loki push API (`{"streams":[{"stream":{…},
//! "values":[["<ns>","<line>"]…]}]}`), Elasticsearch `_bulk` (`create` action lines with
//! `_id` = `eventID`, so a retried request never duplicates a document), and Splunk HEC
//! (concatenated `{"time":…,"event":{…}}` envelopes).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::buffer::Chunk;
use super::{OutBatch, OutEvent};

/// An event to encode: its batch and its metadata.
pub type Item<'a> = (&'a OutBatch, &'a OutEvent);

fn line<'a>(b: &'a OutBatch, e: &OutEvent) -> &'a [u8] {
    &b.data[e.line.start as usize..e.line.end as usize]
}

/// The event's time in nanoseconds, or `now` when it has none.
fn time_ns(e: &OutEvent, now: i64) -> i64 {
    if e.time_ns > 0 { e.time_ns } else { now }
}

/// NDJSON: one event per line, every line (the last too) ending in `\n`.
pub fn ndjson<'a>(items: impl Iterator<Item = Item<'a>>, out: &mut Vec<u8>) {
    for (b, e) in items {
        out.extend_from_slice(line(b, e));
        out.push(b'\n');
    }
}

/// NDJSON without copying: a batch already holds its events as NDJSON, so each part of the
/// chunk is one contiguous slice of its batch, shared (the batch lives while a slice does).
pub fn ndjson_segments(chunk: &Chunk) -> Vec<Bytes> {
    chunk
        .parts
        .iter()
        .filter_map(|p| {
            let events = p.batch.events.get(p.events.clone())?;
            let start = events.first()?.line.start as usize;
            // The newline after the last event is part of the batch's data.
            let end = (events.last()?.line.end as usize + 1).min(p.batch.data.len());
            Some(Bytes::from_owner(BatchSlice {
                batch: p.batch.clone(),
                range: start..end,
            }))
        })
        .collect()
}

/// A slice of a shared batch's data, as the owner of a [`Bytes`].
struct BatchSlice {
    batch: Arc<OutBatch>,
    range: Range<usize>,
}

impl AsRef<[u8]> for BatchSlice {
    fn as_ref(&self) -> &[u8] {
        self.batch.data.get(self.range.clone()).unwrap_or_default()
    }
}

/// A JSON array of the events.
pub fn json_array<'a>(items: impl Iterator<Item = Item<'a>>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, (b, e)) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(line(b, e));
    }
    out.push(b']');
}

/// A Loki label: a fixed value, or the value of the enricher's label field `slot`.
#[derive(Debug, Clone)]
pub enum Label {
    /// The same for every event.
    Static(String),
    /// Index into each event's recorded label values.
    Slot(usize),
}

/// The Loki push body: events grouped into streams by their label values, each stream's values
/// in time order, timestamps as strings of nanoseconds.
pub fn loki<'a>(
    items: impl Iterator<Item = Item<'a>>,
    labels: &[(String, Label)],
    now: i64,
    out: &mut Vec<u8>,
) {
    // Label set → (time, line) of its events.
    type Streams<'l> = BTreeMap<Vec<(String, String)>, Vec<(i64, &'l [u8])>>;
    let mut streams: Streams<'a> = BTreeMap::new();
    for (b, e) in items {
        let mut set = Vec::with_capacity(labels.len());
        for (name, label) in labels {
            let value = match label {
                Label::Static(v) => v.clone(),
                Label::Slot(i) => b
                    .label_values
                    .get(e.labels as usize + i)
                    .map(|r| {
                        String::from_utf8_lossy(&b.aux[r.start as usize..r.end as usize])
                            .into_owned()
                    })
                    .unwrap_or_default(),
            };
            // Loki drops labels with empty values; leave them out rather than send them.
            if !value.is_empty() {
                set.push((name.clone(), value));
            }
        }
        streams
            .entry(set)
            .or_default()
            .push((time_ns(e, now), line(b, e)));
    }
    out.extend_from_slice(b"{\"streams\":[");
    for (i, (set, mut values)) in streams.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        values.sort_by_key(|(t, _)| *t);
        out.extend_from_slice(b"{\"stream\":{");
        for (j, (k, v)) in set.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, v);
        }
        out.extend_from_slice(b"},\"values\":[");
        for (j, (t, l)) in values.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("[\"{t}\",").as_bytes());
            // The log line is a string: the event's JSON, escaped.
            let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(l));
            out.push(b']');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
}

/// Expands `%Y`, `%m`, `%d`, `%H` in an index pattern with the UTC date of `ns`.
pub fn index_name(pattern: &str, ns: i64) -> String {
    let (y, m, d, h) = crate::time::utc_date_hour(ns);
    pattern
        .replace("%Y", &format!("{y:04}"))
        .replace("%m", &format!("{m:02}"))
        .replace("%d", &format!("{d:02}"))
        .replace("%H", &format!("{h:02}"))
}

/// The `_bulk` body: a `create` action line (index from the event's date, `_id` its `eventID`)
/// and the document, per event; the body ends with a newline as the API requires.
pub fn es_bulk<'a>(
    items: impl Iterator<Item = Item<'a>>,
    index: &str,
    now: i64,
    out: &mut Vec<u8>,
) {
    for (b, e) in items {
        out.extend_from_slice(b"{\"create\":{\"_index\":");
        let _ = serde_json::to_writer(&mut *out, &index_name(index, time_ns(e, now)));
        if e.id.end > e.id.start {
            // The raw JSON string content of eventID is already escaped for JSON.
            out.extend_from_slice(b",\"_id\":\"");
            out.extend_from_slice(&b.aux[e.id.start as usize..e.id.end as usize]);
            out.push(b'"');
        }
        out.extend_from_slice(b"}}\n");
        out.extend_from_slice(line(b, e));
        out.push(b'\n');
    }
}

/// Splunk HEC envelopes: `{"time":<epoch seconds>,"source":…,"sourcetype":…,"index":…,
/// "event":<the event>}`, one after another.
pub fn hec<'a>(
    items: impl Iterator<Item = Item<'a>>,
    source: &str,
    sourcetype: &str,
    index: Option<&str>,
    now: i64,
    out: &mut Vec<u8>,
) {
    let mut meta = Vec::new();
    meta.extend_from_slice(b",\"source\":");
    let _ = serde_json::to_writer(&mut meta, source);
    meta.extend_from_slice(b",\"sourcetype\":");
    let _ = serde_json::to_writer(&mut meta, sourcetype);
    if let Some(i) = index {
        meta.extend_from_slice(b",\"index\":");
        let _ = serde_json::to_writer(&mut meta, i);
    }
    for (b, e) in items {
        let t = time_ns(e, now);
        out.extend_from_slice(
            format!(
                "{{\"time\":{}.{:03}",
                t.div_euclid(1_000_000_000),
                t.rem_euclid(1_000_000_000) / 1_000_000
            )
            .as_bytes(),
        );
        out.extend_from_slice(&meta);
        out.extend_from_slice(b",\"event\":");
        out.extend_from_slice(line(b, e));
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> OutBatch {
        let mut b = OutBatch::default();
        for (i, (doc, region)) in [
            ("{\"a\":1}", "eu"),
            ("{\"b\":\"x\\\"y\"}", "us"),
            ("{\"c\":3}", "eu"),
        ]
        .iter()
        .enumerate()
        {
            let s = b.data.len() as u32;
            b.data.extend_from_slice(doc.as_bytes());
            let line = s..b.data.len() as u32;
            b.data.push(b'\n');
            let id_start = b.aux.len() as u32;
            b.aux.extend_from_slice(format!("id-{i}").as_bytes());
            let id = id_start..b.aux.len() as u32;
            let ls = b.aux.len() as u32;
            b.aux.extend_from_slice(region.as_bytes());
            let labels = b.label_values.len() as u32;
            b.label_values.push(ls..b.aux.len() as u32);
            b.events.push(OutEvent {
                line,
                time_ns: 1_000_000_000 * (3 - i as i64),
                id,
                labels,
            });
        }
        b
    }

    fn items(b: &OutBatch) -> impl Iterator<Item = Item<'_>> {
        b.events.iter().map(move |e| (b, e))
    }

    #[test]
    fn ndjson_segments_share_the_batches_and_equal_the_copied_body() {
        use crate::sink::buffer::Part;
        let a = Arc::new(batch());
        let b = Arc::new(batch());
        // The last two events of one batch, then the first of another.
        let chunk = Chunk {
            parts: vec![
                Part {
                    seq: 0,
                    batch: a.clone(),
                    events: 1..3,
                },
                Part {
                    seq: 1,
                    batch: b.clone(),
                    events: 0..1,
                },
            ],
        };
        let segments = ndjson_segments(&chunk);
        assert_eq!(segments.len(), 2);
        let joined: Vec<u8> = segments.iter().flat_map(|s| s.iter().copied()).collect();
        let mut copied = Vec::new();
        ndjson(chunk.events(), &mut copied);
        assert_eq!(joined, copied);
        assert_eq!(joined, b"{\"b\":\"x\\\"y\"}\n{\"c\":3}\n{\"a\":1}\n");
        assert_eq!(
            segments[0].as_ptr(),
            a.data[8..].as_ptr(),
            "a segment points into its batch"
        );
        drop(chunk);
        assert_eq!(Arc::strong_count(&a), 2, "a segment keeps its batch alive");
        drop(segments);
        assert_eq!(Arc::strong_count(&a), 1);
    }

    #[test]
    fn loki_groups_streams_and_orders_values() {
        let b = batch();
        let mut out = Vec::new();
        loki(
            items(&b),
            &[
                ("job".into(), Label::Static("ct".into())),
                ("region".into(), Label::Slot(0)),
            ],
            0,
            &mut out,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let streams = v["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(
            streams[0]["stream"],
            serde_json::json!({"job": "ct", "region": "eu"})
        );
        assert_eq!(streams[0]["values"][0][0], "1000000000");
        assert_eq!(streams[0]["values"][0][1], "{\"c\":3}");
        assert_eq!(streams[0]["values"][1][0], "3000000000");
    }

    #[test]
    fn bulk_and_hec_shapes() {
        let b = batch();
        let mut out = Vec::new();
        es_bulk(items(&b), "ct-%Y.%m.%d", 0, &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"create":{"_index":"ct-1970.01.01","_id":"id-0"}}"#
        );
        assert_eq!(lines[1], r#"{"a":1}"#);
        assert!(text.ends_with('\n'));
        let mut out = Vec::new();
        hec(
            items(&b),
            "trailwatch",
            "aws:cloudtrail",
            Some("main"),
            0,
            &mut out,
        );
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["time"], 3.0);
        assert_eq!(first["event"]["a"], 1);
        assert_eq!(first["index"], "main");
        assert_eq!(
            index_name("x-%Y-%m-%d-%H", 1_796_083_371_000_000_000),
            "x-2026-12-01-00"
        );
    }
}
