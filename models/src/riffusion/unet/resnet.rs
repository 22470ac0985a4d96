//! diffusers' `ResnetBlock2D` with the timestep added between its two convolutions.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2dConfig, GroupNorm, Linear, VarBuilder};

use crate::kernels::conv::{conv2d, Conv2d};

pub struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    time_emb_proj: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    /// A 1×1 convolution where the channel count changes.
    shortcut: Option<Conv2d>,
    output_scale: f64,
}

/// The settings every resnet of one UNet shares.
#[derive(Clone, Copy)]
pub struct ResnetShape {
    pub groups: usize,
    pub eps: f64,
    pub time_channels: usize,
}

pub fn conv3x3(in_channels: usize, out_channels: usize, vb: VarBuilder) -> Result<Conv2d> {
    let config = Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    conv2d(in_channels, out_channels, 3, config, vb)
}

/// Group norm then SiLU, as every resnet and the UNet's output do.
pub fn norm_silu(norm: &GroupNorm, x: &Tensor) -> Result<Tensor> {
    candle_nn::ops::silu(&norm.forward(x)?)
}

impl ResnetBlock {
    pub fn load(
        in_channels: usize,
        out_channels: usize,
        output_scale: f64,
        shape: ResnetShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        let norm = |channels, vb| candle_nn::group_norm(shape.groups, channels, shape.eps, vb);
        let shortcut = if in_channels != out_channels {
            let one = Conv2dConfig::default();
            Some(conv2d(
                in_channels,
                out_channels,
                1,
                one,
                vb.pp("conv_shortcut"),
            )?)
        } else {
            None
        };
        Ok(Self {
            norm1: norm(in_channels, vb.pp("norm1"))?,
            conv1: conv3x3(in_channels, out_channels, vb.pp("conv1"))?,
            time_emb_proj: candle_nn::linear(
                shape.time_channels,
                out_channels,
                vb.pp("time_emb_proj"),
            )?,
            norm2: norm(out_channels, vb.pp("norm2"))?,
            conv2: conv3x3(out_channels, out_channels, vb.pp("conv2"))?,
            shortcut,
            output_scale,
        })
    }

    /// `time` is the timestep embedding after its SiLU, `[rows, time_channels]`.
    pub fn forward(&self, x: &Tensor, time: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&norm_silu(&self.norm1, x)?)?;
        let time = self
            .time_emb_proj
            .forward(time)?
            .unsqueeze(2)?
            .unsqueeze(3)?;
        let h = h.broadcast_add(&time)?;
        let h = self.conv2.forward(&norm_silu(&self.norm2, &h)?)?;
        let skip = match &self.shortcut {
            Some(conv) => conv.forward(x)?,
            None => x.clone(),
        };
        let out = (skip + h)?;
        if self.output_scale == 1.0 {
            Ok(out)
        } else {
            out / self.output_scale
        }
    }
}
