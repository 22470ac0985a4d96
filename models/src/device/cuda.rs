//! Opening CUDA in a build that loads the NVIDIA libraries at run time.
//!
//! The CUDA build links none of the NVIDIA libraries (cudarc's dynamic loading, the CUDA
//! runtime linked statically), so the same binary starts on any machine. cudarc panics when
//! it first needs a library that is not there, so every library candle uses is looked for
//! before the device is opened, and a missing one becomes a reason the user can act on.

use std::panic::{catch_unwind, AssertUnwindSafe};

use candle_core::Device;

use super::{DeviceError, DeviceKind};

/// What is missing when a library is absent (worded for the device line), and cudarc's probe
/// for it.
type LibraryProbe = (&'static str, unsafe fn() -> bool);

/// The libraries candle's CUDA backend opens, with what a person would install to get each.
/// The driver comes first: without it the others do not matter.
const LIBRARIES: [LibraryProbe; 4] = [
    (
        "no NVIDIA driver found (libcuda)",
        cudarc::driver::sys::is_culib_present,
    ),
    (
        "cuBLAS not found (libcublas, CUDA 13 runtime libraries)",
        cudarc::cublas::sys::is_culib_present,
    ),
    (
        "cuBLASLt not found (libcublasLt, CUDA 13 runtime libraries)",
        cudarc::cublaslt::sys::is_culib_present,
    ),
    (
        "cuRAND not found (libcurand, CUDA 13 runtime libraries)",
        cudarc::curand::sys::is_culib_present,
    ),
];

/// The first missing library, worded for the device line; `None` when all are there.
fn missing_library() -> Option<&'static str> {
    LIBRARIES
        .iter()
        // SAFETY: each probe only dlopens the library by name and closes it again.
        .find(|(_, present)| !unsafe { present() })
        .map(|(reason, _)| *reason)
}

/// Opens CUDA device `ordinal`, or says why it cannot be used here.
pub(super) fn open(ordinal: usize) -> Result<Device, DeviceError> {
    if let Some(reason) = missing_library() {
        return Err(DeviceError::Unavailable {
            kind: DeviceKind::Cuda,
            reason: reason.to_string(),
        });
    }
    // A driver too old for the kernels, or a library of the wrong major version, can still
    // make cudarc panic deep inside; that must not take the app down.
    let opened = catch_unwind(AssertUnwindSafe(|| Device::new_cuda(ordinal))).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the CUDA libraries failed to load");
        DeviceError::Unavailable {
            kind: DeviceKind::Cuda,
            reason: message.to_string(),
        }
    })?;
    let device = opened.map_err(|source| DeviceError::Open {
        kind: DeviceKind::Cuda,
        source,
    })?;
    // TF32 for the few f32 matrix products (the models run in f16, whose products already
    // accumulate in f32): the same choice as PyTorch's `allow_tf32`, within f16 noise.
    candle_core::cuda_backend::set_gemm_reduced_precision_f32(true);
    Ok(device)
}
