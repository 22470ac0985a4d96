//! Stable Audio 3 (Stability AI, github.com/Stability-AI/stable-audio-3, read at 636f906): the
//! music engine that makes full-band stereo (docs/stable-audio-3-port.md says what the
//! reference computes). Here: the diffusion transformer, the duration and timestep
//! conditioning, the post-trained model's sampler (read from the published `model_config.json`
//! and `model.safetensors`), the T5Gemma text encoder, SAME-S's encoder and decoder between
//! stereo audio and latents, and the whole model with continuation (`model`). The app's generate stage drives it
//! section by section.

mod config;
mod dit;
mod duration;
mod error;
mod fourier;
mod model;
mod prompt;
mod same;
mod sampler;
mod t5gemma;

pub use config::DitConfig;
pub use dit::{DiffusionTransformer, DitInputs};
pub use duration::{DurationEmbedder, MAX_SECONDS};
pub use error::{Result, StableAudioError};
pub use fourier::expo_fourier_features;
pub use model::{
    GeneratedMusic, Latents, MusicRequest, StableAudio, CONFIG_FILE, HUB_REPO, LICENCE_NAME,
    LICENCE_PAGE, MODEL_NAME, PUBLISHED_FILES, TEXT_ENCODER_FOLDER, WEIGHTS_FILE,
};
pub use prompt::{Conditioned, PromptConditioner, TextEncoder, MAX_PROMPT_TOKENS};
pub use same::{NoiseSource, SameConfig, SameDecoder, SameEncoder};
pub use sampler::{
    pingpong_schedule, sample_pingpong, Conditioning, LatentLength, DEFAULT_STEPS, MAX_SAMPLES,
    SAMPLES_PER_FRAME, SAMPLE_RATE,
};
pub use t5gemma::{T5GemmaConfig, T5GemmaEncoder};
