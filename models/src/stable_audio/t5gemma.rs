//! The T5Gemma encoder that turns a prompt into Stable Audio 3's text tokens (google's
//! t5gemma-b-b-ul2, shipped with the model), as transformers' `T5GemmaEncoderModel` computes it
//! and with its weight names (`encoder.*`, or `model.encoder.*` in a whole T5Gemma checkpoint).
//!
//! Gemma's ways, each of which matters to the numbers: embeddings scaled by √width, RMS norms
//! that multiply by `1 + w` in f32, a norm before and after both the attention and the
//! feed-forward, RoPE over the whole head, scores scaled by `query_pre_attn_scalar^-½`, the
//! GeGLU feed-forward with the tanh GELU, bidirectional attention with padded keys masked.
//! The logit soft-cap is a switch: the reference's locked transformers (5.8.0) runs this model
//! through SDPA, which drops the cap, while newer ones (eager attention) apply it.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};
use serde::Deserialize;

use super::error::{read_json, Result as ConfigResult, StableAudioError};
use crate::kernels::linear::{linear_no_bias, Linear};
use crate::kernels::softmax::softmax_last_dim;

type Result<T> = candle_core::Result<T>;

/// The encoder's part of a T5Gemma `config.json` (its `encoder` object, or the whole file for
/// a module config).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct T5GemmaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub query_pre_attn_scalar: f64,
    #[serde(default)]
    pub attn_logit_softcapping: Option<f64>,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub sliding_window: Option<usize>,
    #[serde(default = "default_activation")]
    hidden_activation: String,
    #[serde(default)]
    rope_parameters: Option<RopeParameters>,
    /// transformers 4 wrote the base here instead of in `rope_parameters`.
    #[serde(default)]
    rope_theta: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct RopeParameters {
    rope_theta: f64,
    #[serde(default)]
    rope_type: Option<String>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_activation() -> String {
    "gelu_pytorch_tanh".into()
}

impl T5GemmaConfig {
    pub fn from_file(path: &Path) -> ConfigResult<Self> {
        let invalid = |message: String| StableAudioError::config(path, message);
        let json = read_json(path)?;
        let encoder = json.get("encoder").unwrap_or(&json).clone();
        let config: Self = serde_json::from_value(encoder)
            .map_err(|e| invalid(format!("T5Gemma encoder: {e}")))?;
        config.check().map_err(invalid)?;
        Ok(config)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.hidden_activation != "gelu_pytorch_tanh" {
            return Err(format!(
                "hidden_activation is \"{}\"; T5Gemma uses \"gelu_pytorch_tanh\"",
                self.hidden_activation
            ));
        }
        if let Some(kind) = self
            .rope_parameters
            .as_ref()
            .and_then(|r| r.rope_type.as_deref())
        {
            if kind != "default" {
                return Err(format!(
                    "rope_type is \"{kind}\"; this port supports \"default\""
                ));
            }
        }
        if self.num_key_value_heads == 0
            || !self
                .num_attention_heads
                .is_multiple_of(self.num_key_value_heads)
        {
            return Err(format!(
                "{} key/value heads do not divide {} heads",
                self.num_key_value_heads, self.num_attention_heads
            ));
        }
        Ok(())
    }

    fn rope_theta(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .map(|r| r.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10_000.0)
    }
}

/// Gemma's RMS norm: `x · rsqrt(mean(x²) + eps) · (1 + w)`, in f32.
struct GemmaNorm {
    scale: Tensor,
    eps: f32,
}

impl GemmaNorm {
    fn load(width: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            scale: (vb.get(width, "weight")?.to_dtype(DType::F32)? + 1.0)?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = x.to_dtype(DType::F32)?.contiguous()?;
        candle_nn::ops::rms_norm(&x, &self.scale, self.eps)?.to_dtype(dtype)
    }
}

struct Layer {
    pre_attention: GemmaNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    post_attention: GemmaNorm,
    pre_feed_forward: GemmaNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
    post_feed_forward: GemmaNorm,
}

impl Layer {
    fn load(cfg: &T5GemmaConfig, vb: VarBuilder) -> Result<Self> {
        let (width, eps) = (cfg.hidden_size, cfg.rms_norm_eps);
        let heads = cfg.num_attention_heads * cfg.head_dim;
        let kv = cfg.num_key_value_heads * cfg.head_dim;
        let attention = vb.pp("self_attn");
        let mlp = vb.pp("mlp");
        Ok(Self {
            pre_attention: GemmaNorm::load(width, eps, vb.pp("pre_self_attn_layernorm"))?,
            q: linear_no_bias(width, heads, attention.pp("q_proj"))?,
            k: linear_no_bias(width, kv, attention.pp("k_proj"))?,
            v: linear_no_bias(width, kv, attention.pp("v_proj"))?,
            o: linear_no_bias(heads, width, attention.pp("o_proj"))?,
            post_attention: GemmaNorm::load(width, eps, vb.pp("post_self_attn_layernorm"))?,
            pre_feed_forward: GemmaNorm::load(width, eps, vb.pp("pre_feedforward_layernorm"))?,
            gate: linear_no_bias(width, cfg.intermediate_size, mlp.pp("gate_proj"))?,
            up: linear_no_bias(width, cfg.intermediate_size, mlp.pp("up_proj"))?,
            down: linear_no_bias(cfg.intermediate_size, width, mlp.pp("down_proj"))?,
            post_feed_forward: GemmaNorm::load(width, eps, vb.pp("post_feedforward_layernorm"))?,
        })
    }
}

/// The loaded encoder.
pub struct T5GemmaEncoder {
    config: T5GemmaConfig,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: GemmaNorm,
    /// Apply `attn_logit_softcapping` (see the module's note).
    softcap: bool,
    dtype: DType,
    device: Device,
}

impl T5GemmaEncoder {
    /// Loads from `vb` at the checkpoint's root: `encoder.*` (T5GemmaEncoderModel) or
    /// `model.encoder.*` (a whole T5Gemma model).
    pub fn load(config: &T5GemmaConfig, softcap: bool, vb: VarBuilder) -> Result<Self> {
        let vb = if vb.contains_tensor("model.encoder.embed_tokens.weight") {
            vb.pp("model.encoder")
        } else {
            vb.pp("encoder")
        };
        Ok(Self {
            embed: candle_nn::embedding(
                config.vocab_size,
                config.hidden_size,
                vb.pp("embed_tokens"),
            )?,
            layers: (0..config.num_hidden_layers)
                .map(|i| Layer::load(config, vb.pp(format!("layers.{i}"))))
                .collect::<Result<_>>()?,
            norm: GemmaNorm::load(config.hidden_size, config.rms_norm_eps, vb.pp("norm"))?,
            config: config.clone(),
            softcap,
            dtype: vb.dtype(),
            device: vb.device().clone(),
        })
    }

    /// The last hidden states `[B, S, hidden]` (f32) of token ids `[B, S]` (u32) where `mask`
    /// `[B, S]` is 1 for real tokens and 0 for padding.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let cfg = &self.config;
        let (b, s) = ids.dims2()?;
        if let Some(window) = cfg.sliding_window {
            if s > window {
                candle_core::bail!(
                    "{s} tokens exceed the encoder's {window}-token attention window"
                );
            }
        }
        let ids = ids.to_device(&self.device)?;
        let normalizer = Tensor::new((cfg.hidden_size as f64).sqrt() as f32, &self.device)?
            .to_dtype(self.dtype)?;
        let mut h = self.embed.forward(&ids)?.broadcast_mul(&normalizer)?;
        let (cos, sin) = self.rotary(s)?;
        // Padded keys get the most negative f32, as transformers' mask does.
        let key_mask = mask.to_device(&self.device)?.to_dtype(DType::F32)?;
        let additive = ((key_mask - 1.0)? * f64::from(f32::MAX))?
            .reshape((b, 1, 1, s))?
            .to_dtype(self.dtype)?;
        for layer in &self.layers {
            let a = layer.pre_attention.forward(&h)?;
            let attended = self.attention(layer, &a, &cos, &sin, &additive)?;
            h = (h + layer.post_attention.forward(&attended)?)?;
            let f = layer.pre_feed_forward.forward(&h)?;
            let gated = (layer.gate.forward(&f)?.gelu()? * layer.up.forward(&f)?)?;
            h = (h + layer
                .post_feed_forward
                .forward(&layer.down.forward(&gated)?)?)?;
        }
        self.norm.forward(&h)?.to_dtype(DType::F32)
    }

    /// cos and sin `[S, head_dim / 2]` of positions `0..S`, in the model's dtype.
    fn rotary(&self, tokens: usize) -> Result<(Tensor, Tensor)> {
        let depth = self.config.head_dim;
        let theta = self.config.rope_theta();
        let inv_freq: Vec<f32> = (0..depth / 2)
            .map(|i| (1.0 / theta.powf((2 * i) as f64 / depth as f64)) as f32)
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, depth / 2, &self.device)?;
        let positions = Tensor::arange(0u32, tokens as u32, &self.device)?.to_dtype(DType::F32)?;
        let angles = positions
            .unsqueeze(1)?
            .broadcast_mul(&inv_freq.unsqueeze(0)?)?;
        Ok((
            angles.cos()?.to_dtype(self.dtype)?,
            angles.sin()?.to_dtype(self.dtype)?,
        ))
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        let cfg = &self.config;
        let (b, s, _) = x.dims3()?;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            t.reshape((b, s, n, cfg.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = heads(layer.q.forward(x)?, cfg.num_attention_heads)?;
        let k = heads(layer.k.forward(x)?, cfg.num_key_value_heads)?;
        let v = heads(layer.v.forward(x)?, cfg.num_key_value_heads)?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;
        let groups = cfg.num_attention_heads / cfg.num_key_value_heads;
        let (k, v) = (repeat_heads(&k, groups)?, repeat_heads(&v, groups)?);
        let mut scores = (q.matmul(&k.t()?.contiguous()?)? * cfg.query_pre_attn_scalar.powf(-0.5))?;
        if let (true, Some(cap)) = (self.softcap, cfg.attn_logit_softcapping) {
            scores = ((scores / cap)?.tanh()? * cap)?;
        }
        let weights = softmax_last_dim(&scores.broadcast_add(mask)?)?;
        let out = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, s, ()))?;
        layer.o.forward(&out)
    }
}

/// Each of `k`'s heads `[B, H, S, D]` repeated `groups` times in place (grouped-query attention).
fn repeat_heads(k: &Tensor, groups: usize) -> Result<Tensor> {
    if groups == 1 {
        return Ok(k.clone());
    }
    let (b, h, s, d) = k.dims4()?;
    k.unsqueeze(2)?
        .broadcast_as((b, h, groups, s, d))?
        .reshape((b, h * groups, s, d))
}
