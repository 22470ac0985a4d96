//! HTDemucs's encoder and decoder layers (`HEncLayer`, `HDecLayer`) and their residual
//! `DConv` branch, for both the frequency branch (`[B, C, F, T]`, convolutions along F only)
//! and the time branch (`[B, C, T]`). Weight names are the reference's.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Conv1dConfig, Conv2dConfig, VarBuilder};

use crate::kernels::conv::{conv1d, conv2d, Conv1d, Conv2d, TallConv};
use crate::kernels::gelu::gelu_erf;
use crate::kernels::group_norm::{group_norm, GroupNorm};

/// Which axis a layer convolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    /// `[B, C, F, T]`, kernels `(k, 1)` along frequency.
    Frequency,
    /// `[B, C, T]`.
    Time,
}

/// `F.glu(x, dim=1)`: the first half of the channels gated by the sigmoid of the second.
fn glu(x: &Tensor) -> Result<Tensor> {
    let half = x.dim(1)? / 2;
    let gate = candle_nn::ops::sigmoid(&x.narrow(1, half, half)?)?;
    x.narrow(1, 0, half)?.mul(&gate)
}

/// `[B, C, F, T]` → `[B·T, C, F]`, so a `(k, 1)` kernel becomes a 1-D one along F.
fn frames_as_batch(x: &Tensor) -> Result<(Tensor, usize)> {
    let (b, c, f, t) = x.dims4()?;
    let y = x
        .permute((0, 3, 1, 2))?
        .contiguous()?
        .reshape((b * t, c, f))?;
    Ok((y, t))
}

/// The inverse of [`frames_as_batch`].
fn batch_as_frames(y: &Tensor, frames: usize) -> Result<Tensor> {
    let (bt, c, f) = y.dims3()?;
    y.reshape((bt / frames, frames, c, f))?
        .permute((0, 2, 3, 1))?
        .contiguous()
}

/// `[B, C, F, T]` → `[B·F, C, T]`, the layout DConv sees in the frequency branch.
fn bins_as_batch(x: &Tensor) -> Result<(Tensor, usize)> {
    let (b, c, f, t) = x.dims4()?;
    Ok((
        x.permute((0, 2, 1, 3))?
            .contiguous()?
            .reshape((b * f, c, t))?,
        f,
    ))
}

fn batch_as_bins(y: &Tensor, bins: usize) -> Result<Tensor> {
    let (bf, c, t) = y.dims3()?;
    y.reshape((bf / bins, bins, c, t))?
        .permute((0, 2, 1, 3))?
        .contiguous()
}

/// A `(k, 1)` Conv2d with stride `(s, 1)`, as PyTorch saves it.
fn frequency_conv(
    in_c: usize,
    out_c: usize,
    kernel: usize,
    config: Conv1dConfig,
    vb: VarBuilder,
) -> Result<TallConv> {
    let weight = vb.get((out_c, in_c, kernel, 1), "weight")?;
    Ok(TallConv::new(
        weight,
        vb.get(out_c, "bias")?,
        config.stride,
        config.padding,
    ))
}

/// One layer of the residual branch: dilated conv → norm → GELU → 1×1 conv → norm → GLU → scale.
struct DConvLayer {
    dilated: Conv1d,
    norm1: GroupNorm,
    project: Conv1d,
    norm2: GroupNorm,
    scale: Tensor,
}

/// `DConv`: `depth` residual layers with dilations 1, 2, 4…, on `[N, C, T]`.
pub struct DConv {
    layers: Vec<DConvLayer>,
}

impl DConv {
    pub fn load(channels: usize, compress: usize, depth: usize, vb: VarBuilder) -> Result<Self> {
        let hidden = channels / compress;
        let layers = (0..depth)
            .map(|d| {
                let vb = vb.pp(format!("layers.{d}"));
                let dilation = 1 << d;
                let config = Conv1dConfig {
                    padding: dilation,
                    dilation,
                    ..Default::default()
                };
                Ok(DConvLayer {
                    dilated: conv1d(channels, hidden, 3, config, vb.pp("0"))?,
                    norm1: group_norm(1, hidden, 1e-5, vb.pp("1"))?,
                    project: conv1d(hidden, 2 * channels, 1, Default::default(), vb.pp("3"))?,
                    norm2: group_norm(1, 2 * channels, 1e-5, vb.pp("4"))?,
                    scale: vb.pp("6").get(channels, "scale")?.reshape((channels, 1))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            let y = gelu_erf(&layer.norm1.forward(&layer.dilated.forward(&x)?)?)?;
            let y = glu(&layer.norm2.forward(&layer.project.forward(&y)?)?)?;
            x = (x + y.broadcast_mul(&layer.scale)?)?;
        }
        Ok(x)
    }

    /// On `[B, C, F, T]`, each frequency bin being a separate sequence.
    fn forward_bins(&self, x: &Tensor) -> Result<Tensor> {
        let (y, bins) = bins_as_batch(x)?;
        batch_as_bins(&self.forward(&y)?, bins)
    }
}

/// The sizes of one layer.
#[derive(Clone, Copy, Debug)]
pub struct LayerShape {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    /// DConv's channel compression and depth; `None` without a DConv branch.
    pub dconv: Option<(usize, usize)>,
}

/// The main convolution of an encoder layer.
enum EncoderConv {
    Frequency(TallConv),
    Time(Conv1d),
}

/// The 1×1 "rewrite" convolution (context 0) before the GLU.
enum Rewrite {
    Frequency(Conv2d),
    Time(Conv1d),
}

impl Rewrite {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Rewrite::Frequency(conv) => conv.forward(x),
            Rewrite::Time(conv) => conv.forward(x),
        }
    }
}

/// `HEncLayer` without norms (HTDemucs starts them below its depth) and without injection
/// (no layer of the published models merges the branches).
pub struct EncoderLayer {
    conv: EncoderConv,
    stride: usize,
    dconv: Option<DConv>,
    rewrite: Rewrite,
}

impl EncoderLayer {
    pub fn load(branch: Branch, shape: LayerShape, context: usize, vb: VarBuilder) -> Result<Self> {
        let LayerShape {
            in_channels,
            out_channels,
            kernel,
            stride,
            dconv,
        } = shape;
        let config = Conv1dConfig {
            padding: kernel / 4,
            stride,
            ..Default::default()
        };
        let conv = match branch {
            Branch::Frequency => EncoderConv::Frequency(frequency_conv(
                in_channels,
                out_channels,
                kernel,
                config,
                vb.pp("conv"),
            )?),
            Branch::Time => EncoderConv::Time(conv1d(
                in_channels,
                out_channels,
                kernel,
                config,
                vb.pp("conv"),
            )?),
        };
        let rewrite = load_rewrite(branch, out_channels, context, vb.pp("rewrite"))?;
        let dconv = dconv
            .map(|(compress, depth)| DConv::load(out_channels, compress, depth, vb.pp("dconv")))
            .transpose()?;
        Ok(Self {
            conv,
            stride,
            dconv,
            rewrite,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.conv {
            EncoderConv::Frequency(conv) => conv.forward(x)?,
            EncoderConv::Time(conv) => {
                let length = x.dim(D::Minus1)?;
                let x = match length % self.stride {
                    0 => x.clone(),
                    rest => x.pad_with_zeros(D::Minus1, 0, self.stride - rest)?,
                };
                conv.forward(&x)?
            }
        };
        let mut y = gelu_erf(&y)?;
        if let Some(dconv) = &self.dconv {
            y = match self.conv {
                EncoderConv::Frequency(_) => dconv.forward_bins(&y)?,
                EncoderConv::Time(_) => dconv.forward(&y)?,
            };
        }
        glu(&self.rewrite.forward(&y)?)
    }
}

fn load_rewrite(
    branch: Branch,
    channels: usize,
    context: usize,
    vb: VarBuilder,
) -> Result<Rewrite> {
    let kernel = 1 + 2 * context;
    Ok(match branch {
        Branch::Frequency => {
            let config = Conv2dConfig {
                padding: context,
                ..Default::default()
            };
            Rewrite::Frequency(conv2d(channels, 2 * channels, kernel, config, vb)?)
        }
        Branch::Time => {
            let config = Conv1dConfig {
                padding: context,
                ..Default::default()
            };
            Rewrite::Time(conv1d(channels, 2 * channels, kernel, config, vb)?)
        }
    })
}

/// `HDecLayer` without norms: skip → rewrite (context 1) → GLU → DConv → transposed conv,
/// trimmed by `kernel / 4` on each side; GELU except in the last layer.
pub struct DecoderLayer {
    branch: Branch,
    rewrite: Rewrite,
    dconv: Option<DConv>,
    conv_tr: TransposedConv,
    trim: usize,
    last: bool,
}

impl DecoderLayer {
    pub fn load(
        branch: Branch,
        shape: LayerShape,
        context: usize,
        last: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let LayerShape {
            in_channels,
            out_channels,
            kernel,
            stride,
            dconv,
        } = shape;
        let tvb = vb.pp("conv_tr");
        let weight = match branch {
            Branch::Frequency => tvb
                .get((in_channels, out_channels, kernel, 1), "weight")?
                .squeeze(3)?,
            Branch::Time => tvb.get((in_channels, out_channels, kernel), "weight")?,
        };
        let conv_tr = TransposedConv::new(&weight, tvb.get(out_channels, "bias")?, stride)?;
        Ok(Self {
            branch,
            rewrite: load_rewrite(branch, in_channels, context, vb.pp("rewrite"))?,
            dconv: dconv
                .map(|(compress, depth)| DConv::load(in_channels, compress, depth, vb.pp("dconv")))
                .transpose()?,
            conv_tr,
            trim: kernel / 4,
            last,
        })
    }

    /// `length` is the time branch's length before the matching encoder layer (ignored in the
    /// frequency branch, whose output is always `stride` times longer, less the trim).
    pub fn forward(&self, x: &Tensor, skip: &Tensor, length: usize) -> Result<Tensor> {
        let x = (x + skip)?;
        let mut y = glu(&self.rewrite.forward(&x)?)?;
        if let Some(dconv) = &self.dconv {
            y = match self.branch {
                Branch::Frequency => dconv.forward_bins(&y)?,
                Branch::Time => dconv.forward(&y)?,
            };
        }
        let z = match self.branch {
            Branch::Frequency => {
                let (frames, count) = frames_as_batch(&y)?;
                let z = self.conv_tr.forward(&frames)?;
                let bins = z.dim(2)? - 2 * self.trim;
                batch_as_frames(&z.narrow(2, self.trim, bins)?, count)?
            }
            Branch::Time => self.conv_tr.forward(&y)?.narrow(2, self.trim, length)?,
        };
        if self.last {
            Ok(z)
        } else {
            gelu_erf(&z)
        }
    }
}

/// A 1-D transposed convolution whose kernel is twice its stride, as all of HTDemucs's are:
/// one matrix product gives every output block's two contributions, which are then added with
/// one block of offset. (candle 0.11's CPU `conv_transpose1d` also loops over scalars.)
struct TransposedConv {
    /// `[c_in, c_out · kernel]`, PyTorch's `[c_in, c_out, kernel]` flattened.
    weight: Tensor,
    bias: Tensor,
    out_channels: usize,
    stride: usize,
}

impl TransposedConv {
    fn new(weight: &Tensor, bias: Tensor, stride: usize) -> Result<Self> {
        let (in_channels, out_channels, kernel) = weight.dims3()?;
        if kernel != 2 * stride {
            candle_core::bail!("transposed convolution with kernel {kernel} and stride {stride}");
        }
        Ok(Self {
            weight: weight.reshape((in_channels, out_channels * kernel))?,
            bias: bias.reshape((1, out_channels, 1))?,
            out_channels,
            stride,
        })
    }

    /// `[N, c_in, L]` → `[N, c_out, (L + 1) · stride]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, c_in, length) = x.dims3()?;
        let s = self.stride;
        let rows = x
            .transpose(1, 2)?
            .contiguous()?
            .reshape((n * length, c_in))?;
        // [N, L, c_out, 2, stride]: each input step's block and the start of the next one.
        let cols = rows
            .matmul(&self.weight)?
            .reshape((n, length, self.out_channels, 2, s))?;
        let half = |k: usize| -> Result<Tensor> {
            cols.narrow(3, k, 1)?
                .squeeze(3)?
                .permute((0, 2, 1, 3))?
                .reshape((n, self.out_channels, length * s))
        };
        let first = half(0)?.pad_with_zeros(2, 0, s)?;
        let second = half(1)?.pad_with_zeros(2, s, 0)?;
        (first + second)?.broadcast_add(&self.bias)
    }
}
