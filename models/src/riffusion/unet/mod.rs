//! Stable Diffusion 1.5's UNet (diffusers' `UNet2DConditionModel` with the weight names of its
//! `unet/` folder), written here rather than taken from candle-transformers so that its
//! attention runs through the fused CPU kernel and its GEGLU uses the exact GELU as diffusers
//! does. The structure comes from [`UNetSettings`](super::config::UNetSettings), which only
//! accepts what this supports.

mod blocks;
mod time;
pub(super) mod transformer;

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::unet_2d::UNet2DConditionModelConfig;

use super::layers::{conv3x3, ResnetShape};
use crate::kernels::conv::Conv2d;
use crate::kernels::group_norm::{group_norm, GroupNorm};
use blocks::{Attention, DownBlock, MidBlock, UpBlock, UpChannels};
use time::TimeEmbedding;
use transformer::TransformerShape;

pub struct UNet {
    center_input: bool,
    conv_in: Conv2d,
    time: TimeEmbedding,
    down: Vec<DownBlock>,
    mid: MidBlock,
    up: Vec<UpBlock>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl UNet {
    pub fn load(
        in_channels: usize,
        out_channels: usize,
        config: &UNet2DConditionModelConfig,
        vb: VarBuilder,
    ) -> Result<Self> {
        let blocks = &config.blocks;
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
            candle_core::bail!("a UNet needs at least one block");
        };
        let base = first.out_channels;
        let resnet = ResnetShape {
            groups: config.norm_num_groups,
            eps: config.norm_eps,
            time_channels: Some(base * 4),
        };
        let transformer = TransformerShape {
            groups: config.norm_num_groups,
            context_dim: config.cross_attention_dim,
            linear_projection: config.use_linear_projection,
        };
        let attention = |i: usize| {
            blocks[i].use_cross_attn.map(|depth| Attention {
                heads: blocks[i].attention_head_dim,
                depth,
                shape: transformer,
            })
        };
        let n = blocks.len();
        let down = (0..n)
            .map(|i| {
                let input = if i == 0 {
                    base
                } else {
                    blocks[i - 1].out_channels
                };
                let downsample = (i + 1 < n).then_some(config.downsample_padding);
                let vb = vb.pp("down_blocks").pp(i.to_string());
                let layers = config.layers_per_block;
                DownBlock::load(
                    input,
                    blocks[i].out_channels,
                    layers,
                    attention(i),
                    downsample,
                    resnet,
                    vb,
                )
            })
            .collect::<Result<_>>()?;
        let mid_attention = Attention {
            heads: last.attention_head_dim,
            depth: last.use_cross_attn.unwrap_or(1),
            shape: transformer,
        };
        let mid = MidBlock::load(
            last.out_channels,
            config.mid_block_scale_factor,
            mid_attention,
            resnet,
            vb.pp("mid_block"),
        )?;
        let up = (0..n)
            .map(|i| {
                let level = n - 1 - i;
                let channels = UpChannels {
                    skip_in: blocks[level.saturating_sub(1)].out_channels,
                    previous: if i == 0 {
                        last.out_channels
                    } else {
                        blocks[level + 1].out_channels
                    },
                    out: blocks[level].out_channels,
                };
                let vb = vb.pp("up_blocks").pp(i.to_string());
                let layers = config.layers_per_block + 1;
                UpBlock::load(channels, layers, attention(level), i + 1 < n, resnet, vb)
            })
            .collect::<Result<_>>()?;
        let norm_out = group_norm(
            config.norm_num_groups,
            base,
            config.norm_eps,
            vb.pp("conv_norm_out"),
        )?;
        Ok(Self {
            center_input: config.center_input_sample,
            conv_in: conv3x3(in_channels, base, vb.pp("conv_in"))?,
            time: TimeEmbedding::load(
                base,
                config.flip_sin_to_cos,
                config.freq_shift,
                vb.pp("time_embedding"),
            )?,
            down,
            mid,
            up,
            norm_out,
            conv_out: conv3x3(base, out_channels, vb.pp("conv_out"))?,
        })
    }

    /// The noise prediction for `latents` `[B, C, H, W]` at `timestep`, conditioned on
    /// `context` `[B, tokens, cross_attention_dim]`.
    pub fn forward(&self, latents: &Tensor, timestep: f64, context: &Tensor) -> Result<Tensor> {
        let rows = latents.dim(0)?;
        let x = if self.center_input {
            ((latents * 2.0)? - 1.0)?
        } else {
            latents.clone()
        };
        let embedding = self.time.forward(timestep, rows, x.dtype(), x.device())?;
        // Every resnet takes the embedding through the same SiLU first: once here.
        let time = candle_nn::ops::silu(&embedding)?;
        let mut x = self.conv_in.forward(&x)?;
        let mut skips = vec![x.clone()];
        for block in &self.down {
            x = block.forward(&x, &time, context, &mut skips)?;
        }
        x = self.mid.forward(&x, &time, context)?;
        for block in &self.up {
            // After this block takes its skips, the next one's first is the size to reach.
            let next = skips.len().checked_sub(block.layers() + 1);
            let upsample_to = next
                .and_then(|i| skips.get(i))
                .map(|s| s.dims4().map(|(_, _, h, w)| (h, w)))
                .transpose()?;
            x = block.forward(&x, &time, context, &mut skips, upsample_to)?;
        }
        self.conv_out.forward(&self.norm_out.forward_silu(&x)?)
    }
}
