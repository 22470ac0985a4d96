//! The one error type of the spectrogram module.

/// Everything that can go wrong converting between spectrogram images and audio.
#[derive(Debug, thiserror::Error)]
pub enum SpectrogramError {
    #[error("invalid spectrogram parameters: {0}")]
    InvalidParams(String),
    #[error("image height must be {expected} rows, got {got}")]
    ImageHeight { expected: usize, got: usize },
    #[error("image width must be at least {min} columns, got {got}")]
    ImageWidth { min: usize, got: usize },
    #[error("audio must have {expected} channel(s) for these parameters, got {got}")]
    ChannelCount { expected: usize, got: usize },
    #[error("audio channels have different lengths ({0} and {1} samples)")]
    ChannelLengths(usize, usize),
    #[error("audio is too short: {got} samples, at least {min} needed")]
    AudioTooShort { min: usize, got: usize },
    #[error("audio contains a non-finite sample (NaN or infinity)")]
    NonFiniteAudio,
    #[error("pixel buffer has {got} bytes, expected {expected} for {width}x{height}x{channels}")]
    PixelBuffer {
        expected: usize,
        got: usize,
        width: usize,
        height: usize,
        channels: usize,
    },
    #[error("PNG metadata field {key} is invalid: {value:?}")]
    Metadata { key: String, value: String },
    #[error("PNG encoding failed: {0}")]
    PngEncode(#[from] png::EncodingError),
    #[error("PNG decoding failed: {0}")]
    PngDecode(#[from] png::DecodingError),
    #[error("unsupported PNG format: {0}")]
    PngFormat(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, SpectrogramError>;
