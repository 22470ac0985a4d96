//! The exact GELU, `x·Φ(x) = ½x(1 + erf(x/√2))`, on the CPU in f32, and GEGLU built on it.
//!
//! candle computes it with libm's scalar `erff`, one call per element: about a tenth of a
//! Whisper transcription's CPU time. Here erf is a rational function of x² (numerator of
//! degree 6, denominator of degree 5, fitted by `tools/kernels/fit_rational.py erf`), evaluated in f64
//! so that the loop vectorises and the f32 result is within an f32 rounding of the true value
//! (the fit is within 1.6e-9 of erf on [-4, 4]; beyond, erf rounds to ±1 in f32).
//!
//! Other devices and dtypes use candle's `gelu_erf`.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::{contiguous_f32, polynomial, ELEMENTWISE_CHUNK as CHUNK};

/// erf(x) ≈ x·P(x²)/Q(x²) on [-4, 4], lowest power first.
const NUMERATOR: [f64; 7] = [
    1.128_379_182_108_225,
    0.184_710_579_869_572_9,
    0.054_332_616_285_762_8,
    0.003_839_537_272_410_295_8,
    0.000_382_691_968_747_229_73,
    4.780_525_911_502_062e-6,
    -1.366_672_558_681_336_4e-8,
];
const DENOMINATOR: [f64; 6] = [
    1.0,
    0.497_029_034_782_997_3,
    0.113_826_394_314_292_7,
    0.015_453_531_088_044_81,
    0.001_309_580_373_720_452_9,
    6.400_914_658_723_687e-5,
];

#[inline(always)]
fn erf(x: f64) -> f64 {
    // Both sides computed and one selected, rather than a branch, so that the loop vectorises.
    let inside = x.clamp(-4.0, 4.0);
    let y = inside * inside;
    let fit = inside * polynomial(&NUMERATOR, y) / polynomial(&DENOMINATOR, y);
    // |erf| is within 1.6e-8 of 1 beyond 4.
    if x.abs() > 4.0 {
        1f64.copysign(x)
    } else {
        fit
    }
}

#[inline(always)]
fn gelu_one(x: f32) -> f32 {
    let x = f64::from(x);
    (0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))) as f32
}

/// `out[i] = gelu(x[i])`.
fn gelu_slice(x: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features this copy was compiled for.
        unsafe { gelu_slice_avx2(x, out) };
        return;
    }
    gelu_slice_portable(x, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_slice_avx2(x: &[f32], out: &mut [f32]) {
    gelu_slice_portable(x, out);
}

#[inline(always)]
fn gelu_slice_portable(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = gelu_one(v);
    }
}

/// `out[i] = value[i] · gelu(gate[i])`.
fn geglu_slice(value: &[f32], gate: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: as in `gelu_slice`.
        unsafe { geglu_slice_avx2(value, gate, out) };
        return;
    }
    geglu_slice_portable(value, gate, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn geglu_slice_avx2(value: &[f32], gate: &[f32], out: &mut [f32]) {
    geglu_slice_portable(value, gate, out);
}

#[inline(always)]
fn geglu_slice_portable(value: &[f32], gate: &[f32], out: &mut [f32]) {
    for ((o, &v), &g) in out.iter_mut().zip(value).zip(gate) {
        *o = v * gelu_one(g);
    }
}

fn on_cpu_in_f32(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// The exact (erf) GELU, as PyTorch's `gelu` with `approximate="none"`.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if on_cpu_in_f32(x) {
        x.contiguous()?.apply_op1_no_bwd(&Gelu)
    } else {
        x.gelu_erf()
    }
}

/// GEGLU as diffusers computes it: the last dimension's first half times the exact GELU of
/// its second half, in one pass and without copying the halves out.
pub fn geglu(x: &Tensor) -> Result<Tensor> {
    if on_cpu_in_f32(x) {
        return x.contiguous()?.apply_op1_no_bwd(&Geglu);
    }
    let halves = x.chunk(2, D::Minus1)?;
    &halves[0] * halves[1].gelu_erf()?
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, "gelu")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(out, x)| gelu_slice(x, out));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

struct Geglu;

impl CustomOp1 for Geglu {
    fn name(&self) -> &'static str {
        "geglu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, "geglu")?;
        let dims = layout.shape().dims();
        let width = dims.last().copied().unwrap_or(0);
        if width % 2 != 0 {
            candle_core::bail!("geglu: the last dimension ({width}) must be even");
        }
        let half = width / 2;
        let mut out = vec![0f32; x.len() / 2];
        // Whole rows per task, about CHUNK outputs each.
        if let Some(rows_per_task) = CHUNK.checked_div(half).map(|rows| rows.max(1)) {
            out.par_chunks_mut(rows_per_task * half)
                .zip(x.par_chunks(rows_per_task * width))
                .for_each(|(out, x)| {
                    for (out, row) in out.chunks_exact_mut(half).zip(x.chunks_exact(width)) {
                        let (value, gate) = row.split_at(half);
                        geglu_slice(value, gate, out);
                    }
                });
        }
        let mut out_dims = dims.to_vec();
        if let Some(last) = out_dims.last_mut() {
            *last = half;
        }
        Ok((CpuStorage::F32(out), Shape::from(out_dims)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// erf in f64 by its series (|x| < 3) or continued fraction, as the reference.
    fn erf_reference(x: f64) -> f64 {
        if x.abs() < 3.0 {
            // erf(x) = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
            let mut term = x;
            let mut sum = x;
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) = e^(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …))))
            let z = x.abs();
            let mut fraction = z;
            for k in (1..80).rev() {
                fraction = z + (k as f64 / 2.0) / fraction;
            }
            let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / fraction;
            (1.0 - erfc).copysign(x)
        }
    }

    fn gelu_reference(x: f32) -> f32 {
        let x = f64::from(x);
        (0.5 * x * (1.0 + erf_reference(x / std::f64::consts::SQRT_2))) as f32
    }

    #[test]
    fn erf_is_within_its_fit_everywhere() {
        let mut worst = 0f64;
        for i in -40_000..=40_000 {
            let x = f64::from(i) * 1e-4;
            worst = worst.max((erf(x) - erf_reference(x)).abs());
        }
        assert!(worst < 2e-9, "{worst}");
        assert_eq!((erf(4.5), erf(-7.0)), (1.0, -1.0));
    }

    #[test]
    fn gelu_is_within_an_f32_rounding_of_the_exact_value() {
        // Within one unit in the last place, or 5e-8 where the value is tiny: below
        // x = -4√2 the value is under 5e-8 and we give 0, as PyTorch does in f32 (its erf
        // rounds to -1 there).
        let mut worst = 0f32;
        for i in -100_000..=100_000 {
            let x = i as f32 * 1e-4;
            let exact = gelu_reference(x);
            let allowed = (f32::EPSILON * exact.abs()).max(5e-8);
            worst = worst.max((gelu_one(x) - exact).abs() / allowed);
        }
        assert!(worst <= 1.0, "{worst} of the allowed error");
        assert!(gelu_one(f32::NAN).is_nan());
        assert_eq!(gelu_one(f32::INFINITY), f32::INFINITY);
        assert_eq!(gelu_one(0.0), 0.0);
    }

    #[test]
    fn the_tensor_ops_match_candle() -> Result<()> {
        let x = Tensor::randn(0f32, 3.0, (3, 5, 34), &Device::Cpu)?;
        let ours = gelu_erf(&x)?;
        assert_eq!(ours.dims(), x.dims());
        assert!(crate::kernels::max_abs_diff(&ours, &x.gelu_erf()?) < 1e-6);
        // Not contiguous: a transposed view.
        let t = x.transpose(1, 2)?;
        assert!(crate::kernels::max_abs_diff(&gelu_erf(&t)?, &t.gelu_erf()?) < 1e-6);

        let halves = x.chunk(2, D::Minus1)?;
        let expected = (&halves[0] * halves[1].gelu_erf()?)?;
        let fused = geglu(&x)?;
        assert_eq!(fused.dims(), &[3, 5, 17]);
        assert!(crate::kernels::max_abs_diff(&fused, &expected) < 1e-5);
        assert!(geglu(&Tensor::zeros((2, 3), DType::F32, &Device::Cpu)?).is_err());
        Ok(())
    }
}
