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

/// `greenai estimate`: the estimate model's answer for a CPU, a family or an instance.
pub fn estimate(args: crate::cli::EstimateArgs) -> anyhow::Result<ExitCode> {
    let q = greenai_meter::hardware::Query {
        cpu_model: args.cpu_model,
        family: args.family,
        instance: args.instance,
        vcpus: args.vcpus,
        load: args.load,
    };
    let e = greenai_meter::hardware::estimate(&q).map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &e)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render::estimate(&e))?;
    }
    Ok(ExitCode::SUCCESS)
}
