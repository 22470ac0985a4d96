use std::path::PathBuf;

use crate::weights::WeightsError;

/// Everything that can go wrong in the speech-to-text stage.
#[derive(Debug, thiserror::Error)]
pub enum SttError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the Whisper model's {path} is not valid: {message}")]
    Config { path: PathBuf, message: String },
    #[error("could not load the Whisper tokenizer from {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("the Whisper model's weights could not be loaded: {0}; download the model again from Models")]
    Weights(#[source] candle_core::Error),
    #[error(transparent)]
    Locate(#[from] WeightsError),
    #[error("running the Whisper model failed: {0}")]
    Compute(#[from] candle_core::Error),
    #[error("unknown language \"{code}\"; this model knows: {known}")]
    UnknownLanguage { code: String, known: String },
    #[error("this Whisper model is English-only: it cannot {what}")]
    EnglishOnly { what: &'static str },
    #[error("tokenizing the prompt failed: {0}")]
    Encode(String),
    #[error("invalid decoding option: {0}")]
    Options(String),
    /// A [`super::SpeechSource`] could not give its samples; the error names the file.
    #[error(transparent)]
    Input(Box<dyn std::error::Error + Send + Sync>),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = SttError> = std::result::Result<T, E>;
