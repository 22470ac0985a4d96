//! SAME-S's decoder: Stable Audio 3's latents back to 44.1 kHz stereo, as the reference's
//! `AudioAutoencoder.decode` computes it (bottleneck, `SAMEDecoder`, patched pretransform),
//! with its weight names: `pretransform.model.*` in a whole Stable Audio 3 checkpoint, no
//! prefix in SAME-S's own repository.
//!
//! Each latent frame becomes one token followed by `stride` learnt "new" tokens; a stack of
//! transformer blocks (DyT norms, differential attention, RoPE on half of each head, SwiGLU)
//! attends within chunks of two frames, shifted by one frame for the second half of the stack,
//! so neighbouring frames always meet; the new tokens' outputs, mapped by a weight-normed
//! convolution, are the audio's patches.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Conv1dConfig, VarBuilder};
use serde::Deserialize;
use serde_json::Value;

use super::dit::Rotary;
use super::error::{read_json, Result as ConfigResult, StableAudioError};
use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::conv::Conv1d;
use crate::kernels::linear::{linear, linear_no_bias, Linear};

type Result<T> = candle_core::Result<T>;

/// The bottleneck's latent noise at inference, relative to its running std (the reference's
/// eval-time `noise_regularize` scale).
const LATENT_NOISE: f64 = 1e-3;

/// What the decoder needs from the autoencoder's config.
#[derive(Clone, Debug, PartialEq)]
pub struct SameConfig {
    pub latent_dim: usize,
    pub audio_channels: usize,
    pub patch_size: usize,
    /// The transformer's width (`channels × c_mults[0]`).
    pub width: usize,
    /// New tokens per latent frame (audio patches per frame).
    pub stride: usize,
    pub depth: usize,
    pub dim_heads: usize,
    /// Latent frames' worth of fine tokens per attention chunk, times the stride.
    pub chunk_size: usize,
    pub midpoint_shift: bool,
    /// The mapping convolution's kernel (3 with `conv_mapping`, else 1).
    pub mapping_kernel: usize,
    /// Noise added to the new tokens at inference (the decoder's `mask_noise`).
    pub mask_noise: f64,
    /// Whether the bottleneck adds noise to the latents when decoding.
    pub noise_regularize: bool,
}

#[derive(Deserialize)]
struct StageJson {
    channels: usize,
    c_mults: Vec<usize>,
    strides: Vec<usize>,
    latent_dim: usize,
    transformer_depths: Vec<usize>,
    #[serde(default = "default_true")]
    differential: bool,
    #[serde(default = "default_true")]
    dyt: bool,
    #[serde(default = "default_heads")]
    dim_heads: usize,
    #[serde(default)]
    variable_stride: bool,
    #[serde(default = "default_chunk")]
    chunk_size: usize,
    #[serde(default)]
    chunk_midpoint_shift: bool,
    #[serde(default)]
    conv_mapping: bool,
    #[serde(default)]
    mask_noise: f64,
    #[serde(default)]
    sliding_window: Option<Value>,
}

fn default_true() -> bool {
    true
}
fn default_heads() -> usize {
    128
}
fn default_chunk() -> usize {
    128
}

impl SameConfig {
    /// SAME-S as Stable Audio 3 Small uses it: the constants of the reference's MLX port.
    pub fn small() -> Self {
        Self {
            latent_dim: 256,
            audio_channels: 2,
            patch_size: 256,
            width: 768,
            stride: 16,
            depth: 6,
            dim_heads: 64,
            chunk_size: 32,
            midpoint_shift: true,
            mapping_kernel: 3,
            mask_noise: 0.01,
            noise_regularize: true,
        }
    }

    /// Reads a Stable Audio 3 `model_config.json` (`model.pretransform.config`) or SAME-S's own
    /// (`model` holds the encoder and decoder); also says under which prefix the weights are.
    pub fn from_model_config(path: &Path) -> ConfigResult<(Self, &'static str)> {
        let invalid = |message: String| StableAudioError::config(path, message);
        let json = read_json(path)?;
        // A whole model nests the autoencoder as its pretransform; SAME-S's own config has the
        // encoder and decoder in `model` (beside the patched pretransform, which is not them).
        let (autoencoder, prefix) = match json.pointer("/model/pretransform/config") {
            Some(config) if config.get("decoder").is_some() => (config, "pretransform.model"),
            _ => (json.get("model").unwrap_or(&json), ""),
        };
        let decoder = autoencoder
            .pointer("/decoder/config")
            .ok_or_else(|| invalid("it has no SAME decoder config".into()))?;
        let stage: StageJson = serde_json::from_value(decoder.clone())
            .map_err(|e| invalid(format!("decoder: {e}")))?;
        let patch_size = autoencoder
            .pointer("/pretransform/config/patch_size")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid("it has no patched pretransform's patch_size".into()))?
            as usize;
        let audio_channels = autoencoder
            .get("io_channels")
            .and_then(Value::as_u64)
            .unwrap_or(2) as usize;
        let noise_regularize = autoencoder
            .pointer("/bottleneck/config/noise_regularize")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let single = |what: &str, values: &[usize]| match values {
            [value] => Ok(*value),
            _ => Err(invalid(format!(
                "decoder.{what} has {} stages; SAME-S has one",
                values.len()
            ))),
        };
        let config = Self {
            latent_dim: stage.latent_dim,
            audio_channels,
            patch_size,
            width: stage.channels * single("c_mults", &stage.c_mults)?,
            stride: single("strides", &stage.strides)?,
            depth: single("transformer_depths", &stage.transformer_depths)?,
            dim_heads: stage.dim_heads,
            chunk_size: stage.chunk_size,
            midpoint_shift: stage.chunk_midpoint_shift,
            mapping_kernel: if stage.conv_mapping { 3 } else { 1 },
            mask_noise: stage.mask_noise,
            noise_regularize,
        };
        let unsupported = [
            (!stage.differential, "non-differential attention"),
            (!stage.dyt, "RMS norms instead of DyT"),
            (!stage.variable_stride, "a fixed-stride new-token table"),
            (
                stage.sliding_window.is_some_and(|w| !w.is_null()),
                "sliding-window attention",
            ),
            (
                !config.width.is_multiple_of(config.dim_heads),
                "heads that do not divide the width",
            ),
            (
                !config.chunk_size.is_multiple_of(config.stride),
                "chunks that are not whole frames",
            ),
        ];
        if let Some((_, what)) = unsupported.iter().find(|(found, _)| *found) {
            return Err(invalid(format!(
                "the decoder uses {what}; this port runs SAME-S"
            )));
        }
        Ok((config, prefix))
    }

    /// Audio samples per latent frame.
    pub fn samples_per_frame(&self) -> usize {
        self.stride * self.patch_size
    }

    /// Latent frames per attention chunk (2 for SAME-S).
    fn frames_per_chunk(&self) -> usize {
        self.chunk_size / self.stride
    }
}

/// Dynamic tanh, SAME's norm: `γ · tanh(α · x) + β` with a scalar α.
struct DynTanh {
    alpha: Tensor,
    gamma: Tensor,
    beta: Tensor,
}

impl DynTanh {
    fn load(width: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            alpha: vb.get(1, "alpha")?,
            gamma: vb.get(width, "gamma")?,
            beta: vb.get(width, "beta")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.broadcast_mul(&self.alpha)?
            .tanh()?
            .broadcast_mul(&self.gamma)?
            .broadcast_add(&self.beta)
    }
}

/// One block: differential self-attention and a SwiGLU feed-forward, each after a DyT norm.
struct Block {
    pre_norm: DynTanh,
    to_qkv: Linear,
    q_norm: DynTanh,
    k_norm: DynTanh,
    to_out: Linear,
    inv_freq: Tensor,
    ff_norm: DynTanh,
    ff_in: Linear,
    ff_out: Linear,
    heads: usize,
}

impl Block {
    fn load(cfg: &SameConfig, vb: VarBuilder) -> Result<Self> {
        let (width, head) = (cfg.width, cfg.dim_heads);
        let inner = 3 * width;
        let rotary_half = head / 4;
        let attention = vb.pp("self_attn");
        Ok(Self {
            pre_norm: DynTanh::load(width, vb.pp("pre_norm"))?,
            to_qkv: linear_no_bias(width, 5 * width, attention.pp("to_qkv"))?,
            q_norm: DynTanh::load(head, attention.pp("q_norm"))?,
            k_norm: DynTanh::load(head, attention.pp("k_norm"))?,
            to_out: linear_no_bias(width, width, attention.pp("to_out"))?,
            inv_freq: vb.get(rotary_half, "rope.inv_freq")?.to_dtype(DType::F32)?,
            ff_norm: DynTanh::load(width, vb.pp("ff_norm"))?,
            ff_in: linear(width, 2 * inner, vb.pp("ff.ff.0.proj"))?,
            ff_out: linear(inner, width, vb.pp("ff.ff.2"))?,
            heads: width / head,
        })
    }

    /// `x` `[chunks, tokens, width]`: attention within each chunk.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (chunks, tokens, width) = x.dims3()?;
        let rotary = Rotary::new(&self.inv_freq, tokens)?;
        let qkv = self.to_qkv.forward(&self.pre_norm.forward(x)?)?;
        let part = |i: usize| -> Result<Tensor> {
            qkv.narrow(D::Minus1, i * width, width)?
                .reshape((chunks, tokens, self.heads, width / self.heads))?
                .transpose(1, 2)?
                .contiguous()
        };
        let query = |i: usize| rotary.apply(&self.q_norm.forward(&part(i)?)?);
        let key = |i: usize| rotary.apply(&self.k_norm.forward(&part(i)?)?);
        let v = part(2)?;
        let scale = ((width / self.heads) as f64).powf(-0.5);
        let main = scaled_dot_product_attention(&query(0)?, &key(1)?, &v, scale)?;
        let differential = scaled_dot_product_attention(&query(3)?, &key(4)?, &v, scale)?;
        let attended = (main - differential)?
            .transpose(1, 2)?
            .reshape((chunks, tokens, width))?;
        let x = (x + self.to_out.forward(&attended)?)?;
        let h = self.ff_in.forward(&self.ff_norm.forward(&x)?)?;
        let inner = h.dim(D::Minus1)? / 2;
        let gated = (h.narrow(D::Minus1, 0, inner)?
            * candle_nn::ops::silu(&h.narrow(D::Minus1, inner, inner)?)?)?;
        &x + self.ff_out.forward(&gated)?
    }
}

/// A draw of standard normal noise of a shape, for the decoder's two noise injections.
pub type NoiseSource<'a> = dyn FnMut(&[usize]) -> Result<Tensor> + 'a;

/// The loaded decoder.
pub struct SameDecoder {
    config: SameConfig,
    running_std: f64,
    project: Linear,
    new_tokens: Tensor,
    blocks: Vec<Block>,
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
            blocks: (0..config.depth)
                .map(|i| Block::load(config, stage.pp(format!("transformers.{i}"))))
                .collect::<Result<_>>()?,
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
        let x = self.run_blocks(&x, sub_chunk * per_chunk)?;
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

    /// The blocks over chunks of `chunk` tokens; with the midpoint shift, the second half of
    /// the stack sees chunks shifted by half a chunk (the first and last half-chunks repeated).
    fn run_blocks(&self, x: &Tensor, chunk: usize) -> Result<Tensor> {
        let (b, tokens, width) = x.dims3()?;
        let chunked = |x: &Tensor, blocks: &[Block]| -> Result<Tensor> {
            let n = x.dim(1)?;
            let mut h = x.reshape((b * (n / chunk), chunk, width))?;
            for block in blocks {
                h = block.forward(&h)?;
            }
            h.reshape((b, n, width))
        };
        if !self.config.midpoint_shift {
            return chunked(x, &self.blocks);
        }
        let split = self.blocks.len() / 2;
        let x = chunked(x, &self.blocks[..split])?;
        let shift = chunk / 2;
        let extended = Tensor::cat(
            &[
                &x.narrow(1, 0, shift)?,
                &x,
                &x.narrow(1, tokens - shift, shift)?,
            ],
            1,
        )?;
        chunked(&extended, &self.blocks[split..])?.narrow(1, shift, tokens)
    }
}

/// PyTorch's weight norm over all but the first axis: `g · v / ‖v‖`.
fn weight_normed(g: &Tensor, v: &Tensor) -> Result<Tensor> {
    let g = g.to_dtype(DType::F32)?;
    let v = v.to_dtype(DType::F32)?;
    let norm = v.sqr()?.sum_keepdim((1, 2))?.sqrt()?;
    v.broadcast_mul(&g.broadcast_div(&norm)?)
}

/// `[B, channels × patch, L]` → `[B, channels, L × patch]`: row `c · patch + h` at position
/// `l` is channel `c`'s sample `l · patch + h`.
fn unpatch(x: &Tensor, channels: usize, patch: usize) -> Result<Tensor> {
    let (b, _, l) = x.dims3()?;
    x.reshape((b, channels, patch, l))?
        .transpose(2, 3)?
        .contiguous()?
        .reshape((b, channels, l * patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpatching_interleaves_each_channels_patches_in_time() {
        // 2 channels, patches of 3, 2 positions: rows c·3 + h, columns l.
        let rows: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let x = Tensor::from_vec(rows, (1, 6, 2), &Device::Cpu).unwrap();
        let audio = unpatch(&x, 2, 3).unwrap().to_vec3::<f32>().unwrap();
        // Channel 0, sample l·3 + h = row h, column l.
        assert_eq!(audio[0][0], [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
        assert_eq!(audio[0][1], [6.0, 8.0, 10.0, 7.0, 9.0, 11.0]);
    }

    #[test]
    fn weight_norm_gives_each_output_the_norm_g() {
        let v = Tensor::new(&[[[3.0f32, 4.0]], [[0.0, 2.0]]], &Device::Cpu).unwrap();
        let g = Tensor::new(&[[[10.0f32]], [[1.0]]], &Device::Cpu).unwrap();
        let w = weight_normed(&g, &v).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(w[0][0], [6.0, 8.0]);
        assert_eq!(w[1][0], [0.0, 1.0]);
    }
}
