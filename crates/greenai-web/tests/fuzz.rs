//! Arbitrary bytes at the exporter's socket: whatever a client sends, the server answers or
//! closes, stays up, and serves the next scrape. `GREENAI_FUZZ_CASES` sets the cases.

use greenai_store::openmetrics::Format;
use greenai_web::{serve, Limits, Metrics};
use proptest::prelude::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn cases() -> u32 {
    std::env::var("GREENAI_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

struct Empty;
impl Metrics for Empty {
    fn render(&self, format: Format) -> String {
        greenai_store::openmetrics::render(&[], &[], None, format)
    }
}

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let limits = Limits {
            header_timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        std::thread::spawn(move || serve(l, Arc::new(Empty), limits));
        addr
    })
}

fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_request_bytes_leave_the_server_serving(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        prefix in prop::sample::select(vec!["", "GET /metrics HTTP/1.1\r\n", "GET ", "HEAD /metrics HTTP/1.0\r\nHost: x\r\n"]),
    ) {
        let addr = server();
        let mut req = prefix.as_bytes().to_vec();
        req.extend_from_slice(&bytes);
        let answer = exchange(addr, &req);
        prop_assert!(answer.is_empty() || answer.starts_with(b"HTTP/1."), "{:?}", String::from_utf8_lossy(&answer));
        let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        prop_assert!(ok.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&ok));
    }
}
