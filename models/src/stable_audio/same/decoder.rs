//! SAME-S's decoder: latents back to stereo audio (`AudioAutoencoder.decode`: the bottleneck's
//! scale, `SAMEDecoder`, then the patches unfolded).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv1dConfig, VarBuilder};

use super::blocks::{weight_normed, ChunkedBlocks};
use super::patches::unpatch;
use super::SameConfig;
use crate::kernels::conv::Conv1d;
use crate::kernels::linear::{linear, Linear};

type Result<T> = candle_core::Result<T>;

/// The bottleneck's latent noise at inference, relative to its running std (the reference's
/// eval-time `noise_regularize` scale).
const LATENT_NOISE: f64 = 1e-3;

/// A draw of standard normal noise of a shape, for the decoder's two noise injections.
pub type NoiseSource<'a> = dyn FnMut(&[usize]) -> Result<Tensor> + 'a;

/// The loaded decoder.
pub struct SameDecoder {
    config: SameConfig,
    running_std: f64,
    project: Linear,
    new_tokens: Tensor,
    blocks: ChunkedBlocks,
    mapping: Conv1d,
    device: Device,
}

impl SameDecoder {
    /// `vb` at the autoencoder's root (`pretransform.model` of a whole checkpoint, or the root
    /// of SAME-S's own file). The decoder computes in f32 on every device: SAME's differential
    /// attention cancels catastrophically in f16 (as the reference's MLX port found).
    pub fn load(config: &SameConfig, vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        let decoder = vb.pp("decoder.layers");
        let stage = decoder.pp("3");
        let out_channels = config.patch_size * config.audio_channels;
        let mapping = stage.pp("mapping");
        let kernel = config.mapping_kernel;
        let weight = weight_normed(
            &mapping.get((out_channels, 1, 1), "weight_g")?,
            &mapping.get((out_channels, config.width, kernel), "weight_v")?,
        )?;
        let conv = Conv1dConfig {
            padding: kernel / 2,
            ..Default::default()
        };
        Ok(Self {
            running_std: vb.get(1, "bottleneck.running_std")?.to_vec1::<f32>()?[0] as f64,
            project: linear(config.latent_dim, config.width, decoder.pp("1"))?,
            new_tokens: stage.get((1, 1, config.width), "new_tokens")?,
            blocks: ChunkedBlocks::load(config, stage.clone())?,
            mapping: Conv1d::new(weight, mapping.get(out_channels, "bias")?, conv),
            config: config.clone(),
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &SameConfig {
        &self.config
    }

    /// Audio `[B, channels, frames × samples_per_frame]` (f32) of latents `[B, latent, frames]`.
    /// `noise` draws the decoder's own noise where the config asks for it (the bottleneck's and
    /// the new tokens'); with `None` the decode is deterministic.
    pub fn decode(&self, latents: &Tensor, mut noise: Option<&mut NoiseSource>) -> Result<Tensor> {
        let cfg = &self.config;
        let latents = latents.to_device(&self.device)?.to_dtype(DType::F32)?;
        let (b, _, frames) = latents.dims3()?;
        let mut z = (latents * self.running_std)?;
        if let (true, Some(draw)) = (cfg.noise_regularize, noise.as_deref_mut()) {
            z = (&z
                + (draw(z.dims())?.to_device(&self.device)? * (self.running_std * LATENT_NOISE))?)?;
        }
        let x = self.project.forward(&z.transpose(1, 2)?.contiguous()?)?;
        // Whole chunks of frames: zero frames after the projection, as the reference pads.
        let per_chunk = cfg.frames_per_chunk();
        let padded = frames.div_ceil(per_chunk) * per_chunk;
        let x = if padded > frames {
            let zeros = Tensor::zeros((b, padded - frames, cfg.width), DType::F32, &self.device)?;
            Tensor::cat(&[&x, &zeros], 1)?
        } else {
            x
        };
        // Each frame's token, then `stride` new tokens.
        let mut new_tokens = self
            .new_tokens
            .broadcast_as((b * padded, cfg.stride, cfg.width))?
            .contiguous()?;
        if let (true, Some(draw)) = (cfg.mask_noise > 0.0, noise) {
            new_tokens = (&new_tokens
                + (draw(new_tokens.dims())?.to_device(&self.device)? * cfg.mask_noise)?)?;
        }
        let sub_chunk = cfg.stride + 1;
        let x = Tensor::cat(&[&x.reshape((b * padded, 1, cfg.width))?, &new_tokens], 1)?
            .reshape((b, padded * sub_chunk, cfg.width))?;
        let x = self.blocks.forward(&x, sub_chunk * per_chunk)?;
        // The new tokens' outputs, as `[B, width, frames × stride]`.
        let x = x
            .reshape((b * padded, sub_chunk, cfg.width))?
            .narrow(1, 1, cfg.stride)?
            .reshape((b, padded * cfg.stride, cfg.width))?
            .transpose(1, 2)?
            .contiguous()?;
        let patches = self.mapping.forward(&x)?;
        let audio = unpatch(&patches, cfg.audio_channels, cfg.patch_size)?;
        audio.narrow(2, 0, frames * cfg.samples_per_frame())
    }
}
