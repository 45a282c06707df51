//! TCP: newline-delimited JSON or MessagePack entries from many concurrent connections (Vector's
//! `socket` sink, Fluent Bit's `tcp` output with `Format json_lines` or `msgpack`).
//!
//! Each connection is read into a buffer and every complete line handed on as a batch; a full
//! pipeline makes the read wait, which is TCP backpressure. A line over the limit is dropped and
//! counted, and the connection goes on. The first byte tells the formats apart: a MessagePack
//! map or array is never the start of a JSON line. Idle connections are closed after
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
use crate::event::SourceKind;
use crate::event::entries::EntryFramer;
use crate::event::framing::{Frame, Framer, LineFramer};

const SOURCE: SourceKind = SourceKind::Tcp;
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 4096;
/// A connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const READ_CHUNK: usize = 64 << 10;

/// Accepts connections on `listener` until shutdown; returns when every connection is done.
pub async fn serve(listener: TcpListener, ctx: Context) {
    serve_connections(listener, ctx, |stream, peer, ctx| async move {
        connection(stream, peer, &ctx).await;
    })
    .await;
}

/// The accept loop every TCP-based source shares: at most `MAX_CONNECTIONS` served at once,
/// each by `connection` on its own task, counted in the connection metrics; returns at shutdown
/// once every connection has finished.
pub(super) async fn serve_connections<F, Fut>(listener: TcpListener, ctx: Context, connection: F)
where
    F: Fn(TcpStream, SocketAddr, Context) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
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
                let telemetry = ctx.telemetry.clone();
                let served = connection(stream, peer, ctx.clone());
                tracker.spawn(async move {
                    telemetry.tcp_connections_total.inc();
                    telemetry.tcp_connections.inc();
                    served.await;
                    telemetry.tcp_connections.dec();
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
    let framer = SniffedFormat {
        max_event_bytes: ctx.max_event_bytes,
        format: None,
    };
    Pump::new(ctx, SOURCE, framer)
        .origin(peer.to_string())
        .run_async(stream, READ_CHUNK, IDLE_TIMEOUT)
        .await;
}

/// Newline-delimited JSON or MessagePack entries, told apart by the connection's first byte.
struct SniffedFormat {
    max_event_bytes: usize,
    format: Option<Format>,
}

enum Format {
    Lines(LineFramer),
    Entries(EntryFramer),
}

impl Framer for SniffedFormat {
    fn next(&mut self, buf: &mut BytesMut, eof: bool) -> Frame {
        let format = match &mut self.format {
            Some(f) => f,
            None => {
                let Some(&first) = buf.first() else {
                    return if eof { Frame::Done } else { Frame::NeedMore };
                };
                self.format.insert(if looks_like_msgpack(first) {
                    Format::Entries(EntryFramer::new(self.max_event_bytes))
                } else {
                    Format::Lines(LineFramer::new(self.max_event_bytes))
                })
            }
        };
        match format {
            Format::Lines(f) => f.next(buf, eof),
            Format::Entries(f) => f.next(buf, eof),
        }
    }
}

/// MessagePack maps and arrays (what Fluent Bit's entries start with) begin with these bytes;
/// JSON text never does.
fn looks_like_msgpack(first: u8) -> bool {
    (0x80..=0x9f).contains(&first) || (0xdc..=0xdf).contains(&first)
}
