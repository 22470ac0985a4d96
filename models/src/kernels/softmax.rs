//! Softmax over the last dimension for the attention weights. On the CPU in f32 it uses a
//! polynomial `exp` that the compiler vectorises (relative error < 1e-5), four times faster
//! than candle's scalar `exp`: the encoder's 8 × 1500 × 1500 attention weights per layer made
//! softmax its largest cost. In f16 and bf16 on the CPU each row is summed in f32, as candle's
//! CUDA kernel does (candle's CPU softmax sums in the input's dtype, which loses most of the
//! small weights over thousands of keys), so the CPU's half-precision path computes what the
//! GPU's does. Other devices use candle's own kernels.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let ours = matches!(x.dtype(), DType::F32 | DType::F16 | DType::BF16);
    if x.device().is_cpu() && ours {
        x.contiguous()?.apply_op1_no_bwd(&FastSoftmax)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

struct FastSoftmax;

impl CustomOp1 for FastSoftmax {
    fn name(&self) -> &'static str {
        "fast-softmax-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("fast softmax takes a contiguous tensor");
        };
        let width = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let out = match storage {
            CpuStorage::F32(data) => {
                let mut out = data[start..end].to_vec();
                out.par_chunks_mut(width).for_each(softmax_row);
                CpuStorage::F32(out)
            }
            CpuStorage::F16(data) => CpuStorage::F16(in_f32_rows(&data[start..end], width)),
            CpuStorage::BF16(data) => CpuStorage::BF16(in_f32_rows(&data[start..end], width)),
            _ => candle_core::bail!("fast softmax takes f32, f16 or bf16"),
        };
        Ok((out, layout.shape().clone()))
    }
}

/// Half-precision rows through the f32 softmax, one row's f32 copy at a time.
fn in_f32_rows<T: FromF32 + Copy + Send + Sync>(data: &[T], width: usize) -> Vec<T>
where
    f32: From<T>,
{
    let mut out = vec![T::from_f32(0.0); data.len()];
    out.par_chunks_mut(width)
        .zip(data.par_chunks(width))
        .for_each_init(
            || vec![0f32; width],
            |row, (out, input)| {
                for (r, &x) in row.iter_mut().zip(input) {
                    *r = f32::from(x);
                }
                softmax_row(row);
                for (o, &r) in out.iter_mut().zip(row.iter()) {
                    *o = T::from_f32(r);
                }
            },
        );
    out
}

/// The rounding conversion from f32 that `half`'s types have as inherent functions.
trait FromF32 {
    fn from_f32(value: f32) -> Self;
}

impl FromF32 for half::f16 {
    fn from_f32(value: f32) -> Self {
        half::f16::from_f32(value)
    }
}

impl FromF32 for half::bf16 {
    fn from_f32(value: f32) -> Self {
        half::bf16::from_f32(value)
    }
}

fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    // Separate loops so each one vectorises.
    for v in row.iter_mut() {
        *v = fast_exp(*v - max);
    }
    let sum: f32 = row.iter().sum();
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// `exp(x)` for x ≤ 0 as `2^n · 2^f`: n rounded with the 1.5·2^23 trick (no libm call, so the
/// loop vectorises), 2^f for |f| ≤ 0.5 by a degree-5 polynomial. Below -87 (and -inf): 0.
#[inline]
pub(crate) fn fast_exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    // A select rather than `max`, which would turn NaN into -87: NaN scores (an overflowed
    // inf − inf) must come out NaN, as in candle's and PyTorch's softmax, not as weights.
    let clamped = if x < -87.0 { -87.0 } else { x };
    let t = clamped * std::f32::consts::LOG2_E;
    let n = (t + ROUND) - ROUND;
    let f = t - n;
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5 + f * (0.055_504_11 + f * (0.009_618_129 + f * 0.001_333_355))));
    let value = f32::from_bits(((n as i32 + 127) as u32) << 23) * p;
    // A select, not a branch, so it still vectorises; masked (-inf) scores get exactly 0.
    if x < -87.0 {
        0.0
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_where_softmax_needs_it() {
        let mut worst = 0f32;
        for i in -870..=0 {
            let x = i as f32 * 0.1;
            worst = worst.max((fast_exp(x) - x.exp()).abs() / x.exp());
        }
        assert!(worst < 1e-5, "{worst}");
        assert_eq!(fast_exp(f32::NEG_INFINITY), 0.0);
        assert!(fast_exp(f32::NAN).is_nan());
    }

    #[test]
    fn matches_candle_softmax() {
        let x = Tensor::randn(0f32, 3.0, (3, 5, 77), &candle_core::Device::Cpu).unwrap();
        let ours = softmax_last_dim(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let theirs = candle_nn::ops::softmax_last_dim(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let err = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-6, "{err}");
    }

    #[test]
    fn overflowed_scores_give_nan_not_weights() {
        // An f16 score that overflowed is inf; inf − inf is NaN, and it must show.
        for dtype in [DType::F32, DType::F16] {
            let x = Tensor::new(&[[1.0f32, f32::INFINITY, 2.0]], &candle_core::Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let y = softmax_last_dim(&x)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            assert!(y[0].iter().any(|v| v.is_nan()), "{dtype:?}: {y:?}");
        }
    }

    #[test]
    fn half_precision_rows_are_summed_in_f32() {
        // 4,096 equal scores: each weight is 1/4096. Summed in f16 the total stalls at 2,048
        // (where 1 + 2048 rounds back to 2048), and every weight would come out twice too big.
        let x = Tensor::zeros((2, 4096), DType::F16, &candle_core::Device::Cpu).unwrap();
        let y = softmax_last_dim(&x).unwrap();
        assert_eq!(y.dtype(), DType::F16);
        let y = y.to_dtype(DType::F32).unwrap().to_vec2::<f32>().unwrap();
        let expected = 1.0 / 4096.0;
        assert!(
            y[0].iter().all(|&v| (v - expected).abs() < 1e-7),
            "{}",
            y[0][0]
        );
    }

    #[test]
    fn masked_positions_get_zero_weight() {
        let x = Tensor::new(
            &[[0.0f32, f32::NEG_INFINITY, 1.0]],
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let y = softmax_last_dim(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(y[0][1], 0.0);
        assert!((y[0][0] + y[0][2] - 1.0).abs() < 1e-6);
    }
}
