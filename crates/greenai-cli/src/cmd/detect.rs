use crate::render;
use greenai_meter::{discover, DiscoverOptions};
use std::io::Write;
use std::process::ExitCode;

/// Exit 0 when greenai can measure at least by estimate, else 2.
pub fn detect(json: bool) -> anyhow::Result<ExitCode> {
    let d = discover(DiscoverOptions::from_env());
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &d.report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render::detect(&d.report))?;
    }
    Ok(if d.report.can_measure() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_ERROR)
    })
}
