//! The duration conditioning (`seconds_total`): seconds clamped to the trained range, scaled to
//! [0, 1], through the expo Fourier features and one linear layer. The DiT takes the result
//! twice: as the last cross-attention token and as its global vector.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::fourier::expo_fourier_features;
use crate::kernels::linear::{linear, Linear};

/// The reference's range for `seconds_total` (0 to 384 s).
pub const MAX_SECONDS: f32 = 384.0;
const FEATURES: usize = 256;

pub struct DurationEmbedder {
    linear: Linear,
    dtype: DType,
    device: Device,
}

impl DurationEmbedder {
    /// `vb` at `conditioner.conditioners.seconds_total` of a Stable Audio 3 checkpoint.
    pub fn load(width: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            linear: linear(FEATURES, width, vb.pp("embedder.embedding.1"))?,
            dtype: vb.dtype(),
            device: vb.device().clone(),
        })
    }

    /// `[B, width]` for the durations of the batch's rows.
    pub fn forward(&self, seconds: &[f32]) -> Result<Tensor> {
        let scaled: Vec<f32> = seconds
            .iter()
            .map(|s| s.clamp(0.0, MAX_SECONDS) / MAX_SECONDS)
            .collect();
        let features = expo_fourier_features(&scaled, FEATURES, self.dtype, &self.device)?;
        self.linear.forward(&features)
    }
}
