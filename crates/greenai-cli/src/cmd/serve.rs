//! `greenai serve`: the dashboard over the run database.

use anyhow::Context;
use greenai_web::dashboard::{self, Dashboard};
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn serve(listen: &str, db: &Path) -> anyhow::Result<ExitCode> {
    let addr = super::exporter::parse_addr(listen)?;
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr}; choose another with --listen"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "greenai: warning: the dashboard on {addr} is reachable from other machines, and \
             shows every run in {} to whoever connects",
            db.display()
        );
    }
    let d = Dashboard::open(db)?;
    println!(
        "greenai dashboard: http://{addr}/ (database {})",
        d.path().display()
    );
    eprintln!("Ctrl-C stops it.");
    dashboard::serve(listener, Arc::new(d)).context("the dashboard server stopped")?;
    Ok(ExitCode::SUCCESS)
}
