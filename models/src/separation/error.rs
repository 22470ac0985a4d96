use std::path::PathBuf;

/// Everything that can go wrong in the separation stage.
#[derive(Debug, thiserror::Error)]
pub enum SeparationError {
    #[error("{path} is not a Demucs checkpoint: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("this Demucs model uses options BGM Studio does not implement: {0}")]
    Unsupported(String),
    #[error(
        "the Demucs weights could not be loaded: {source}; download the model again from Models"
    )]
    Weights {
        #[source]
        source: candle_core::Error,
    },
    /// Boxed: the model-locating errors are large.
    #[error(transparent)]
    Locate(Box<crate::weights::WeightsError>),
    #[error("the audio to separate is not usable: {0}")]
    Input(String),
    #[error("running Demucs failed: {0}")]
    Compute(#[from] candle_core::Error),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, SeparationError>;

impl From<crate::weights::WeightsError> for SeparationError {
    fn from(e: crate::weights::WeightsError) -> Self {
        Self::Locate(Box::new(e))
    }
}
