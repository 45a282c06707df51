//! Getting a request body to its destination, and classifying the answer: delivered, worth
//! retrying (connection errors, timeouts, 408, 429, 5xx except 501 — honouring `Retry-After`),
//! or rejected for good (other 4xx, which go to the dead-letter file with the response).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::spec::{Auth, SinkKind, SinkSpec};

/// What happened to a request.
#[derive(Debug)]
pub enum Sent {
    /// Delivered; the response body (for APIs that report per-item results).
    Delivered(Vec<u8>),
    /// Try again, after `Retry-After` when the server gave one.
    Retry(Option<Duration>, String),
    /// Rejected; do not retry.
    Rejected(String),
}

/// Why a destination cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The output file cannot be opened for appending.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The CA bundle cannot be read.
    #[error("{}: {source}", path.display())]
    CaFile {
        /// The bundle.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The CA bundle holds no valid PEM certificates.
    #[error("{}: {source}", path.display())]
    Certificates {
        /// The bundle.
        path: std::path::PathBuf,
        /// The failure.
        source: reqwest::Error,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// A destination's connection.
pub enum Transport {
    /// stdout.
    Stdout,
    /// An append-only file.
    File(Mutex<std::fs::File>),
    /// A TCP connection, reopened after errors.
    Tcp {
        /// HOST:PORT.
        addr: String,
        /// The open connection, if any.
        conn: tokio::sync::Mutex<Option<TcpStream>>,
    },
    /// An HTTP client for one URL.
    Http {
        /// The client (connection pool, TLS).
        client: reqwest::Client,
        /// The request URL.
        url: String,
    },
}

impl Transport {
    /// Opens what the sink needs (files are created; network connections open lazily).
    pub fn open(spec: &SinkSpec) -> Result<Transport, OpenError> {
        Ok(match &spec.kind {
            SinkKind::Stdout => Transport::Stdout,
            SinkKind::File(path) => Transport::File(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| OpenError::File {
                        path: path.clone(),
                        source,
                    })?,
            )),
            SinkKind::Tcp(addr) => Transport::Tcp {
                addr: addr.clone(),
                conn: tokio::sync::Mutex::new(None),
            },
            SinkKind::Http { url, .. }
            | SinkKind::Loki { url, .. }
            | SinkKind::Elasticsearch { url, .. }
            | SinkKind::SplunkHec { url, .. } => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let mut b = reqwest::Client::builder()
                    .timeout(spec.request_timeout)
                    .connect_timeout(Duration::from_secs(10))
                    .pool_max_idle_per_host(spec.concurrency)
                    .user_agent(concat!("trailwatch/", env!("CARGO_PKG_VERSION")));
                if let Some(ca) = &spec.ca_file {
                    let pem = std::fs::read(ca).map_err(|source| OpenError::CaFile {
                        path: ca.clone(),
                        source,
                    })?;
                    for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                        OpenError::Certificates {
                            path: ca.clone(),
                            source,
                        }
                    })? {
                        b = b.add_root_certificate(cert);
                    }
                }
                if spec.insecure_skip_verify {
                    b = b.danger_accept_invalid_certs(true);
                }
                Transport::Http {
                    client: b.build().map_err(OpenError::Client)?,
                    url: url.clone(),
                }
            }
        })
    }

    /// Sends one body, given as segments (written in order, never copied together).
    pub async fn send(&self, body: Vec<Bytes>, content_type: &str, spec: &SinkSpec) -> Sent {
        match self {
            // Blocking writes: a slow disk or a stdout nobody reads must not stall the runtime.
            Transport::Stdout => crate::blocking::in_place(|| {
                let mut out = std::io::stdout().lock();
                match write_segments(&mut out, &body).and_then(|()| out.flush()) {
                    Ok(()) => Sent::Delivered(Vec::new()),
                    Err(e) => Sent::Retry(None, format!("stdout: {e}")),
                }
            }),
            Transport::File(f) => crate::blocking::in_place(|| {
                let Ok(mut f) = f.lock() else {
                    return Sent::Retry(None, "file lock poisoned".into());
                };
                match write_segments(&mut *f, &body).and_then(|()| f.flush()) {
                    Ok(()) => Sent::Delivered(Vec::new()),
                    Err(e) => Sent::Retry(None, format!("file: {e}")),
                }
            }),
            Transport::Tcp { addr, conn } => {
                let mut guard = conn.lock().await;
                if guard.is_none() {
                    match tokio::time::timeout(
                        Duration::from_secs(10),
                        TcpStream::connect(addr.as_str()),
                    )
                    .await
                    {
                        Ok(Ok(s)) => *guard = Some(s),
                        Ok(Err(e)) => return Sent::Retry(None, format!("connect {addr}: {e}")),
                        Err(_) => return Sent::Retry(None, format!("connect {addr}: timed out")),
                    }
                }
                let Some(stream) = guard.as_mut() else {
                    return Sent::Retry(None, "no connection".into());
                };
                let write = async {
                    for segment in &body {
                        stream.write_all(segment).await?;
                    }
                    Ok::<(), std::io::Error>(())
                };
                match tokio::time::timeout(spec.request_timeout, write).await {
                    Ok(Ok(())) => Sent::Delivered(Vec::new()),
                    Ok(Err(e)) => {
                        *guard = None;
                        Sent::Retry(None, format!("write to {addr}: {e}"))
                    }
                    Err(_) => {
                        *guard = None;
                        Sent::Retry(None, format!("write to {addr}: timed out"))
                    }
                }
            }
            Transport::Http { client, url } => {
                let mut req = client.post(url).header("Content-Type", content_type);
                let body = if spec.gzip {
                    req = req.header("Content-Encoding", "gzip");
                    reqwest::Body::from(gzip(&body))
                } else {
                    segments_body(body)
                };
                match &spec.auth {
                    Some(Auth::Bearer(t)) => req = req.bearer_auth(t),
                    Some(Auth::Basic(u, p)) => req = req.basic_auth(u, Some(p)),
                    None => {}
                }
                for (k, v) in &spec.headers {
                    req = req.header(k, v);
                }
                let resp = match req.body(body).send().await {
                    Ok(r) => r,
                    Err(e) => return Sent::Retry(None, format!("POST {url}: {e}")),
                };
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                classify(status, retry_after, body)
            }
        }
    }
}

/// Vector's default retry rule, which Fluent Bit, Loki, Elasticsearch and Splunk also fit.
pub fn classify(status: u16, retry_after: Option<Duration>, body: Vec<u8>) -> Sent {
    let snippet = || String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    match status {
        200..=299 => Sent::Delivered(body),
        408 | 429 => Sent::Retry(retry_after, format!("HTTP {status}: {}", snippet())),
        501 => Sent::Rejected(format!("HTTP 501: {}", snippet())),
        500..=599 => Sent::Retry(retry_after, format!("HTTP {status}: {}", snippet())),
        _ => Sent::Rejected(format!("HTTP {status}: {}", snippet())),
    }
}

fn write_segments(out: &mut impl Write, body: &[Bytes]) -> std::io::Result<()> {
    body.iter().try_for_each(|segment| out.write_all(segment))
}

fn gzip(body: &[Bytes]) -> Vec<u8> {
    let len: usize = body.iter().map(Bytes::len).sum();
    let mut e =
        flate2::write::GzEncoder::new(Vec::with_capacity(len / 4), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = write_segments(&mut e, body);
    e.finish().unwrap_or_default()
}

/// A request body from segments: one `Bytes` as is, several as a body of known length (so the
/// request still carries `Content-Length`, which some receivers require).
fn segments_body(mut body: Vec<Bytes>) -> reqwest::Body {
    if body.len() == 1 {
        if let Some(one) = body.pop() {
            return reqwest::Body::from(one);
        }
    }
    let remaining = body.iter().map(|b| b.len() as u64).sum();
    reqwest::Body::wrap(Segments {
        parts: body.into(),
        remaining,
    })
}

/// See [`segments_body`].
struct Segments {
    parts: std::collections::VecDeque<Bytes>,
    remaining: u64,
}

impl http_body::Body for Segments {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.parts.pop_front();
        if let Some(b) = &next {
            self.remaining -= b.len() as u64;
        }
        std::task::Poll::Ready(next.map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    #[test]
    fn a_segmented_body_has_an_exact_length_and_its_bytes_in_order() {
        let body = segments_body(vec![
            Bytes::from_static(b"ab\n"),
            Bytes::from_static(b"c\n"),
        ]);
        assert_eq!(
            body.size_hint().exact(),
            Some(5),
            "so it is sent with Content-Length"
        );
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(http_body_util::BodyExt::collect(body))
            .unwrap()
            .to_bytes();
        assert_eq!(&collected[..], b"ab\nc\n");
    }

    #[test]
    fn gzip_of_segments_is_their_concatenation() {
        use std::io::Read;
        let z = gzip(&[
            Bytes::from_static(b"{\"a\":1}\n"),
            Bytes::from_static(b"{}\n"),
        ]);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{}\n");
    }

    #[test]
    fn classification() {
        assert!(matches!(classify(204, None, vec![]), Sent::Delivered(_)));
        assert!(matches!(
            classify(429, Some(Duration::from_secs(2)), vec![]),
            Sent::Retry(Some(_), _)
        ));
        assert!(matches!(classify(503, None, vec![]), Sent::Retry(None, _)));
        assert!(matches!(classify(501, None, vec![]), Sent::Rejected(_)));
        assert!(
            matches!(classify(400, None, b"bad".to_vec()), Sent::Rejected(m) if m.contains("bad"))
        );
        assert!(matches!(classify(408, None, vec![]), Sent::Retry(..)));
    }
}
