//! CPU kernels that candle does as several full passes over memory, fused here as candle custom
//! ops. Each entry point falls back to candle's own operations on other devices and dtypes.

pub mod attention;
pub mod conv;
pub mod dyt;
pub mod gelu;
pub mod group_norm;
pub mod linear;
pub mod softmax;
mod winograd;

use candle_core::{CpuStorage, Layout, Result};

/// Elements per parallel task of an element-wise kernel: large enough that rayon's overhead
/// is negligible.
pub(crate) const ELEMENTWISE_CHUNK: usize = 16 * 1024;

/// `c[0] + c[1]·y + c[2]·y² + …` by Horner's rule with fused multiply-adds, for the kernels'
/// rational approximations.
#[inline(always)]
pub(crate) fn polynomial<const N: usize>(coefficients: &[f64; N], y: f64) -> f64 {
    coefficients
        .iter()
        .rev()
        .fold(0.0, |acc, &c| acc.mul_add(y, c))
}

/// The f32 data of a contiguous CPU tensor, for the custom ops here.
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op} takes f32");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op} takes contiguous tensors");
    };
    Ok(&data[start..end])
}

/// The largest absolute difference between two tensors of one shape, for the kernels' tests.
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("tensors of one shape")
}
