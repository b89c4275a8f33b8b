//! `greenai power show|set|restore`, the power options of `greenai run`, and the restore of what
//! an earlier greenai left changed.

use crate::cli_power::PowerCommand;
use anyhow::{anyhow, bail};
use greenai_power::guard::{recover, set_manually};
use greenai_power::{discover, Access, Knob, Range, Setting};
use greenai_store::power::PowerJournal;
use std::path::Path;
use std::process::ExitCode;

/// The machine's knobs: sysfs under `$GREENAI_SYSFS_ROOT`, NVML unless `GREENAI_NO_NVML` is set
/// (tests) .
pub fn machine_knobs() -> (Vec<Box<dyn Knob>>, Vec<String>) {
    let gpus = std::env::var_os("GREENAI_NO_NVML").is_none();
    discover(&greenai_meter::sysfs::sysfs_root(), gpus)
}

fn show_value(k: &dyn Knob, v: &Setting) -> String {
    match v {
        Setting::Number(x) => format!("{x} {}", k.unit().symbol()),
        Setting::Text(t) => t.clone(),
    }
}

/// Restores what greenai processes that ended without restoring left changed; says what it did.
/// Called as every command that measures or tunes starts.
pub fn recover_left_changes(db: &Path) {
    let Ok(mut journal) = PowerJournal::open(db) else {
        return;
    };
    let pending = greenai_power::guard::Journal::pending(&mut journal).unwrap_or_default();
    if pending.is_empty() {
        return;
    }
    let (mut knobs, _) = machine_knobs();
    match recover(&mut journal, &mut knobs, false) {
        Ok(done) => {
            for r in done {
                match r.result {
                    Ok(()) => eprintln!(
                        "greenai: restored {} to {} (left changed by a greenai that ended without restoring it)",
                        r.knob_id, r.original
                    ),
                    Err(e) => eprintln!(
                        "greenai: warning: {} is still changed ({e}); `greenai power restore` retries",
                        r.knob_id
                    ),
                }
            }
        }
        Err(e) => eprintln!("greenai: warning: reading the power journal: {e}"),
    }
}

pub fn power(command: PowerCommand, db: &Path) -> anyhow::Result<ExitCode> {
    match command {
        PowerCommand::Show { json } => {
            recover_left_changes(db);
            let (knobs, notes) = machine_knobs();
            let rows: Vec<serde_json::Value> = knobs
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "id": k.id(),
                        "label": k.label(),
                        "unit": k.unit(),
                        "value": k.read().ok(),
                        "range": k.range().ok(),
                        "access": k.access(),
                    })
                })
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"knobs": rows, "notes": notes})
                    )?
                );
                return Ok(ExitCode::SUCCESS);
            }
            if knobs.is_empty() {
                println!("no power knobs on this machine");
            }
            for k in &knobs {
                let value = k.read().map_or_else(
                    |e| format!("unreadable ({e})"),
                    |v| show_value(k.as_ref(), &v),
                );
                let range = match k.range() {
                    Ok(Range::Numeric { min, max }) => format!("{min}–{max} {}", k.unit().symbol()),
                    Ok(Range::Choices(c)) => c.join(" | "),
                    Err(e) => format!("unknown ({e})"),
                };
                println!("{:<36} {value:<16} range {range}", k.id());
                match k.access() {
                    Access::Writable => println!("  {}: greenai may change it", k.label()),
                    Access::ReadOnly { reason, fix } => {
                        println!("  {}: read-only: {reason}; {fix}", k.label())
                    }
                }
            }
            for n in notes {
                println!("note: {n}");
            }
        }
        PowerCommand::Set {
            knob,
            value,
            dry_run,
        } => {
            let (knobs, _) = machine_knobs();
            let ids: Vec<String> = knobs.iter().map(|k| k.id()).collect();
            let Some(mut k) = knobs.into_iter().find(|k| k.id() == knob) else {
                bail!(
                    "no knob {knob:?} on this machine{}",
                    if ids.is_empty() {
                        " (it has none: `greenai power show` says why)".to_string()
                    } else {
                        format!("; it has {}", ids.join(", "))
                    }
                )
            };
            let v = Setting::parse(k.unit(), &value).map_err(|e| anyhow!(e))?;
            let now = k.read()?;
            if dry_run {
                k.range()?.check(&knob, &v, k.unit())?;
                let access = match k.access() {
                    Access::Writable => String::new(),
                    Access::ReadOnly { reason, fix } => {
                        format!(" (but greenai may not: {reason}; {fix})")
                    }
                };
                println!(
                    "would set {knob} from {} to {}{access}",
                    show_value(k.as_ref(), &now),
                    show_value(k.as_ref(), &v)
                );
                return Ok(ExitCode::SUCCESS);
            }
            let mut journal = PowerJournal::open(db)?;
            let was = set_manually(&mut journal, k.as_mut(), &v)?;
            println!(
                "set {knob} from {} to {}; `greenai power restore` puts it back",
                show_value(k.as_ref(), &was),
                show_value(k.as_ref(), &v)
            );
        }
        PowerCommand::Restore => {
            let mut journal = PowerJournal::open(db)?;
            let (mut knobs, _) = machine_knobs();
            let done = recover(&mut journal, &mut knobs, true).map_err(|e| anyhow!(e))?;
            if done.is_empty() {
                println!("nothing to restore: every change greenai made is undone");
            }
            let mut failed = 0;
            for r in done {
                match r.result {
                    Ok(()) => println!("restored {} to {}", r.knob_id, r.original),
                    Err(e) => {
                        failed += 1;
                        eprintln!("greenai: cannot restore {}: {e}", r.knob_id)
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} change(s) could not be restored");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenai run --power-limit W --cpu-max-freq F`: the caps set under a guard that restores them
/// when dropped; `None` when neither is asked.
pub fn caps(
    power_limit: Option<&str>,
    cpu_max_freq: Option<&str>,
    db: &Path,
) -> anyhow::Result<Option<greenai_power::guard::Guard>> {
    if power_limit.is_none() && cpu_max_freq.is_none() {
        return Ok(None);
    }
    let (knobs, notes) = machine_knobs();
    let mut guard = greenai_power::guard::Guard::new(Box::new(PowerJournal::open(db)?));
    let mut knobs: Vec<Option<Box<dyn Knob>>> = knobs.into_iter().map(Some).collect();
    let why = || {
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        }
    };
    if let Some(w) = power_limit {
        let v = Setting::parse(greenai_power::Unit::Watts, w)
            .map_err(|e| anyhow!("--power-limit: {e}"))?;
        let mut any = false;
        for slot in knobs.iter_mut() {
            let is_pkg = slot.as_ref().is_some_and(|k| {
                k.id().starts_with("powercap:")
                    && k.id().ends_with(":long_term")
                    && k.label().starts_with("package")
            });
            if is_pkg {
                guard
                    .set(slot.take().expect("checked"), &v)
                    .map_err(|e| anyhow!("--power-limit: {e}"))?;
                any = true;
            }
        }
        if !any {
            bail!(
                "--power-limit: this machine has no RAPL package limit{}",
                why()
            );
        }
    }
    if let Some(f) = cpu_max_freq {
        let v = Setting::parse(greenai_power::Unit::Kilohertz, f)
            .map_err(|e| anyhow!("--cpu-max-freq: {e}"))?;
        let Some(k) = knobs
            .iter_mut()
            .find(|k| k.as_ref().is_some_and(|k| k.id() == "cpufreq:max_freq"))
            .and_then(Option::take)
        else {
            bail!(
                "--cpu-max-freq: this machine has no cpufreq frequency ceiling{}",
                why()
            );
        };
        guard
            .set(k, &v)
            .map_err(|e| anyhow!("--cpu-max-freq: {e}"))?;
    }
    Ok(Some(guard))
}
