use crate::render;
use greenai_meter::{discover, DiscoverOptions};
use std::io::Write;
use std::process::ExitCode;

/// Exit 0 when greenai can measure at least by estimate, else 2. With `cloud_metadata`, the
/// cloud's metadata service is asked for the instance type too (its failure is reported, not an
/// error: detection stands without it).
pub fn detect(json: bool, cloud_metadata: bool) -> anyhow::Result<ExitCode> {
    let d = discover(DiscoverOptions::from_env());
    let asked = cloud_metadata.then(|| {
        use greenai_meter::hardware::{cloud, metadata, CloudSummary};
        let dmi = cloud::identify(&cloud::Dmi::read(&greenai_meter::sysfs::sysfs_root()));
        metadata::query(&metadata::base_from_env(), dmi.map(|c| c.provider))
            .map(|c| CloudSummary::of(&c))
    });
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&d.report)?;
        if let (Some(a), Some(obj)) = (&asked, v.as_object_mut()) {
            obj.insert(
                "cloud_metadata".into(),
                match a {
                    Ok(s) => serde_json::to_value(s)?,
                    Err(e) => serde_json::json!({ "error": e }),
                },
            );
        }
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render::detect(&d.report))?;
        if let Some(a) = &asked {
            write!(out, "{}", render::cloud_metadata(a))?;
        }
    }
    Ok(if d.report.can_measure() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_ERROR)
    })
}

/// `greenai estimate`: the estimate model's answer for a CPU, a family or an instance.
pub fn estimate(args: crate::cli::EstimateArgs) -> anyhow::Result<ExitCode> {
    if args.validate {
        let v = greenai_meter::hardware::specpower::leave_one_out();
        let mut out = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer(&mut out, &v)?;
            writeln!(out)?;
        } else {
            write!(out, "{}", render::validation(&v))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
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
