//! Dynamic tanh (DyT), SAME-S's norm: `γ · tanh(α · x) + β` over the last axis, with a scalar
//! α. candle does it in four passes, its tanh libm's scalar `tanhf`, one call per element: a
//! SAME-S decode of one minute runs 300 M of them. On the CPU in f32 it is one pass here, tanh
//! a rational function of x² (numerator and denominator of degree 4, fitted by
//! `tools/kernels/fit_rational.py tanh 4 4`) evaluated in f64 so that the loop vectorises and
//! the f32 result is within an f32 rounding of the true value (the fit is within 1.9e-8 of tanh
//! on [-9, 9]; beyond, tanh rounds to ±1 in f32).
//!
//! Other devices and dtypes use candle's operations.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, polynomial, ELEMENTWISE_CHUNK as CHUNK};

/// tanh(x) ≈ x·P(x²)/Q(x²) on [-9, 9], lowest power first.
const NUMERATOR: [f64; 5] = [
    0.999_999_906_388_792_2,
    0.133_732_012_693_934_5,
    0.003_486_586_026_109_750_5,
    2.047_189_432_013_701_7e-5,
    1.318_430_447_248_859_3e-8,
];
const DENOMINATOR: [f64; 5] = [
    1.0,
    0.467_064_981_404_142,
    0.025_841_995_197_871_954,
    0.000_327_139_196_189_197_3,
    7.702_698_118_660_398e-7,
];
/// Past this, tanh is ±1 in f32.
const SATURATED: f64 = 9.0;

#[inline(always)]
fn tanh(x: f64) -> f64 {
    // Both sides computed and one selected, rather than a branch, so that the loop vectorises;
    // NaN passes through the fit.
    let inside = x.clamp(-SATURATED, SATURATED);
    let y = inside * inside;
    let fit = inside * polynomial(&NUMERATOR, y) / polynomial(&DENOMINATOR, y);
    if x.abs() > SATURATED {
        1f64.copysign(x)
    } else {
        fit
    }
}

/// One row: `out[i] = gamma[i] · tanh(alpha · x[i]) + beta[i]`.
fn dyt_row(x: &[f32], alpha: f32, gamma: &[f32], beta: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features this copy was compiled for.
        unsafe { dyt_row_avx2(x, alpha, gamma, beta, out) };
        return;
    }
    dyt_row_portable(x, alpha, gamma, beta, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dyt_row_avx2(x: &[f32], alpha: f32, gamma: &[f32], beta: &[f32], out: &mut [f32]) {
    dyt_row_portable(x, alpha, gamma, beta, out);
}

#[inline(always)]
fn dyt_row_portable(x: &[f32], alpha: f32, gamma: &[f32], beta: &[f32], out: &mut [f32]) {
    let alpha = f64::from(alpha);
    for (((o, &v), &g), &b) in out.iter_mut().zip(x).zip(gamma).zip(beta) {
        *o = (f64::from(g) * tanh(alpha * f64::from(v)) + f64::from(b)) as f32;
    }
}

/// The fused op, with its parameters read once.
struct DynTanhOp {
    alpha: f32,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl CustomOp1 for DynTanhOp {
    fn name(&self) -> &'static str {
        "dyt"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, "dyt")?;
        let width = self.gamma.len();
        if layout.dims().last() != Some(&width) {
            candle_core::bail!("dyt: rows of {:?} for {width} gains", layout.dims());
        }
        let mut out = vec![0f32; x.len()];
        let rows_per_task = (CHUNK / width).max(1) * width;
        out.par_chunks_mut(rows_per_task)
            .zip(x.par_chunks(rows_per_task))
            .for_each(|(out, x)| {
                for (out, x) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)) {
                    dyt_row(x, self.alpha, &self.gamma, &self.beta, out);
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// DyT with its learnt α (one value), γ and β (one per feature of the last axis).
pub struct DynTanh {
    alpha: Tensor,
    gamma: Tensor,
    beta: Tensor,
    /// The one-pass op, for f32 parameters on the CPU.
    fused: Option<DynTanhOp>,
}

impl DynTanh {
    pub fn new(alpha: Tensor, gamma: Tensor, beta: Tensor) -> Result<Self> {
        let fused = match (alpha.device().is_cpu(), alpha.dtype()) {
            (true, DType::F32) => Some(DynTanhOp {
                alpha: alpha.flatten_all()?.to_vec1::<f32>()?[0],
                gamma: gamma.to_vec1()?,
                beta: beta.to_vec1()?,
            }),
            _ => None,
        };
        Ok(Self {
            alpha,
            gamma,
            beta,
            fused,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.fused {
            Some(op) if x.device().is_cpu() && x.dtype() == DType::F32 => {
                x.contiguous()?.apply_op1_no_bwd(op)
            }
            _ => self.unfused(x),
        }
    }

    /// candle's four passes, the reference for the fused op.
    fn unfused(&self, x: &Tensor) -> Result<Tensor> {
        x.broadcast_mul(&self.alpha)?
            .tanh()?
            .broadcast_mul(&self.gamma)?
            .broadcast_add(&self.beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn tanh_is_within_an_f32_rounding_everywhere() {
        let mut worst = 0f64;
        for i in -12_000..=12_000 {
            let x = i as f64 * 1e-3;
            let ours = tanh(x) as f32;
            worst = worst.max((f64::from(ours) - x.tanh()).abs());
        }
        assert!(worst < 1.2e-7, "{worst}");
        assert_eq!(tanh(0.0), 0.0);
        // Near 0 tanh(x) ≈ x, kept to within 1e-7 relative (two f32 roundings).
        assert!((tanh(1e-30) / 1e-30 - 1.0).abs() < 1e-7);
        assert_eq!((tanh(30.0), tanh(-30.0)), (1.0, -1.0));
        assert!(tanh(f64::NAN).is_nan());
    }

    #[test]
    fn the_fused_op_matches_candles_passes() {
        let cpu = Device::Cpu;
        let x = (Tensor::randn(0f32, 1.0, (3, 5, 48), &cpu).unwrap() * 4.0).unwrap();
        let dyt = DynTanh::new(
            Tensor::new(&[0.9f32], &cpu).unwrap(),
            Tensor::randn(1f32, 0.1, 48, &cpu).unwrap(),
            Tensor::randn(0f32, 0.1, 48, &cpu).unwrap(),
        )
        .unwrap();
        assert!(dyt.fused.is_some());
        let fused = dyt.forward(&x).unwrap();
        let reference = dyt.unfused(&x).unwrap();
        let worst = super::super::max_abs_diff(&fused, &reference);
        assert!(worst < 5e-7, "{worst}");
        // A transposed (non-contiguous) input gives the same.
        let xt = x.transpose(0, 1).unwrap();
        let worst =
            super::super::max_abs_diff(&dyt.forward(&xt).unwrap(), &dyt.unfused(&xt).unwrap());
        assert!(worst < 5e-7, "{worst}");
    }
}
