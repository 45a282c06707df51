//! A real Prometheus scrapes trailwatch; the counter is read back through Prometheus' HTTP API.
//! The test command installs Prometheus (Debian's `prometheus` package); without it the test
//! fails and says how to install it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn query(port: u16, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let addr = format!("127.0.0.1:{port}").parse().ok()?;
    let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    drop(s);
    let r = http(
        addr,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        &[],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn a_real_prometheus_scrapes_the_counters() {
    let svc = Service::start(&["--tcp", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]);
    let target = svc.metrics.unwrap();
    let dir = TempDir::new("prometheus");
    let config = dir.path("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: trailwatch\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let check = Command::new("promtool")
        .args(["check", "config"])
        .arg(&config)
        .output();
    let check = check
        .expect("promtool is not installed: run `apt-get install -y prometheus` (./.ci/run does)");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let port = free_addr().port();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "prometheus is not installed: run `apt-get install -y prometheus` (./.ci/run does)",
            ),
    );
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    conn.write_all(&ndjson(&[
        failed_login(),
        failed_login(),
        routine(),
        failed_login(),
    ]))
    .unwrap();
    drop(conn);
    svc.wait_for(
        SIGNIN_FAILURES,
        &filter("console_signin_failure_metric"),
        3.0,
    );
    let promql = format!("{SIGNIN_FAILURES}{{filter=\"console_signin_failure_metric\"}}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if query(port, &promql) == Some(3.0) && query(port, "up{job=\"trailwatch\"}") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw the counter at 3 (last: {:?})",
            query(port, &promql)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
