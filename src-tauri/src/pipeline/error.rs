use std::path::PathBuf;

use crate::jobs::JobError;
use crate::media::MediaError;

/// Why a pipeline run stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Wav(#[from] crate::media::WavError),
    // Boxed: these carry the model-locating errors, which are large.
    #[error("transcription failed: {0}")]
    Stt(Box<bgm_models::stt::SttError>),
    #[error("emotion analysis failed: {0}")]
    Emotion(Box<bgm_models::emotion::EmotionError>),
    #[error("music generation failed: {0}")]
    Riffusion(Box<bgm_models::riffusion::RiffusionError>),
    #[error("music generation (Stable Audio) failed: {0}")]
    StableAudio(Box<bgm_models::stable_audio::StableAudioError>),
    #[error("separating speech from the background failed: {0}")]
    Separation(Box<bgm_models::separation::SeparationError>),
    #[error("turning the spectrogram into audio failed: {0}")]
    Spectrogram(#[from] bgm_models::spectrogram::SpectrogramError),
    #[error("the generated music cannot be mixed: {0}")]
    MusicFormat(String),
    #[error(transparent)]
    Plan(#[from] bgm_models::plan::PlanError),
    #[error("mixing failed: {0}")]
    Mix(#[from] super::mix::MixError),
    #[error(transparent)]
    Loudness(#[from] super::loudness::LoudnessError),
    #[error("\"{}\": {message}", .path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Device(#[from] bgm_models::device::DeviceError),
    #[error(transparent)]
    Models(#[from] bgm_models::weights::WeightsError),
    #[error("the plan is not made yet: run the job up to the plan stage first")]
    PlanNotMade,
    /// Models the stages to run need that are not downloaded; each front end says how to get
    /// them (a download button, a command line).
    #[error("{} not downloaded yet: {}", models_phrase(.0), .0.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "))]
    ModelsMissing(Vec<bgm_models::weights::MissingModel>),
    #[error(
        "not enough disk space in \"{}\": this run writes about {}, and {} is free; free some space or move the jobs folder",
        .dir.display(),
        crate::units::human_bytes(*.needed),
        crate::units::human_bytes(*.available)
    )]
    DiskSpace {
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("cancelled; run the job again to resume where it stopped")]
    Cancelled,
}

fn models_phrase(models: &[bgm_models::weights::MissingModel]) -> String {
    let bytes: u64 = models.iter().map(|m| m.bytes_to_download).sum();
    let count = match models.len() {
        1 => "1 model".to_string(),
        n => format!("{n} models"),
    };
    format!(
        "{count} ({:.1} GB) needed for this job {}",
        bytes as f64 / 1e9,
        if models.len() == 1 { "is" } else { "are" }
    )
}

impl From<bgm_models::stt::SttError> for PipelineError {
    fn from(e: bgm_models::stt::SttError) -> Self {
        Self::Stt(Box::new(e))
    }
}

impl From<bgm_models::riffusion::RiffusionError> for PipelineError {
    fn from(e: bgm_models::riffusion::RiffusionError) -> Self {
        Self::Riffusion(Box::new(e))
    }
}

impl From<bgm_models::stable_audio::StableAudioError> for PipelineError {
    fn from(e: bgm_models::stable_audio::StableAudioError) -> Self {
        match e {
            bgm_models::stable_audio::StableAudioError::Cancelled => Self::Cancelled,
            e => Self::StableAudio(Box::new(e)),
        }
    }
}

impl From<bgm_models::separation::SeparationError> for PipelineError {
    fn from(e: bgm_models::separation::SeparationError) -> Self {
        match e {
            bgm_models::separation::SeparationError::Cancelled => Self::Cancelled,
            e => Self::Separation(Box::new(e)),
        }
    }
}

impl From<bgm_models::emotion::EmotionError> for PipelineError {
    fn from(e: bgm_models::emotion::EmotionError) -> Self {
        Self::Emotion(Box::new(e))
    }
}

impl PipelineError {
    pub fn file(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }

    /// Cancellation, from whichever layer noticed it.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            PipelineError::Cancelled | PipelineError::Media(MediaError::Cancelled)
        ) || matches!(self, PipelineError::Stt(e) if matches!(**e, bgm_models::stt::SttError::Cancelled))
            || matches!(self, PipelineError::Emotion(e) if matches!(**e, bgm_models::emotion::EmotionError::Cancelled))
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
