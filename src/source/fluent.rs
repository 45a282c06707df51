//! The Forward protocol server (`--fluent`): what Fluent Bit's and Fluentd's `forward` output
//! send, in all four modes, with the shared-key handshake when a key is configured.
//!
//! A connection is read into a buffer; each whole message (found by a resumable MessagePack
//! scan, so a large one is never rescanned) becomes one batch of its records: a slice of the
//! message itself, of its packed entries, or of their inflated bytes. A message with the
//! `chunk` option is acknowledged with `{"ack": chunk}` only once its events were evaluated and,
//! when forwarding, are held by every sink; if that does not happen within the ack timeout (the
//! pipeline is full, or a sink dropped them) the connection is closed without an ack, which makes
//! the client send the chunk again: at-least-once, never an ack for lost events. Messages
//! without `chunk` get TCP backpressure, as on `--tcp`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

use super::tcp::{IDLE_TIMEOUT, serve_connections};
use super::{Context, constant_time_eq};
use crate::ack::{Ack, AckOutcome};
use crate::config::FluentSettings;
use crate::event::decompress::{Coding, decompress};
use crate::event::forward::{self, Entries, Events, Message, Ping};
use crate::event::msgpack::{MsgpackError, Scan, ValueScan};
use crate::event::{Batch, Framing, RejectReason, SourceKind};

const SOURCE: SourceKind = SourceKind::Fluent;
const READ_CHUNK: usize = 64 << 10;
/// Compressed chunks larger than this are inflated off the async threads.
const BLOCKING_INFLATE: usize = 64 << 10;

/// Forward server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Handshake and acknowledgements, as configured.
    pub fluent: FluentSettings,
    /// Largest message (and inflated chunk) accepted.
    pub max_message: usize,
}

/// Serves `listener` until shutdown; returns when every connection is done.
pub async fn serve(listener: TcpListener, ctx: Context, settings: Settings) {
    let settings = Arc::new(settings);
    serve_connections(listener, ctx, move |stream, peer, ctx| {
        let settings = settings.clone();
        async move {
            if let Err(reason) = connection(stream, peer, &ctx, &settings).await {
                tracing::warn!(%peer, %reason, "closing a Forward protocol connection");
            }
        }
    })
    .await;
}

/// One connection's state.
struct Conn<'a> {
    ctx: &'a Context,
    settings: &'a Settings,
    peer: SocketAddr,
    writer: OwnedWriteHalf,
    /// The handshake's nonce, until the client has passed it.
    nonce: Option<[u8; 16]>,
}

/// Serves one connection; `Err` says why it was closed early.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &Context,
    settings: &Settings,
) -> Result<(), String> {
    let (mut reader, writer) = stream.into_split();
    let mut conn = Conn {
        ctx,
        settings,
        peer,
        writer,
        nonce: None,
    };
    if settings.fluent.shared_key.is_some() {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for the handshake: {e}"))?;
        conn.write(&forward::helo(&nonce)).await?;
        conn.nonce = Some(nonce);
    }
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut scan = ValueScan::default();
    let mut scanned = 0;
    loop {
        match scan.advance(&buf[scanned..]) {
            Ok(Scan::Ended(n)) => {
                let msg = buf.split_to(scanned + n).freeze();
                scanned = 0;
                scan = ValueScan::default();
                conn.message(msg).await?;
                continue;
            }
            Ok(Scan::Partial(n)) => scanned += n,
            Err(e) => return Err(conn.invalid(&buf, &e)),
        }
        if buf.len() > settings.max_message {
            let detail = format!(
                "a Forward message over {} bytes (the limit, --http-max-body); the connection is closed",
                settings.max_message
            );
            ctx.reject(SOURCE, RejectReason::Oversize, detail.clone(), &buf);
            return Err(detail);
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            r = tokio::time::timeout(IDLE_TIMEOUT, reader.read_buf(&mut buf)) => r,
            () = ctx.shutdown.cancelled() => return Ok(()),
        };
        match read {
            Ok(Ok(0)) => {
                if !buf.is_empty() {
                    tracing::debug!(%peer, bytes = buf.len(), "a Forward connection closed inside a message");
                }
                return Ok(());
            }
            Ok(Ok(n)) => ctx.telemetry.bytes(SOURCE, n as u64),
            Ok(Err(e)) => return Err(format!("read failed: {e}")),
            Err(_) => return Ok(()),
        }
    }
}

impl Conn<'_> {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Counts a stream that stopped being MessagePack; the connection cannot go on.
    fn invalid(&self, buf: &[u8], e: &MsgpackError) -> String {
        let detail = format!("{}: not a Forward protocol stream: {e}", self.peer);
        self.ctx
            .reject(SOURCE, RejectReason::InvalidMsgpack, detail.clone(), buf);
        detail
    }

    async fn message(&mut self, msg: Bytes) -> Result<(), String> {
        let decoded = forward::decode(&msg);
        if let Some(nonce) = self.nonce {
            return match decoded {
                Ok(Message::Ping(ping)) => self.handshake(&msg, &ping, &nonce).await,
                _ => Err("expected PING: this server requires the shared-key handshake (Fluent Bit: set Shared_Key)".into()),
            };
        }
        match decoded {
            Ok(Message::Events(events)) => self.events(msg, events).await,
            Ok(Message::Ping(_)) => {
                Err("PING without a handshake: no shared key is configured here".into())
            }
            Err(e) => {
                let detail = format!("{}: {e}", self.peer);
                tracing::warn!(source = SOURCE.as_str(), %detail, "input rejected");
                self.ctx
                    .reject(SOURCE, RejectReason::InvalidMsgpack, detail, &msg);
                Ok(())
            }
        }
    }

    async fn handshake(&mut self, msg: &[u8], ping: &Ping, nonce: &[u8]) -> Result<(), String> {
        let key = self
            .settings
            .fluent
            .shared_key
            .as_deref()
            .unwrap_or("")
            .as_bytes();
        let salt = &msg[ping.salt.clone()];
        let expected = forward::shared_key_digest(salt, &msg[ping.hostname.clone()], nonce, key);
        if !constant_time_eq(expected.as_bytes(), &msg[ping.digest.clone()]) {
            self.write(&forward::pong(false, "shared_key mismatch", "", ""))
                .await?;
            return Err("the client's shared key does not match".into());
        }
        let host = &self.settings.fluent.self_hostname;
        let digest = forward::shared_key_digest(salt, host.as_bytes(), nonce, key);
        self.write(&forward::pong(true, "", host, &digest)).await?;
        self.nonce = None;
        Ok(())
    }

    async fn events(&mut self, msg: Bytes, events: Events) -> Result<(), String> {
        let Events {
            entries,
            rejected,
            chunk,
        } = events;
        let chunk = chunk.map(|r| msg.slice(r));
        let (data, records, more_rejected) = match entries {
            Entries::Records(records) => (msg, records, Vec::new()),
            Entries::Packed(range) => {
                let payload = msg.slice(range);
                let (records, rejected) = forward::packed_records(&payload);
                (payload, records, rejected)
            }
            Entries::Compressed(range) => {
                let payload = msg.slice(range);
                match self.inflate(payload).await {
                    Ok(inflated) => {
                        let (records, rejected) = forward::packed_records(&inflated);
                        (inflated, records, rejected)
                    }
                    Err(detail) => {
                        self.ctx.reject(
                            SOURCE,
                            RejectReason::InvalidCompression,
                            format!("{}: {detail}", self.peer),
                            &msg,
                        );
                        // Acknowledged: retrying a chunk that cannot be decoded never helps.
                        return self.acknowledge(chunk).await;
                    }
                }
            }
        };
        for e in rejected.iter().chain(&more_rejected) {
            let detail = format!("{}: {e}", self.peer);
            self.ctx
                .reject(SOURCE, RejectReason::InvalidMsgpack, detail, &[]);
        }
        if records.is_empty() {
            return self.acknowledge(chunk).await;
        }
        let mut batch = Batch {
            source: SOURCE,
            data,
            framing: Framing::Msgpack(records),
            budget: None,
            ack: None,
        };
        let Some(chunk) = chunk else {
            // No acknowledgement asked for: wait for room, like any stream.
            return self
                .ctx
                .admission
                .send(batch)
                .await
                .map_err(|_| "the pipeline is shutting down".to_owned());
        };
        let deadline = Instant::now() + self.settings.fluent.ack_timeout;
        let (ack, acked) = Ack::new();
        batch.ack = Some(ack);
        let admitted = tokio::time::timeout(
            self.settings.fluent.ack_timeout,
            self.ctx.admission.send(batch),
        )
        .await;
        if !matches!(admitted, Ok(Ok(()))) {
            return Err(format!(
                "a chunk was not admitted within {:?} (the pipeline is full or shutting down); not acknowledged, the client will retry",
                self.settings.fluent.ack_timeout
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, acked).await {
            Ok(Ok(report)) if report.outcome == AckOutcome::Delivered => {
                self.acknowledge(Some(chunk)).await
            }
            Ok(Ok(_)) => Err(
                "a sink dropped a chunk's events; not acknowledged, the client will retry".into(),
            ),
            Ok(Err(_)) => {
                Err("the pipeline shut down before a chunk was processed; not acknowledged".into())
            }
            Err(_) => Err(format!(
                "a chunk was not processed and taken by the sinks within {:?}; not acknowledged, the client will retry",
                self.settings.fluent.ack_timeout
            )),
        }
    }

    async fn acknowledge(&mut self, chunk: Option<Bytes>) -> Result<(), String> {
        match chunk {
            Some(c) => self.write(&forward::ack(&c)).await,
            None => Ok(()),
        }
    }

    /// Inflates a CompressedPackedForward payload (gzip, possibly several members).
    async fn inflate(&self, payload: Bytes) -> Result<Bytes, String> {
        let max = self.settings.max_message;
        let large = payload.len() > BLOCKING_INFLATE;
        let run = move || {
            let mut out = Vec::new();
            decompress(&payload, Coding::Gzip, max, &mut out)
                .map(|()| Bytes::from(out))
                .map_err(|e| e.to_string())
        };
        if large {
            tokio::task::spawn_blocking(run)
                .await
                .map_err(|e| e.to_string())?
        } else {
            run()
        }
    }
}
