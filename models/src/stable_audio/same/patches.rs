//! The patched pretransform: stereo audio as channels of `patch` consecutive samples, and back.

use candle_core::{DType, Tensor};

type Result<T> = candle_core::Result<T>;

/// `[B, channels, samples]` → `[B, channels × patch, ⌈samples / patch⌉]`, the last patch
/// completed with zeros: row `c · patch + h` at position `l` is channel `c`'s sample
/// `l · patch + h`.
pub(super) fn patch(audio: &Tensor, patch: usize) -> Result<Tensor> {
    let (b, channels, samples) = audio.dims3()?;
    let patches = samples.div_ceil(patch);
    let audio = pad_last(audio, patches * patch)?;
    audio
        .reshape((b, channels, patches, patch))?
        .transpose(2, 3)?
        .contiguous()?
        .reshape((b, channels * patch, patches))
}

/// `[B, channels × patch, L]` → `[B, channels, L × patch]`, the inverse of `patch`.
pub(super) fn unpatch(x: &Tensor, channels: usize, patch: usize) -> Result<Tensor> {
    let (b, _, l) = x.dims3()?;
    x.reshape((b, channels, patch, l))?
        .transpose(2, 3)?
        .contiguous()?
        .reshape((b, channels, l * patch))
}

/// `x` with zeros after its last position up to `length` (the last axis).
pub(super) fn pad_last(x: &Tensor, length: usize) -> Result<Tensor> {
    let have = x.dim(candle_core::D::Minus1)?;
    if have >= length {
        return Ok(x.clone());
    }
    let mut shape = x.dims().to_vec();
    *shape.last_mut().expect("a tensor with axes") = length - have;
    let zeros = Tensor::zeros(shape, DType::F32, x.device())?.to_dtype(x.dtype())?;
    Tensor::cat(&[x, &zeros], x.rank() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn unpatching_interleaves_each_channels_patches_in_time() {
        // 2 channels, patches of 3, 2 positions: rows c·3 + h, columns l.
        let rows: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let x = Tensor::from_vec(rows, (1, 6, 2), &Device::Cpu).unwrap();
        let audio = unpatch(&x, 2, 3).unwrap().to_vec3::<f32>().unwrap();
        // Channel 0, sample l·3 + h = row h, column l.
        assert_eq!(audio[0][0], [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
        assert_eq!(audio[0][1], [6.0, 8.0, 10.0, 7.0, 9.0, 11.0]);
    }

    #[test]
    fn patching_pads_the_last_patch_and_unpatching_undoes_it() {
        let samples: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        let audio = Tensor::from_vec(samples, (1, 2, 5), &Device::Cpu).unwrap();
        let patched = patch(&audio, 3).unwrap();
        assert_eq!(patched.dims(), [1, 6, 2]);
        let rows = patched.to_vec3::<f32>().unwrap();
        // Channel 1's second patch is samples 3, 4 and a zero: rows 3..6, column 1.
        assert_eq!(
            [rows[0][3][1], rows[0][4][1], rows[0][5][1]],
            [9.0, 10.0, 0.0]
        );
        let back = unpatch(&patched, 2, 3).unwrap().narrow(2, 0, 5).unwrap();
        assert_eq!(
            back.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            audio.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
}
