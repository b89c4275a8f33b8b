/// What went wrong, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum CarbonError {
    /// The region is not in the bundled tables.
    #[error("unknown region {region:?}{hint}; `greenai carbon regions` lists the known ones, or give --intensity G_PER_KWH")]
    Unknown { region: String, hint: String },
    /// A value out of its range (a PUE below 1, an ERF above 1, a negative intensity).
    #[error("{0}")]
    Invalid(String),
    /// An intensity file cannot be read.
    #[error("cannot read the intensity file {path}: {reason}")]
    Unavailable { path: String, reason: String },
    /// An intensity file is malformed.
    #[error("{path}, line {line}: {reason}")]
    Malformed {
        path: String,
        line: usize,
        reason: String,
    },
    /// A forecast that is not what its format says.
    #[error("{origin}: {reason}")]
    BadForecast { origin: String, reason: String },
}

pub type Result<T, E = CarbonError> = std::result::Result<T, E>;
