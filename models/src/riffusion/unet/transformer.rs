//! diffusers' `Transformer2DModel` as SD 1.5 has it: group norm, a projection in, transformer
//! blocks (self-attention, cross-attention over the prompt, a GEGLU feed-forward), a projection
//! out, and the residual. Attention goes through the fused CPU kernel.

use candle_core::{Module, Result, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};

use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::conv::{conv2d, Conv2d};
use crate::kernels::gelu::geglu;
use crate::kernels::group_norm::{group_norm, GroupNorm};

const LAYER_NORM_EPS: f64 = 1e-5;
/// diffusers builds the transformer's group norm with this eps, whatever the UNet's.
const GROUP_NORM_EPS: f64 = 1e-6;

pub(in crate::riffusion) struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: usize,
}

impl Attention {
    pub(in crate::riffusion) fn load(
        dim: usize,
        context_dim: usize,
        heads: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            to_q: candle_nn::linear_no_bias(dim, dim, vb.pp("to_q"))?,
            to_k: candle_nn::linear_no_bias(context_dim, dim, vb.pp("to_k"))?,
            to_v: candle_nn::linear_no_bias(context_dim, dim, vb.pp("to_v"))?,
            to_out: candle_nn::linear(dim, dim, vb.pp("to_out").pp("0"))?,
            heads,
        })
    }

    /// `[B, T, C]` → `[B, H, T, C/H]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        x.reshape((b, t, self.heads, c / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    pub(in crate::riffusion) fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let q = self.split_heads(&self.to_q.forward(x)?)?;
        let k = self.split_heads(&self.to_k.forward(context)?)?;
        let v = self.split_heads(&self.to_v.forward(context)?)?;
        let scale = ((c / self.heads) as f64).powf(-0.5);
        let out = scaled_dot_product_attention(&q, &k, &v, scale)?;
        self.to_out
            .forward(&out.transpose(1, 2)?.reshape((b, t, c))?)
    }
}

/// The feed-forward: GEGLU (a projection to twice the width, one half gating the other through
/// the exact GELU, as diffusers has it), then a projection back.
struct FeedForward {
    project_in: Linear,
    project_out: Linear,
}

impl FeedForward {
    fn load(dim: usize, vb: VarBuilder) -> Result<Self> {
        let inner = dim * 4;
        Ok(Self {
            project_in: candle_nn::linear(dim, inner * 2, vb.pp("net").pp("0").pp("proj"))?,
            project_out: candle_nn::linear(inner, dim, vb.pp("net").pp("2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gated = geglu(&self.project_in.forward(x)?)?;
        self.project_out.forward(&gated)
    }
}

struct TransformerBlock {
    norm1: LayerNorm,
    self_attention: Attention,
    norm2: LayerNorm,
    cross_attention: Attention,
    norm3: LayerNorm,
    feed_forward: FeedForward,
}

impl TransformerBlock {
    fn load(dim: usize, context_dim: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        let norm = |vb| candle_nn::layer_norm(dim, LAYER_NORM_EPS, vb);
        Ok(Self {
            norm1: norm(vb.pp("norm1"))?,
            self_attention: Attention::load(dim, dim, heads, vb.pp("attn1"))?,
            norm2: norm(vb.pp("norm2"))?,
            cross_attention: Attention::load(dim, context_dim, heads, vb.pp("attn2"))?,
            norm3: norm(vb.pp("norm3"))?,
            feed_forward: FeedForward::load(dim, vb.pp("ff"))?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let h = self.norm1.forward(x)?;
        let x = (x + self.self_attention.forward(&h, &h)?)?;
        let h = self.norm2.forward(&x)?;
        let x = (&x + self.cross_attention.forward(&h, context)?)?;
        let h = self.norm3.forward(&x)?;
        &x + self.feed_forward.forward(&h)?
    }
}

/// `proj_in`/`proj_out`: 1×1 convolutions in SD 1.5, linear layers where
/// `use_linear_projection` is set (SD 2).
enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

impl Projection {
    fn load(linear: bool, in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(if linear {
            Self::Linear(candle_nn::linear(in_dim, out_dim, vb)?)
        } else {
            Self::Conv(conv2d(in_dim, out_dim, 1, Default::default(), vb)?)
        })
    }
}

/// `[B, C, H, W]` ↔ `[B, H·W, C]`.
fn to_tokens(x: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    x.reshape((b, c, h * w))?.transpose(1, 2)?.contiguous()
}

fn to_image(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let (b, _, c) = x.dims3()?;
    x.transpose(1, 2)?.reshape((b, c, h, w))
}

pub struct Transformer2D {
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

/// What every transformer of one UNet shares.
#[derive(Clone, Copy)]
pub struct TransformerShape {
    pub groups: usize,
    pub context_dim: usize,
    pub linear_projection: bool,
}

impl Transformer2D {
    pub fn load(
        channels: usize,
        heads: usize,
        depth: usize,
        shape: TransformerShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        let linear = shape.linear_projection;
        let blocks = (0..depth)
            .map(|i| {
                TransformerBlock::load(
                    channels,
                    shape.context_dim,
                    heads,
                    vb.pp("transformer_blocks").pp(i.to_string()),
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            norm: group_norm(shape.groups, channels, GROUP_NORM_EPS, vb.pp("norm"))?,
            proj_in: Projection::load(linear, channels, channels, vb.pp("proj_in"))?,
            blocks,
            proj_out: Projection::load(linear, channels, channels, vb.pp("proj_out"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let normed = self.norm.forward(x)?;
        let mut tokens = match &self.proj_in {
            Projection::Conv(conv) => to_tokens(&conv.forward(&normed)?)?,
            Projection::Linear(linear) => linear.forward(&to_tokens(&normed)?)?,
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, context)?;
        }
        let out = match &self.proj_out {
            Projection::Conv(conv) => conv.forward(&to_image(&tokens, h, w)?)?,
            Projection::Linear(linear) => to_image(&linear.forward(&tokens)?, h, w)?,
        };
        out + x
    }
}
