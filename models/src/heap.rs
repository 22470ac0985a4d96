//! Large tensors and glibc's allocator. glibc serves every allocation above its mmap threshold
//! (32 MB at most) with fresh pages from the kernel and unmaps them when freed, so each large
//! activation (Whisper-base's encoder makes 72 MB of attention scores per layer) costs a page
//! fault per 4 KiB and the kernel's zeroing of every page: on the build machine that was a third
//! of the encoder's time. Serving allocations up to 1 GiB from the heap lets the next layer
//! reuse the same memory; `release_free_memory` hands the free pages back between stages. One
//! arena serves every thread: a thread's own arena is capped at 64 MB and maps anything larger
//! afresh, and the stages run on worker threads.
//! Other platforms' allocators keep their own policy, so both are no-ops there.

/// Allocations up to this size come from the heap and are reused once freed.
pub const REUSED_ALLOCATION_MAX: usize = 1 << 30;

/// Call once at start, before model work (the app and the benchmarks do).
pub fn reuse_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's thresholds; it returns 0 when it refuses, which
    // leaves glibc's defaults in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, REUSED_ALLOCATION_MAX as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, REUSED_ALLOCATION_MAX as libc::c_int);
    }
}

/// Returns freed heap pages to the kernel, so memory a finished stage used does not stay
/// resident while the next one runs.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
