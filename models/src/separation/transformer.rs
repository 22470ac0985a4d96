//! HTDemucs's cross-domain transformer (`CrossTransformerEncoder`): the frequency branch's
//! tokens (one per bin and frame) and the time branch's (one per step) each go through their own
//! stack, alternating self-attention layers with layers attending to the other branch. Layers are
//! pre-norm with layer scale and end in a group norm over the whole sequence.

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{layer_norm, linear, LayerNorm, LayerNormConfig, Linear, VarBuilder};

use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::gelu::gelu_erf;

/// `nn.MultiheadAttention` with its packed input projection (`in_proj_weight`).
struct MultiheadAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    heads: usize,
}

impl MultiheadAttention {
    fn load(dim: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((3 * dim, dim), "in_proj_weight")?;
        let bias = vb.get(3 * dim, "in_proj_bias")?;
        let part = |i: usize| -> Result<Linear> {
            Ok(Linear::new(
                weight.narrow(0, i * dim, dim)?.contiguous()?,
                Some(bias.narrow(0, i * dim, dim)?.contiguous()?),
            ))
        };
        Ok(Self {
            query: part(0)?,
            key: part(1)?,
            value: part(2)?,
            out: linear(dim, dim, vb.pp("out_proj"))?,
            heads,
        })
    }

    /// `x`: `[B, Tq, C]` queries, `context`: `[B, Tk, C]` keys and values.
    fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (b, tq, c) = x.dims3()?;
        let tk = context.dim(1)?;
        let depth = c / self.heads;
        let split = |t: &Tensor, len: usize| -> Result<Tensor> {
            t.reshape((b, len, self.heads, depth))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(&self.query.forward(x)?, tq)?;
        let k = split(&self.key.forward(context)?, tk)?;
        let v = split(&self.value.forward(context)?, tk)?;
        let y = scaled_dot_product_attention(&q, &k, &v, 1.0 / (depth as f64).sqrt())?;
        self.out.forward(&y.transpose(1, 2)?.reshape((b, tq, c))?)
    }
}

/// `GroupNorm(1, C)` over a whole `[B, T, C]` sequence (`MyGroupNorm`), affine per channel.
struct SequenceNorm {
    weight: Tensor,
    bias: Tensor,
}

impl SequenceNorm {
    fn load(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(dim, "weight")?,
            bias: vb.get(dim, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let flat = x.reshape((b, t * c))?;
        let mean = flat.mean_keepdim(1)?;
        let centred = flat.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim(1)?;
        let normed = centred.broadcast_div(&(variance + 1e-5)?.sqrt()?)?;
        normed
            .reshape((b, t, c))?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// The feed-forward block, `linear2(gelu(linear1(x)))`.
struct FeedForward {
    linear1: Linear,
    linear2: Linear,
}

impl FeedForward {
    fn load(dim: usize, hidden: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            linear1: linear(dim, hidden, vb.pp("linear1"))?,
            linear2: linear(hidden, dim, vb.pp("linear2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.linear2.forward(&gelu_erf(&self.linear1.forward(x)?)?)
    }
}

/// One layer of either kind; `cross` layers attend to the other branch.
struct Layer {
    attention: MultiheadAttention,
    cross: bool,
    /// Before the attention (queries), before the other branch (cross layers), before the
    /// feed-forward block.
    norm_query: LayerNorm,
    norm_context: Option<LayerNorm>,
    norm_ff: LayerNorm,
    feed_forward: FeedForward,
    norm_out: SequenceNorm,
    gamma_1: Tensor,
    gamma_2: Tensor,
}

impl Layer {
    fn load(dim: usize, heads: usize, hidden: usize, cross: bool, vb: VarBuilder) -> Result<Self> {
        let ln = |name: &str| layer_norm(dim, LayerNormConfig::default(), vb.pp(name));
        let (attention, norm_context, norm_ff) = if cross {
            (
                MultiheadAttention::load(dim, heads, vb.pp("cross_attn"))?,
                Some(ln("norm2")?),
                ln("norm3")?,
            )
        } else {
            (
                MultiheadAttention::load(dim, heads, vb.pp("self_attn"))?,
                None,
                ln("norm2")?,
            )
        };
        Ok(Self {
            attention,
            cross,
            norm_query: ln("norm1")?,
            norm_context,
            norm_ff,
            feed_forward: FeedForward::load(dim, hidden, &vb)?,
            norm_out: SequenceNorm::load(dim, vb.pp("norm_out"))?,
            gamma_1: vb.pp("gamma_1").get(dim, "scale")?,
            gamma_2: vb.pp("gamma_2").get(dim, "scale")?,
        })
    }

    fn forward(&self, x: &Tensor, other: &Tensor) -> Result<Tensor> {
        let query = self.norm_query.forward(x)?;
        let attended = match &self.norm_context {
            Some(norm) => self.attention.forward(&query, &norm.forward(other)?)?,
            None => self.attention.forward(&query, &query)?,
        };
        let x = (x + attended.broadcast_mul(&self.gamma_1)?)?;
        let ff = self.feed_forward.forward(&self.norm_ff.forward(&x)?)?;
        let x = (x + ff.broadcast_mul(&self.gamma_2)?)?;
        self.norm_out.forward(&x)
    }
}

/// Both branches' stacks and input norms.
pub struct CrossTransformer {
    norm_in: LayerNorm,
    norm_in_t: LayerNorm,
    layers: Vec<Layer>,
    layers_t: Vec<Layer>,
    max_period: f64,
    weight_pos_embed: f64,
}

/// The sizes of the transformer.
#[derive(Clone, Copy, Debug)]
pub struct TransformerShape {
    pub dim: usize,
    pub heads: usize,
    pub hidden: usize,
    pub layers: usize,
    pub max_period: f64,
    pub weight_pos_embed: f64,
}

impl CrossTransformer {
    pub fn load(shape: TransformerShape, vb: VarBuilder) -> Result<Self> {
        let TransformerShape {
            dim,
            heads,
            hidden,
            layers,
            ..
        } = shape;
        let ln = |name: &str| layer_norm(dim, LayerNormConfig::default(), vb.pp(name));
        // Even layers attend to themselves, odd ones to the other branch.
        let stack = |name: &str| -> Result<Vec<Layer>> {
            (0..layers)
                .map(|i| Layer::load(dim, heads, hidden, i % 2 == 1, vb.pp(format!("{name}.{i}"))))
                .collect()
        };
        Ok(Self {
            norm_in: ln("norm_in")?,
            norm_in_t: ln("norm_in_t")?,
            layers: stack("layers")?,
            layers_t: stack("layers_t")?,
            max_period: shape.max_period,
            weight_pos_embed: shape.weight_pos_embed,
        })
    }

    /// `x`: `[B, C, F, T1]` (frequency branch), `xt`: `[B, C, T2]` (time branch).
    pub fn forward(&self, x: &Tensor, xt: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, c, bins, frames) = x.dims4()?;
        let steps = xt.dim(2)?;
        let device = x.device();
        // Tokens in (frame, bin) order, as `rearrange(x, "b c fr t1 -> b (t1 fr) c")`.
        let mut x = x.permute((0, 3, 2, 1))?.reshape((b, frames * bins, c))?;
        let position =
            (sin_embedding_2d(c, bins, frames, self.max_period, device)? * self.weight_pos_embed)?;
        x = self.norm_in.forward(&x)?.broadcast_add(&position)?;
        let mut xt = xt.transpose(1, 2)?.contiguous()?;
        let position_t =
            (sin_embedding(steps, c, self.max_period, device)? * self.weight_pos_embed)?;
        xt = self.norm_in_t.forward(&xt)?.broadcast_add(&position_t)?;
        for (layer, layer_t) in self.layers.iter().zip(&self.layers_t) {
            if layer.cross {
                let new_x = layer.forward(&x, &xt)?;
                xt = layer_t.forward(&xt, &x)?;
                x = new_x;
            } else {
                x = layer.forward(&x, &x)?;
                xt = layer_t.forward(&xt, &xt)?;
            }
        }
        let x = x
            .reshape((b, frames, bins, c))?
            .permute((0, 3, 2, 1))?
            .contiguous()?;
        let xt = xt.transpose(1, 2)?.contiguous()?;
        Ok((x, xt))
    }
}

/// `create_sin_embedding`: `[T, C]` with cosines in the first half of the channels and sines
/// in the second, periods growing geometrically to `max_period`.
fn sin_embedding(length: usize, dim: usize, max_period: f64, device: &Device) -> Result<Tensor> {
    // In f32 throughout, as the reference computes it.
    let half = dim / 2;
    let periods: Vec<f32> = (0..half)
        .map(|i| (max_period as f32).powf(i as f32 / (half as f32 - 1.0)))
        .collect();
    let mut data = vec![0f32; length * dim];
    for t in 0..length {
        for (i, period) in periods.iter().enumerate() {
            let phase = t as f32 / period;
            data[t * dim + i] = phase.cos();
            data[t * dim + half + i] = phase.sin();
        }
    }
    Tensor::from_vec(data, (length, dim), device)
}

/// `create_2d_sin_embedding` laid out as tokens `[T1·F, C]` in (frame, bin) order: the first
/// half of the channels encodes the frame, the second half the bin, sine and cosine interleaved.
fn sin_embedding_2d(
    dim: usize,
    bins: usize,
    frames: usize,
    max_period: f64,
    device: &Device,
) -> Result<Tensor> {
    let half = dim / 2;
    let step = -(max_period.ln() / half as f64) as f32;
    let rates: Vec<f32> = (0..half)
        .step_by(2)
        .map(|i| (i as f32 * step).exp())
        .collect();
    let mut data = vec![0f32; frames * bins * dim];
    for t in 0..frames {
        for f in 0..bins {
            let token = &mut data[(t * bins + f) * dim..][..dim];
            for (j, rate) in rates.iter().enumerate() {
                let (frame_phase, bin_phase) = (t as f32 * rate, f as f32 * rate);
                token[2 * j] = frame_phase.sin();
                token[2 * j + 1] = frame_phase.cos();
                token[half + 2 * j] = bin_phase.sin();
                token[half + 2 * j + 1] = bin_phase.cos();
            }
        }
    }
    Tensor::from_vec(data, (frames * bins, dim), device)
}
