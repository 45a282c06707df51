//! HTTP ingest: `POST` (or `PUT`) of events on any path.
//!
//! Bodies may be NDJSON, a JSON array of events, one object, concatenated objects, a
//! CloudTrail `{"Records":[…]}` document, or MessagePack entries (`application/msgpack`, Fluent
//! Bit's `Format msgpack`), compressed with gzip, zstd or deflate. Replies follow
//! what Vector and Fluent Bit expect: 200 with `{"accepted": N, "rejected": M}` once every event
//! was evaluated (and, when forwarding, is held by every sink); 400 (with the
//! reason) for an undecodable body; 401 for a missing or wrong bearer token; 413 for a body over
//! the limit, before or after decompression (logged: shippers drop such a batch; NDJSON and
//! text bodies stream and have no body limit); 415 for an unknown encoding; 503 with
//! `Retry-After` when the pipeline is full. `GET`/`HEAD` on any path is a health check.

use std::convert::Infallible;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::pump::{Counted, Pump};
use super::{Context, constant_time_eq};
use crate::ack::{Ack, AckOutcome, AckReport};
use crate::event::decompress::{
    Coding, DecompressError, decoding, decompress, parse_content_encoding,
};
use crate::event::framing::LineFramer;
use crate::event::framing::frame_body;
use crate::event::{Batch, Framing, SourceKind};
use crate::pipeline::Refused;

const SOURCE: SourceKind = SourceKind::Http;
/// Bodies larger than this are decompressed and framed off the async threads.
const BLOCKING_THRESHOLD: usize = 256 << 10;

/// HTTP ingest settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest body, before and after decompression.
    pub max_body: usize,
    /// Required bearer token.
    pub token: Option<String>,
}

/// How long a request waits for the sinks before answering 503.
const ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `listener` until shutdown; in-flight requests finish first.
pub async fn serve(listener: TcpListener, ctx: Context, settings: Settings) {
    let shared = Arc::new((ctx.clone(), settings));
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = ctx.shutdown.cancelled() => break,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        let stop = ctx.shutdown.clone();
        tracker.spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, &shared.0, &shared.1).await) }
            });
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: &Context,
    settings: &Settings,
) -> Response<Full<Bytes>> {
    let response = match *req.method() {
        Method::GET | Method::HEAD => {
            if ctx.shutdown.is_cancelled() {
                reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
            } else {
                reply(StatusCode::OK, "ok")
            }
        }
        Method::POST | Method::PUT => ingest(req, ctx, settings).await,
        _ => {
            let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "use POST to send events");
            r.headers_mut().insert(
                header::ALLOW,
                header::HeaderValue::from_static("POST, PUT, GET, HEAD"),
            );
            r
        }
    };
    let status = response.status();
    ctx.telemetry
        .http_responses
        .with_label_values(&[status.as_str()])
        .inc();
    if status.is_client_error() {
        tracing::debug!(%peer, status = status.as_u16(), "rejected an HTTP request");
    }
    response
}

async fn ingest(
    req: Request<Incoming>,
    ctx: &Context,
    settings: &Settings,
) -> Response<Full<Bytes>> {
    if let Some(token) = &settings.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            let mut r = reply(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let header_text = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let encoding = header_text(header::CONTENT_ENCODING);
    let content_type = header_text(header::CONTENT_TYPE);
    let codings = match parse_content_encoding(encoding.as_deref().unwrap_or("")) {
        Ok(c) => c,
        Err(e) => return reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, &e),
    };
    if streams(content_type.as_deref(), declared, !codings.is_empty()) {
        return ingest_stream(req.into_body(), codings, ctx).await;
    }
    if let Some(n) = declared.filter(|&n| n > settings.max_body) {
        return too_large(n, settings.max_body);
    }
    let body = match Limited::new(req.into_body(), settings.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large(declared.unwrap_or(settings.max_body + 1), settings.max_body);
        }
        Err(e) => {
            return reply(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            );
        }
    };
    ctx.telemetry.bytes(SOURCE, body.len() as u64);
    let max = settings.max_body;
    let prepared = if body.len() > BLOCKING_THRESHOLD || !codings.is_empty() {
        tokio::task::spawn_blocking(move || prepare(body, &codings, content_type.as_deref(), max))
            .await
            .unwrap_or_else(|e| {
                Err(Prepared::Failed(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string(),
                ))
            })
    } else {
        prepare(body, &codings, content_type.as_deref(), max)
    };
    let mut batch = match prepared {
        Ok(batch) => batch,
        Err(Prepared::Failed(status, message)) => return reply(status, &message),
    };
    // The reply waits for the workers (and, when forwarding, every sink) so that it can say
    // what happened to each event.
    let (ack, acked) = Ack::new();
    batch.ack = Some(ack);
    match ctx.admission.try_send(batch) {
        Ok(()) => reply_when_done(acked).await,
        Err(Refused::Full) => retry_later("the pipeline is full; retry later", "1"),
        Err(Refused::Closed) => reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(Refused::TooLarge) => too_large(max + 1, max),
    }
}

/// Whether a body streams: NDJSON and text bodies that are compressed, or of unknown size or
/// more than `BLOCKING_THRESHOLD` bytes, are decoded and split into batches as they arrive, so
/// no limit applies to their size (each line is held to `--max-event-bytes`, memory to the
/// queue budget) — what shippers at their defaults send (Vector's `http` sink sends NDJSON
/// bodies over 10 MiB). Other shapes (arrays, objects, Records documents, MessagePack) are
/// framed whole, under `--http-max-body`. A streamed body waits for room in the pipeline rather
/// than being answered 503, like any stream source.
fn streams(content_type: Option<&str>, declared: Option<usize>, compressed: bool) -> bool {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let lines = ct.contains("ndjson")
        || ct.contains("jsonl")
        || ct.contains("json-seq")
        || ct.starts_with("text/");
    lines && (compressed || declared.is_none_or(|n| n > BLOCKING_THRESHOLD))
}

/// Streams a body through the pump on a blocking thread: read (waiting for room in the
/// pipeline, so a slow pipeline stops reading the socket), decode, split into lines, batch.
async fn ingest_stream(
    body: Incoming,
    codings: Vec<Coding>,
    ctx: &Context,
) -> Response<Full<Bytes>> {
    let (ack, acked) = Ack::new();
    let stream_ctx = ctx.clone();
    let pumped = tokio::task::spawn_blocking(move || {
        let ctx = stream_ctx;
        let wire = Counted::new(
            BodyReader {
                body,
                runtime: ctx.runtime.clone(),
                pending: Bytes::new(),
            },
            &ctx,
            SOURCE,
        );
        let mut reader: Box<dyn Read + '_> = Box::new(wire);
        for &coding in &codings {
            reader = decoding(reader, coding)?;
        }
        Pump::new(&ctx, SOURCE, LineFramer::new(ctx.max_event_bytes))
            .ack(ack)
            .run_blocking(reader, STREAM_READ)
    })
    .await;
    match pumped {
        Ok(Ok(())) => reply_when_done(acked).await,
        // What was complete before the fault was taken; the shipper retries the whole body.
        Ok(Err(e)) => reply(
            StatusCode::BAD_REQUEST,
            &format!("the body could not be read or decoded: {e}"),
        ),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Bytes a streamed body is read (and decoded) in.
const STREAM_READ: usize = 256 << 10;

/// A request body read on a blocking thread: each read waits on the runtime for the next frame.
struct BodyReader {
    body: Incoming,
    runtime: tokio::runtime::Handle,
    pending: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.runtime.block_on(self.body.frame()) {
                None => return Ok(0),
                Some(Err(e)) => return Err(io::Error::other(e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
        let n = out.len().min(self.pending.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.advance(n);
        Ok(n)
    }
}

/// The reply once every event of a request was dealt with (or not, in time).
async fn reply_when_done(
    acked: tokio::sync::oneshot::Receiver<AckReport>,
) -> Response<Full<Bytes>> {
    match tokio::time::timeout(ACK_TIMEOUT, acked).await {
        Ok(Ok(AckReport {
            outcome: AckOutcome::Delivered,
            accepted,
            rejected,
        })) => reply_json(
            StatusCode::OK,
            &format!("{{\"accepted\":{accepted},\"rejected\":{rejected}}}"),
        ),
        Ok(Ok(AckReport {
            outcome: AckOutcome::Failed,
            ..
        })) => retry_later(
            "a sink dropped the events (its buffer is full and when_full = \"drop_newest\"); retry later",
            "5",
        ),
        // Dropped unprocessed: the pipeline shut down.
        Ok(Err(_)) => reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(_) => retry_later(
            "the events were not processed and taken by the sinks in time; retry later",
            "5",
        ),
    }
}

enum Prepared {
    Failed(StatusCode, String),
}

/// Decompresses and frames a body into one batch (one batch, so admission is all or nothing).
fn prepare(
    body: Bytes,
    codings: &[crate::event::decompress::Coding],
    content_type: Option<&str>,
    max: usize,
) -> Result<Batch, Prepared> {
    let mut data = body;
    for &coding in codings {
        let mut out = Vec::new();
        match decompress(&data, coding, max, &mut out) {
            Ok(()) => data = Bytes::from(out),
            Err(DecompressError::TooLarge(n)) => {
                warn_too_large(n + 1, n);
                return Err(Prepared::Failed(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body decompresses to more than {n} bytes"),
                ));
            }
            Err(e) => return Err(Prepared::Failed(StatusCode::BAD_REQUEST, e.to_string())),
        }
    }
    if content_type.is_some_and(|ct| ct.contains("msgpack")) {
        // Fluent Bit's `http` output with `Format msgpack`: entries back to back.
        let (records, rejected) = crate::event::forward::packed_records(&data);
        if let Some(e) = rejected.first() {
            return Err(Prepared::Failed(
                StatusCode::BAD_REQUEST,
                format!("the body is not MessagePack entries: {e}"),
            ));
        }
        return Ok(Batch {
            source: SOURCE,
            data,
            framing: Framing::Msgpack(records),
            budget: None,
            ack: None,
        });
    }
    let framing = frame_body(&data, content_type)
        .map_err(|e| Prepared::Failed(StatusCode::BAD_REQUEST, e))?;
    Ok(Batch {
        source: SOURCE,
        data,
        framing,
        budget: None,
        ack: None,
    })
}

/// 503 with `Retry-After` (seconds): shippers retry these.
fn retry_later(message: &str, after: &'static str) -> Response<Full<Bytes>> {
    let mut r = reply(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static(after));
    r
}

/// 413, logged: shippers drop a batch answered 413, so the operator must see it.
fn too_large(size: usize, max: usize) -> Response<Full<Bytes>> {
    warn_too_large(size, max);
    reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body ({size} bytes or more) exceeds {max} bytes (--http-max-body)"),
    )
}

fn warn_too_large(size: usize, max: usize) {
    tracing::warn!(
        size,
        limit = max,
        "refused an HTTP body over --http-max-body; the shipper drops it (raise the limit or lower the shipper's batch size)"
    );
}

fn reply(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    let body = if status.is_success() {
        format!("{{\"status\":\"{message}\"}}")
    } else {
        body
    };
    reply_json(status, &body)
}

fn reply_json(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
