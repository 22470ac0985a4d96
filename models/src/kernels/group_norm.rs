//! Group normalisation, optionally followed by SiLU, in one op on the CPU in f32: one pass for
//! each group's mean, one for its variance, one to write `silu(x·scale + shift)`. candle's
//! `GroupNorm` takes some nine passes over memory with a fresh tensor for each, and the SiLU
//! after it another two; at the VAE's 512² × 128 channels that is 134 MB a pass.
//!
//! Other devices and dtypes use candle's ops.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::contiguous_f32;
use super::softmax::fast_exp;

#[derive(Clone, Debug)]
pub struct GroupNorm {
    weight: Tensor,
    bias: Tensor,
    groups: usize,
    eps: f64,
}

/// As `candle_nn::group_norm`: `weight` and `bias` of `channels` under `vb`.
pub fn group_norm(groups: usize, channels: usize, eps: f64, vb: VarBuilder) -> Result<GroupNorm> {
    if groups == 0 || !channels.is_multiple_of(groups) {
        candle_core::bail!("group norm: {groups} groups do not divide {channels} channels");
    }
    Ok(GroupNorm {
        weight: vb.get(channels, "weight")?,
        bias: vb.get(channels, "bias")?,
        groups,
        eps,
    })
}

impl GroupNorm {
    fn apply(&self, x: &Tensor, silu: bool) -> Result<Tensor> {
        let all_f32 = [x, &self.weight, &self.bias]
            .iter()
            .all(|t| t.dtype() == DType::F32);
        if x.device().is_cpu() && all_f32 {
            let op = FusedGroupNorm {
                groups: self.groups,
                eps: self.eps,
                silu,
            };
            return x
                .contiguous()?
                .apply_op3_no_bwd(&self.weight, &self.bias, &op);
        }
        let channels = self.weight.dim(0)?;
        let norm = candle_nn::GroupNorm::new(
            self.weight.clone(),
            self.bias.clone(),
            channels,
            self.groups,
            self.eps,
        )?;
        let out = norm.forward(x)?;
        if silu {
            candle_nn::ops::silu(&out)
        } else {
            Ok(out)
        }
    }

    /// The normalisation followed by SiLU.
    pub fn forward_silu(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, true)
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, false)
    }
}

struct FusedGroupNorm {
    groups: usize,
    eps: f64,
    silu: bool,
}

impl CustomOp3 for FusedGroupNorm {
    fn name(&self) -> &'static str {
        "fused-group-norm"
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
        let dims = x_layout.shape().dims();
        if dims.len() < 2 {
            candle_core::bail!("group norm takes [batch, channels, ...], not {dims:?}");
        }
        let channels = dims[1];
        if w_layout.shape().dims() != [channels] || b_layout.shape().dims() != [channels] {
            candle_core::bail!(
                "group norm: {channels} channels but weight {:?}",
                w_layout.shape()
            );
        }
        let (x, weight, bias) = (
            contiguous_f32(x, x_layout, "fused group norm")?,
            contiguous_f32(w, w_layout, "fused group norm")?,
            contiguous_f32(b, b_layout, "fused group norm")?,
        );
        let plane: usize = dims[2..].iter().product();
        let per_group = channels / self.groups;
        let mut out = vec![0f32; x.len()];
        if !out.is_empty() {
            out.par_chunks_mut(per_group * plane)
                .zip(x.par_chunks(per_group * plane))
                .enumerate()
                .for_each(|(index, (out, x))| {
                    let first_channel = (index % self.groups) * per_group;
                    let affine = Affine {
                        weight: &weight[first_channel..][..per_group],
                        bias: &bias[first_channel..][..per_group],
                    };
                    normalize_group(x, out, plane, affine, self.eps, self.silu);
                });
        }
        Ok((CpuStorage::F32(out), x_layout.shape().clone()))
    }
}

/// The weight and bias of one group's channels.
struct Affine<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
}

/// One group: its channels' planes, one after another. Compiled for AVX2 and FMA where the
/// processor has them (the default x86-64 target stops at SSE2).
fn normalize_group(x: &[f32], out: &mut [f32], plane: usize, affine: Affine, eps: f64, silu: bool) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features this copy was compiled for.
        unsafe { normalize_group_avx2(x, out, plane, affine, eps, silu) };
        return;
    }
    normalize_group_portable(x, out, plane, affine, eps, silu);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn normalize_group_avx2(
    x: &[f32],
    out: &mut [f32],
    plane: usize,
    affine: Affine,
    eps: f64,
    silu: bool,
) {
    normalize_group_portable(x, out, plane, affine, eps, silu);
}

const LANES: usize = 8;

#[inline(always)]
fn normalize_group_portable(
    x: &[f32],
    out: &mut [f32],
    plane: usize,
    affine: Affine,
    eps: f64,
    silu: bool,
) {
    let count = x.len() as f64;
    // Sums in f64 lanes: a VAE group holds a million values.
    let mean = (lane_sum(x, |v| v as f64) / count) as f32;
    let variance = lane_sum(x, |v| {
        let d = (v - mean) as f64;
        d * d
    }) / count;
    let inv_std = (1.0 / (variance + eps).sqrt()) as f32;
    for ((x, out), (w, b)) in x
        .chunks_exact(plane)
        .zip(out.chunks_exact_mut(plane))
        .zip(affine.weight.iter().zip(affine.bias))
    {
        let scale = w * inv_std;
        let shift = b - mean * scale;
        if silu {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = silu_value(v * scale + shift);
            }
        } else {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = v * scale + shift;
            }
        }
    }
}

#[inline(always)]
fn lane_sum(values: &[f32], term: impl Fn(f32) -> f64) -> f64 {
    let mut lanes = [0f64; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += term(v);
        }
    }
    rest.iter().map(|&v| term(v)).sum::<f64>() + lanes.iter().sum::<f64>()
}

/// `v · sigmoid(v)`, with the exponential only ever of a non-positive number.
#[inline(always)]
fn silu_value(v: f32) -> f32 {
    let e = fast_exp(-v.abs());
    let sigmoid = if v >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    v * sigmoid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_abs_diff;
    use candle_core::Device;

    fn random_norm(groups: usize, channels: usize, eps: f64) -> GroupNorm {
        let dev = Device::Cpu;
        GroupNorm {
            weight: Tensor::randn(1f32, 0.5, channels, &dev).unwrap(),
            bias: Tensor::randn(0f32, 0.5, channels, &dev).unwrap(),
            groups,
            eps,
        }
    }

    fn candle_reference(norm: &GroupNorm, x: &Tensor) -> Tensor {
        let channels = norm.weight.dim(0).unwrap();
        candle_nn::GroupNorm::new(
            norm.weight.clone(),
            norm.bias.clone(),
            channels,
            norm.groups,
            norm.eps,
        )
        .unwrap()
        .forward(x)
        .unwrap()
    }

    #[test]
    fn matches_candle_with_and_without_silu() {
        let dev = Device::Cpu;
        for (shape, groups) in [((2, 8, 5, 7), 4), ((1, 32, 16, 16), 32), ((3, 6, 1, 1), 2)] {
            // An offset and a spread, so the mean and variance both matter.
            let x = (Tensor::randn(0f32, 3.0, shape, &dev).unwrap() + 5.0).unwrap();
            let norm = random_norm(groups, shape.1, 1e-6);
            let reference = candle_reference(&norm, &x);
            let err = max_abs_diff(&norm.forward(&x).unwrap(), &reference);
            assert!(err < 1e-5, "{shape:?}: norm max error {err}");
            let reference = candle_nn::ops::silu(&reference).unwrap();
            let err = max_abs_diff(&norm.forward_silu(&x).unwrap(), &reference);
            assert!(err < 1e-5, "{shape:?}: norm + SiLU max error {err}");
        }
    }

    #[test]
    fn takes_token_shaped_and_non_contiguous_input() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 9, 4, 6), &dev)
            .unwrap()
            .transpose(2, 3)
            .unwrap();
        let norm = random_norm(3, 9, 1e-5);
        let err = max_abs_diff(
            &norm.forward_silu(&x).unwrap(),
            &candle_nn::ops::silu(&candle_reference(&norm, &x)).unwrap(),
        );
        assert!(err < 1e-5, "{err}");
    }

    #[test]
    fn silu_is_accurate_over_the_range_activations_take() {
        let mut worst = 0f32;
        for i in -2000..=2000 {
            let v = i as f32 * 0.01;
            let exact = v / (1.0 + (-v).exp());
            worst = worst.max((silu_value(v) - exact).abs() / exact.abs().max(1e-3));
        }
        assert!(worst < 2e-5, "{worst}");
    }

    #[test]
    fn refuses_groups_that_do_not_divide_the_channels() {
        let dev = Device::Cpu;
        let vb = VarBuilder::zeros(DType::F32, &dev);
        assert!(group_norm(3, 8, 1e-5, vb).is_err());
    }
}
