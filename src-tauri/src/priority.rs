//! Model work runs below the window's priority. On a machine with few cores the stages take
//! every core, and the window (a separate WebKit process) must still draw and answer: a
//! starved web process looks hung to the user, and to WebDriver in the window tests.

/// How much lower than normal (Unix niceness) model work runs.
pub const BACKGROUND_NICENESS: i32 = 10;

/// Lowers the calling thread's priority. Linux schedules threads one by one; elsewhere this
/// would lower the whole process (the window included), so it does nothing there.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (who = 0) with a valid niceness; a failure
    // leaves the priority as it was, which is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICENESS);
    }
}

/// A rayon pool whose threads run at the lowered priority.
pub fn lowered_pool() -> rayon::ThreadPoolBuilder {
    rayon::ThreadPoolBuilder::new().start_handler(|_| lower_this_thread())
}

/// Makes rayon's global pool, where candle's CPU kernels and Griffin-Lim run, a lowered one.
/// Call before any model work; the window does, the command line keeps full priority.
pub fn lower_compute_pool() {
    if let Err(e) = lowered_pool().build_global() {
        tracing::warn!("model work keeps normal priority: {e}");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn niceness() -> i32 {
        // SAFETY: reads the calling thread's priority.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn lowered_threads_and_pools_run_below_normal() {
        let before = niceness();
        let pool = lowered_pool().num_threads(2).build().unwrap();
        let in_pool: Vec<i32> = pool.broadcast(|_| niceness());
        assert!(in_pool
            .iter()
            .all(|&n| n >= before + BACKGROUND_NICENESS.min(19 - before)));
        // The caller is untouched; a thread that lowers itself is lowered.
        assert_eq!(niceness(), before);
        let lowered = std::thread::spawn(|| {
            lower_this_thread();
            niceness()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + BACKGROUND_NICENESS).min(19));
    }
}
