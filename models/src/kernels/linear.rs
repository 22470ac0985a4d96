//! Linear layers for a few rows at a time, such as a decoding step's single token.
//!
//! gemm computes one row times a weight matrix as a matrix–vector product on one thread: the
//! step streams every weight from memory on one core while the others wait. Whisper-base's
//! decoder reads about 190 MB of weights per token that way (its logits alone 106 MB). Here the
//! weight's output rows are shared out between the threads, each doing the product for its
//! share. Many rows, other devices and other dtypes go through candle's `Linear`.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::contiguous_f32;

/// Up to this many rows the products are split by output; beyond, gemm's own blocking and
/// threads do better.
const FEW_ROWS: usize = 8;

/// Output features per task: about 256 KB of f32 weights at Whisper's widths, enough that
/// rayon's overhead is small and few enough tasks that both threads stay busy.
const OUTPUTS_PER_TASK: usize = 128;

/// `x · weightᵀ + bias`, as `candle_nn::Linear`.
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

/// `weight` `[out, in]` and `bias` `[out]` under `vb`.
pub fn linear(in_features: usize, out_features: usize, vb: VarBuilder) -> Result<Linear> {
    Ok(Linear {
        weight: vb.get((out_features, in_features), "weight")?,
        bias: Some(vb.get(out_features, "bias")?),
    })
}

/// As [`linear`], without a bias.
pub fn linear_no_bias(in_features: usize, out_features: usize, vb: VarBuilder) -> Result<Linear> {
    Ok(Linear {
        weight: vb.get((out_features, in_features), "weight")?,
        bias: None,
    })
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let product = matmul_transposed(x, &self.weight)?;
        match &self.bias {
            Some(bias) => product.broadcast_add(bias),
            None => Ok(product),
        }
    }
}

/// `x · weightᵀ` for `x` `[…, in]` and `weight` `[out, in]`: `[…, out]`.
pub fn matmul_transposed(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let in_features = x.dim(candle_core::D::Minus1)?;
    let rows = x.elem_count() / in_features.max(1);
    let fast = x.device().is_cpu()
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && weight.is_contiguous()
        && rows <= FEW_ROWS;
    if !fast {
        return candle_nn::Linear::new(weight.clone(), None).forward(x);
    }
    let mut out_dims = x.dims().to_vec();
    let flat = x.contiguous()?.reshape((rows, in_features))?;
    let product = flat.apply_op2_no_bwd(weight, &FewRowProduct)?;
    if let Some(last) = out_dims.last_mut() {
        *last = weight.dim(0)?;
    }
    product.reshape(out_dims)
}

struct FewRowProduct;

impl CustomOp2 for FewRowProduct {
    fn name(&self) -> &'static str {
        "few-row-product"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, depth) = x_layout.shape().dims2()?;
        let (outputs, w_depth) = w_layout.shape().dims2()?;
        if depth != w_depth {
            candle_core::bail!("linear: input of {depth} features, weight of {w_depth}");
        }
        let x = contiguous_f32(x, x_layout, "few-row product")?;
        let w = contiguous_f32(w, w_layout, "few-row product")?;
        // Computed as (W·xᵀ) so that each task's outputs are one contiguous block.
        let mut transposed = vec![0f32; outputs * rows];
        if rows > 0 && depth > 0 {
            transposed
                .par_chunks_mut(OUTPUTS_PER_TASK * rows)
                .zip(w.par_chunks(OUTPUTS_PER_TASK * depth))
                .for_each(|(dst, w)| {
                    let m = w.len() / depth;
                    // SAFETY: dst is m × rows, w is m × depth, x is rows × depth, all with the
                    // strides given; gemm writes dst only.
                    unsafe {
                        gemm::gemm(
                            m,
                            rows,
                            depth,
                            dst.as_mut_ptr(),
                            1,
                            rows as isize,
                            false,
                            w.as_ptr(),
                            1,
                            depth as isize,
                            x.as_ptr(),
                            depth as isize,
                            1,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                });
        }
        let out = if rows == 1 {
            transposed
        } else {
            let mut out = vec![0f32; outputs * rows];
            for (o, column) in transposed.chunks_exact(rows).enumerate() {
                for (r, &value) in column.iter().enumerate() {
                    out[r * outputs + o] = value;
                }
            }
            out
        };
        Ok((CpuStorage::F32(out), Shape::from((rows, outputs))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_abs_diff;
    use candle_core::Device;

    #[test]
    fn few_rows_match_candle_and_many_rows_use_it() -> Result<()> {
        let weight = Tensor::randn(0f32, 1.0, (300, 70), &Device::Cpu)?;
        let bias = Tensor::randn(0f32, 1.0, 300, &Device::Cpu)?;
        let ours = Linear {
            weight: weight.clone(),
            bias: Some(bias.clone()),
        };
        let candle = candle_nn::Linear::new(weight, Some(bias));
        for shape in [(1, 1, 70), (2, 3, 70), (1, 8, 70), (3, 5, 70)] {
            let x = Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?;
            let expected = candle.forward(&x)?;
            let got = ours.forward(&x)?;
            assert_eq!(got.dims(), expected.dims());
            assert!(max_abs_diff(&got, &expected) < 1e-4, "{shape:?}");
        }
        // A strided input.
        let x = Tensor::randn(0f32, 1.0, (70, 2), &Device::Cpu)?.t()?;
        assert!(max_abs_diff(&ours.forward(&x)?, &candle.forward(&x)?) < 1e-4);
        Ok(())
    }

    #[test]
    fn a_mismatched_weight_is_an_error() -> Result<()> {
        let x = Tensor::zeros((1, 5), DType::F32, &Device::Cpu)?;
        let w = Tensor::zeros((3, 4), DType::F32, &Device::Cpu)?;
        assert!(matmul_transposed(&x, &w).is_err());
        Ok(())
    }
}
