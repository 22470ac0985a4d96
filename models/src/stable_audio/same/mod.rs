//! SAME-S, Stable Audio 3's autoencoder, as the reference's `AudioAutoencoder` computes it
//! (patched pretransform, `SAMEEncoder`/`SAMEDecoder`, soft-norm bottleneck), with its weight
//! names: `pretransform.model.*` in a whole Stable Audio 3 checkpoint, no prefix in SAME-S's
//! own repository.
//!
//! Both halves run one transformer stage over chunks of two latent frames (`blocks`). The
//! decoder turns each latent frame into its token and `stride` learnt "new" tokens whose
//! outputs are the audio's patches; the encoder turns `stride` audio patches and one new token
//! into a frame, read from that token.

mod blocks;
mod decoder;
mod encoder;
mod patches;

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::error::{read_json, Result as ConfigResult, StableAudioError};

pub use decoder::{NoiseSource, SameDecoder};
pub use encoder::SameEncoder;

/// Which half of the autoencoder a config describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Half {
    Encoder,
    Decoder,
}

impl Half {
    fn key(self) -> &'static str {
        match self {
            Half::Encoder => "encoder",
            Half::Decoder => "decoder",
        }
    }
}

/// One half of the autoencoder, as its config describes it.
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
    /// Noise added to the new tokens at inference (`mask_noise`; the decoder's only).
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
    /// SAME-S's decoder as Stable Audio 3 Small uses it: the constants of the reference's MLX
    /// port.
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

    /// SAME-S's encoder as Stable Audio 3 Small uses it: the decoder's geometry, a plain
    /// (kernel 1) mapping and no noise.
    pub fn small_encoder() -> Self {
        Self {
            mapping_kernel: 1,
            mask_noise: 0.0,
            noise_regularize: false,
            ..Self::small()
        }
    }

    /// The decoder of a Stable Audio 3 `model_config.json` (`model.pretransform.config`) or of
    /// SAME-S's own (`model` holds the encoder and decoder); also says under which prefix the
    /// weights are.
    pub fn from_model_config(path: &Path) -> ConfigResult<(Self, &'static str)> {
        Self::read(path, Half::Decoder)
    }

    /// The encoder of the same configs, and the weights' prefix.
    pub fn encoder_from_model_config(path: &Path) -> ConfigResult<(Self, &'static str)> {
        Self::read(path, Half::Encoder)
    }

    fn read(path: &Path, half: Half) -> ConfigResult<(Self, &'static str)> {
        let part = half.key();
        let invalid = |message: String| StableAudioError::config(path, message);
        let json = read_json(path)?;
        // A whole model nests the autoencoder as its pretransform; SAME-S's own config has the
        // encoder and decoder in `model` (beside the patched pretransform, which is not them).
        let (autoencoder, prefix) = match json.pointer("/model/pretransform/config") {
            Some(config) if config.get(part).is_some() => (config, "pretransform.model"),
            _ => (json.get("model").unwrap_or(&json), ""),
        };
        let stage = autoencoder
            .pointer(&format!("/{part}/config"))
            .ok_or_else(|| invalid(format!("it has no SAME {part} config")))?;
        let stage: StageJson =
            serde_json::from_value(stage.clone()).map_err(|e| invalid(format!("{part}: {e}")))?;
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
                "{part}.{what} has {} stages; SAME-S has one",
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
            // The bottleneck's noise is added when decoding only.
            noise_regularize: noise_regularize && half == Half::Decoder,
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
            (
                half == Half::Encoder && config.mask_noise > 0.0,
                "noise on its new tokens",
            ),
        ];
        if let Some((_, what)) = unsupported.iter().find(|(found, _)| *found) {
            return Err(invalid(format!(
                "the {part} uses {what}; this port runs SAME-S"
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
