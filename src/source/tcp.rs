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
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::Context;
use super::pump::Pump;
use crate::event::framing::{Frame, Framer, LineFramer};
use crate::event::{RejectReason, SourceKind};

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

async fn connection(stream: TcpStream, peer: SocketAddr, ctx: &Context) {
    let framer = SniffedLines {
        sniffed: false,
        refused: false,
        lines: LineFramer::new(ctx.max_event_bytes),
    };
    Pump::new(ctx, SOURCE, framer)
        .origin(peer.to_string())
        .run_async(stream, READ_CHUNK, IDLE_TIMEOUT)
        .await;
}

/// Newline-delimited JSON, after checking that the stream is not MessagePack (Fluent Bit's
/// default TCP format), which is refused whole with a message saying how to fix the shipper.
struct SniffedLines {
    sniffed: bool,
    /// The stream was refused: end it (the connection is closed).
    refused: bool,
    lines: LineFramer,
}

impl Framer for SniffedLines {
    fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Frame {
        if self.refused {
            buf.clear();
            return Frame::Done;
        }
        if !self.sniffed {
            let Some(&first) = buf.first() else {
                return if eof { Frame::Done } else { Frame::NeedMore };
            };
            self.sniffed = true;
            if looks_like_msgpack(first) {
                let sample = buf.split_to(buf.len().min(4096)).freeze();
                buf.clear();
                self.refused = true;
                return Frame::Reject {
                    reason: RejectReason::Msgpack,
                    detail: "MessagePack, expected newline-delimited JSON: set `format json_lines` in Fluent Bit's tcp output".into(),
                    sample,
                };
            }
        }
        self.lines.next(buf, eof)
    }
}

/// MessagePack maps and arrays (what Fluent Bit's forward/msgpack formats start with) begin with
/// these bytes; JSON text never does.
fn looks_like_msgpack(first: u8) -> bool {
    (0x80..=0x9f).contains(&first) || (0xdc..=0xdf).contains(&first)
}
