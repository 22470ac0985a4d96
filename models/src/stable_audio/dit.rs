//! Stable Audio 3's diffusion transformer, with the reference's weight names (`model.model.*`
//! of the published checkpoint). One forward predicts the rectified-flow velocity of latents
//! `[B, io_channels, L]` at time t, from the cross-attention tokens (prompt and duration), the
//! global vector (duration) and the per-frame inpaint inputs (mask and masked latents).
//!
//! The layout, as the reference runs it: memory tokens before the latent frames; per layer an
//! adaLN-modulated self-attention (RMS q/k norms, RoPE on the first dimensions of each head)
//! gated by `sigmoid(1 - gate)`, an unmodulated cross-attention, the inpaint inputs added
//! through their own small MLP (even when they are zeros: its bias still adds), and a gated
//! SwiGLU feed-forward. A padding mask zeroes the values of padded frames, as the reference's
//! default (no flash-attn) path does, rather than masking keys.

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;

use super::config::DitConfig;
use super::fourier::expo_fourier_features;
use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::linear::{linear, linear_no_bias, Linear};

type Result<T> = candle_core::Result<T>;

/// The reference's RMS norms: eps 1e-5 for the blocks, 1e-6 for q and k.
const NORM_EPS: f64 = 1e-5;
const QK_NORM_EPS: f64 = 1e-6;
const ROPE_BASE: f64 = 10_000.0;

/// `F.rms_norm` with a learned gain, computed in f32 for half-precision inputs (the reference's
/// `force_fp32`), so a sum over 1,024 squares does not lose precision in f16.
struct RmsNorm {
    gamma: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn load(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gamma: vb.get(dim, "gamma")?.to_dtype(DType::F32)?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = x.to_dtype(DType::F32)?.contiguous()?;
        candle_nn::ops::rms_norm(&x, &self.gamma, self.eps as f32)?.to_dtype(dtype)
    }
}

/// `Linear → SiLU → Linear`, the reference's small embedding MLPs.
struct Mlp {
    first: Linear,
    second: Linear,
}

impl Mlp {
    fn load(
        input: usize,
        hidden: usize,
        output: usize,
        bias: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let layer = |i: usize, o: usize, vb: VarBuilder| {
            if bias {
                linear(i, o, vb)
            } else {
                linear_no_bias(i, o, vb)
            }
        };
        Ok(Self {
            first: layer(input, hidden, vb.pp("0"))?,
            second: layer(hidden, output, vb.pp("2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.second
            .forward(&candle_nn::ops::silu(&self.first.forward(x)?)?)
    }
}

/// Rotary position angles for the self-attention: cos and sin `[N, rotary_dim / 2]` in f32.
pub(super) struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    /// Positions `0..tokens` (the first memory token is 0) with the checkpoint's inverse
    /// frequencies.
    pub(super) fn new(inv_freq: &Tensor, tokens: usize) -> Result<Self> {
        let positions =
            Tensor::arange(0u32, tokens as u32, inv_freq.device())?.to_dtype(DType::F32)?;
        let angles = positions
            .unsqueeze(1)?
            .broadcast_mul(&inv_freq.unsqueeze(0)?)?;
        Ok(Self {
            cos: angles.cos()?,
            sin: angles.sin()?,
        })
    }

    /// Rotates the first `2 × cos.dim(1)` dimensions of each head of `x` `[B, H, N, D]` in the
    /// half-rotated layout (the second half of the rotated part against the first), in f32;
    /// the rest pass through.
    pub(super) fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let rotated = 2 * self.cos.dim(1)?;
        let depth = x.dim(D::Minus1)?;
        let x = x.to_dtype(DType::F32)?;
        let head = candle_nn::rotary_emb::rope(
            &x.narrow(D::Minus1, 0, rotated)?.contiguous()?,
            &self.cos,
            &self.sin,
        )?;
        let out = if rotated == depth {
            head
        } else {
            Tensor::cat(
                &[&head, &x.narrow(D::Minus1, rotated, depth - rotated)?],
                D::Minus1,
            )?
        };
        out.to_dtype(dtype)
    }
}

/// Multi-head attention with RMS-normalised queries and keys, no biases.
struct Attention {
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn load_norms(head_dim: usize, dim: usize, heads: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            q_norm: RmsNorm::load(head_dim, QK_NORM_EPS, vb.pp("q_norm"))?,
            k_norm: RmsNorm::load(head_dim, QK_NORM_EPS, vb.pp("k_norm"))?,
            out: linear_no_bias(dim, dim, vb.pp("to_out"))?,
            heads,
        })
    }

    /// `[B, N, H·D]` → `[B, H, N, D]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, n, width) = x.dims3()?;
        x.reshape((b, n, self.heads, width / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Attention with the queries and keys normalised here (and rotated, for self-attention).
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        rotary: Option<&Rotary>,
    ) -> Result<Tensor> {
        let (mut q, mut k) = (self.q_norm.forward(q)?, self.k_norm.forward(k)?);
        if let Some(rotary) = rotary {
            q = rotary.apply(&q)?;
            k = rotary.apply(&k)?;
        }
        self.output(&q, &k, v)
    }

    /// Attention of normalised queries and keys `[B, H, N, D]`, projected out to `[B, N, H·D]`.
    fn output(&self, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
        let (b, _, n, depth) = q.dims4()?;
        let scale = (depth as f64).powf(-0.5);
        let out = scaled_dot_product_attention(q, k, v, scale)?;
        self.out
            .forward(&out.transpose(1, 2)?.reshape((b, n, self.heads * depth))?)
    }
}

struct SelfAttention {
    to_qkv: Linear,
    attention: Attention,
}

impl SelfAttention {
    fn load(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let dim = cfg.embed_dim;
        Ok(Self {
            to_qkv: linear_no_bias(dim, 3 * dim, vb.pp("to_qkv"))?,
            attention: Attention::load_norms(cfg.head_dim(), dim, cfg.num_heads, &vb)?,
        })
    }

    /// `value_mask` `[B, 1, N, 1]` zeroes the values of padded tokens.
    fn forward(&self, x: &Tensor, rotary: &Rotary, value_mask: Option<&Tensor>) -> Result<Tensor> {
        let qkv = self.to_qkv.forward(x)?;
        let dim = qkv.dim(D::Minus1)? / 3;
        let part = |i: usize| {
            self.attention
                .split_heads(&qkv.narrow(D::Minus1, i * dim, dim)?)
        };
        let (q, k, mut v) = (part(0)?, part(1)?, part(2)?);
        if let Some(mask) = value_mask {
            v = v.broadcast_mul(mask)?;
        }
        self.attention.attend(&q, &k, &v, Some(rotary))
    }
}

struct CrossAttention {
    to_q: Linear,
    to_kv: Linear,
    attention: Attention,
}

impl CrossAttention {
    fn load(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let dim = cfg.embed_dim;
        Ok(Self {
            to_q: linear_no_bias(dim, dim, vb.pp("to_q"))?,
            to_kv: linear_no_bias(dim, 2 * dim, vb.pp("to_kv"))?,
            attention: Attention::load_norms(cfg.head_dim(), dim, cfg.num_heads, &vb)?,
        })
    }

    /// The context's keys (normalised) and values `[B, H, T, D]`: the same at every step.
    fn keys_values(&self, context: &Tensor) -> Result<(Tensor, Tensor)> {
        let kv = self.to_kv.forward(context)?;
        let dim = kv.dim(D::Minus1)? / 2;
        let k = self.attention.split_heads(&kv.narrow(D::Minus1, 0, dim)?)?;
        let v = self
            .attention
            .split_heads(&kv.narrow(D::Minus1, dim, dim)?)?;
        Ok((self.attention.k_norm.forward(&k)?, v))
    }

    fn forward(&self, x: &Tensor, keys: &Tensor, values: &Tensor) -> Result<Tensor> {
        let q = self.attention.split_heads(&self.to_q.forward(x)?)?;
        self.attention
            .output(&self.attention.q_norm.forward(&q)?, keys, values)
    }
}

/// SwiGLU: a projection to twice the inner width, the first half gated by SiLU of the second.
struct FeedForward {
    project_in: Linear,
    project_out: Linear,
}

impl FeedForward {
    fn load(dim: usize, inner: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            project_in: linear(dim, 2 * inner, vb.pp("ff.0.proj"))?,
            project_out: linear(inner, dim, vb.pp("ff.2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.project_in.forward(x)?;
        let inner = h.dim(D::Minus1)? / 2;
        let gated = (h.narrow(D::Minus1, 0, inner)?
            * candle_nn::ops::silu(&h.narrow(D::Minus1, inner, inner)?)?)?;
        self.project_out.forward(&gated)
    }
}

struct Block {
    scale_shift_gate: Tensor,
    pre_norm: RmsNorm,
    self_attention: SelfAttention,
    cross_norm: RmsNorm,
    cross_attention: CrossAttention,
    ff_norm: RmsNorm,
    feed_forward: FeedForward,
    local_embed: Option<Mlp>,
}

/// `x · (1 + scale) + shift`, the adaLN modulation.
fn modulate(x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
    x.broadcast_mul(&(scale + 1.0)?)?.broadcast_add(shift)
}

/// `x · sigmoid(1 − gate)`: the reference's gate, which opens as the learnt value goes down.
fn gated(x: &Tensor, gate: &Tensor) -> Result<Tensor> {
    x.broadcast_mul(&candle_nn::ops::sigmoid(&(1.0 - gate)?)?)
}

impl Block {
    fn load(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let dim = cfg.embed_dim;
        let local_embed = (cfg.local_add_cond_dim > 0)
            .then(|| {
                Mlp::load(
                    cfg.local_add_cond_dim,
                    dim,
                    dim,
                    true,
                    vb.pp("to_local_embed"),
                )
            })
            .transpose()?;
        Ok(Self {
            scale_shift_gate: vb.get(6 * dim, "to_scale_shift_gate")?,
            pre_norm: RmsNorm::load(dim, NORM_EPS, vb.pp("pre_norm"))?,
            self_attention: SelfAttention::load(cfg, vb.pp("self_attn"))?,
            cross_norm: RmsNorm::load(dim, NORM_EPS, vb.pp("cross_attend_norm"))?,
            cross_attention: CrossAttention::load(cfg, vb.pp("cross_attn"))?,
            ff_norm: RmsNorm::load(dim, NORM_EPS, vb.pp("ff_norm"))?,
            feed_forward: FeedForward::load(dim, cfg.ff_inner(), vb.pp("ff"))?,
            local_embed,
        })
    }

    /// What this block computes from the conditioning alone, once per sampling loop: the
    /// context's keys and values, and the inpaint inputs' embedding (`local` `[B, L, local
    /// dim]`), zero over the `memory` tokens in front.
    fn constants(
        &self,
        context: &Tensor,
        local: Option<&Tensor>,
        memory: usize,
    ) -> Result<BlockConstants> {
        let (keys, values) = self.cross_attention.keys_values(context)?;
        let local = match (&self.local_embed, local) {
            (Some(embed), Some(local)) => Some(LocalAdd::new(embed, local, memory)?),
            _ => None,
        };
        Ok(BlockConstants {
            keys,
            values,
            local,
        })
    }

    /// `x` `[B, M + L, dim]`; `global` `[B, 6·dim]`.
    fn forward(&self, x: &Tensor, step: &StepInputs, constants: &BlockConstants) -> Result<Tensor> {
        let modulation = step
            .global
            .broadcast_add(&self.scale_shift_gate)?
            .unsqueeze(1)?;
        let chunks = modulation.chunk(6, D::Minus1)?;
        let [scale_sa, shift_sa, gate_sa, scale_ff, shift_ff, gate_ff] = &chunks[..] else {
            candle_core::bail!("the adaLN modulation splits into six");
        };
        let h = modulate(&self.pre_norm.forward(x)?, scale_sa, shift_sa)?;
        let h = self
            .self_attention
            .forward(&h, &step.rotary, step.value_mask.as_ref())?;
        let x = (x + gated(&h, gate_sa)?)?;
        let x = (&x
            + self.cross_attention.forward(
                &self.cross_norm.forward(&x)?,
                &constants.keys,
                &constants.values,
            )?)?;
        let x = match &constants.local {
            Some(local) => local.add_to(&x)?,
            None => x,
        };
        let h = modulate(&self.ff_norm.forward(&x)?, scale_ff, shift_ff)?;
        &x + gated(&self.feed_forward.forward(&h)?, gate_ff)?
    }
}

/// A block's share of [`Prepared`].
struct BlockConstants {
    keys: Tensor,
    values: Tensor,
    local: Option<LocalAdd>,
}

/// A block's inpaint embedding, kept small: the MLP works frame by frame, and past the known
/// frames its input is zeros, so every later frame gets one and the same vector. Held whole
/// it would be 0.4 GB per window of 110 s × 4 candidates (20 blocks).
struct LocalAdd {
    /// Memory tokens in front, which get nothing.
    memory: usize,
    /// The embedding of the frames up to the last nonzero input `[B, K, dim]`; none when
    /// every input is zero.
    known: Option<Tensor>,
    /// The embedding of a zero input `[B, 1, dim]`, for every frame after them.
    rest: Tensor,
}

impl LocalAdd {
    /// `local` `[B, L, local dim]`.
    fn new(embed: &Mlp, local: &Tensor, memory: usize) -> Result<Self> {
        let (b, _, channels) = local.dims3()?;
        // Per frame, whether any row has a nonzero input.
        let used: Vec<f32> = local
            .abs()?
            .to_dtype(DType::F32)?
            .sum(2)?
            .max(0)?
            .to_vec1()?;
        let known = used
            .iter()
            .rposition(|&v| v > 0.0)
            .map_or(0, |last| last + 1);
        let zero = Tensor::zeros((b, 1, channels), local.dtype(), local.device())?;
        Ok(Self {
            memory,
            known: (known > 0)
                .then(|| embed.forward(&local.narrow(1, 0, known)?.contiguous()?))
                .transpose()?,
            rest: embed.forward(&zero)?,
        })
    }

    /// `x` `[B, M + L, dim]` with the embedding added over its frames.
    fn add_to(&self, x: &Tensor) -> Result<Tensor> {
        let (b, tokens, dim) = x.dims3()?;
        let mut parts = Vec::with_capacity(3);
        if self.memory > 0 {
            parts.push(x.narrow(1, 0, self.memory)?);
        }
        let mut known = 0;
        if let Some(embedded) = &self.known {
            known = embedded.dim(1)?;
            parts.push((x.narrow(1, self.memory, known)? + embedded)?);
        }
        let rest = tokens - self.memory - known;
        if rest > 0 {
            let tail = x.narrow(1, self.memory + known, rest)?;
            parts.push(tail.broadcast_add(&self.rest.broadcast_as((b, 1, dim))?)?);
        }
        Tensor::cat(&parts, 1)
    }
}

/// What a sampling loop's steps share, computed once ([`DiffusionTransformer::prepare`]): per
/// block, the context's cross-attention keys and values and the inpaint embedding. The
/// reference recomputes them at every step; they are about 8 % of a step's work.
pub struct Prepared {
    blocks: Vec<BlockConstants>,
    rows: usize,
    frames: usize,
}

/// What every block of one forward shares.
struct StepInputs {
    global: Tensor,
    rotary: Rotary,
    value_mask: Option<Tensor>,
}

/// One forward's inputs (f32 or the model's dtype; they are cast).
pub struct DitInputs<'a> {
    /// Noisy latents `[B, io_channels, L]`.
    pub latents: &'a Tensor,
    /// Flow time of each row, 1 = noise, 0 = data.
    pub times: &'a [f32],
    /// Cross-attention tokens `[B, T, cond_token_dim]`.
    pub context: &'a Tensor,
    /// Global conditioning `[B, global_cond_dim]`.
    pub global: &'a Tensor,
    /// Inpaint inputs `[B, 1 + io_channels, L]`: the mask (1 = known) and the masked latents;
    /// zeros when nothing is known. `None` means zeros.
    pub local: Option<&'a Tensor>,
    /// Which frames are real `[B, L]` (1) rather than padding (0); `None`: all real.
    pub padding: Option<&'a Tensor>,
}

/// The loaded transformer.
pub struct DiffusionTransformer {
    config: DitConfig,
    timestep_embed: Mlp,
    cond_embed: Mlp,
    global_embed: Mlp,
    global_cond_embedder: Mlp,
    memory_tokens: Option<Tensor>,
    project_in: Linear,
    project_out: Linear,
    preprocess: Tensor,
    postprocess: Tensor,
    inv_freq: Tensor,
    blocks: Vec<Block>,
    dtype: DType,
    device: Device,
}

impl DiffusionTransformer {
    /// Loads the DiT from `vb` at the checkpoint's `model.model` (pass `vb.pp("model.model")`
    /// for a whole Stable Audio 3 checkpoint).
    pub fn load(config: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let dim = config.embed_dim;
        let transformer = vb.pp("transformer");
        let rotary_half = config.rotary_dim() / 2;
        // The checkpoint stores the inverse frequencies; the formula is the fallback.
        let inv_freq = match transformer.get(rotary_half, "rotary_pos_emb.inv_freq") {
            Ok(t) => t.to_dtype(DType::F32)?,
            Err(_) => {
                let values: Vec<f32> = (0..rotary_half)
                    .map(|i| {
                        (1.0 / ROPE_BASE.powf(2.0 * i as f64 / config.rotary_dim() as f64)) as f32
                    })
                    .collect();
                Tensor::from_vec(values, rotary_half, vb.device())?
            }
        };
        let conv = |name: &str| -> Result<Tensor> {
            let c = config.io_channels;
            vb.get((c, c, 1), &format!("{name}.weight"))?.squeeze(2)
        };
        Ok(Self {
            timestep_embed: Mlp::load(
                config.timestep_features_dim,
                dim,
                dim,
                true,
                vb.pp("to_timestep_embed"),
            )?,
            cond_embed: Mlp::load(
                config.cond_token_dim,
                dim,
                dim,
                false,
                vb.pp("to_cond_embed"),
            )?,
            global_embed: Mlp::load(
                config.global_cond_dim,
                dim,
                dim,
                false,
                vb.pp("to_global_embed"),
            )?,
            global_cond_embedder: Mlp::load(
                dim,
                dim,
                6 * dim,
                true,
                transformer.pp("global_cond_embedder"),
            )?,
            memory_tokens: (config.num_memory_tokens > 0)
                .then(|| transformer.get((config.num_memory_tokens, dim), "memory_tokens"))
                .transpose()?,
            project_in: linear_no_bias(config.io_channels, dim, transformer.pp("project_in"))?,
            project_out: linear_no_bias(dim, config.io_channels, transformer.pp("project_out"))?,
            preprocess: conv("preprocess_conv")?,
            postprocess: conv("postprocess_conv")?,
            inv_freq,
            blocks: (0..config.depth)
                .map(|i| Block::load(config, transformer.pp(format!("layers.{i}"))))
                .collect::<Result<_>>()?,
            config: config.clone(),
            dtype: vb.dtype(),
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &DitConfig {
        &self.config
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The velocity `[B, io_channels, L]` (f32) of one step.
    pub fn forward(&self, inputs: &DitInputs) -> Result<Tensor> {
        self.forward_prepared(inputs, &self.prepare(inputs)?)
    }

    /// What every step with these inputs' context and inpaint inputs shares (the latents, times
    /// and global conditioning may change from step to step).
    pub fn prepare(&self, inputs: &DitInputs) -> Result<Prepared> {
        let cast = |t: &Tensor| t.to_device(&self.device)?.to_dtype(self.dtype);
        let (rows, _, frames) = inputs.latents.dims3()?;
        let context = self.cond_embed.forward(&cast(inputs.context)?)?;
        let local = match (inputs.local, self.config.local_add_cond_dim) {
            (_, 0) => None,
            (Some(local), _) => Some(cast(local)?.transpose(1, 2)?.contiguous()?),
            // Zeros still go through the inpaint MLP: its biases add at every frame.
            (None, channels) => Some(Tensor::zeros(
                (rows, frames, channels),
                self.dtype,
                &self.device,
            )?),
        };
        let memory = self.config.num_memory_tokens;
        Ok(Prepared {
            blocks: self
                .blocks
                .iter()
                .map(|block| block.constants(&context, local.as_ref(), memory))
                .collect::<Result<_>>()?,
            rows,
            frames,
        })
    }

    /// [`forward`](Self::forward) with what [`prepare`](Self::prepare) made of the same
    /// context and inpaint inputs.
    pub fn forward_prepared(&self, inputs: &DitInputs, prepared: &Prepared) -> Result<Tensor> {
        let cast = |t: &Tensor| t.to_device(&self.device)?.to_dtype(self.dtype);
        let latents = cast(inputs.latents)?;
        let (b, _, frames) = latents.dims3()?;
        if inputs.times.len() != b {
            candle_core::bail!("{} times for a batch of {b}", inputs.times.len());
        }
        if (prepared.rows, prepared.frames) != (b, frames) {
            candle_core::bail!(
                "prepared for {} rows of {} frames, given {b} of {frames}",
                prepared.rows,
                prepared.frames
            );
        }
        let memory = self.config.num_memory_tokens;
        let times = expo_fourier_features(
            inputs.times,
            self.config.timestep_features_dim,
            self.dtype,
            &self.device,
        )?;
        let global = (self.global_embed.forward(&cast(inputs.global)?)?
            + self.timestep_embed.forward(&times)?)?;
        let global = self.global_cond_embedder.forward(&global)?;

        // The residual 1×1 convolution in, then frames as tokens.
        let x = (&latents + conv1x1(&self.preprocess, &latents)?)?;
        let mut x = self.project_in.forward(&x.transpose(1, 2)?.contiguous()?)?;
        if let Some(tokens) = &self.memory_tokens {
            let tokens = tokens
                .unsqueeze(0)?
                .broadcast_as((b, memory, self.config.embed_dim))?;
            x = Tensor::cat(&[&tokens.contiguous()?, &x], 1)?;
        }
        let value_mask = match inputs.padding {
            Some(padding) => {
                let real = Tensor::ones((b, memory), self.dtype, &self.device)?;
                let mask = Tensor::cat(&[&real, &cast(padding)?], 1)?;
                Some(mask.unsqueeze(1)?.unsqueeze(3)?)
            }
            None => None,
        };
        let step = StepInputs {
            global,
            rotary: Rotary::new(&self.inv_freq, memory + frames)?,
            value_mask,
        };
        for (block, constants) in self.blocks.iter().zip(&prepared.blocks) {
            x = block.forward(&x, &step, constants)?;
        }
        let x = self.project_out.forward(&x.narrow(1, memory, frames)?)?;
        let x = x.transpose(1, 2)?.contiguous()?;
        (&x + conv1x1(&self.postprocess, &x)?)?.to_dtype(DType::F32)
    }
}

/// A 1×1 convolution without bias over `[B, C, L]`: `weight` `[C_out, C_in]` times each frame.
fn conv1x1(weight: &Tensor, x: &Tensor) -> Result<Tensor> {
    let (b, _, _) = x.dims3()?;
    let weight = weight
        .unsqueeze(0)?
        .broadcast_as((b, weight.dim(0)?, weight.dim(1)?))?;
    weight.contiguous()?.matmul(&x.contiguous()?)
}
