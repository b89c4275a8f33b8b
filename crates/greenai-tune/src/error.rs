/// What went wrong in a job, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// Settings or inputs that cannot work (a zero batch, images of another size, a learning
    /// rate that is not positive): nothing was trained.
    #[error("{0}")]
    Invalid(String),
    /// The run database refused (see [`greenai_store::StoreError`]).
    #[error(transparent)]
    Store(#[from] greenai_store::StoreError),
    /// The engine refused an input (a malformed file, a model that does not fit the data), with
    /// what the job was doing.
    #[error("{context}: {cause}")]
    Engine {
        context: String,
        cause: greenai_nn::NnError,
    },
    /// The meter refused (a window misused, a sensor that cannot start).
    #[error(transparent)]
    Meter(#[from] greenai_meter::MeterError),
    /// A file the job writes (a checkpoint) could not be written.
    #[error("{0}")]
    Io(String),
}

impl TuneError {
    /// An engine error with what the job was doing.
    pub fn engine(context: impl Into<String>) -> impl FnOnce(greenai_nn::NnError) -> TuneError {
        let context = context.into();
        move |cause| TuneError::Engine { context, cause }
    }
}

impl From<greenai_nn::NnError> for TuneError {
    fn from(cause: greenai_nn::NnError) -> Self {
        TuneError::Invalid(cause.to_string())
    }
}

pub type Result<T, E = TuneError> = std::result::Result<T, E>;

/// `return Err(TuneError::Invalid(format!(...)))`.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => {
        return Err($crate::TuneError::Invalid(format!($($arg)*)))
    };
}
