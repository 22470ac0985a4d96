//! Running a batch through the UNet or the VAE in slices that fit the device.
//!
//! On the CPU the time per row is the same whatever the slice, so slices stay small to bound
//! memory. On a GPU bigger slices keep the card busy: as many rows go in at once as free memory
//! allows, from an estimate of each row's peak, and an out-of-memory error halves the slice and
//! tries again, so a wrong estimate costs time, never the job.

use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{Device, Tensor};

use super::error::{Result, RiffusionError};
use crate::device::{gpu_memory, rows_that_fit};

/// What is kept free besides the rows: cuBLAS workspaces, the allocator's slack, other stages.
const GPU_RESERVE: u64 = 1 << 30;

/// The largest slice that is known to fit, learnt from out-of-memory errors; 0 while none was
/// seen. One per model part, shared by its calls.
#[derive(Debug, Default)]
pub struct SliceLimit(AtomicUsize);

impl SliceLimit {
    fn cap(&self, rows: usize) -> usize {
        match self.0.load(Ordering::Relaxed) {
            0 => rows,
            limit => rows.min(limit),
        }
    }

    fn lower_to(&self, rows: usize) {
        self.0.store(rows.max(1), Ordering::Relaxed);
    }
}

/// The most UNet rows one GPU call takes. candle's CUDA softmax indexes its input with a
/// 32-bit `int`: 8 rows × 8 heads × 4096² scores of the first block is 2³⁰ elements, 16 rows
/// would overflow it and give wrong weights without an error.
pub const UNET_GPU_MAX_ROWS: usize = 8;
/// The most images one GPU VAE call takes. candle's CUDA im2col truncates its buffer size to
/// a u32: the full-resolution 3×3 convolution over 256 channels unfolds 4 × 512² × 9 × 256 =
/// 2.4·10⁹ elements, 8 images would pass 2³².
pub const VAE_GPU_MAX_IMAGES: usize = 4;

/// Rows per call: `cpu_rows` on the CPU; on a GPU what free memory holds at `row_bytes` a
/// row, and never more than `gpu_max_rows`.
pub fn rows_per_call(
    device: &Device,
    cpu_rows: usize,
    gpu_max_rows: usize,
    row_bytes: u64,
    rows: usize,
) -> usize {
    match gpu_memory(device) {
        Some(memory) => gpu_rows(memory.free, row_bytes, rows, gpu_max_rows),
        None => cpu_rows.clamp(1, rows.max(1)),
    }
}

/// A GPU call's rows: what `free` bytes hold, capped at `max_rows`.
fn gpu_rows(free: u64, row_bytes: u64, rows: usize, max_rows: usize) -> usize {
    rows_that_fit(free, GPU_RESERVE, row_bytes, rows).min(max_rows.max(1))
}

/// `f` over consecutive slices of `rows` rows (`f(start, len)`), the outputs joined on the
/// first axis. A slice that runs out of GPU memory is retried at half its size.
pub fn in_slices(
    rows: usize,
    first_slice: usize,
    limit: &SliceLimit,
    mut f: impl FnMut(usize, usize) -> Result<Tensor>,
) -> Result<Tensor> {
    let mut slice = limit.cap(first_slice).max(1);
    let mut outputs = Vec::with_capacity(rows.div_ceil(slice));
    let mut start = 0;
    while start < rows {
        let len = slice.min(rows - start);
        match f(start, len) {
            Ok(out) => {
                outputs.push(out);
                start += len;
            }
            Err(err) if len > 1 && is_out_of_memory(&err) => {
                slice = len / 2;
                limit.lower_to(slice);
                tracing::warn!("out of GPU memory at {len} rows; retrying with {slice}");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(Tensor::cat(&outputs, 0)?)
}

/// CUDA says CUDA_ERROR_OUT_OF_MEMORY, Metal that a buffer could not be allocated.
fn is_out_of_memory(err: &RiffusionError) -> bool {
    let RiffusionError::Compute(inner) = err else {
        return false;
    };
    let text = inner.to_string().to_ascii_lowercase();
    text.contains("out_of_memory")
        || text.contains("out of memory")
        || text.contains("failed to allocate")
}

/// Peak bytes of one UNet row at a `latent_h` × `latent_w` latent: the first block's
/// self-attention holds `heads` × tokens² scores in f32 (candle upcasts attention), about three
/// times over (scores, softmax, the product's workspace), plus the row's other activations.
pub fn unet_row_bytes(latent_h: usize, latent_w: usize, heads: usize) -> u64 {
    let tokens = (latent_h * latent_w) as u64;
    let scores = heads as u64 * tokens * tokens * 4;
    3 * scores + tokens * 320 * 4 * 32
}

/// Peak bytes of decoding one image of `height` × `width` pixels: the full-resolution blocks
/// hold a few 128–256-channel activations and a 3×3 convolution's unfolded input (9 × 256
/// channels per pixel), in `dtype_bytes` each.
pub fn vae_row_bytes(height: usize, width: usize, dtype_bytes: usize) -> u64 {
    let pixels = (height * width) as u64;
    pixels * (9 * 256 + 4 * 256) * dtype_bytes as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oom() -> RiffusionError {
        RiffusionError::Compute(candle_core::Error::Msg(
            "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")".into(),
        ))
    }

    #[test]
    fn slices_join_in_order() {
        let limit = SliceLimit::default();
        let out = in_slices(5, 2, &limit, |start, len| {
            let values: Vec<f32> = (start..start + len).map(|v| v as f32).collect();
            Ok(Tensor::new(values, &Device::Cpu)?)
        })
        .unwrap();
        assert_eq!(out.to_vec1::<f32>().unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn out_of_memory_halves_the_slice_and_remembers() {
        let limit = SliceLimit::default();
        let mut calls = Vec::new();
        let out = in_slices(8, 8, &limit, |_, len| {
            calls.push(len);
            if len > 2 {
                return Err(oom());
            }
            Ok(Tensor::zeros(len, candle_core::DType::F32, &Device::Cpu)?)
        })
        .unwrap();
        assert_eq!(out.dim(0).unwrap(), 8);
        assert_eq!(calls, vec![8, 4, 2, 2, 2, 2]);
        // The next batch starts at the size that fitted.
        calls.clear();
        in_slices(4, 8, &limit, |_, len| {
            calls.push(len);
            Ok(Tensor::zeros(len, candle_core::DType::F32, &Device::Cpu)?)
        })
        .unwrap();
        assert_eq!(calls, vec![2, 2]);
    }

    #[test]
    fn other_errors_and_single_rows_are_not_retried() {
        let limit = SliceLimit::default();
        let err = in_slices(1, 1, &limit, |_, _| Err(oom())).unwrap_err();
        assert!(is_out_of_memory(&err));
        let mut calls = 0;
        let err = in_slices(4, 4, &limit, |_, _| {
            calls += 1;
            Err(RiffusionError::Request("bad".into()))
        })
        .unwrap_err();
        assert!(matches!(err, RiffusionError::Request(_)));
        assert_eq!(calls, 1);
    }

    #[test]
    fn sd15_estimates_are_in_the_measured_range() {
        const GIB: f64 = (1u64 << 30) as f64;
        // 8 heads × 4096² f32 scores is 0.5 GiB; with its copies about 1.5 GiB a row.
        let unet = unet_row_bytes(64, 64, 8) as f64 / GIB;
        assert!((1.4..1.7).contains(&unet), "{unet}");
        let vae = vae_row_bytes(512, 512, 2) as f64 / GIB;
        assert!((1.0..2.0).contains(&vae), "{vae}");
        assert_eq!(rows_per_call(&Device::Cpu, 2, UNET_GPU_MAX_ROWS, 1, 8), 2);
        assert_eq!(rows_per_call(&Device::Cpu, 2, UNET_GPU_MAX_ROWS, 1, 1), 1);
    }

    #[test]
    fn gpu_calls_stay_within_the_caps_whatever_the_memory() {
        const GIB: u64 = 1 << 30;
        // A 141 GB card would fit 80 UNet rows and dozens of VAE images at once.
        let unet = unet_row_bytes(64, 64, 8);
        assert_eq!(gpu_rows(141 * GIB, unet, 32, UNET_GPU_MAX_ROWS), 8);
        let vae = vae_row_bytes(512, 512, 2);
        assert_eq!(gpu_rows(141 * GIB, vae, 32, VAE_GPU_MAX_IMAGES), 4);
        // Below the caps, memory decides.
        assert_eq!(gpu_rows(4 * GIB, unet, 32, UNET_GPU_MAX_ROWS), 1);
        assert_eq!(gpu_rows(141 * GIB, vae, 3, VAE_GPU_MAX_IMAGES), 3);
        // The caps keep candle's 32-bit indexing in range.
        assert!(UNET_GPU_MAX_ROWS * 8 * 4096 * 4096 <= i32::MAX as usize);
        assert!(VAE_GPU_MAX_IMAGES * 512 * 512 * 9 * 256 <= u32::MAX as usize);
    }
}
