//! Speech / background separation with Demucs v4 (HTDemucs, Meta, MIT licence): a port of its
//! inference to candle, with the reference's spectrogram front end, layers and chunked
//! overlap-add, checked against the `demucs` package by the parity fixtures in
//! `models/tests/fixtures/separation/`.

pub mod apply;
pub mod checkpoint;
pub mod config;
pub mod error;
mod layers;
pub mod model;
pub mod spec;
mod transformer;

use candle_core::DType;

use crate::device::ComputeDevice;
use crate::weights::{locate_named, var_builder, WeightsConfig};

pub use apply::{separate, separate_stream, MixStatistics, SegmentPlan};
pub use config::HtDemucsConfig;
pub use error::{Result, SeparationError};
pub use model::HtDemucs;

/// The catalogue name of the separation model: Meta's htdemucs (vocals, drums, bass, other).
pub const MODEL_NAME: &str = "htdemucs";
/// Its one file, as Meta publishes it.
pub const CHECKPOINT_FILE: &str = "htdemucs.th";
/// The source that is the speech; every other source is background.
pub const SPEECH_SOURCE: &str = "vocals";

/// Finds the catalogue's htdemucs (models folder, then the download cache; never the network)
/// and loads it: the configuration from the checkpoint's kwargs, the weights through the
/// catalogue's one-time conversion to safetensors. It computes in f32 on every device (the
/// published weights are float16, rounded once at load).
pub fn load_default(weights: &WeightsConfig, device: &ComputeDevice) -> Result<HtDemucs> {
    let model = locate_named(MODEL_NAME, weights)?;
    let checkpoint = model.file(CHECKPOINT_FILE);
    let config = checkpoint::read_config(&checkpoint)?;
    let tensors = model.safetensors_path(CHECKPOINT_FILE, weights)?;
    let vb = var_builder(&[tensors], DType::F32, &device.device)
        .map_err(|source| SeparationError::Weights { source })?;
    HtDemucs::load(&config, vb).map_err(|source| SeparationError::Weights { source })
}
