//! Weights from safetensors files, held once. The files are memory-mapped and each tensor is
//! copied into the device's own storage; without more care the mapped pages it was copied from
//! stay resident until every tensor is loaded, so loading the UNet (3.4 GB in f32) took twice
//! its size. After each copy the pages it came from are released; they are file-backed, so a
//! later read would simply fault them in again.

use std::path::Path;

use candle_core::safetensors::{Load, MmapedSafetensors};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

/// Safetensors files whose pages are released as each tensor is loaded.
pub struct ReleasingSafetensors {
    inner: MmapedSafetensors,
}

impl ReleasingSafetensors {
    pub fn open<P: AsRef<Path>>(files: &[P]) -> candle_core::Result<Self> {
        // SAFETY: the weight files are memory-mapped read-only and not modified while loaded
        // (the same contract as every candle model loader).
        let inner = unsafe { MmapedSafetensors::multi(files)? };
        Ok(Self { inner })
    }

    /// Tensor `name` as stored, in its own memory.
    pub fn load(&self, name: &str, device: &Device) -> candle_core::Result<Tensor> {
        let view = self.inner.get(name)?;
        let tensor = view.load(device)?;
        release_pages(view.data());
        Ok(tensor)
    }
}

impl SimpleBackend for ReleasingSafetensors {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.get_unchecked(name, dtype, device)?;
        if tensor.shape() != &shape {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: shape,
                got: tensor.shape().clone(),
            }
            .bt());
        }
        Ok(tensor)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        self.load(name, device)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.inner.get(name).is_ok()
    }
}

/// A `VarBuilder` over safetensors files that releases each tensor's file pages once loaded.
pub fn var_builder<P: AsRef<Path>>(
    files: &[P],
    dtype: DType,
    device: &Device,
) -> candle_core::Result<VarBuilder<'static>> {
    let backend = ReleasingSafetensors::open(files)?;
    Ok(VarBuilder::from_backend(
        Box::new(backend),
        dtype,
        device.clone(),
    ))
}

/// Drops the mapped pages under `bytes` (rounded out to whole pages) from this process.
fn release_pages(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    {
        if bytes.is_empty() {
            return;
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let start = bytes.as_ptr() as usize / page * page;
        let end = (bytes.as_ptr() as usize + bytes.len()).div_ceil(page) * page;
        // SAFETY: the range lies within (or rounds out to whole pages of) a read-only, shared
        // file mapping that outlives this call. MADV_DONTNEED on such a mapping only drops the
        // pages from this process: the next read faults in the same bytes from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn write_weights(path: &Path, tensors: &[(&str, Tensor)]) {
        let map: HashMap<String, Tensor> = tensors
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        candle_core::safetensors::save(&map, path).unwrap();
    }

    #[test]
    fn loads_every_tensor_as_stored_and_checks_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let a = Tensor::arange(0f32, 6.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3))
            .unwrap();
        let b = Tensor::new(&[1.5f32, -2.0], &Device::Cpu).unwrap();
        write_weights(&path, &[("a.weight", a.clone()), ("b.bias", b.clone())]);

        let vb = var_builder(&[&path], DType::F32, &Device::Cpu).unwrap();
        let got = vb.get((2, 3), "a.weight").unwrap();
        assert_eq!(got.to_vec2::<f32>().unwrap(), a.to_vec2::<f32>().unwrap());
        assert_eq!(
            vb.pp("b").get(2, "bias").unwrap().to_vec1::<f32>().unwrap(),
            vec![1.5, -2.0]
        );
        assert!(vb.contains_tensor("b.bias"));
        assert!(!vb.contains_tensor("c"));
        let err = vb.get((3, 2), "a.weight").unwrap_err().to_string();
        assert!(err.contains("shape mismatch for a.weight"), "{err}");
        // Loading a tensor again after its pages were released reads the same bytes.
        let again = vb.get((2, 3), "a.weight").unwrap();
        assert_eq!(again.to_vec2::<f32>().unwrap(), a.to_vec2::<f32>().unwrap());
        // In another dtype, as CUDA/Metal load f16.
        let half = vb.to_dtype(DType::F16).get(2, "b.bias").unwrap();
        assert_eq!(half.dtype(), DType::F16);
    }

    /// Resident memory of this process, bytes.
    #[cfg(target_os = "linux")]
    fn rss() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// 128 MB of weights load with no more than about their own size added to the process:
    /// the mapped file pages do not stay resident beside the copies.
    #[cfg(target_os = "linux")]
    #[test]
    fn loading_does_not_keep_the_file_resident() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.safetensors");
        let tensors: Vec<(String, Tensor)> = (0..8)
            .map(|i| {
                let t = Tensor::full(i as f32, (1024, 4096), &Device::Cpu).unwrap();
                (format!("layer{i}.weight"), t)
            })
            .collect();
        let refs: Vec<(&str, Tensor)> = tensors
            .iter()
            .map(|(n, t)| (n.as_str(), t.clone()))
            .collect();
        write_weights(&path, &refs);
        drop(refs);
        drop(tensors);
        let size = 8 * 1024 * 4096 * 4;

        let backend = ReleasingSafetensors::open(&[&path]).unwrap();
        let before = rss();
        let loaded: Vec<Tensor> = (0..8)
            .map(|i| {
                backend
                    .load(&format!("layer{i}.weight"), &Device::Cpu)
                    .unwrap()
            })
            .collect();
        let grown = rss().saturating_sub(before);
        assert_eq!(loaded.len(), 8);
        assert!(
            grown < size + size / 4,
            "loading {} MB grew the process by {} MB",
            size >> 20,
            grown >> 20
        );
    }
}
