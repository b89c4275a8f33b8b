//! Nothing is left changed. Every change is journaled (by a [`Journal`], the run database's in
//! greenai) before it is made; a [`Guard`] restores what it changed when dropped, a signal handler
//! restores file knobs if the process is killed by a signal it can catch, and [`recover`] restores
//! what a process killed outright (`kill -9`, a crash) left changed, on greenai's next start.

use crate::knob::{Knob, PowerError, Result, Setting};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Who a change belongs to: restored when its process ends (`Job`), or only on request
/// (`Manual`: `greenai power set`, undone by `greenai power restore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    Job,
    Manual,
}

/// A change as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub knob_id: String,
    pub original: Setting,
    /// Each file's text before the change (file knobs).
    pub files: Vec<(PathBuf, String)>,
    pub applied: Setting,
    pub owner: Owner,
    pub pid: i64,
    /// The owner's start time in clock ticks since boot, so a reused pid is not taken for it.
    pub pid_start: i64,
}

/// A journaled change not yet restored.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub id: i64,
    pub change: Change,
}

/// Where changes are written before they are made.
pub trait Journal {
    fn record(&mut self, change: &Change) -> std::result::Result<i64, String>;
    fn update_applied(&mut self, id: i64, applied: &Setting) -> std::result::Result<(), String>;
    fn restored(&mut self, id: i64) -> std::result::Result<(), String>;
    fn pending(&mut self) -> std::result::Result<Vec<Pending>, String>;
}

/// The start time of `pid` in clock ticks after boot (`/proc/PID/stat` field 22).
pub fn start_ticks(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..]
        .split(' ')
        .nth(19)?
        .parse()
        .ok()
}

fn me() -> (i64, i64) {
    let pid = std::process::id() as i64;
    (pid, start_ticks(pid).unwrap_or(0))
}

fn restore_files(files: &[(PathBuf, String)]) -> Result<()> {
    for (p, text) in files {
        crate::knob::write_text(p, text)?;
    }
    Ok(())
}

struct Applied {
    knob: Box<dyn Knob>,
    id: i64,
    original: Setting,
    files: Vec<(PathBuf, String)>,
    slots: Vec<usize>,
}

/// Changes knobs and puts them back when dropped.
pub struct Guard {
    journal: Box<dyn Journal + Send>,
    applied: Vec<Applied>,
}

impl Guard {
    pub fn new(journal: Box<dyn Journal + Send>) -> Guard {
        Guard {
            journal,
            applied: Vec::new(),
        }
    }

    /// Sets `knob` to `v` (range and access checked), journaled first. A knob this guard already
    /// changed is set again; its original stays the one from before the first change.
    pub fn set(&mut self, mut knob: Box<dyn Knob>, v: &Setting) -> Result<()> {
        let id = knob.id();
        if let Some(a) = self.applied.iter_mut().find(|a| a.knob.id() == id) {
            a.knob.set(v)?;
            return self.journal.update_applied(a.id, v).map_err(PowerError::Io);
        }
        let change = prepare(knob.as_ref(), v, Owner::Job)?;
        let jid = self
            .journal
            .record(&change)
            .map_err(|e| PowerError::Io(format!("journaling the change of {id}: {e}")))?;
        let (original, files) = (change.original, change.files);
        let slots: Vec<usize> = files
            .iter()
            .filter_map(|(p, t)| crate::signal::register(p, t.as_bytes()))
            .collect();
        if let Err(e) = knob.write(v) {
            // Nothing changed (or a part did): put back what was there and close the entry.
            let _ = restore_files(&files);
            let _ = self.journal.restored(jid);
            crate::signal::unregister(&slots);
            return Err(e);
        }
        self.applied.push(Applied {
            knob,
            id: jid,
            original,
            files,
            slots,
        });
        Ok(())
    }

    /// Sets again a knob this guard already changed (by id).
    pub fn set_again(&mut self, id: &str, v: &Setting) -> Result<()> {
        let a = self
            .applied
            .iter_mut()
            .find(|a| a.knob.id() == id)
            .ok_or_else(|| {
                PowerError::Unavailable(format!("{id} was not changed by this guard"))
            })?;
        a.knob.set(v)?;
        self.journal.update_applied(a.id, v).map_err(PowerError::Io)
    }

    /// The ids of the knobs this guard changed.
    pub fn changed(&self) -> Vec<String> {
        self.applied.iter().map(|a| a.knob.id()).collect()
    }

    /// Puts every knob back, last changed first; returns what could not be restored.
    pub fn restore(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some(mut a) = self.applied.pop() {
            let r = if a.files.is_empty() {
                a.knob.write(&a.original)
            } else {
                restore_files(&a.files)
            };
            crate::signal::unregister(&a.slots);
            match r {
                Ok(()) => {
                    if let Err(e) = self.journal.restored(a.id) {
                        errors.push(format!(
                            "{} restored, but the journal says otherwise: {e}",
                            a.knob.id()
                        ));
                    }
                }
                Err(e) => errors.push(format!(
                    "{} could not be restored to {} ({e}); `greenai power restore` retries",
                    a.knob.id(),
                    a.original
                )),
            }
        }
        errors
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for e in self.restore() {
            eprintln!("greenai: warning: {e}");
        }
    }
}

/// What [`recover`] did with one pending change.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub knob_id: String,
    pub original: Setting,
    pub result: std::result::Result<(), String>,
}

/// Restores the pending changes whose owner is gone (and, with `manual`, those `greenai power
/// set` made), file knobs from their saved text, others through `knobs`.
pub fn recover(
    journal: &mut dyn Journal,
    knobs: &mut [Box<dyn Knob>],
    manual: bool,
) -> std::result::Result<Vec<Recovered>, String> {
    let mut out = Vec::new();
    for p in journal.pending()? {
        let c = &p.change;
        let owner_alive = start_ticks(c.pid).is_some_and(|t| t == c.pid_start);
        let due = match c.owner {
            Owner::Job => !owner_alive,
            Owner::Manual => manual,
        };
        if !due {
            continue;
        }
        let result = if !c.files.is_empty() {
            restore_files(&c.files).map_err(|e| e.to_string())
        } else {
            match knobs.iter_mut().find(|k| k.id() == c.knob_id) {
                Some(k) => k.write(&c.original).map_err(|e| e.to_string()),
                None => Err(format!("{} is not on this machine now", c.knob_id)),
            }
        };
        if result.is_ok() {
            journal.restored(p.id)?;
        }
        out.push(Recovered {
            knob_id: c.knob_id.clone(),
            original: c.original.clone(),
            result,
        });
    }
    Ok(out)
}

/// Checks `v` against the knob's range and access and captures what restores it: the journal
/// entry of a change, before it is made.
fn prepare(knob: &dyn Knob, v: &Setting, owner: Owner) -> Result<Change> {
    let id = knob.id();
    knob.range()?.check(&id, v, knob.unit())?;
    if let crate::knob::Access::ReadOnly { reason, fix } = knob.access() {
        return Err(PowerError::PermissionDenied {
            what: format!("{id} ({reason})"),
            fix,
        });
    }
    let original = knob.read()?;
    let mut files = Vec::new();
    for f in knob.files() {
        files.push((f.clone(), crate::knob::read_text(&f)?));
    }
    let (pid, pid_start) = me();
    Ok(Change {
        knob_id: id,
        original,
        files,
        applied: v.clone(),
        owner,
        pid,
        pid_start,
    })
}

/// Records a deliberate change (`greenai power set`): made now, undone only by
/// `greenai power restore`.
pub fn set_manually(
    journal: &mut dyn Journal,
    knob: &mut dyn Knob,
    v: &Setting,
) -> Result<Setting> {
    let change = prepare(knob, v, Owner::Manual)?;
    journal
        .record(&change)
        .map_err(|e| PowerError::Io(format!("journaling the change of {}: {e}", change.knob_id)))?;
    let original = change.original;
    knob.write(v)?;
    Ok(original)
}
