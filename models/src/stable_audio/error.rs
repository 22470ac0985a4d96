use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StableAudioError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a Stable Audio 3 model config: {message}")]
    Config { path: PathBuf, message: String },
    /// A prompt the text encoder cannot take; the message says which and why.
    #[error("{0}")]
    Prompt(String),
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Compute(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, StableAudioError>;
