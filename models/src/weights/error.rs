//! The one error type of the weights module: every variant says what went wrong and how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong while finding, downloading or converting model weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("unknown model \"{name}\"; known models: {known}")]
    UnknownModel { name: String, known: String },

    #[error(
        "{model} ({repo}) is not available: missing {missing}. Searched {searched}. {fix}",
        missing = .missing.join(", "),
        searched = .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
    )]
    NotAvailable {
        model: String,
        repo: String,
        missing: Vec<String>,
        searched: Vec<PathBuf>,
        fix: String,
    },

    #[error("{file} of {repo}: the hub answered {detail}")]
    Hub {
        repo: String,
        file: String,
        detail: String,
    },

    #[error(
        "{file} of {repo} is corrupt after download: {detail}; it was deleted, download it again"
    )]
    Corrupt {
        repo: String,
        file: String,
        detail: String,
    },

    /// A URL-hosted file could not be fetched.
    #[error("{file} from {url}: {detail}")]
    Download {
        url: String,
        file: String,
        detail: String,
    },

    /// A URL-hosted file arrived whole but is not the pinned one; nothing was kept.
    #[error(
        "{file} downloaded from {url} does not match its pinned {check}: expected {expected}, \
         got {actual}; it was deleted, download it again"
    )]
    Mismatch {
        url: String,
        file: String,
        /// `sha256` or `size`.
        check: &'static str,
        expected: String,
        actual: String,
    },

    #[error("download of {repo} cancelled")]
    Cancelled { repo: String },

    #[error("cannot convert {path} to safetensors: {detail}")]
    Conversion { path: PathBuf, detail: String },

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid model definition: {0}")]
    InvalidEntry(String),

    #[error("cannot set up the download: {0}")]
    Setup(String),
}

impl WeightsError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, WeightsError>;
