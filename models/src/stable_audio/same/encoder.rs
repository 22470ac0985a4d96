//! SAME-S's encoder: stereo audio to latents (`AudioAutoencoder.encode`: patches, `SAMEEncoder`,
//! then the bottleneck's affine map). What continuing or inpainting from a recording needs.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv1dConfig, VarBuilder};

use super::blocks::{weight_normed, ChunkedBlocks};
use super::patches::{pad_last, patch};
use super::SameConfig;
use crate::kernels::conv::Conv1d;
use crate::kernels::linear::{linear, Linear};

type Result<T> = candle_core::Result<T>;

/// The loaded encoder.
pub struct SameEncoder {
    config: SameConfig,
    mapping: Conv1d,
    new_tokens: Tensor,
    blocks: ChunkedBlocks,
    project: Linear,
    /// The bottleneck's per-channel affine map `[1, latent, 1]` and its global scale.
    scaling_factor: Tensor,
    bias: Tensor,
    running_std: f64,
    device: Device,
}

impl SameEncoder {
    /// `vb` at the autoencoder's root, as for the decoder; f32 on every device, for the same
    /// reason (differential attention).
    pub fn load(config: &SameConfig, vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        let stage = vb.pp("encoder.layers.0");
        let in_channels = config.patch_size * config.audio_channels;
        let mapping = stage.pp("mapping");
        let kernel = config.mapping_kernel;
        let weight = weight_normed(
            &mapping.get((config.width, 1, 1), "weight_g")?,
            &mapping.get((config.width, in_channels, kernel), "weight_v")?,
        )?;
        let conv = Conv1dConfig {
            padding: kernel / 2,
            ..Default::default()
        };
        let bottleneck = vb.pp("bottleneck");
        Ok(Self {
            mapping: Conv1d::new(weight, mapping.get(config.width, "bias")?, conv),
            new_tokens: stage.get((1, 1, config.width), "new_tokens")?,
            blocks: ChunkedBlocks::load(config, stage.clone())?,
            project: linear(config.width, config.latent_dim, vb.pp("encoder.layers.2"))?,
            scaling_factor: bottleneck.get((1, config.latent_dim, 1), "scaling_factor")?,
            bias: bottleneck.get((1, config.latent_dim, 1), "bias")?,
            running_std: bottleneck.get(1, "running_std")?.to_vec1::<f32>()?[0] as f64,
            config: config.clone(),
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &SameConfig {
        &self.config
    }

    /// Latents `[B, latent, frames]` of audio `[B, channels, samples]`. As in the reference,
    /// the audio is completed with silence to whole attention chunks (two frames for SAME-S),
    /// so `frames` is `samples / samples_per_frame` rounded up to a whole chunk.
    pub fn encode(&self, audio: &Tensor) -> Result<Tensor> {
        let cfg = &self.config;
        let audio = audio.to_device(&self.device)?.to_dtype(DType::F32)?;
        let b = audio.dim(0)?;
        // Silence is padded before the mapping, so it is mapped as silence.
        let patches = patch(&audio, cfg.patch_size)?;
        let positions = patches.dim(2)?.div_ceil(cfg.chunk_size) * cfg.chunk_size;
        let patches = pad_last(&patches, positions)?;
        let frames = positions / cfg.stride;
        let x = self.mapping.forward(&patches)?.transpose(1, 2)?.reshape((
            b * frames,
            cfg.stride,
            cfg.width,
        ))?;
        // Each frame's `stride` patches, then one new token that becomes the frame.
        let new_tokens = self
            .new_tokens
            .broadcast_as((b * frames, 1, cfg.width))?
            .contiguous()?;
        let sub_chunk = cfg.stride + 1;
        let x = Tensor::cat(&[&x, &new_tokens], 1)?.reshape((b, frames * sub_chunk, cfg.width))?;
        let x = self
            .blocks
            .forward(&x, sub_chunk * cfg.frames_per_chunk())?;
        let tokens = x
            .reshape((b * frames, sub_chunk, cfg.width))?
            .narrow(1, cfg.stride, 1)?
            .reshape((b, frames, cfg.width))?;
        let latents = self.project.forward(&tokens)?.transpose(1, 2)?;
        (latents
            .broadcast_mul(&self.scaling_factor)?
            .broadcast_add(&self.bias)?
            / self.running_std)?
            .contiguous()
    }
}
