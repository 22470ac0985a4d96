//! Stable Audio 3 (Stability AI, github.com/Stability-AI/stable-audio-3, read at 636f906): the
//! music engine that makes full-band stereo. This module is being ported part by part (issue
//! 30; docs/stable-audio-3-port.md says what the reference computes). Here so far: the
//! diffusion transformer and its Fourier-feature conditioning, read from the published
//! `model_config.json` + `model.safetensors`.

mod config;
mod dit;
mod error;
mod fourier;

pub use config::DitConfig;
pub use dit::{DiffusionTransformer, DitInputs};
pub use error::{Result, StableAudioError};
pub use fourier::expo_fourier_features;
