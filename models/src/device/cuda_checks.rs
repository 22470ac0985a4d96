//! What the CUDA build checks before it trusts a GPU, as plain functions so the CPU build tests
//! them: the driver's CUDA version, which cuBLAS/cuBLASLt/cuRAND library would be loaded and
//! of which CUDA major version, and one small computation compared with the CPU's.

use candle_core::{DType, Device, Tensor};

/// The CUDA major version this build's bindings and PTX are made for (candle 0.11's cudarc,
/// built against the CUDA 13 toolkit).
pub const CUDA_MAJOR: i32 = 13;

/// The driver's CUDA version, as `cuDriverGetVersion` reports it (`13000` for 13.0), must be at
/// least the build's: an older driver cannot load the kernels (CUDA 13 needs driver 580+).
pub fn check_driver_version(version: i32) -> Result<(), String> {
    if version / 1000 >= CUDA_MAJOR {
        return Ok(());
    }
    Err(format!(
        "the NVIDIA driver supports CUDA {}.{} and this build needs CUDA {CUDA_MAJOR} \
         (driver 580 or newer); update the driver",
        version / 1000,
        (version % 1000) / 10
    ))
}

/// A CUDA library as the dynamic loader would find it: the name that loaded, and the major
/// version the library reports of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedLibrary {
    pub name: String,
    pub major: i32,
}

/// The first of `candidates` (in the order cudarc tries them) that `loads`: the one cudarc
/// would open.
pub fn first_loadable(candidates: &[String], mut loads: impl FnMut(&str) -> bool) -> Option<&str> {
    candidates
        .iter()
        .map(String::as_str)
        .find(|name| loads(name))
}

/// Whether the library cudarc would load for `what` ("cuBLAS") is one of CUDA 13. cudarc's
/// candidate list starts with the unversioned `libcublas.so` and goes on to `.so.12` and
/// older, so a machine with a CUDA 12 toolkit can hand the CUDA 13 bindings a CUDA 12 library;
/// that must be refused before anything is called through it.
pub fn check_library(what: &str, file: &str, loaded: Option<&LoadedLibrary>) -> Result<(), String> {
    match loaded {
        None => Err(format!(
            "{what} not found (lib{file}, CUDA {CUDA_MAJOR} runtime libraries)"
        )),
        Some(lib) if lib.major == CUDA_MAJOR => Ok(()),
        Some(lib) => Err(format!(
            "{} is {what} {} and this build needs CUDA {CUDA_MAJOR}'s (lib{file}.so.{CUDA_MAJOR}): \
             install the CUDA {CUDA_MAJOR} runtime libraries or put them first on LD_LIBRARY_PATH",
            lib.name, lib.major
        )),
    }
}

/// The major version in a Linux soname (`libcublas.so.13` → 13); `None` for an unversioned
/// name, whose version only the library itself can tell.
pub fn soname_major(name: &str) -> Option<i32> {
    let (_, version) = name.split_once(".so.")?;
    version.split('.').next()?.parse().ok()
}

/// A small matrix product (cuBLAS) and a softmax (candle's kernels) on `device` in `dtype`,
/// compared with the same on the CPU in f32: a driver that cannot run the kernels, or a
/// library that computes wrongly, shows here rather than in the middle of a job.
pub fn check_first_kernels(device: &Device, dtype: DType) -> Result<(), String> {
    let run = |device: &Device, dtype: DType| -> candle_core::Result<Vec<f32>> {
        let a = (Tensor::arange(0f32, 64.0, device)?.reshape((8, 8))? / 16.0)?.to_dtype(dtype)?;
        let product = a.matmul(&a.t()?)?;
        crate::kernels::softmax::softmax_last_dim(&product)?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1()
    };
    let ours = run(device, dtype).map_err(|err| format!("a first test kernel failed: {err}"))?;
    let expected = run(&Device::Cpu, DType::F32)
        .map_err(|err| format!("the CPU reference of the first test kernel failed: {err}"))?;
    let worst = ours
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, |worst, d| {
            if d.is_nan() {
                f32::INFINITY
            } else {
                worst.max(d)
            }
        });
    // f16 rounding of products up to ~9 keeps the weights within 1e-2.
    if worst > 1e-2 {
        return Err(format!(
            "a first test kernel computed wrongly (largest error {worst:.3e} against the CPU)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_older_than_cuda_13_are_refused_with_the_version() {
        assert!(check_driver_version(13000).is_ok());
        assert!(check_driver_version(13020).is_ok());
        let err = check_driver_version(12040).unwrap_err();
        assert!(err.contains("CUDA 12.4"), "{err}");
        assert!(err.contains("580"), "{err}");
        assert!(check_driver_version(0).is_err());
    }

    #[test]
    fn the_library_cudarc_would_load_is_the_first_that_loads() {
        let candidates: Vec<String> = ["libcublas.so", "libcublas.so.13", "libcublas.so.12"]
            .map(String::from)
            .to_vec();
        let only_12 = |name: &str| name == "libcublas.so.12";
        assert_eq!(
            first_loadable(&candidates, only_12),
            Some("libcublas.so.12")
        );
        let both = |name: &str| name.ends_with(".13") || name.ends_with(".12");
        assert_eq!(first_loadable(&candidates, both), Some("libcublas.so.13"));
        assert_eq!(first_loadable(&candidates, |_| false), None);
    }

    #[test]
    fn only_cuda_13_libraries_pass() {
        let lib = |name: &str, major| LoadedLibrary {
            name: name.into(),
            major,
        };
        assert!(check_library("cuBLAS", "cublas", Some(&lib("libcublas.so.13", 13))).is_ok());
        // The unversioned name passes or fails on what the library says it is.
        assert!(check_library("cuBLAS", "cublas", Some(&lib("libcublas.so", 13))).is_ok());
        let err = check_library("cuBLAS", "cublas", Some(&lib("libcublas.so", 12))).unwrap_err();
        assert!(err.contains("libcublas.so is cuBLAS 12"), "{err}");
        assert!(err.contains("libcublas.so.13"), "{err}");
        let err = check_library("cuRAND", "curand", None).unwrap_err();
        assert!(err.contains("cuRAND not found (libcurand"), "{err}");
    }

    #[test]
    fn sonames_give_their_major_version() {
        assert_eq!(soname_major("libcublas.so.13"), Some(13));
        assert_eq!(soname_major("libcublasLt.so.12.8.4"), Some(12));
        assert_eq!(soname_major("libcublas.so"), None);
        assert_eq!(soname_major("libcublas64_13.so"), None);
    }

    #[test]
    fn the_first_kernels_pass_on_the_cpu_in_both_precisions() {
        check_first_kernels(&Device::Cpu, DType::F32).unwrap();
        check_first_kernels(&Device::Cpu, DType::F16).unwrap();
    }
}
