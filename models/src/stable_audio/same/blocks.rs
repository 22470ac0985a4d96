//! SAME's transformer stage, shared by its encoder and decoder: blocks of DyT norms,
//! differential attention with RoPE on half of each head, and a SwiGLU feed-forward, run
//! within chunks of two latent frames; with the midpoint shift, the second half of the stack
//! sees chunks shifted by one frame, so neighbouring frames always meet.

use candle_core::{DType, Module, Tensor, D};
use candle_nn::VarBuilder;

use super::super::dit::Rotary;
use super::SameConfig;
use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::dyt::DynTanh;
use crate::kernels::linear::{linear, linear_no_bias, Linear};

type Result<T> = candle_core::Result<T>;

/// A DyT norm's parameters (`alpha`, `gamma`, `beta`) under `vb`.
fn load_dyt(width: usize, vb: VarBuilder) -> Result<DynTanh> {
    DynTanh::new(
        vb.get(1, "alpha")?,
        vb.get(width, "gamma")?,
        vb.get(width, "beta")?,
    )
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
            pre_norm: load_dyt(width, vb.pp("pre_norm"))?,
            to_qkv: linear_no_bias(width, 5 * width, attention.pp("to_qkv"))?,
            q_norm: load_dyt(head, attention.pp("q_norm"))?,
            k_norm: load_dyt(head, attention.pp("k_norm"))?,
            to_out: linear_no_bias(width, width, attention.pp("to_out"))?,
            inv_freq: vb.get(rotary_half, "rope.inv_freq")?.to_dtype(DType::F32)?,
            ff_norm: load_dyt(width, vb.pp("ff_norm"))?,
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

/// The stage's blocks over chunks of tokens.
pub(super) struct ChunkedBlocks {
    blocks: Vec<Block>,
    midpoint_shift: bool,
}

impl ChunkedBlocks {
    /// `vb` at the stage (`transformers.{i}` below it).
    pub(super) fn load(cfg: &SameConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            blocks: (0..cfg.depth)
                .map(|i| Block::load(cfg, vb.pp(format!("transformers.{i}"))))
                .collect::<Result<_>>()?,
            midpoint_shift: cfg.midpoint_shift,
        })
    }

    /// `x` `[B, tokens, width]`, `tokens` a multiple of `chunk`. With the midpoint shift, the
    /// second half of the stack sees chunks shifted by half a chunk (the first and last
    /// half-chunks repeated), as the reference does.
    pub(super) fn forward(&self, x: &Tensor, chunk: usize) -> Result<Tensor> {
        let (b, tokens, width) = x.dims3()?;
        let chunked = |x: &Tensor, blocks: &[Block]| -> Result<Tensor> {
            let n = x.dim(1)?;
            let mut h = x.reshape((b * (n / chunk), chunk, width))?;
            for block in blocks {
                h = block.forward(&h)?;
            }
            h.reshape((b, n, width))
        };
        if !self.midpoint_shift {
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
pub(super) fn weight_normed(g: &Tensor, v: &Tensor) -> Result<Tensor> {
    let g = g.to_dtype(DType::F32)?;
    let v = v.to_dtype(DType::F32)?;
    let norm = v.sqr()?.sum_keepdim((1, 2))?.sqrt()?;
    v.broadcast_mul(&g.broadcast_div(&norm)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn weight_norm_gives_each_output_the_norm_g() {
        let v = Tensor::new(&[[[3.0f32, 4.0]], [[0.0, 2.0]]], &Device::Cpu).unwrap();
        let g = Tensor::new(&[[[10.0f32]], [[1.0]]], &Device::Cpu).unwrap();
        let w = weight_normed(&g, &v).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(w[0][0], [6.0, 8.0]);
        assert_eq!(w[1][0], [0.0, 1.0]);
    }
}
