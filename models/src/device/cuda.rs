//! Opening CUDA in a build that loads the NVIDIA libraries at run time.
//!
//! The CUDA build links none of the NVIDIA libraries (cudarc's dynamic loading, the CUDA
//! runtime linked statically), so the same binary starts on any machine. cudarc panics when
//! it first needs a library that is not there, and loads whichever version it finds first, so
//! before the device is opened: the driver must be there and support CUDA 13, and the cuBLAS,
//! cuBLASLt and cuRAND that cudarc would load must be CUDA 13's. After it opens, one small
//! computation must agree with the CPU's. Any failure is a reason the user can act on, and
//! the CPU takes over.

use std::panic::{catch_unwind, AssertUnwindSafe};

use candle_core::{DType, Device};

use super::cuda_checks::{
    check_driver_version, check_first_kernels, check_library, first_loadable, soname_major,
    LoadedLibrary,
};
use super::{DeviceError, DeviceKind};

/// A CUDA library as cudarc names it, how people call it, and its function that reports its
/// own version (`(libraryPropertyType, int *) -> status`, MAJOR_VERSION being 0).
struct RuntimeLibrary {
    file: &'static str,
    what: &'static str,
    get_property: &'static [u8],
}

/// The libraries candle's CUDA backend opens besides the driver.
const LIBRARIES: [RuntimeLibrary; 3] = [
    RuntimeLibrary {
        file: "cublas",
        what: "cuBLAS",
        get_property: b"cublasGetProperty\0",
    },
    RuntimeLibrary {
        file: "cublasLt",
        what: "cuBLASLt",
        get_property: b"cublasLtGetProperty\0",
    },
    RuntimeLibrary {
        file: "curand",
        what: "cuRAND",
        get_property: b"curandGetProperty\0",
    },
];

/// The driver's CUDA version, or why there is none usable.
fn check_driver() -> Result<(), String> {
    // SAFETY: only dlopens the driver by name and closes it again.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no NVIDIA driver found (libcuda)".to_string());
    }
    let mut version = 0;
    // SAFETY: cuDriverGetVersion writes one int and needs no initialised context.
    let status = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) };
    if status != cudarc::driver::sys::CUresult::CUDA_SUCCESS {
        return Err(format!(
            "the NVIDIA driver does not report its version ({status:?})"
        ));
    }
    check_driver_version(version)
}

/// The library cudarc would load for `lib` (the first of its candidate names that loads),
/// with the major version the library reports, or its soname's when it cannot say.
fn loaded_version(lib: &RuntimeLibrary) -> Option<LoadedLibrary> {
    let candidates = cudarc::get_lib_name_candidates(lib.file);
    let mut opened = None;
    let name = first_loadable(&candidates, |name| {
        // SAFETY: loading a CUDA library runs no code of ours; it is closed when dropped.
        opened = unsafe { libloading::Library::new(name) }.ok();
        opened.is_some()
    })?;
    let library = opened?;
    type GetProperty = unsafe extern "C" fn(i32, *mut i32) -> i32;
    // SAFETY: all three libraries export the property query with this signature.
    let reported = unsafe { library.get::<GetProperty>(lib.get_property) }
        .ok()
        .and_then(|get_property| {
            let mut major = 0;
            // SAFETY: MAJOR_VERSION (0) writes one int.
            (unsafe { get_property(0, &mut major) } == 0).then_some(major)
        });
    Some(LoadedLibrary {
        name: name.to_string(),
        major: reported.or_else(|| soname_major(name)).unwrap_or(0),
    })
}

/// The first reason CUDA cannot be used here, worded for the device line; `None` when the
/// driver and every library are there and of CUDA 13.
fn unusable_reason() -> Option<String> {
    if let Err(reason) = check_driver() {
        return Some(reason);
    }
    LIBRARIES
        .iter()
        .find_map(|lib| check_library(lib.what, lib.file, loaded_version(lib).as_ref()).err())
}

/// Keeps freed memory in the CUDA pool instead of handing it back to the driver at every
/// synchronisation (the default release threshold is 0), so the allocations of the next step
/// cost nothing. The pool's free part still counts as free when batches are sized.
fn keep_pool_memory(device: &Device) {
    let Device::Cuda(cuda) = device else { return };
    let cu_device = cuda.cuda_stream().context().cu_device();
    let mut threshold = u64::MAX;
    // SAFETY: the device handle comes from an open context; the attribute takes a u64.
    let result = unsafe {
        cudarc::driver::result::device::get_default_mem_pool(cu_device).and_then(|pool| {
            cudarc::driver::result::mem_pool::set_attribute(
                pool,
                cudarc::driver::sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&mut threshold as *mut u64).cast(),
            )
        })
    };
    if let Err(err) = result {
        tracing::info!("the CUDA memory pool keeps its default release threshold: {err}");
    }
}

/// Opens CUDA device `ordinal`, or says why it cannot be used here.
pub(super) fn open(ordinal: usize) -> Result<Device, DeviceError> {
    let unavailable = |reason: String| DeviceError::Unavailable {
        kind: DeviceKind::Cuda,
        reason,
    };
    if let Some(reason) = unusable_reason() {
        return Err(unavailable(reason));
    }
    // A driver too old for the kernels, or a library of the wrong major version, can still
    // make cudarc panic deep inside; that must not take the app down.
    let opened = catch_unwind(AssertUnwindSafe(|| Device::new_cuda(ordinal))).map_err(|panic| {
        unavailable(panic_message(&*panic, "the CUDA libraries failed to load"))
    })?;
    let device = opened.map_err(|source| DeviceError::Open {
        kind: DeviceKind::Cuda,
        source,
    })?;
    // TF32 for the few f32 matrix products (the models run in f16, whose products already
    // accumulate in f32): the same choice as PyTorch's `allow_tf32`, within f16 noise.
    candle_core::cuda_backend::set_gemm_reduced_precision_f32(true);
    keep_pool_memory(&device);
    catch_unwind(AssertUnwindSafe(|| {
        check_first_kernels(&device, DType::F16)
    }))
    .unwrap_or_else(|panic| Err(panic_message(&*panic, "a first test kernel panicked")))
    .map_err(unavailable)?;
    Ok(device)
}

fn panic_message(panic: &(dyn std::any::Any + Send), otherwise: &str) -> String {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or(otherwise)
        .to_string()
}
