use std::path::PathBuf;

use crate::weights::WeightsError;

/// Everything that can go wrong in the emotion stage.
#[derive(Debug, thiserror::Error)]
pub enum EmotionError {
    #[error(
        "unknown emotion \"{0}\": use anger, disgust, fear, joy, neutral, sadness or surprise"
    )]
    UnknownEmotion(String),
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the emotion model's config {path} is not valid: {message}")]
    Config { path: PathBuf, message: String },
    #[error("could not load the emotion tokenizer from {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("the emotion model's weights could not be loaded: {0}; download the model again from Models")]
    Weights(#[source] candle_core::Error),
    #[error(transparent)]
    Locate(#[from] WeightsError),
    #[error("tokenizing the transcript failed: {0}")]
    Encode(String),
    #[error("running the emotion model failed: {0}")]
    Compute(#[source] candle_core::Error),
    #[error("the video duration must be a positive number of seconds, not {0}")]
    BadDuration(f64),
    #[error("the minimum section length must be a non-negative number of seconds, not {0}")]
    BadMinimum(f64),
    #[error("section {index} does not exist; the timeline has {count} sections")]
    NoSuchSection { index: usize, count: usize },
    #[error("cancelled")]
    Cancelled,
}
