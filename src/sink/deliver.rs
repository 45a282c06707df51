//! A sink's delivery task: take request-sized chunks from the buffer, send them with up to
//! `concurrency` requests in flight, retry what can be retried (exponential backoff with full
//! jitter, `Retry-After` honoured, forever: a long outage fills the buffer, which then blocks or
//! drops as configured), dead-letter what the destination rejects, and tell the buffer what is
//! done. Elasticsearch `_bulk` answers per item: only the failed items are retried.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::task::JoinSet;

use super::Sink;
use super::buffer::Chunk;
use super::encode::{self, Item};
use super::spec::{HttpFormat, SinkKind};
use super::transport::Sent;
use crate::dead_letter::Rejected;
use crate::event::SourceKind;

/// Runs until the buffer is closed and empty, or `stop` is cancelled.
pub async fn run(sink: Arc<Sink>) {
    let mut inflight: JoinSet<Chunk> = JoinSet::new();
    let mut open = true;
    let batch = sink.spec.batch.clone();
    loop {
        sink.update_gauges();
        if open && inflight.len() < sink.spec.concurrency {
            tokio::select! {
                chunk = sink.buffer.take(batch.max_events, batch.max_bytes, batch.timeout) => match chunk {
                    Some(c) => {
                        let s = sink.clone();
                        inflight.spawn(async move { s.deliver(c).await });
                    }
                    None => open = false,
                },
                Some(done) = inflight.join_next(), if !inflight.is_empty() => finish(&sink, done),
                () = sink.stop.cancelled() => break,
            }
        } else {
            tokio::select! {
                done = inflight.join_next() => match done {
                    Some(done) => finish(&sink, done),
                    None => break,
                },
                () = sink.stop.cancelled() => break,
            }
        }
    }
    inflight.abort_all();
    sink.update_gauges();
}

fn finish(sink: &Sink, done: Result<Chunk, tokio::task::JoinError>) {
    match done {
        Ok(chunk) => sink.buffer.done(chunk, |batch| sink.pool.put(batch)),
        // A panicking request task is a bug; its events stay unacknowledged (a disk buffer
        // resends them after a restart).
        Err(e) => tracing::error!(sink = %sink.spec.name, error = %e, "a delivery task failed"),
    }
}

fn now_ns() -> i64 {
    i64::try_from(crate::time::unix_nanos(SystemTime::now())).unwrap_or(0)
}

/// A small xorshift for jitter (no need for cryptographic randomness).
fn jitter(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

impl Sink {
    fn count(&self, outcome: &str, n: usize) {
        if n > 0 {
            self.telemetry
                .sink_events
                .with_label_values(&[&self.spec.name, outcome])
                .inc_by(n as u64);
        }
    }

    /// Delivers every event of `chunk` (or dead-letters it), retrying as long as it takes.
    async fn deliver(&self, chunk: Chunk) -> Chunk {
        let mut pending: Vec<Item<'_>> = chunk.events().collect();
        let mut attempt: u32 = 0;
        let mut seed = now_ns() as u64 | 1;
        while !pending.is_empty() {
            let (body, content_type) = self.encode(&chunk, &pending);
            let started = Instant::now();
            let sent = self.transport.send(body, content_type, &self.spec).await;
            self.telemetry
                .sink_request_seconds
                .with_label_values(&[&self.spec.name])
                .observe(started.elapsed().as_secs_f64());
            let (retry, delay, why) = match sent {
                Sent::Delivered(response) => match &self.spec.kind {
                    SinkKind::Elasticsearch { .. } => {
                        let (retry, rejected) = bulk_items(&response, pending.len());
                        let (mut keep, mut ok, mut bad) = (Vec::new(), 0, 0);
                        for (i, item) in pending.iter().enumerate() {
                            if retry.contains(&i) {
                                keep.push(*item);
                            } else if let Some((_, why)) = rejected.iter().find(|(j, _)| *j == i) {
                                self.reject(item, why);
                                bad += 1;
                            } else {
                                ok += 1;
                            }
                        }
                        self.count("sent", ok);
                        debug_assert_eq!(ok + bad + keep.len(), pending.len());
                        pending = keep;
                        (true, None, "some bulk items failed".to_owned())
                    }
                    _ => {
                        self.count("sent", pending.len());
                        pending.clear();
                        (false, None, String::new())
                    }
                },
                Sent::Retry(after, why) => (true, after, why),
                Sent::Rejected(why) => {
                    for item in &pending {
                        self.reject(item, &why);
                    }
                    pending.clear();
                    (false, None, why)
                }
            };
            if !retry || pending.is_empty() {
                break;
            }
            self.count("retried", pending.len());
            let backoff =
                self.spec.retry.initial_backoff.as_secs_f64() * 2f64.powi(attempt.min(20) as i32);
            let cap = self.spec.retry.max_backoff.as_secs_f64();
            let wait = delay
                .unwrap_or_else(|| Duration::from_secs_f64(backoff.min(cap) * jitter(&mut seed)));
            self.telemetry.warn_rate_limited(|| {
                tracing::warn!(sink = %self.spec.name, error = %why, retry_in = ?wait, events = pending.len(), "delivery failed; retrying (logged at most every 10s)");
            });
            attempt = attempt.saturating_add(1);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => break,
            }
        }
        drop(pending);
        chunk
    }

    /// The request body for `items` (which are `chunk`'s events, or those of them still to
    /// send), as segments.
    fn encode(&self, chunk: &Chunk, items: &[Item<'_>]) -> (Vec<Bytes>, &'static str) {
        let ndjson = matches!(
            self.spec.kind,
            SinkKind::Stdout
                | SinkKind::File(_)
                | SinkKind::Tcp(_)
                | SinkKind::Http {
                    format: HttpFormat::Ndjson,
                    ..
                }
        );
        if ndjson && items.len() == chunk.len() {
            return (encode::ndjson_segments(chunk), "application/x-ndjson");
        }
        let bytes: usize = items.iter().map(|(_, e)| e.line.len() + 64).sum();
        let mut body = Vec::with_capacity(bytes + 64);
        let it = items.iter().copied();
        let content_type = match &self.spec.kind {
            SinkKind::Stdout
            | SinkKind::File(_)
            | SinkKind::Tcp(_)
            | SinkKind::Http {
                format: HttpFormat::Ndjson,
                ..
            } => {
                encode::ndjson(it, &mut body);
                "application/x-ndjson"
            }
            SinkKind::Http {
                format: HttpFormat::JsonArray,
                ..
            } => {
                encode::json_array(it, &mut body);
                "application/json"
            }
            SinkKind::Loki { .. } => {
                encode::loki(it, &self.loki_labels, now_ns(), &mut body);
                "application/json"
            }
            SinkKind::Elasticsearch { index, .. } => {
                encode::es_bulk(it, index, now_ns(), &mut body);
                "application/x-ndjson"
            }
            SinkKind::SplunkHec {
                index,
                sourcetype,
                source,
                ..
            } => {
                encode::hec(
                    it,
                    source,
                    sourcetype,
                    index.as_deref(),
                    now_ns(),
                    &mut body,
                );
                "application/json"
            }
        };
        (vec![Bytes::from(body)], content_type)
    }

    /// An event the destination will not take: to the dead-letter file, with the response.
    fn reject(&self, (b, e): &Item<'_>, why: &str) {
        let line = &b.data[e.line.start as usize..e.line.end as usize];
        match &self.dead_letter {
            Some(dl) => {
                dl.send(Rejected {
                    source: SourceKind::Http,
                    reason: "sink_rejected",
                    sink: Some(self.spec.name.clone()),
                    detail: why.to_owned(),
                    event: line.to_vec(),
                });
                self.count("dead_lettered", 1);
            }
            None => {
                self.count("failed", 1);
                self.telemetry.warn_rate_limited(|| {
                    tracing::error!(sink = %self.spec.name, error = why, "the destination rejected events and no --dead-letter file is set: they are lost");
                });
            }
        }
    }
}

/// Reads a `_bulk` response: the items to retry (429, 5xx) and the items rejected for good
/// (other errors; a 409 on `create` means the document is already there, which is success).
fn bulk_items(response: &[u8], n: usize) -> (Vec<usize>, Vec<(usize, String)>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(response) else {
        return (Vec::new(), Vec::new());
    };
    if v["errors"] != serde_json::Value::Bool(true) {
        return (Vec::new(), Vec::new());
    }
    let mut retry = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .take(n)
    {
        let Some(result) = item.as_object().and_then(|o| o.values().next()) else {
            continue;
        };
        let status = result["status"].as_u64().unwrap_or(0);
        match status {
            200..=299 | 409 => {}
            429 | 500..=599 => retry.push(i),
            _ => rejected.push((i, format!("bulk item status {status}: {}", result["error"]))),
        }
    }
    (retry, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_responses() {
        let r = br#"{"took":3,"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409}},{"create":{"status":429}},{"create":{"status":400,"error":{"type":"mapper_parsing_exception"}}}]}"#;
        let (retry, rejected) = bulk_items(r, 4);
        assert_eq!(retry, [2]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, 3);
        assert!(rejected[0].1.contains("mapper_parsing_exception"));
        assert_eq!(
            bulk_items(br#"{"errors":false,"items":[]}"#, 0),
            (vec![], vec![])
        );
    }
}
