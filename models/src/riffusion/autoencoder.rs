//! Stable Diffusion's VAE (diffusers' `AutoencoderKL` with the weight names of its `vae/`
//! folder), written here rather than taken from candle-transformers so that it runs on the
//! fused CPU kernels the UNet uses: convolutions, group norm with its SiLU, and the middle
//! block's attention over every latent pixel (4,096 tokens at 512×512), which candle computes
//! as a full score matrix. The encoder returns the mean of the latent distribution only, so
//! img2img is deterministic (diffusers' `retrieve_latents(sample_mode="argmax")`).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2dConfig, Linear, VarBuilder};
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig;

use super::layers::{conv3x3, resnet_chain, Downsample, ResnetBlock, ResnetShape, Upsample};
use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::conv::{conv2d, Conv2d};
use crate::kernels::group_norm::{group_norm, GroupNorm};

/// diffusers builds every VAE norm with this eps, whatever the config says.
const EPS: f64 = 1e-6;

/// The middle block's single-head self-attention over the pixels.
pub(super) struct PixelAttention {
    norm: GroupNorm,
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
}

/// One of the attention's projections. Checkpoints saved before diffusers 0.14 name them
/// `query`/`key`/`value`/`proj_attn`, and some store them as 1×1 convolutions.
fn projection(channels: usize, vb: VarBuilder) -> Result<Linear> {
    let weight = match vb.get((channels, channels), "weight") {
        Ok(w) => w,
        Err(_) => vb
            .get((channels, channels, 1, 1), "weight")?
            .reshape((channels, channels))?,
    };
    Ok(Linear::new(weight, Some(vb.get(channels, "bias")?)))
}

impl PixelAttention {
    pub(super) fn load(channels: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        let names = if vb.contains_tensor("to_q.weight") {
            ["to_q", "to_k", "to_v", "to_out.0"]
        } else {
            ["query", "key", "value", "proj_attn"]
        };
        let [q, k, v, out] = names.map(|name| projection(channels, vb.pp(name)));
        Ok(Self {
            norm: group_norm(groups, channels, EPS, vb.pp("group_norm"))?,
            to_q: q?,
            to_k: k?,
            to_v: v?,
            to_out: out?,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let tokens = self
            .norm
            .forward(x)?
            .reshape((b, c, h * w))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = self.to_q.forward(&tokens)?;
        let k = self.to_k.forward(&tokens)?;
        let v = self.to_v.forward(&tokens)?;
        let scale = (c as f64).powf(-0.5);
        let out = self
            .to_out
            .forward(&scaled_dot_product_attention(&q, &k, &v, scale)?)?;
        let out = out.transpose(1, 2)?.reshape((b, c, h, w))?;
        out + x
    }
}

/// Resnet, attention, resnet at the lowest resolution.
struct MidBlock {
    first: ResnetBlock,
    attention: PixelAttention,
    second: ResnetBlock,
}

impl MidBlock {
    fn load(channels: usize, shape: ResnetShape, vb: VarBuilder) -> Result<Self> {
        let resnet = |i: usize| {
            let vb = vb.pp("resnets").pp(i.to_string());
            ResnetBlock::load(channels, channels, 1.0, shape, vb)
        };
        Ok(Self {
            first: resnet(0)?,
            attention: PixelAttention::load(channels, shape.groups, vb.pp("attentions.0"))?,
            second: resnet(1)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.first.forward(x, None)?;
        let x = self.attention.forward(&x)?;
        self.second.forward(&x, None)
    }
}

/// Resnets, then a strided convolution down (encoder) or an upsample (decoder).
struct ResnetStack {
    resnets: Vec<ResnetBlock>,
}

impl ResnetStack {
    fn load(
        in_channels: usize,
        out_channels: usize,
        layers: usize,
        shape: ResnetShape,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            resnets: resnet_chain(in_channels, out_channels, layers, shape, &vb)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.resnets
            .iter()
            .try_fold(x.clone(), |x, resnet| resnet.forward(&x, None))
    }
}

/// The norm, SiLU and convolution that end the encoder and the decoder.
struct OutputHead {
    norm: GroupNorm,
    conv: Conv2d,
}

impl OutputHead {
    fn load(channels: usize, out: usize, groups: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            norm: group_norm(groups, channels, EPS, vb.pp("conv_norm_out"))?,
            conv: conv3x3(channels, out, vb.pp("conv_out"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(&self.norm.forward_silu(x)?)
    }
}

struct Encoder {
    conv_in: Conv2d,
    down: Vec<(ResnetStack, Option<Downsample>)>,
    mid: MidBlock,
    head: OutputHead,
}

impl Encoder {
    fn load(in_channels: usize, config: &AutoEncoderKLConfig, vb: VarBuilder) -> Result<Self> {
        let channels = &config.block_out_channels;
        let shape = resnet_shape(config);
        let down = channels
            .iter()
            .enumerate()
            .map(|(i, &out)| {
                let input = if i == 0 { channels[0] } else { channels[i - 1] };
                let vb = vb.pp("down_blocks").pp(i.to_string());
                let stack =
                    ResnetStack::load(input, out, config.layers_per_block, shape, vb.clone())?;
                // diffusers' encoder pads the strided convolution by hand (right and bottom).
                let downsample = (i + 1 < channels.len())
                    .then(|| Downsample::load(out, 0, vb.pp("downsamplers").pp("0")))
                    .transpose()?;
                Ok((stack, downsample))
            })
            .collect::<Result<_>>()?;
        let last = *channels.last().expect("validated non-empty");
        Ok(Self {
            conv_in: conv3x3(in_channels, channels[0], vb.pp("conv_in"))?,
            down,
            mid: MidBlock::load(last, shape, vb.pp("mid_block"))?,
            head: OutputHead::load(
                last,
                2 * config.latent_channels,
                config.norm_num_groups,
                &vb,
            )?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.conv_in.forward(x)?;
        for (stack, downsample) in &self.down {
            x = stack.forward(&x)?;
            if let Some(downsample) = downsample {
                x = downsample.forward(&x)?;
            }
        }
        self.head.forward(&self.mid.forward(&x)?)
    }
}

struct Decoder {
    conv_in: Conv2d,
    mid: MidBlock,
    up: Vec<(ResnetStack, Option<Upsample>)>,
    head: OutputHead,
}

impl Decoder {
    fn load(out_channels: usize, config: &AutoEncoderKLConfig, vb: VarBuilder) -> Result<Self> {
        let reversed: Vec<usize> = config.block_out_channels.iter().rev().copied().collect();
        let shape = resnet_shape(config);
        let up = reversed
            .iter()
            .enumerate()
            .map(|(i, &out)| {
                let input = if i == 0 { reversed[0] } else { reversed[i - 1] };
                let vb = vb.pp("up_blocks").pp(i.to_string());
                // The decoder has one resnet more per block than the encoder.
                let layers = config.layers_per_block + 1;
                let stack = ResnetStack::load(input, out, layers, shape, vb.clone())?;
                let upsample = (i + 1 < reversed.len())
                    .then(|| Upsample::load(out, vb.pp("upsamplers").pp("0")))
                    .transpose()?;
                Ok((stack, upsample))
            })
            .collect::<Result<_>>()?;
        let (first, last) = (reversed[0], *reversed.last().expect("validated non-empty"));
        Ok(Self {
            conv_in: conv3x3(config.latent_channels, first, vb.pp("conv_in"))?,
            mid: MidBlock::load(first, shape, vb.pp("mid_block"))?,
            up,
            head: OutputHead::load(last, out_channels, config.norm_num_groups, &vb)?,
        })
    }

    fn forward(&self, latents: &Tensor) -> Result<Tensor> {
        let mut x = self.mid.forward(&self.conv_in.forward(latents)?)?;
        for (stack, upsample) in &self.up {
            x = stack.forward(&x)?;
            if let Some(upsample) = upsample {
                x = upsample.forward(&x, None)?;
            }
        }
        self.head.forward(&x)
    }
}

fn resnet_shape(config: &AutoEncoderKLConfig) -> ResnetShape {
    ResnetShape {
        groups: config.norm_num_groups,
        eps: EPS,
        time_channels: None,
    }
}

fn pointwise(channels: usize, vb: VarBuilder) -> Result<Conv2d> {
    conv2d(channels, channels, 1, Conv2dConfig::default(), vb)
}

pub struct AutoEncoder {
    encoder: Encoder,
    decoder: Decoder,
    quant_conv: Option<Conv2d>,
    post_quant_conv: Option<Conv2d>,
    latent_channels: usize,
}

impl AutoEncoder {
    pub fn load(
        in_channels: usize,
        out_channels: usize,
        config: &AutoEncoderKLConfig,
        vb: VarBuilder,
    ) -> Result<Self> {
        if config.block_out_channels.is_empty() {
            candle_core::bail!("a VAE needs at least one block");
        }
        let latent = config.latent_channels;
        let quant_conv = config
            .use_quant_conv
            .then(|| pointwise(2 * latent, vb.pp("quant_conv")))
            .transpose()?;
        let post_quant_conv = config
            .use_post_quant_conv
            .then(|| pointwise(latent, vb.pp("post_quant_conv")))
            .transpose()?;
        Ok(Self {
            encoder: Encoder::load(in_channels, config, vb.pp("encoder"))?,
            decoder: Decoder::load(out_channels, config, vb.pp("decoder"))?,
            quant_conv,
            post_quant_conv,
            latent_channels: latent,
        })
    }

    /// Images in [-1, 1] to the mean of their latent distribution (unscaled).
    pub fn encode_mean(&self, images: &Tensor) -> Result<Tensor> {
        let moments = self.encoder.forward(images)?;
        let moments = match &self.quant_conv {
            Some(conv) => conv.forward(&moments)?,
            None => moments,
        };
        // The first half of the channels is the mean, the second the log-variance.
        moments.narrow(1, 0, self.latent_channels)
    }

    /// Unscaled latents to images in [-1, 1] (not clamped).
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let latents = match &self.post_quant_conv {
            Some(conv) => conv.forward(latents)?,
            None => latents.clone(),
        };
        self.decoder.forward(&latents)
    }
}
