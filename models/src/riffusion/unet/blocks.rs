//! The UNet's down, middle and up blocks: resnets, with a transformer after each where the
//! block has cross-attention, and a strided convolution down or a nearest-neighbour upsample
//! and convolution up between resolutions.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::super::layers::{resnet_chain, Downsample, ResnetBlock, ResnetShape, Upsample};
use super::transformer::{Transformer2D, TransformerShape};

/// The transformers of a block: `heads` heads and `depth` transformer blocks each.
#[derive(Clone, Copy)]
pub struct Attention {
    pub heads: usize,
    pub depth: usize,
    pub shape: TransformerShape,
}

fn load_transformers(
    count: usize,
    channels: usize,
    attention: Option<Attention>,
    vb: VarBuilder,
) -> Result<Vec<Transformer2D>> {
    let Some(a) = attention else {
        return Ok(Vec::new());
    };
    (0..count)
        .map(|i| Transformer2D::load(channels, a.heads, a.depth, a.shape, vb.pp(i.to_string())))
        .collect()
}

/// Resnet `i`, then its transformer where the block has them.
fn resnet_then_attention(
    resnets: &[ResnetBlock],
    transformers: &[Transformer2D],
    i: usize,
    x: &Tensor,
    time: &Tensor,
    context: &Tensor,
) -> Result<Tensor> {
    let x = resnets[i].forward(x, Some(time))?;
    match transformers.get(i) {
        Some(t) => t.forward(&x, context),
        None => Ok(x),
    }
}

pub struct DownBlock {
    resnets: Vec<ResnetBlock>,
    transformers: Vec<Transformer2D>,
    downsample: Option<Downsample>,
}

impl DownBlock {
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        in_channels: usize,
        out_channels: usize,
        layers: usize,
        attention: Option<Attention>,
        downsample_padding: Option<usize>,
        resnet: ResnetShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        let resnets = resnet_chain(in_channels, out_channels, layers, resnet, &vb)?;
        let downsample = downsample_padding
            .map(|p| Downsample::load(out_channels, p, vb.pp("downsamplers").pp("0")))
            .transpose()?;
        Ok(Self {
            resnets,
            transformers: load_transformers(layers, out_channels, attention, vb.pp("attentions"))?,
            downsample,
        })
    }

    /// Pushes each layer's output (and the downsampled one) onto `skips` for the up blocks.
    pub fn forward(
        &self,
        x: &Tensor,
        time: &Tensor,
        context: &Tensor,
        skips: &mut Vec<Tensor>,
    ) -> Result<Tensor> {
        let mut x = x.clone();
        for i in 0..self.resnets.len() {
            x = resnet_then_attention(&self.resnets, &self.transformers, i, &x, time, context)?;
            skips.push(x.clone());
        }
        if let Some(down) = &self.downsample {
            x = down.forward(&x)?;
            skips.push(x.clone());
        }
        Ok(x)
    }
}

/// Resnet, then (transformer, resnet) pairs, at the lowest resolution.
pub struct MidBlock {
    resnets: Vec<ResnetBlock>,
    transformers: Vec<Transformer2D>,
}

impl MidBlock {
    pub fn load(
        channels: usize,
        output_scale: f64,
        attention: Attention,
        resnet: ResnetShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        let resnets = (0..2)
            .map(|i| {
                let vb = vb.pp("resnets").pp(i.to_string());
                ResnetBlock::load(channels, channels, output_scale, resnet, vb)
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            resnets,
            transformers: load_transformers(1, channels, Some(attention), vb.pp("attentions"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, time: &Tensor, context: &Tensor) -> Result<Tensor> {
        let mut x = self.resnets[0].forward(x, Some(time))?;
        for (transformer, resnet) in self.transformers.iter().zip(&self.resnets[1..]) {
            x = resnet.forward(&transformer.forward(&x, context)?, Some(time))?;
        }
        Ok(x)
    }
}

pub struct UpBlock {
    resnets: Vec<ResnetBlock>,
    transformers: Vec<Transformer2D>,
    upsample: Option<Upsample>,
}

/// The channel counts around one up block.
pub struct UpChannels {
    /// The matching down block's input: the channels of this block's last skip.
    pub skip_in: usize,
    /// The previous up block's output (the middle block's for the first).
    pub previous: usize,
    pub out: usize,
}

impl UpBlock {
    pub fn load(
        channels: UpChannels,
        layers: usize,
        attention: Option<Attention>,
        upsample: bool,
        resnet: ResnetShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        let resnets = (0..layers)
            .map(|i| {
                let input = if i == 0 {
                    channels.previous
                } else {
                    channels.out
                };
                let skip = if i == layers - 1 {
                    channels.skip_in
                } else {
                    channels.out
                };
                let vb = vb.pp("resnets").pp(i.to_string());
                ResnetBlock::load(input + skip, channels.out, 1.0, resnet, vb)
            })
            .collect::<Result<_>>()?;
        let upsample = upsample
            .then(|| Upsample::load(channels.out, vb.pp("upsamplers").pp("0")))
            .transpose()?;
        Ok(Self {
            resnets,
            transformers: load_transformers(layers, channels.out, attention, vb.pp("attentions"))?,
            upsample,
        })
    }

    pub fn layers(&self) -> usize {
        self.resnets.len()
    }

    /// Takes its skips from the end of `skips`; upsamples to `upsample_to` (the next block's
    /// skip size, which is twice this one's unless a side was odd on the way down).
    pub fn forward(
        &self,
        x: &Tensor,
        time: &Tensor,
        context: &Tensor,
        skips: &mut Vec<Tensor>,
        upsample_to: Option<(usize, usize)>,
    ) -> Result<Tensor> {
        let mut x = x.clone();
        for i in 0..self.resnets.len() {
            let skip = skips
                .pop()
                .ok_or_else(|| candle_core::Error::Msg("UNet: too few skip connections".into()))?;
            x = Tensor::cat(&[&x, &skip], 1)?;
            x = resnet_then_attention(&self.resnets, &self.transformers, i, &x, time, context)?;
        }
        if let Some(upsample) = &self.upsample {
            x = upsample.forward(&x, upsample_to)?;
        }
        Ok(x)
    }
}
