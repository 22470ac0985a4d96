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

impl StableAudioError {
    /// `path` is not the config it should be, and why.
    pub(super) fn config(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::Config {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// A JSON config file, or an error naming it.
pub(super) fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| StableAudioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| StableAudioError::config(path, e.to_string()))
}
