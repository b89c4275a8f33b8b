//! The exporter's server on real loopback sockets: methods, formats, and clients that misbehave
//! (silent, one byte at a time, oversized headers, too many at once) delay no other scrape.

use greenai_store::openmetrics::Format;
use greenai_web::{serve, Limits, Metrics};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fixed metrics in both formats, as a monitor would render them.
struct Fixed;

impl Metrics for Fixed {
    fn render(&self, format: Format) -> String {
        use greenai_meter::{Component, ComponentKind, Provenance};
        let c = Component {
            id: "cpu-package-0".into(),
            kind: ComponentKind::CpuPackage,
            sensor: "test".into(),
            provenance: Provenance::Measured,
            uncertainty: Some(0.05),
            counted: true,
            within: None,
        };
        let e = [Some(greenai_units::Energy::from_joules(12.5))];
        greenai_store::openmetrics::render(&[c], &e, None, format)
    }
}

fn start(limits: Limits) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || serve(l, Arc::new(Fixed), limits));
    addr
}

/// One request on its own connection; the whole response.
fn request(addr: SocketAddr, head: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{head}\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn status(resp: &str) -> &str {
    resp.lines().next().unwrap_or("")
}

#[test]
fn methods_paths_and_formats() {
    let addr = start(Limits::default());
    let plain = request(addr, "GET /metrics HTTP/1.1");
    assert!(status(&plain).contains("200"), "{plain}");
    assert!(plain.contains("text/plain; version=0.0.4"), "{plain}");
    assert!(
        plain.contains("# TYPE greenai_energy_joules_total counter"),
        "{plain}"
    );
    assert!(!plain.contains("# EOF"));
    let om = request(
        addr,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
    );
    assert!(om.contains("application/openmetrics-text"), "{om}");
    assert!(om.trim_end().ends_with("# EOF"), "{om}");
    let head = request(addr, "HEAD /metrics HTTP/1.1");
    assert!(status(&head).contains("200"), "{head}");
    assert!(!head.contains("greenai_energy"), "no body: {head}");
    assert!(status(&request(
        addr,
        "POST /metrics HTTP/1.1\r\nContent-Length: 0"
    ))
    .contains("405"));
    assert!(status(&request(addr, "GET /other HTTP/1.1")).contains("404"));
}

/// Every family has HELP and TYPE, and promtool (Debian's `prometheus` package; `.ci/run`
/// installs it) accepts the text. Without promtool the check says it was skipped, except under
/// CI, where it fails.
#[test]
fn promtool_accepts_the_prometheus_text() {
    let addr = start(Limits::default());
    let resp = request(addr, "GET /metrics HTTP/1.1");
    let body = resp.split("\r\n\r\n").nth(1).unwrap().to_string();
    let families: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert!(families.len() >= 3, "{body}");
    for f in &families {
        assert!(body.contains(&format!("# HELP {f} ")), "{f} has no HELP");
    }
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing under CI"
        );
        eprintln!("SKIPPED: promtool is not installed (apt-get install prometheus)");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Two clients that send nothing and one that sends a byte at a time hold connections open;
/// scrapes meanwhile are answered at once (long before those clients' header deadline), and the
/// silent ones are closed at their deadline.
#[test]
fn slow_and_silent_clients_delay_no_scrape() {
    let limits = Limits {
        header_timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let addr = start(limits);
    let silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for b in b"GET /metrics HTTP/1.1\r\n".iter().take(12) {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    for _ in 0..5 {
        let t = Instant::now();
        let r = request(addr, "GET /metrics HTTP/1.1");
        assert!(status(&r).contains("200"), "{r}");
        assert!(
            t.elapsed() < limits.header_timeout / 2,
            "a scrape waited {:?} behind slow clients",
            t.elapsed()
        );
    }
    slow.join().unwrap();
    drop(silent);
}

/// A client that sends nothing is closed at the header deadline.
#[test]
fn a_silent_client_is_closed_at_its_deadline() {
    let addr = start(Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        t.elapsed() < Duration::from_secs(9),
        "closed by the server, not our timeout"
    );
}

/// Oversized headers are refused (or the connection closed) and the server goes on serving;
/// connections past the bound are closed at once while the others stay served.
#[test]
fn oversized_headers_and_too_many_connections() {
    let addr = start(Limits {
        connections: 2,
        header_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let big = format!("GET /metrics HTTP/1.1\r\nX-Big: {}", "a".repeat(64 * 1024));
    let r = request(addr, &big);
    assert!(!status(&r).contains("200"), "{}", status(&r));
    // Two idle connections take both slots; a third is closed straight away.
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = third.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = Vec::new();
    let _ = third.read_to_end(&mut buf);
    assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
    drop(held);
    // Once the slots are free again (the held ones closed or timed out), scrapes are answered.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if status(&request(addr, "GET /metrics HTTP/1.1")).contains("200") {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
}
