//! The power journal: greenai-power's [`Journal`] in the run database, so that a change survives
//! the process that made it until it is restored.

use crate::db::Store;
use crate::error::StoreError;
use greenai_power::guard::{Change, Journal, Owner, Pending};
use greenai_power::Setting;
use rusqlite::params;
use std::path::{Path, PathBuf};

/// A [`Journal`] on its own connection to the database at a path.
pub struct PowerJournal {
    store: Store,
}

impl PowerJournal {
    pub fn open(db: &Path) -> crate::Result<PowerJournal> {
        Ok(PowerJournal {
            store: Store::open(db)?,
        })
    }

    /// Every entry, newest first: `(id, change, restored at)`.
    pub fn entries(&self) -> crate::Result<Vec<(i64, Change, Option<f64>)>> {
        let mut stmt = self
            .store
            .conn
            .prepare(
                "SELECT id, knob, original, files, applied, owner, pid, pid_start, restored_unix_s
                 FROM power_journal ORDER BY id DESC",
            )
            .map_err(StoreError::write)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    change_from(
                        r.get(1)?,
                        &r.get::<_, String>(2)?,
                        &r.get::<_, String>(3)?,
                        &r.get::<_, String>(4)?,
                        &r.get::<_, String>(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ),
                    r.get::<_, Option<f64>>(8)?,
                ))
            })
            .map_err(StoreError::write)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(StoreError::write)?;
        Ok(rows)
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn change_from(
    knob: String,
    original: &str,
    files: &str,
    applied: &str,
    owner: &str,
    pid: i64,
    pid_start: i64,
) -> Change {
    Change {
        knob_id: knob,
        original: serde_json::from_str(original).unwrap_or(Setting::Text(original.into())),
        files: serde_json::from_str::<Vec<(PathBuf, String)>>(files).unwrap_or_default(),
        applied: serde_json::from_str(applied).unwrap_or(Setting::Text(applied.into())),
        owner: if owner == "manual" {
            Owner::Manual
        } else {
            Owner::Job
        },
        pid,
        pid_start,
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

impl Journal for PowerJournal {
    fn record(&mut self, c: &Change) -> Result<i64, String> {
        self.store
            .conn
            .execute(
                "INSERT INTO power_journal (knob, original, files, applied, owner, pid, pid_start,
                     changed_unix_s)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    c.knob_id,
                    json(&c.original),
                    json(&c.files),
                    json(&c.applied),
                    match c.owner {
                        Owner::Job => "job",
                        Owner::Manual => "manual",
                    },
                    c.pid,
                    c.pid_start,
                    now()
                ],
            )
            .map_err(|e| e.to_string())?;
        Ok(self.store.conn.last_insert_rowid())
    }

    fn update_applied(&mut self, id: i64, applied: &Setting) -> Result<(), String> {
        self.store
            .conn
            .execute(
                "UPDATE power_journal SET applied = ?2 WHERE id = ?1",
                params![id, json(applied)],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn restored(&mut self, id: i64) -> Result<(), String> {
        self.store
            .conn
            .execute(
                "UPDATE power_journal SET restored_unix_s = ?2 WHERE id = ?1",
                params![id, now()],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn pending(&mut self) -> Result<Vec<Pending>, String> {
        Ok(self
            .entries()
            .map_err(|e| e.to_string())?
            .into_iter()
            .rev()
            .filter(|e| e.2.is_none())
            .map(|(id, change, _)| Pending { id, change })
            .collect())
    }
}
