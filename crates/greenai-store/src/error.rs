use std::path::PathBuf;

/// What went wrong with the run database, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be created or opened (a missing directory, a read-only disk).
    #[error("cannot open the run database {}: {reason}; {hint}", path.display())]
    Unavailable {
        path: PathBuf,
        reason: String,
        hint: String,
    },
    /// The file exists but is not a greenai database, or is damaged. It is left untouched.
    #[error("{} is not a readable greenai database ({reason}); it was left untouched: move it aside, or choose another file with --db or GREENAI_DB", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// A valid SQLite database that is not greenai's: refused, left byte for byte as it was.
    #[error("{} is an SQLite database but not greenai's ({reason}); it was left untouched: choose another file with --db or GREENAI_DB", path.display())]
    Foreign { path: PathBuf, reason: String },
    /// SQLite's quick check found damage: nothing was written.
    #[error("{} fails SQLite's integrity check ({reason}); nothing was written to it. Copy it aside; `sqlite3 FILE .recover | sqlite3 NEW` saves the runs that can still be read, and --db NEW uses them", path.display())]
    Damaged { path: PathBuf, reason: String },
    /// A newer greenai wrote the schema: this one will not guess at it.
    #[error("{} has schema version {found}, newer than this greenai knows ({known}); upgrade greenai, or choose another file with --db", path.display())]
    Unsupported {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// Settings that cannot work (an unknown region, a monitor that cannot start): nothing was
    /// recorded.
    #[error("{0}")]
    Invalid(String),
    /// No run matches the id given.
    #[error("{0}")]
    NotFound(String),
    /// A write failed (a full disk, a lock held too long): what was committed before is kept.
    #[error("writing to the run database failed: {0}")]
    Transient(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub(crate) fn write(e: rusqlite::Error) -> StoreError {
        StoreError::Transient(e.to_string())
    }
}
