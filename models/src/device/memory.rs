//! How much GPU memory there is to spend, and how many batch rows that buys.

use candle_core::Device;
use serde::Serialize;

/// GPU memory in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GpuMemory {
    /// What a new allocation can still get.
    pub free: u64,
    /// The card's memory (Metal: the recommended working set).
    pub total: u64,
}

/// CUDA asks the driver, and adds what the memory pool holds reserved but unused (freed
/// tensors that the pool keeps for the next allocations, invisible to the driver's count);
/// Metal's budget is the recommended working set less what this
/// process has allocated; the CPU has no such limit worth sizing batches by.
pub(super) fn query(device: &Device) -> Option<GpuMemory> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => {
            let (free, total) = cuda.cuda_stream().context().mem_get_info().ok()?;
            let (reserved, used) = cuda_pool_usage(cuda).unwrap_or((0, 0));
            Some(GpuMemory {
                free: free_with_pool(free as u64, reserved, used),
                total: total as u64,
            })
        }
        #[cfg(feature = "metal")]
        Device::Metal(metal) => {
            let total = metal.device().recommended_max_working_set_size() as u64;
            let used = metal.device().current_allocated_size() as u64;
            Some(GpuMemory {
                free: total.saturating_sub(used),
                total,
            })
        }
        _ => None,
    }
}

/// The default CUDA memory pool's reserved and used bytes.
#[cfg(feature = "cuda")]
fn cuda_pool_usage(cuda: &candle_core::CudaDevice) -> Option<(u64, u64)> {
    use cudarc::driver::sys::CUmemPool_attribute as Attribute;
    Some((
        cuda_pool_attribute(cuda, Attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, None)?,
        cuda_pool_attribute(cuda, Attribute::CU_MEMPOOL_ATTR_USED_MEM_CURRENT, None)?,
    ))
}

/// The most memory the CUDA pool has handed out since the last reset (the allocator's peak,
/// as PyTorch's `max_memory_allocated` counts it); `None` off CUDA.
pub fn allocator_peak(device: &Device) -> Option<u64> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => cuda_pool_attribute(
            cuda,
            cudarc::driver::sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
            None,
        ),
        _ => None,
    }
}

/// Starts a new allocator peak from what is in use now.
pub fn reset_allocator_peak(device: &Device) {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(cuda) = device {
        let high = cudarc::driver::sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH;
        cuda_pool_attribute(cuda, high, Some(0));
    }
    #[cfg(not(feature = "cuda"))]
    let _ = device;
}

/// Reads a u64 attribute of the device's default pool, after writing `set` to it if given.
#[cfg(feature = "cuda")]
fn cuda_pool_attribute(
    cuda: &candle_core::CudaDevice,
    attribute: cudarc::driver::sys::CUmemPool_attribute,
    set: Option<u64>,
) -> Option<u64> {
    use cudarc::driver::result;
    let cu_device = cuda.cuda_stream().context().cu_device();
    // SAFETY: the device handle comes from an open context; the attributes read and written
    // here are u64.
    unsafe {
        let pool = result::device::get_default_mem_pool(cu_device).ok()?;
        let mut value = set.unwrap_or(0);
        let pointer = (&mut value as *mut u64).cast();
        match set {
            Some(_) => result::mem_pool::set_attribute(pool, attribute, pointer).ok()?,
            None => result::mem_pool::get_attribute(pool, attribute, pointer).ok()?,
        }
        Some(value)
    }
}

/// What a new allocation can get: the driver's free memory plus the pool's reserved but
/// unused part. Only the CUDA build calls it; the tests run everywhere.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub fn free_with_pool(driver_free: u64, pool_reserved: u64, pool_used: u64) -> u64 {
    driver_free + pool_reserved.saturating_sub(pool_used)
}

/// Rows of a batch that fit in `free` bytes at `per_row` bytes each, keeping `reserve` bytes
/// for everything else; at least one (a single row that does not fit is an out-of-memory error
/// the caller reports) and at most `rows`.
pub fn rows_that_fit(free: u64, reserve: u64, per_row: u64, rows: usize) -> usize {
    let spendable = free.saturating_sub(reserve);
    let fit = (spendable / per_row.max(1)) as usize;
    fit.clamp(1, rows.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn rows_follow_free_memory() {
        assert_eq!(rows_that_fit(80 * GIB, GIB, 2 * GIB, 8), 8);
        assert_eq!(rows_that_fit(6 * GIB, GIB, 2 * GIB, 8), 2);
        assert_eq!(rows_that_fit(GIB / 2, GIB, 2 * GIB, 8), 1);
        assert_eq!(rows_that_fit(80 * GIB, 0, 0, 3), 3);
    }

    #[test]
    fn memory_the_pool_holds_unused_counts_as_free() {
        assert_eq!(free_with_pool(10 * GIB, 6 * GIB, 2 * GIB), 14 * GIB);
        assert_eq!(free_with_pool(10 * GIB, 0, 0), 10 * GIB);
        // The counts are read one after the other: never less than the driver's own.
        assert_eq!(free_with_pool(10 * GIB, GIB, 2 * GIB), 10 * GIB);
    }

    #[test]
    fn the_cpu_reports_no_gpu_memory() {
        assert_eq!(query(&Device::Cpu), None);
        reset_allocator_peak(&Device::Cpu);
        assert_eq!(allocator_peak(&Device::Cpu), None);
    }
}
