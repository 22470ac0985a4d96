//! The pieces the UNet and the VAE share: diffusers' `ResnetBlock2D` (with the timestep added
//! between its two convolutions in the UNet, without it in the VAE), the strided convolution
//! down and the nearest-neighbour upsample and convolution up.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Conv2dConfig, Linear, VarBuilder};

use crate::kernels::conv::{conv2d, Conv2d};
use crate::kernels::group_norm::{group_norm, GroupNorm};

pub fn conv3x3(in_channels: usize, out_channels: usize, vb: VarBuilder) -> Result<Conv2d> {
    let config = Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    conv2d(in_channels, out_channels, 3, config, vb)
}

/// The settings every resnet of one model shares.
#[derive(Clone, Copy)]
pub struct ResnetShape {
    pub groups: usize,
    pub eps: f64,
    /// The timestep embedding's width in the UNet; `None` in the VAE.
    pub time_channels: Option<usize>,
}

pub struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    time_emb_proj: Option<Linear>,
    norm2: GroupNorm,
    conv2: Conv2d,
    /// A 1×1 convolution where the channel count changes.
    shortcut: Option<Conv2d>,
    output_scale: f64,
}

impl ResnetBlock {
    pub fn load(
        in_channels: usize,
        out_channels: usize,
        output_scale: f64,
        shape: ResnetShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        let norm = |channels, vb| group_norm(shape.groups, channels, shape.eps, vb);
        let shortcut = (in_channels != out_channels)
            .then(|| {
                let one = Conv2dConfig::default();
                conv2d(in_channels, out_channels, 1, one, vb.pp("conv_shortcut"))
            })
            .transpose()?;
        let time_emb_proj = shape
            .time_channels
            .map(|t| candle_nn::linear(t, out_channels, vb.pp("time_emb_proj")))
            .transpose()?;
        Ok(Self {
            norm1: norm(in_channels, vb.pp("norm1"))?,
            conv1: conv3x3(in_channels, out_channels, vb.pp("conv1"))?,
            time_emb_proj,
            norm2: norm(out_channels, vb.pp("norm2"))?,
            conv2: conv3x3(out_channels, out_channels, vb.pp("conv2"))?,
            shortcut,
            output_scale,
        })
    }

    /// `time` is the timestep embedding after its SiLU, `[rows, time_channels]` (UNet only).
    pub fn forward(&self, x: &Tensor, time: Option<&Tensor>) -> Result<Tensor> {
        let mut h = self.conv1.forward(&self.norm1.forward_silu(x)?)?;
        if let (Some(proj), Some(time)) = (&self.time_emb_proj, time) {
            let time = proj.forward(time)?.unsqueeze(2)?.unsqueeze(3)?;
            h = h.broadcast_add(&time)?;
        }
        let h = self.conv2.forward(&self.norm2.forward_silu(&h)?)?;
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

/// `layers` resnets in a chain (`resnets.{i}`): the first from `in_channels`, the rest at
/// `out_channels`.
pub fn resnet_chain(
    in_channels: usize,
    out_channels: usize,
    layers: usize,
    shape: ResnetShape,
    vb: &VarBuilder,
) -> Result<Vec<ResnetBlock>> {
    (0..layers)
        .map(|i| {
            let input = if i == 0 { in_channels } else { out_channels };
            let vb = vb.pp("resnets").pp(i.to_string());
            ResnetBlock::load(input, out_channels, 1.0, shape, vb)
        })
        .collect()
}

/// A 3×3 convolution with stride 2 (`downsamplers.0.conv`). diffusers pads only the right and
/// bottom edges, by one, where the padding is 0 (the VAE's encoder).
pub struct Downsample {
    conv: Conv2d,
    pad_right_bottom: bool,
}

impl Downsample {
    pub fn load(channels: usize, padding: usize, vb: VarBuilder) -> Result<Self> {
        let config = Conv2dConfig {
            stride: 2,
            padding,
            ..Default::default()
        };
        Ok(Self {
            conv: conv2d(channels, channels, 3, config, vb.pp("conv"))?,
            pad_right_bottom: padding == 0,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.pad_right_bottom {
            let padded = x
                .pad_with_zeros(D::Minus1, 0, 1)?
                .pad_with_zeros(D::Minus2, 0, 1)?;
            self.conv.forward(&padded)
        } else {
            self.conv.forward(x)
        }
    }
}

/// Nearest-neighbour upsampling to `size` (twice the input where `None`), then a 3×3
/// convolution (`upsamplers.0.conv`).
pub struct Upsample {
    conv: Conv2d,
}

impl Upsample {
    pub fn load(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: conv3x3(channels, channels, vb.pp("conv"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, size: Option<(usize, usize)>) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (h, w) = size.unwrap_or((2 * h, 2 * w));
        self.conv.forward(&x.upsample_nearest2d(h, w)?)
    }
}
