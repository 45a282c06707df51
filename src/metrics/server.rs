//! The metrics endpoint: `/metrics`, `/health` (alive) and `/ready` (filters loaded, not
//! draining), with Prometheus-style aliases `/-/healthy`, `/-/ready` and `/healthz`. Every path
//! answers `HEAD` too (Vector's healthcheck uses it).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use super::exposition::Format;

/// Shared state of the endpoint.
pub struct Endpoint {
    /// What `/metrics` serves.
    pub metrics: Arc<Metrics>,
    /// False until the pipeline runs, and again once shutdown starts.
    pub ready: AtomicBool,
    /// Called before each scrape to refresh gauges read at scrape time.
    pub refresh: Box<dyn Fn() + Send + Sync>,
}

/// Serves `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, endpoint: Arc<Endpoint>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off briefly instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let endpoint = endpoint.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let endpoint = endpoint.clone();
                async move { Ok::<_, Infallible>(respond(&endpoint, &req)) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

fn respond(endpoint: &Endpoint, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use GET or HEAD\n", head);
    }
    match req.uri().path() {
        "/metrics" => {
            (endpoint.refresh)();
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            let body = if head {
                Vec::new()
            } else {
                endpoint.metrics.render(format)
            };
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, format.content_type())
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
        }
        "/health" | "/-/healthy" | "/healthz" | "/livez" => text(StatusCode::OK, "ok\n", head),
        "/ready" | "/-/ready" | "/readyz" => {
            if endpoint.ready.load(Ordering::Acquire) {
                text(StatusCode::OK, "ready\n", head)
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n", head)
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /health or /ready\n",
            head,
        ),
    }
}

/// A plain-text response (empty body for HEAD).
pub fn text(status: StatusCode, body: &'static str, head: bool) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(if head {
            Bytes::new()
        } else {
            Bytes::from_static(body.as_bytes())
        }))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
