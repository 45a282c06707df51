//! A test HTTP receiver on 127.0.0.1: records every request (bodies gunzipped), answers what
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

impl Receiver {
    /// Starts on a free port. `handler(request, n)` answers the n-th request (0-based).
    pub fn start(handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static) -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap(), handler)
    }

    /// Starts on `addr`.
    pub fn start_on(
        addr: SocketAddr,
        handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind(addr).expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let away = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let count = Arc::new(AtomicU64::new(0));
        {
            let (requests, away, stop) = (requests.clone(), away.clone(), stop.clone());
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
                            let (requests, handler, count, away) = (
                                requests.clone(),
                                handler.clone(),
                                count.clone(),
                                away.clone(),
                            );
                            std::thread::spawn(move || {
                                serve(stream, &requests, &*handler, &count, &away)
                            });
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

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    handler: &Handler,
    count: &AtomicU64,
    away: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let idle_since = Instant::now();
    loop {
        if away.load(Ordering::Acquire) || idle_since.elapsed() > Duration::from_secs(60) {
            return;
        }
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)));
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
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
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)));
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
        let n = count.fetch_add(1, Ordering::AcqRel);
        let (status, extra, resp) = handler(&req, n);
        req.status = status;
        requests.lock().unwrap().push(req);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
            resp.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&resp))
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
