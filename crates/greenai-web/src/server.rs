//! The one HTTP server loop every greenai surface runs on: hyper connections over tokio, each in a
//! task of its own, with bounds that keep one slow or greedy client from stalling the others.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;

/// How much one client may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; a connection past this is closed at once.
    pub connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a connection may stay open, requests and keep-alive together.
    pub connection_timeout: Duration,
    /// The buffer for a request's headers (hyper's minimum is 8 KiB).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 64,
            header_timeout: Duration::from_secs(2),
            connection_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Serves `app` on `listener` until the process ends (or the listener fails). Blocks the calling
/// thread, which drives a runtime of its own on it (blocking reads go to tokio's blocking pool).
pub fn serve(listener: std::net::TcpListener, app: Router, limits: Limits) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(accept_loop(listener, app, limits))
}

async fn accept_loop(
    listener: std::net::TcpListener,
    app: Router,
    limits: Limits,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // A client that went away before its accept, or a full descriptor table: go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream); // over the bound: closed now, not queued behind slow clients
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                // A client may shut its side once its request is sent; it still gets the answer.
                .half_close(true)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.connection_timeout, conn).await;
        });
    }
}
