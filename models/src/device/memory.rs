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

/// CUDA asks the driver; Metal's budget is the recommended working set less what this
/// process has allocated; the CPU has no such limit worth sizing batches by.
pub(super) fn query(device: &Device) -> Option<GpuMemory> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => {
            let (free, total) = cuda.cuda_stream().context().mem_get_info().ok()?;
            Some(GpuMemory {
                free: free as u64,
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
    fn the_cpu_reports_no_gpu_memory() {
        assert_eq!(query(&Device::Cpu), None);
    }
}
