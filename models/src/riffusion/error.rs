use std::path::PathBuf;

use crate::weights::WeightsError;

/// Everything that can go wrong in the Riffusion stage.
#[derive(Debug, thiserror::Error)]
pub enum RiffusionError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the Riffusion config {path} is not valid: {message}")]
    Config { path: PathBuf, message: String },
    #[error("could not load the CLIP tokenizer from {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("the Riffusion {component} weights could not be loaded: {source}; download the model again from Models")]
    Weights {
        component: &'static str,
        #[source]
        source: candle_core::Error,
    },
    #[error(transparent)]
    Locate(#[from] WeightsError),
    #[error("tokenizing the prompt failed: {0}")]
    Encode(String),
    #[error("running Riffusion failed: {0}")]
    Compute(#[from] candle_core::Error),
    #[error("invalid generation request: {0}")]
    Request(String),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, RiffusionError>;
