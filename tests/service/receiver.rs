//! A test HTTP(S) receiver on 127.0.0.1: records every request (bodies gunzipped), answers what
//! the test's handler says, and can go away (its port refuses connections) for a while.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One received request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body, gunzipped when it came with `Content-Encoding: gzip`.
    pub body: Vec<u8>,
    /// Whether it came gzipped.
    pub gzipped: bool,
    /// The status it was answered with.
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What to answer: status, extra headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);
type Handler = dyn Fn(&Request, u64) -> Reply + Send + Sync;

pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    away: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

/// Everything a connection thread needs.
struct Shared {
    requests: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Handler>,
    count: AtomicU64,
    away: Arc<AtomicBool>,
}

impl Receiver {
    /// Starts on a free port. `handler(request, n)` answers the n-th request (0-based).
    pub fn start(handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static) -> Receiver {
        Receiver::start_with("127.0.0.1:0".parse().unwrap(), None, handler)
    }

    /// Starts on `addr`.
    pub fn start_on(
        addr: SocketAddr,
        handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        Receiver::start_with(addr, None, handler)
    }

    /// Starts an HTTPS receiver.
    pub fn start_tls(
        tls: Arc<rustls::ServerConfig>,
        handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        Receiver::start_with("127.0.0.1:0".parse().unwrap(), Some(tls), handler)
    }

    fn start_with(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind(addr).expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let away = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            requests: requests.clone(),
            handler: Arc::new(handler),
            count: AtomicU64::new(0),
            away: away.clone(),
        });
        {
            let (away, stop) = (away.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut listener = Some(listener);
                while !stop.load(Ordering::Acquire) {
                    if away.load(Ordering::Acquire) {
                        listener = None; // the port refuses connections now
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    let l = match &listener {
                        Some(l) => l,
                        None => match TcpListener::bind(addr) {
                            Ok(l) => listener.insert(l),
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(10));
                                continue;
                            }
                        },
                    };
                    l.set_nonblocking(true).unwrap();
                    match l.accept() {
                        Ok((stream, _)) => {
                            let shared = shared.clone();
                            let tls = tls.clone();
                            std::thread::spawn(move || connection(stream, tls, &shared));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            });
        }
        Receiver {
            addr,
            requests,
            away,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Refuses connections (and drops open ones) until `back()`.
    pub fn go_away(&self) {
        self.away.store(true, Ordering::Release);
    }

    pub fn back(&self) {
        self.away.store(false, Ordering::Release);
    }

    /// Waits until `done(requests)` holds.
    pub fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn(&[Request]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.requests.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "receiver: timed out waiting for {what} ({} requests so far)",
                self.requests().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn connection(stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    match tls {
        None => serve(stream, shared),
        Some(cfg) => {
            if let Ok(conn) = rustls::ServerConnection::new(cfg) {
                serve(rustls::StreamOwned::new(conn, stream), shared);
            }
        }
    }
}

/// What one `read_line` on a connection with a read timeout gave.
enum Line {
    Read,
    /// The timeout passed with nothing to read: look at the flags, then try again.
    Idle,
    Closed,
}

fn read_line(reader: &mut impl BufRead, line: &mut String) -> Line {
    match reader.read_line(line) {
        Ok(0) => Line::Closed,
        Ok(_) => Line::Read,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Line::Idle
        }
        Err(_) => Line::Closed,
    }
}

fn serve<S: Read + Write>(stream: S, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let idle_since = Instant::now();
    loop {
        if shared.away.load(Ordering::Acquire) || idle_since.elapsed() > Duration::from_secs(60) {
            return;
        }
        let mut line = String::new();
        match read_line(&mut reader, &mut line) {
            Line::Read => {}
            Line::Idle => continue,
            Line::Closed => return,
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            match read_line(&mut reader, &mut h) {
                Line::Read => {}
                Line::Idle => continue,
                Line::Closed => return,
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        let mut filled = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while filled < len {
            match reader.read(&mut body[filled..]) {
                Ok(0) => return,
                Ok(n) => filled += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) && Instant::now() < deadline => {}
                Err(_) => return,
            }
        }
        let gzipped = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip");
        if gzipped {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .expect("gzip body");
            body = out;
        }
        let mut req = Request {
            method,
            path,
            headers,
            body,
            gzipped,
            status: 0,
        };
        let n = shared.count.fetch_add(1, Ordering::AcqRel);
        let (status, extra, resp) = (shared.handler)(&req, n);
        req.status = status;
        shared.requests.lock().unwrap().push(req);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
            resp.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let writer = reader.get_mut();
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&resp))
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

/// A fixed answer.
pub fn ok(status: u16) -> Reply {
    (status, vec![], Vec::new())
}
