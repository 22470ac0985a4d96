//! 2-D convolution on the CPU in f32, laid out for the matrix kernel: `out[c_out, pixels] =
//! weight[c_out, c_in·kh·kw] · columns[c_in·kh·kw, pixels]`, with PyTorch's weight as stored
//! and the output written straight into NCHW. candle 0.11's CPU path instead transposes the
//! input to NHWC, flattens the weight again on every call and scatters the result back, all in
//! scalar loops: 12% of a UNet step. 1×1 convolutions need no columns at all.
//!
//! Other devices, dtypes, dilations and groups use candle's `conv2d`.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Conv1dConfig, Conv2dConfig, VarBuilder};
use rayon::prelude::*;

use super::contiguous_f32;
use super::winograd;

/// Column rows × pixels per tile, in floats: 8 MB, so the columns stay near the cache while
/// the largest layers (VAE at 512², UNet at 1,280 channels) never build them whole.
const TILE_FLOATS: usize = 2 << 20;

/// Channels in and out from which a 3×3 convolution goes through Winograd's transform.
const WINOGRAD_MIN_CHANNELS: usize = 16;
/// Output pixels per call (all images) from which it does.
const WINOGRAD_MIN_PIXELS: usize = 1024;

/// A convolution with bias, PyTorch weight layout `[c_out, c_in, kh, kw]`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    weight: Tensor,
    bias: Tensor,
    config: Conv2dConfig,
}

/// As `candle_nn::conv2d`: `weight` and `bias` under `vb`.
pub fn conv2d(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    config: Conv2dConfig,
    vb: VarBuilder,
) -> Result<Conv2d> {
    let weight = vb.get((out_channels, in_channels, kernel, kernel), "weight")?;
    let bias = vb.get(out_channels, "bias")?;
    Ok(Conv2d {
        weight,
        bias,
        config,
    })
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let fused = x.device().is_cpu()
            && x.dtype() == DType::F32
            && self.weight.dtype() == DType::F32
            && c.dilation == 1
            && c.groups == 1;
        if fused {
            let op = ColumnConv {
                stride: (c.stride, c.stride),
                padding: (c.padding, c.padding),
                dilation_w: 1,
            };
            x.contiguous()?
                .apply_op3_no_bwd(&self.weight.contiguous()?, &self.bias, &op)
        } else {
            let out = x.conv2d(&self.weight, c.padding, c.stride, c.dilation, c.groups)?;
            out.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
        }
    }
}

/// A 1-D convolution on `[N, C, L]` with PyTorch's weight `[c_out, c_in, k]`, run on the CPU
/// by the same column kernel as a `1 × k` 2-D one (candle 0.11's CPU `conv1d` copies and
/// unfolds in scalar loops). Other devices and dtypes, and groups, use candle's.
#[derive(Clone, Debug)]
pub struct Conv1d {
    weight: Tensor,
    bias: Tensor,
    config: Conv1dConfig,
}

impl Conv1d {
    pub fn new(weight: Tensor, bias: Tensor, config: Conv1dConfig) -> Self {
        Self {
            weight,
            bias,
            config,
        }
    }
}

/// As `candle_nn::conv1d`: `weight` and `bias` under `vb`.
pub fn conv1d(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    config: Conv1dConfig,
    vb: VarBuilder,
) -> Result<Conv1d> {
    let weight = vb.get((out_channels, in_channels, kernel), "weight")?;
    Ok(Conv1d::new(weight, vb.get(out_channels, "bias")?, config))
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let fused = x.device().is_cpu()
            && x.dtype() == DType::F32
            && self.weight.dtype() == DType::F32
            && c.groups == 1;
        if fused {
            let op = ColumnConv {
                stride: (1, c.stride),
                padding: (0, c.padding),
                dilation_w: c.dilation,
            };
            x.unsqueeze(2)?
                .contiguous()?
                .apply_op3_no_bwd(&self.weight.unsqueeze(2)?.contiguous()?, &self.bias, &op)?
                .squeeze(2)
        } else {
            let out = x.conv1d(&self.weight, c.padding, c.stride, c.dilation, c.groups)?;
            out.broadcast_add(&self.bias.reshape((1, (), 1))?)
        }
    }
}

/// A `k × 1` convolution striding and padding along the height only (HTDemucs's frequency
/// layers: kernel `(8, 1)`, stride `(4, 1)`), weight `[c_out, c_in, k, 1]`. candle's `conv2d`
/// takes one stride for both axes, so other devices convolve each column as a 1-D signal.
#[derive(Clone, Debug)]
pub struct TallConv {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    padding: usize,
}

impl TallConv {
    pub fn new(weight: Tensor, bias: Tensor, stride: usize, padding: usize) -> Self {
        Self {
            weight,
            bias,
            stride,
            padding,
        }
    }
}

impl Module for TallConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 && self.weight.dtype() == DType::F32 {
            let op = ColumnConv {
                stride: (self.stride, 1),
                padding: (self.padding, 0),
                dilation_w: 1,
            };
            return x
                .contiguous()?
                .apply_op3_no_bwd(&self.weight.contiguous()?, &self.bias, &op);
        }
        let (b, c, h, w) = x.dims4()?;
        let columns = x
            .permute((0, 3, 1, 2))?
            .contiguous()?
            .reshape((b * w, c, h))?;
        let y = columns
            .conv1d(&self.weight.squeeze(3)?, self.padding, self.stride, 1, 1)?
            .broadcast_add(&self.bias.reshape((1, (), 1))?)?;
        let (_, c_out, h_out) = y.dims3()?;
        y.reshape((b, w, c_out, h_out))?
            .permute((0, 2, 3, 1))?
            .contiguous()
    }
}

/// Strides and paddings per axis (height, width); dilation along the width only, which is
/// what 1-D convolutions laid out as `1 × k` 2-D ones need.
struct ColumnConv {
    stride: (usize, usize),
    padding: (usize, usize),
    dilation_w: usize,
}

/// The sizes of one call.
#[derive(Clone, Copy)]
struct Geometry {
    batch: usize,
    c_in: usize,
    height: usize,
    width: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride_h: usize,
    stride_w: usize,
    pad_h: usize,
    pad_w: usize,
    dilation_w: usize,
    out_h: usize,
    out_w: usize,
}

impl Geometry {
    fn of(x: &Layout, w: &Layout, b: &Layout, op: &ColumnConv) -> Result<Self> {
        let (batch, c_in, height, width) = x.shape().dims4()?;
        let (c_out, w_in, kh, kw) = w.shape().dims4()?;
        if w_in != c_in || b.shape().dims() != [c_out] {
            candle_core::bail!(
                "conv2d: input {:?}, weight {:?} and bias {:?} do not fit together",
                x.shape(),
                w.shape(),
                b.shape()
            );
        }
        let ((stride_h, stride_w), (pad_h, pad_w)) = (op.stride, op.padding);
        let (padded_h, padded_w) = (height + 2 * pad_h, width + 2 * pad_w);
        let span_w = op.dilation_w * (kw.max(1) - 1) + 1;
        if stride_h == 0
            || stride_w == 0
            || op.dilation_w == 0
            || padded_h < kh
            || padded_w < span_w
        {
            candle_core::bail!("conv2d: a {kh}x{kw} kernel does not fit {height}x{width}");
        }
        Ok(Self {
            batch,
            c_in,
            height,
            width,
            c_out,
            kh,
            kw,
            stride_h,
            stride_w,
            pad_h,
            pad_w,
            dilation_w: op.dilation_w,
            out_h: (padded_h - kh) / stride_h + 1,
            out_w: (padded_w - span_w) / stride_w + 1,
        })
    }

    fn reduction(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// A 3×3 "same" convolution large enough that the transforms cost less than the products
    /// they save: not the first layers of a model (3 or 4 channels in), nor the UNet's
    /// lowest resolutions, where the weight's transform is as much work as the products.
    fn suits_winograd(&self) -> bool {
        self.kh == 3
            && self.kw == 3
            && (self.stride_h, self.stride_w, self.dilation_w) == (1, 1, 1)
            && (self.pad_h, self.pad_w) == (1, 1)
            && self.c_in >= WINOGRAD_MIN_CHANNELS
            && self.c_out >= WINOGRAD_MIN_CHANNELS
            && self.batch * self.height * self.width >= WINOGRAD_MIN_PIXELS
    }

    /// A 1×1 kernel with stride 1 and no padding: the input planes are the columns.
    fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && (self.stride_h, self.stride_w) == (1, 1)
            && (self.pad_h, self.pad_w) == (0, 0)
    }
}

impl CustomOp3 for ColumnConv {
    fn name(&self) -> &'static str {
        "column-conv2d"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::of(x_layout, w_layout, b_layout, self)?;
        let (x, w, bias) = (
            contiguous_f32(x, x_layout, "column conv2d")?,
            contiguous_f32(w, w_layout, "column conv2d")?,
            contiguous_f32(b, b_layout, "column conv2d")?,
        );
        let plane_in = g.height * g.width;
        let plane_out = g.out_h * g.out_w;
        let mut out = vec![0f32; g.batch * g.c_out * plane_out];
        let shape = Shape::from((g.batch, g.c_out, g.out_h, g.out_w));
        if out.is_empty() {
            return Ok((CpuStorage::F32(out), shape));
        }
        if g.suits_winograd() {
            let planes = winograd::Planes {
                batch: g.batch,
                c_in: g.c_in,
                c_out: g.c_out,
                height: g.height,
                width: g.width,
            };
            winograd::convolve(x, w, bias, &mut out, planes);
            return Ok((CpuStorage::F32(out), shape));
        }
        let k = g.reduction();
        let tile_rows = if g.is_pointwise() {
            g.out_h
        } else {
            (TILE_FLOATS / (k * g.out_w)).clamp(1, g.out_h)
        };
        let mut columns = if g.is_pointwise() {
            Vec::new()
        } else {
            vec![0f32; k * tile_rows * g.out_w]
        };
        let threads = rayon::current_num_threads();
        for (item, out) in out.chunks_mut(g.c_out * plane_out).enumerate() {
            let input = &x[item * g.c_in * plane_in..][..g.c_in * plane_in];
            for first_row in (0..g.out_h).step_by(tile_rows) {
                let rows = tile_rows.min(g.out_h - first_row);
                let pixels = rows * g.out_w;
                let first_pixel = first_row * g.out_w;
                // The bias is the starting value the product adds to.
                for (channel, value) in bias.iter().enumerate() {
                    out[channel * plane_out + first_pixel..][..pixels].fill(*value);
                }
                let (rhs, rhs_row_stride) = if g.is_pointwise() {
                    (&input[first_pixel..], plane_in)
                } else {
                    let columns = &mut columns[..k * pixels];
                    fill_columns(input, columns, first_row, rows, &g);
                    (&columns[..], pixels)
                };
                // out[:, first_pixel..] (c_out × pixels, row stride plane_out)
                //   += w (c_out × k) · rhs (k × pixels, row stride rhs_row_stride).
                // SAFETY: the pointers and strides describe regions inside `out`, `w` and
                // `rhs`: c_out rows of plane_out from first_pixel, and k rows of `pixels`.
                unsafe {
                    gemm::gemm(
                        g.c_out,
                        pixels,
                        k,
                        out[first_pixel..].as_mut_ptr(),
                        1,
                        plane_out as isize,
                        true,
                        w.as_ptr(),
                        1,
                        k as isize,
                        rhs.as_ptr(),
                        1,
                        rhs_row_stride as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::Rayon(threads),
                    );
                }
            }
        }
        Ok((CpuStorage::F32(out), shape))
    }
}

/// The columns of output rows `first_row..first_row + rows`: one row per (input channel,
/// kernel row, kernel column), holding the input pixel each output pixel sees through that
/// kernel tap (0 in the padding).
fn fill_columns(input: &[f32], columns: &mut [f32], first_row: usize, rows: usize, g: &Geometry) {
    let pixels = rows * g.out_w;
    let taps = g.kh * g.kw;
    columns
        .par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(row, column)| {
            let (channel, tap) = (row / taps, row % taps);
            let (ky, kx) = (tap / g.kw, tap % g.kw);
            let plane = &input[channel * g.height * g.width..][..g.height * g.width];
            for (out_y, dst) in column.chunks_mut(g.out_w).enumerate() {
                let in_y = ((first_row + out_y) * g.stride_h + ky) as isize - g.pad_h as isize;
                if in_y < 0 || in_y >= g.height as isize {
                    dst.fill(0.0);
                    continue;
                }
                let src = &plane[in_y as usize * g.width..][..g.width];
                copy_tap(src, dst, kx, g);
            }
        });
}

/// One output row's inputs through kernel column `kx`.
fn copy_tap(src: &[f32], dst: &mut [f32], kx: usize, g: &Geometry) {
    // Output x reads input x·stride + kx·dilation − padding.
    let offset = (kx * g.dilation_w) as isize - g.pad_w as isize;
    if g.stride_w == 1 {
        // A shifted copy with zeros where it falls outside the row.
        let first = (-offset).clamp(0, dst.len() as isize) as usize;
        let last = (g.width as isize - offset).clamp(first as isize, dst.len() as isize) as usize;
        dst[..first].fill(0.0);
        let start = (first as isize + offset) as usize;
        dst[first..last].copy_from_slice(&src[start..start + (last - first)]);
        dst[last..].fill(0.0);
    } else {
        for (out_x, d) in dst.iter_mut().enumerate() {
            let in_x = (out_x * g.stride_w) as isize + offset;
            *d = if in_x >= 0 && in_x < g.width as isize {
                src[in_x as usize]
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_abs_diff;
    use candle_core::Device;

    /// (batch, c_in, c_out), (height, width), (kernel, stride, padding).
    fn check(channels: (usize, usize, usize), size: (usize, usize), kernel: (usize, usize, usize)) {
        let ((batch, c_in, c_out), (h, w), (k, stride, padding)) = (channels, size, kernel);
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (batch, c_in, h, w), &dev).unwrap();
        let conv = Conv2d {
            weight: Tensor::randn(0f32, 1.0, (c_out, c_in, k, k), &dev).unwrap(),
            bias: Tensor::randn(0f32, 1.0, c_out, &dev).unwrap(),
            config: Conv2dConfig {
                stride,
                padding,
                ..Default::default()
            },
        };
        let ours = conv.forward(&x).unwrap();
        let candle = x
            .conv2d(&conv.weight, padding, stride, 1, 1)
            .unwrap()
            .broadcast_add(&conv.bias.reshape((1, (), 1, 1)).unwrap())
            .unwrap();
        assert_eq!(ours.dims(), candle.dims());
        let err = max_abs_diff(&ours, &candle);
        let what = format!("b{batch} {c_in}->{c_out} {h}x{w} k{k} s{stride} p{padding}");
        assert!(err < 1e-4, "{what}: max error {err}");
    }

    #[test]
    fn matches_candle_for_the_models_convolutions() {
        check((2, 5, 7), (9, 13), (3, 1, 1)); // resnets, conv_in/out, upsample convs
        check((1, 4, 6), (9, 13), (3, 2, 1)); // downsample, odd sides
        check((2, 3, 4), (8, 8), (3, 2, 0)); // downsample with diffusers' padding 0
        check((2, 6, 3), (5, 7), (1, 1, 0)); // shortcuts and projections
        check((1, 2, 3), (1, 1), (3, 1, 1)); // one pixel, all padding but the centre
        check((1, 3, 2), (6, 4), (3, 1, 0)); // no padding: smaller output
    }

    #[test]
    fn large_same_convolutions_go_through_winograd() {
        check((2, 16, 24), (23, 31), (3, 1, 1)); // odd sides
        check((1, 64, 32), (40, 40), (3, 1, 1));
    }

    #[test]
    fn tiles_large_inputs_by_rows() {
        // 64 × 9 column rows × 40 pixels a row: more than one tile of TILE_FLOATS.
        check((1, 64, 8), (1000, 40), (3, 1, 1));
    }

    /// (batch, c_in, c_out), length, (kernel, stride, padding, dilation).
    fn check_1d(
        channels: (usize, usize, usize),
        length: usize,
        kernel: (usize, usize, usize, usize),
    ) {
        let ((batch, c_in, c_out), (k, stride, padding, dilation)) = (channels, kernel);
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (batch, c_in, length), &dev).unwrap();
        let config = Conv1dConfig {
            stride,
            padding,
            dilation,
            ..Default::default()
        };
        let conv = Conv1d::new(
            Tensor::randn(0f32, 1.0, (c_out, c_in, k), &dev).unwrap(),
            Tensor::randn(0f32, 1.0, c_out, &dev).unwrap(),
            config,
        );
        let ours = conv.forward(&x).unwrap();
        let candle = x
            .conv1d(&conv.weight, padding, stride, dilation, 1)
            .unwrap()
            .broadcast_add(&conv.bias.reshape((1, (), 1)).unwrap())
            .unwrap();
        assert_eq!(ours.dims(), candle.dims());
        let err = max_abs_diff(&ours, &candle);
        assert!(
            err < 1e-4,
            "b{batch} {c_in}->{c_out} L{length} k{k} s{stride} p{padding} d{dilation}: {err}"
        );
    }

    #[test]
    fn one_dimensional_convolutions_match_candle() {
        check_1d((3, 8, 2), 50, (3, 1, 1, 1)); // Demucs's DConv, dilation 1
        check_1d((3, 8, 2), 50, (3, 1, 2, 2)); // and 2
        check_1d((1, 4, 16), 101, (8, 4, 2, 1)); // its time-branch encoder: kernel 8, stride 4
        check_1d((2, 6, 12), 33, (1, 1, 0, 1)); // 1x1 projections
        check_1d((1, 5, 5), 9, (3, 1, 1, 1)); // rewrite convs with context 1
    }

    #[test]
    fn tall_convolutions_stride_the_height_only() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 4, 64, 5), &dev).unwrap();
        let conv = TallConv::new(
            Tensor::randn(0f32, 1.0, (6, 4, 8, 1), &dev).unwrap(),
            Tensor::randn(0f32, 1.0, 6, &dev).unwrap(),
            4,
            2,
        );
        let ours = conv.forward(&x).unwrap();
        // Each column as a 1-D signal, through candle.
        let columns = x
            .permute((0, 3, 1, 2))
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((10, 4, 64))
            .unwrap();
        let reference = columns
            .conv1d(&conv.weight.squeeze(3).unwrap(), 2, 4, 1, 1)
            .unwrap()
            .broadcast_add(&conv.bias.reshape((1, (), 1)).unwrap())
            .unwrap()
            .reshape((2, 5, 6, 16))
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        assert_eq!(ours.dims(), [2, 6, 16, 5]);
        assert!(max_abs_diff(&ours, &reference) < 1e-4);
    }

    #[test]
    fn takes_a_non_contiguous_input() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 6, 4, 3), &dev)
            .unwrap()
            .transpose(2, 3)
            .unwrap();
        let conv = Conv2d {
            weight: Tensor::randn(0f32, 1.0, (2, 6, 3, 3), &dev).unwrap(),
            bias: Tensor::zeros(2, DType::F32, &dev).unwrap(),
            config: Conv2dConfig {
                padding: 1,
                ..Default::default()
            },
        };
        let ours = conv.forward(&x).unwrap();
        let candle = x.conv2d(&conv.weight, 1, 1, 1, 1).unwrap();
        assert!(max_abs_diff(&ours, &candle) < 1e-4);
    }
}
