//! Opening the database file: never writing to a file that is not greenai's, refusing a damaged
//! one before anything is written, and reading one this user may not write.

use crate::error::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// The tables and `runs` columns that make a file greenai's.
const GREENAI_TABLES: [&str; 2] = ["runs", "samples"];
const GREENAI_RUN_COLUMNS: [&str; 4] = ["id", "project_name", "greenai_pid", "started_unix_s"];

/// Checks, reading only, that `conn` is an empty database or greenai's: a file with other
/// tables, or a `runs` table of another shape, is someone else's and is refused untouched.
pub(crate) fn identify(conn: &Connection, path: &Path) -> Result<()> {
    let read = |e: rusqlite::Error| classify_open_error(path, e);
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(read)?;
        let names = stmt.query_map([], |r| r.get(0)).map_err(read)?;
        names.collect::<rusqlite::Result<_>>().map_err(read)?
    };
    if tables.is_empty() {
        return Ok(());
    }
    let foreign = |why: String| StoreError::Foreign {
        path: path.to_path_buf(),
        reason: why,
    };
    let missing: Vec<&str> = GREENAI_TABLES
        .iter()
        .copied()
        .filter(|t| !tables.iter().any(|n| n == t))
        .collect();
    if !missing.is_empty() {
        return Err(foreign(format!(
            "it has the tables {tables:?} and not greenai's {missing:?}"
        )));
    }
    let columns: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA table_info(runs)").map_err(read)?;
        let names = stmt.query_map([], |r| r.get(1)).map_err(read)?;
        names.collect::<rusqlite::Result<_>>().map_err(read)?
    };
    if let Some(c) = GREENAI_RUN_COLUMNS
        .iter()
        .find(|c| !columns.iter().any(|n| n == *c))
    {
        return Err(foreign(format!(
            "its runs table has no {c} column: another program's table"
        )));
    }
    Ok(())
}

/// SQLite's quick check of a database that holds data, before anything is written to it.
pub(crate) fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let problems: Vec<String> = {
        let mut stmt = conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|e| classify_open_error(path, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| classify_open_error(path, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| classify_open_error(path, e))?
    };
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Damaged {
        path: path.to_path_buf(),
        reason: problems.join("; "),
    })
}

/// Opens an existing database for reading only (`runs list`, `show`, `export` where the user
/// may not write it): first as an ordinary read-only connection, then, where SQLite cannot even
/// create its shared-memory file beside it, as an immutable one.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection> {
    check_size(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let uri = |extra: &str| {
        let p = path
            .to_string_lossy()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23");
        format!("file:{p}?mode=ro{extra}")
    };
    let try_open = |u: String| -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(u, flags)?;
        c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(c)
    };
    let conn = try_open(uri(""))
        .or_else(|_| try_open(uri("&immutable=1")))
        .map_err(|e| classify_open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(StoreError::write)?;
    identify(&conn, path)?;
    Ok(conn)
}

/// SQLite takes a file shorter than a page for an empty database and writes over it; no SQLite
/// database is between 1 and 511 bytes long, so such a file is someone else's. Only its size is
/// looked at: opening and closing a descriptor of a file SQLite holds in this process would drop
/// the process's POSIX locks on it. (A longer file that is not a database SQLite refuses itself.)
fn check_size(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && (1..512).contains(&m.len()) => Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("{} bytes: too short to be an SQLite database", m.len()),
        }),
        _ => Ok(()),
    }
}

/// Whether [`open_connection`] must first make sure the file is greenai's: yes for a first
/// opening ([`crate::Store::open`]); no for the sample writer's own connection to a file its
/// store has just opened and checked (the checks are a stat and two schema queries, repeated for
/// nothing at every run's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    Yes,
    AlreadyDone,
}

pub(crate) fn open_connection(path: &Path, verify: Verify) -> Result<Connection> {
    if verify == Verify::Yes {
        check_size(path)?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable {
            path: path.to_path_buf(),
            reason: format!("cannot create {}: {e}", dir.display()),
            hint: "choose a writable place with --db PATH or GREENAI_DB".into(),
        })?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Unavailable {
        path: path.to_path_buf(),
        reason: e.to_string(),
        hint: "choose a writable place with --db PATH or GREENAI_DB".into(),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(StoreError::write)?;
    // Whose file is it? Nothing is written (not even the journal mode) to one that is not
    // greenai's, or not empty.
    if verify == Verify::Yes {
        identify(&conn, path)?;
    }
    // Reading the schema version is the first touch of the file's contents. WAL: readers never
    // block the writer, and a killed process loses only its open transaction; NORMAL sync is
    // durable across a process crash (a power loss may lose the last transaction). Switching a
    // new file to WAL takes an exclusive lock for which SQLite does not always wait, so two
    // processes creating one database at once retry here rather than fail.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mode: String = loop {
        let attempt = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .and_then(|_| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)));
        match attempt {
            Ok(mode) => break mode,
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(classify_open_error(path, e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable {
            path: path.to_path_buf(),
            reason: format!("the file system refused write-ahead logging (journal mode {mode})"),
            hint: "put the database on a local file system with --db PATH".into(),
        });
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(StoreError::write)?;
    Ok(conn)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub(crate) fn classify_open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::NotADatabase) | Some(C::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        Some(C::ReadOnly) | Some(C::CannotOpen) | Some(C::PermissionDenied) => {
            StoreError::Unavailable {
                path: path.to_path_buf(),
                reason: e.to_string(),
                hint: "check the file's permissions, or choose another with --db PATH".into(),
            }
        }
        _ => StoreError::Transient(format!("{}: {e}", path.display())),
    }
}
