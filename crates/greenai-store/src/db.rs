//! The SQLite run database: schema migrations, runs, and their power series.

use crate::error::{Result, StoreError};
use crate::open::{classify_open_error, open_connection, Verify};
use crate::report::{RunReport, RunStart};
use crate::series::{self, StoredSample};
use greenai_carbon::CarbonSettings;
use greenai_meter::Provenance;
use greenai_units::{Energy, Power};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran. A change to
/// the schema is a new entry here, never an edit of an old one.
const MIGRATIONS: &[&str] = &[
    // 1: runs and their samples.
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        project_name TEXT NOT NULL,
        command TEXT NOT NULL,
        argv TEXT NOT NULL,
        labels TEXT NOT NULL,
        started_unix_s REAL NOT NULL,
        interval_s REAL NOT NULL,
        host TEXT NOT NULL,
        components TEXT NOT NULL,
        missing TEXT NOT NULL,
        greenai_pid INTEGER NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        duration_s REAL,
        energy_j REAL,
        report TEXT
    );
    CREATE INDEX runs_started ON runs (started_unix_s);
    CREATE TABLE samples (
        run_id TEXT NOT NULL REFERENCES runs (id),
        seq INTEGER NOT NULL,
        elapsed_s REAL NOT NULL,
        unix_s REAL NOT NULL,
        total_power_w REAL NOT NULL,
        energy_j REAL,
        readings TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;",
    // 2: each run's carbon settings, so an incomplete run's emissions can be worked out later.
    "ALTER TABLE runs ADD COLUMN carbon TEXT;",
    // 3: sample readings stored as numbers ([`pack_readings`]: little-endian f64 energy and power
    // per component, NaN for no reading) instead of JSON text; rows written before keep their
    // text in `readings_json`. (A job's typed results travel inside the report's JSON document:
    // `json_extract(report, '$.results')`.)
    "CREATE TABLE samples_v3 (
        run_id TEXT NOT NULL REFERENCES runs (id),
        seq INTEGER NOT NULL,
        elapsed_s REAL NOT NULL,
        unix_s REAL NOT NULL,
        total_power_w REAL NOT NULL,
        energy_j REAL,
        readings BLOB,
        readings_json TEXT,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO samples_v3 (run_id, seq, elapsed_s, unix_s, total_power_w, energy_j, readings_json)
        SELECT run_id, seq, elapsed_s, unix_s, total_power_w, energy_j, readings FROM samples;
    DROP TABLE samples;
    ALTER TABLE samples_v3 RENAME TO samples;",
    // 4: the scheduler's queue ([`crate::queue`]): one row per submitted job, its plan, its
    // process while it runs, and what scheduling saved once it ended. A job paused at an epoch
    // boundary ends its run: the runs before the latest, and their energy, are `prior_*`.
    "CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        argv TEXT NOT NULL,
        cwd TEXT NOT NULL,
        env TEXT NOT NULL,
        submitted_unix_s REAL NOT NULL,
        deadline_unix_s REAL NOT NULL,
        duration_s REAL NOT NULL,
        energy_j REAL,
        interruptible INTEGER NOT NULL,
        state TEXT NOT NULL,
        plan TEXT,
        planned_g_per_kwh REAL,
        pid INTEGER,
        pid_start INTEGER,
        started_unix_s REAL,
        finished_unix_s REAL,
        active TEXT NOT NULL DEFAULT '[]',
        run_id TEXT,
        exit_code INTEGER,
        emissions_g REAL,
        counterfactual_g REAL,
        intensity_source TEXT,
        note TEXT,
        prior_runs TEXT NOT NULL DEFAULT '[]',
        prior_energy_j REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_state ON queue (state);
    CREATE INDEX queue_run ON queue (run_id);",
    // 5: the power journal ([`crate::power`]): every knob change, written before it is made, closed
    // when restored; what a killed greenai left changed is found here on the next start.
    "CREATE TABLE power_journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        knob TEXT NOT NULL,
        original TEXT NOT NULL,
        files TEXT NOT NULL,
        applied TEXT NOT NULL,
        owner TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_start INTEGER NOT NULL,
        changed_unix_s REAL NOT NULL,
        restored_unix_s REAL
    );
    CREATE INDEX power_pending ON power_journal (restored_unix_s);",
    // 6: indexes for the dashboard's sorted, filtered pages of runs ([`crate::browse`]).
    "CREATE INDEX runs_energy ON runs (energy_j);
    CREATE INDEX runs_duration ON runs (duration_s);
    CREATE INDEX runs_project ON runs (project_name, started_unix_s);
    CREATE INDEX runs_command ON runs (command, started_unix_s);",
    // 7: each run's labels as rows, kept by triggers, so that a label finds its runs by an index
    // rather than by reading every run's JSON; and the samples' total power in an index of its
    // own, so that a long run's power envelope is read without its readings.
    "CREATE TABLE run_labels (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT,
        PRIMARY KEY (key, value, run_id)
    ) WITHOUT ROWID;
    CREATE INDEX run_labels_run ON run_labels (run_id);
    CREATE INDEX samples_power ON samples (run_id, seq, total_power_w);
    INSERT OR IGNORE INTO run_labels SELECT runs.id, j.key, j.value
        FROM runs, json_each(CASE WHEN json_valid(runs.labels) THEN runs.labels ELSE '{}' END) j;
    CREATE TRIGGER run_labels_insert AFTER INSERT ON runs BEGIN
        INSERT OR IGNORE INTO run_labels SELECT NEW.id, key, value
            FROM json_each(CASE WHEN json_valid(NEW.labels) THEN NEW.labels ELSE '{}' END);
    END;
    CREATE TRIGGER run_labels_update AFTER UPDATE OF labels ON runs BEGIN
        DELETE FROM run_labels WHERE run_id = OLD.id;
        INSERT OR IGNORE INTO run_labels SELECT NEW.id, key, value
            FROM json_each(CASE WHEN json_valid(NEW.labels) THEN NEW.labels ELSE '{}' END);
    END;
    CREATE TRIGGER run_labels_delete AFTER DELETE ON runs BEGIN
        DELETE FROM run_labels WHERE run_id = OLD.id;
    END;",
];

/// The schema version this greenai writes (how many migrations it knows).
pub fn latest_schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// A sample's readings as numbers: per component, its energy (J) and power (W) as little-endian
/// f64, NaN standing for no reading.
pub(crate) fn pack_readings(readings: &[(Option<f64>, Option<f64>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(readings.len() * 16);
    for (e, p) in readings {
        out.extend_from_slice(&e.unwrap_or(f64::NAN).to_le_bytes());
        out.extend_from_slice(&p.unwrap_or(f64::NAN).to_le_bytes());
    }
    out
}

/// The inverse of [`pack_readings`]; `None` when the length is not a whole number of readings.
pub(crate) fn unpack_readings(bytes: &[u8]) -> Option<Vec<(Option<f64>, Option<f64>)>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    let num = |b: &[u8]| {
        let v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        (!v.is_nan()).then_some(v)
    };
    Some(
        bytes
            .chunks_exact(16)
            .map(|c| (num(&c[..8]), num(&c[8..])))
            .collect(),
    )
}

/// The default database: `$GREENAI_DB`, else `$XDG_DATA_HOME/greenai/greenai.sqlite`, else
/// `~/.local/share/greenai/greenai.sqlite`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("GREENAI_DB").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("greenai").join("greenai.sqlite")
}

/// A run as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub run_id: String,
    pub project_name: String,
    pub command: String,
    pub started_unix_s: f64,
    pub duration_s: Option<f64>,
    pub energy_j: Option<f64>,
    /// How `energy_j` was obtained (the least direct of its parts).
    pub provenance: Option<Provenance>,
    pub exit_code: Option<i32>,
    pub status: RunStatus,
    /// The run's labels (a training run's model and accuracy among them).
    pub labels: BTreeMap<String, String>,
    /// A job's typed results ([`RunReport::results`]), for a complete run that has them.
    pub results: Option<serde_json::Value>,
}

/// Whether a run finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Complete,
    /// Its greenai process is still alive (on this machine).
    Running,
    /// Its greenai process stopped before finishing the run.
    Incomplete,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Running => "running",
            RunStatus::Incomplete => "incomplete",
        }
    }
}

/// The run database.
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| classify_open_error(path, e))?;
    if found > known {
        return Err(StoreError::Unsupported {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        // IMMEDIATE: take the write lock up front, so a second process waits (busy_timeout)
        // instead of failing when a read lock cannot be upgraded.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::write)?;
        // Another process may have migrated meanwhile: check again inside the transaction.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(StoreError::write)?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(sql).map_err(StoreError::write)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(StoreError::write)?;
        tx.commit().map_err(StoreError::write)?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Transient(format!("a stored {what} is unreadable: {e}")))
}

pub(crate) fn pid_alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0
        && (unsafe { libc::kill(pid as i32, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

impl Store {
    /// Opens (creating it if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = open_connection(path, Verify::Yes)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify_open_error(path, e))?;
        if version > 0 {
            crate::open::quick_check(&conn, path)?;
        }
        migrate(&mut conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens the database for reading: as [`Store::open`] where this user may write it (so an
    /// older schema is migrated), else read-only, writing nothing (`runs list`, `show` and
    /// `export` on a database the user can read but not write).
    pub fn open_for_reading(path: &Path) -> Result<Store> {
        match Store::open(path) {
            Err(StoreError::Unavailable { .. }) | Err(StoreError::Transient(_)) => {}
            other => return other,
        }
        Store::open_read_only(path)
    }

    /// Opens the database at `path` without any right to change it (the dashboard's
    /// connections); its schema must be this greenai's.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = crate::open::open_read_only(path)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify_open_error(path, e))?;
        let known = MIGRATIONS.len() as i64;
        if found != known {
            return Err(StoreError::Unavailable {
                path: path.to_path_buf(),
                reason: format!(
                    "its schema (version {found}) must be upgraded to version {known}, which needs \
                     write access"
                ),
                hint: "run greenai once as a user who may write it".into(),
            });
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version this file is at.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(StoreError::write)
    }

    /// Adds a finished run measured elsewhere (another node's database, exported as JSON): its
    /// report, labels and results, without its power series, which stays where it was measured.
    /// Returns `false`, changing nothing, when a run with its id is here already.
    pub fn import_report(&self, r: &RunReport) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO runs (id, project_name, command, argv, labels, started_unix_s,
                     interval_s, host, components, missing, greenai_pid, complete, exit_code,
                     duration_s, energy_j, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '[]', '[]', 0, 1, ?9, ?10, ?11, ?12)",
                params![
                    r.run_id,
                    r.project_name,
                    r.command,
                    json(&r.argv),
                    json(&r.labels),
                    r.started_unix_s,
                    r.interval_s,
                    json(&r.host),
                    r.exit_code,
                    r.duration_s,
                    r.energy_j,
                    json(r)
                ],
            )
            .map_err(StoreError::write)?;
        Ok(n == 1)
    }

    /// Records a run as started (and incomplete until [`Store::finish_run`]).
    pub fn begin_run(&self, r: &RunStart) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO runs (id, project_name, command, argv, labels, started_unix_s, interval_s,
                                   host, components, missing, greenai_pid, carbon)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    r.run_id,
                    r.project_name,
                    r.command,
                    json(&r.argv),
                    json(&r.labels),
                    r.started_unix_s,
                    r.interval_s,
                    json(&r.host),
                    json(&r.components),
                    json(&r.missing),
                    std::process::id() as i64,
                    json(&r.carbon),
                ],
            )
            .map_err(StoreError::write)?;
        Ok(())
    }

    /// Stores a run's final report and marks it complete. Labels added since the run began (a
    /// training run's accuracy) are stored with it.
    pub fn finish_run(&self, report: &RunReport) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET complete = 1, exit_code = ?2, duration_s = ?3, energy_j = ?4, report = ?5,
                 labels = ?6 WHERE id = ?1",
                params![
                    report.run_id,
                    report.exit_code,
                    report.duration_s,
                    report.energy_j,
                    json(report),
                    json(&report.labels)
                ],
            )
            .map_err(StoreError::write)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "no run {} to finish",
                report.run_id
            )));
        }
        Ok(())
    }

    /// Removes a run that never started its command, with any samples it took.
    pub fn discard_run(&self, run_id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM samples WHERE run_id = ?1", [run_id])
            .and_then(|_| {
                self.conn
                    .execute("DELETE FROM runs WHERE id = ?1 AND complete = 0", [run_id])
            })
            .map_err(StoreError::write)?;
        Ok(())
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>> {
        self.runs_where("1", [])
    }

    /// The runs whose label `key` is `value`, oldest first (one query, not a read of every run).
    pub fn runs_labelled(&self, key: &str, value: &str) -> Result<Vec<RunSummary>> {
        self.runs_where(
            "id IN (SELECT run_id FROM run_labels WHERE key = ?1 AND value = ?2)",
            [key, value],
        )
    }

    fn runs_where<P: rusqlite::Params>(&self, filter: &str, params: P) -> Result<Vec<RunSummary>> {
        self.runs_query(filter, "ORDER BY started_unix_s, id", params)
    }

    /// The runs matching `filter`, in the order and window `tail` says (`ORDER BY … LIMIT …`).
    pub(crate) fn runs_query<P: rusqlite::Params>(
        &self,
        filter: &str,
        tail: &str,
        params: P,
    ) -> Result<Vec<RunSummary>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT id, project_name, command, started_unix_s, duration_s, energy_j, exit_code,
                        complete, greenai_pid, json_extract(report, '$.provenance'), labels,
                        json_extract(report, '$.results')
                 FROM runs WHERE {filter} {tail}"
            ))
            .map_err(StoreError::write)?;
        let rows = stmt
            .query_map(params, |r| {
                let complete: bool = r.get(7)?;
                let pid: i64 = r.get(8)?;
                Ok(RunSummary {
                    run_id: r.get(0)?,
                    project_name: r.get(1)?,
                    command: r.get(2)?,
                    started_unix_s: r.get(3)?,
                    duration_s: r.get(4)?,
                    energy_j: r.get(5)?,
                    provenance: r
                        .get::<_, Option<String>>(9)?
                        .and_then(|p| serde_json::from_value(serde_json::Value::String(p)).ok()),
                    exit_code: r.get(6)?,
                    labels: r
                        .get::<_, Option<String>>(10)?
                        .and_then(|l| serde_json::from_str(&l).ok())
                        .unwrap_or_default(),
                    results: r
                        .get::<_, Option<String>>(11)?
                        .and_then(|l| serde_json::from_str(&l).ok()),
                    status: if complete {
                        RunStatus::Complete
                    } else if pid_alive(pid) {
                        RunStatus::Running
                    } else {
                        RunStatus::Incomplete
                    },
                })
            })
            .map_err(StoreError::write)?;
        let mut out: Vec<RunSummary> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(StoreError::write)?;
        // An incomplete run's figures come from its samples.
        for r in out.iter_mut().filter(|r| r.status != RunStatus::Complete) {
            if let Ok(rep) = self.report(&r.run_id) {
                r.duration_s = Some(rep.duration_s);
                r.energy_j = Some(rep.energy_j);
                r.provenance = Some(rep.provenance);
            }
        }
        Ok(out)
    }

    /// The full id of the one run whose id starts with `prefix`.
    pub fn resolve(&self, prefix: &str) -> Result<String> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2")
            .map_err(StoreError::write)?;
        let ids: Vec<String> = stmt
            .query_map([prefix], |r| r.get(0))
            .map_err(StoreError::write)?
            .collect::<rusqlite::Result<_>>()
            .map_err(StoreError::write)?;
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(StoreError::NotFound(format!(
                "no run with id {prefix:?} in {}; `greenai runs list` shows them",
                self.path.display()
            ))),
            _ => Err(StoreError::NotFound(format!(
                "{prefix:?} matches several runs; give more of the id"
            ))),
        }
    }

    /// A run's stored samples, in order.
    pub fn samples(&self, run_id: &str) -> Result<Vec<StoredSample>> {
        self.samples_query(run_id, "ORDER BY seq", &[])
    }

    /// A run's samples that `tail` selects (`AND seq % ?2 = 0 ORDER BY seq`, with `more` as its
    /// parameters from `?2`).
    pub(crate) fn samples_query(
        &self,
        run_id: &str,
        tail: &str,
        more: &[i64],
    ) -> Result<Vec<StoredSample>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seq, elapsed_s, unix_s, total_power_w, energy_j, readings, readings_json
                 FROM samples WHERE run_id = ?1 {tail}"
            ))
            .map_err(StoreError::write)?;
        let params: Vec<rusqlite::types::Value> = std::iter::once(run_id.to_string().into())
            .chain(more.iter().map(|&v| v.into()))
            .collect();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(StoreError::write)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, elapsed_s, unix_s, p, e, packed, text) = row.map_err(StoreError::write)?;
            let readings: Vec<(Option<f64>, Option<f64>)> = match (packed, text) {
                (Some(b), _) => unpack_readings(&b).ok_or_else(|| {
                    StoreError::Transient(format!("sample {seq} of run {run_id} is damaged"))
                })?,
                (None, Some(t)) => from_json(&t, "sample")?,
                (None, None) => Vec::new(),
            };
            out.push(StoredSample {
                seq,
                elapsed_s,
                unix_s,
                total_power: Power::from_watts(p),
                energy: e.map(Energy::from_joules),
                readings: readings
                    .into_iter()
                    .map(|(e, p)| (e.map(Energy::from_joules), p.map(Power::from_watts)))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// A run's report: the stored one for a complete run; for an incomplete one, what its stored
    /// samples show, marked `complete: false`.
    pub fn report(&self, run_id: &str) -> Result<RunReport> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            f64,
            f64,
            String,
            String,
            String,
            bool,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT id, project_name, command, argv, labels, started_unix_s, interval_s, host,
                        components, missing, complete, report, carbon
                 FROM runs WHERE id = ?1",
                [run_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                    ))
                },
            )
            .optional()
            .map_err(StoreError::write)?;
        let Some((
            id,
            project,
            command,
            argv,
            labels,
            started,
            interval,
            host,
            comps,
            missing,
            complete,
            report,
            carbon,
        )) = row
        else {
            return Err(StoreError::NotFound(format!("no run {run_id}")));
        };
        if complete {
            if let Some(r) = report {
                return from_json(&r, "report");
            }
        }
        // The carbon settings the run started with; a run recorded before they were kept has none.
        let settings = carbon.and_then(|c| serde_json::from_str::<CarbonSettings>(&c).ok());
        let start = RunStart {
            run_id: id,
            project_name: project,
            command,
            argv: from_json(&argv, "argv")?,
            labels: from_json(&labels, "labels")?,
            started_unix_s: started,
            interval_s: interval,
            host: from_json(&host, "host")?,
            components: from_json(&comps, "component list")?,
            missing: from_json(&missing, "missing list")?,
            carbon: settings.clone().unwrap_or_default(),
        };
        let samples = self.samples(&start.run_id)?;
        let m = series::measurement(&start.components, &start.missing, started, &samples);
        // The same assembly as a finished run's, marked as what it is.
        let mut report = start.finish(&m, 0, None);
        report.exit_code = None;
        report.complete = false;
        report.carbon = settings.and_then(|settings| {
            let resolved = settings.resolve().ok()?;
            let series: Vec<(f64, Energy)> = samples
                .iter()
                .filter_map(|s| Some((s.unix_s, s.energy?)))
                .collect();
            Some(greenai_carbon::assess(
                &settings, &resolved, m.energy, m.duration, &series,
            ))
        });
        Ok(report)
    }

    /// Reports of the runs named (all runs when `ids` is empty), oldest first.
    pub fn reports(&self, ids: &[String]) -> Result<Vec<RunReport>> {
        let ids: Vec<String> = if ids.is_empty() {
            self.runs()?.into_iter().map(|r| r.run_id).collect()
        } else {
            ids.iter().map(|p| self.resolve(p)).collect::<Result<_>>()?
        };
        ids.iter().map(|id| self.report(id)).collect()
    }
}

/// Inserts samples of one run, in batches, from its own connection.
pub struct SampleSink {
    conn: Connection,
    run_id: String,
    seq: i64,
}

impl SampleSink {
    /// A second connection to a database that [`Store::open`] has already opened and checked
    /// (the run `run_id` begun in it): the file is not identified again.
    pub fn open(path: &Path, run_id: &str) -> Result<SampleSink> {
        Ok(SampleSink {
            conn: open_connection(path, Verify::AlreadyDone)?,
            run_id: run_id.to_string(),
            seq: 0,
        })
    }

    /// Writes a batch in one transaction: all of it or none.
    pub fn write(&mut self, batch: &[(greenai_meter::Sample, Option<Energy>)]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::write)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO samples (run_id, seq, elapsed_s, unix_s, total_power_w, energy_j, readings)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(StoreError::write)?;
            for (seq, (s, energy)) in (self.seq..).zip(batch) {
                let readings: Vec<(Option<f64>, Option<f64>)> = s
                    .readings
                    .iter()
                    .map(|r| (r.energy.map(|e| e.joules()), r.power.map(|p| p.watts())))
                    .collect();
                stmt.execute(params![
                    self.run_id,
                    seq,
                    s.elapsed.as_secs_f64(),
                    s.unix_s,
                    s.total_power.watts(),
                    energy.map(|e| e.joules()),
                    pack_readings(&readings)
                ])
                .map_err(StoreError::write)?;
            }
        }
        tx.commit().map_err(StoreError::write)?;
        self.seq += batch.len() as i64;
        Ok(())
    }
}
