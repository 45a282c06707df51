//! TCP: newline-delimited JSON from many concurrent connections (Vector's `socket` sink, Fluent
//! Bit's `tcp` output with `format json_lines`).
//!
//! Each connection is read into a buffer and every complete line handed on as a batch; a full
//! pipeline makes the read wait, which is TCP backpressure. A line over the limit is dropped and
//! counted, and the connection goes on. A connection that sends MessagePack (Fluent Bit's
//! default TCP format) is told so in the log and closed. Idle connections are closed after
//! `IDLE_TIMEOUT`; shutdown stops reading and keeps what was complete.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::Context;
use crate::event::framing::LineFramer;
use crate::event::{Batch, RejectReason, SourceKind};

const SOURCE: SourceKind = SourceKind::Tcp;
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 4096;
/// A connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const READ_CHUNK: usize = 64 << 10;

/// Accepts connections on `listener` until shutdown; returns when every connection is done.
pub async fn serve(listener: TcpListener, ctx: Context) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let tracker = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = ctx.shutdown.cancelled() => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = ctx.shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ctx = ctx.clone();
                tracker.spawn(async move {
                    ctx.telemetry.tcp_connections_total.inc();
                    ctx.telemetry.tcp_connections.inc();
                    connection(stream, peer, &ctx).await;
                    ctx.telemetry.tcp_connections.dec();
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a TCP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, ctx: &Context) {
    let mut framer = LineFramer::new(ctx.max_event_bytes);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut first = true;
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            r = tokio::time::timeout(IDLE_TIMEOUT, stream.read_buf(&mut buf)) => r,
            () = ctx.shutdown.cancelled() => break,
        };
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TCP connection failed");
                break;
            }
            Err(_) => {
                tracing::debug!(%peer, "closing idle TCP connection");
                break;
            }
        };
        ctx.telemetry.bytes(SOURCE, n as u64);
        if first && n > 0 {
            first = false;
            if looks_like_msgpack(buf[0]) {
                tracing::error!(%peer, "this connection sends MessagePack, not JSON lines: set `format json_lines` in Fluent Bit's tcp output");
                ctx.reject(
                    SOURCE,
                    RejectReason::Msgpack,
                    format!("MessagePack from {peer}; expected newline-delimited JSON"),
                    &buf,
                );
                return;
            }
        }
        let taken = framer.take(&mut buf);
        if let Some(sample) = taken.oversize {
            ctx.oversize(SOURCE, sample);
        }
        if let Some(lines) = taken.lines {
            if ctx
                .admission
                .send(Batch::lines(SOURCE, lines))
                .await
                .is_err()
            {
                return;
            }
        }
        if n == 0 {
            // The peer closed: a last line without a newline is still an event.
            if let Some(last) = framer.finish(&mut buf) {
                let _ = ctx.admission.send(Batch::lines(SOURCE, last)).await;
            }
            return;
        }
    }
    // Shutdown or error: complete lines were handed on; a partial line is not an event yet.
    let taken = framer.take(&mut buf);
    if let Some(lines) = taken.lines {
        let _ = ctx.admission.send(Batch::lines(SOURCE, lines)).await;
    }
}

/// MessagePack maps and arrays (what Fluent Bit's forward/msgpack formats start with) begin with
/// these bytes; JSON text never does.
fn looks_like_msgpack(first: u8) -> bool {
    (0x80..=0x9f).contains(&first) || (0xdc..=0xdf).contains(&first)
}
