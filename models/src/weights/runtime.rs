//! Running async network work from blocking callers, and stopping it when the user cancels.

use std::future::Future;
use std::time::Duration;

use super::error::{Result, WeightsError};
use crate::task::CancelToken;

/// How often a running transfer looks at the cancel flag while waiting on the network.
const CANCEL_POLL: Duration = Duration::from_millis(25);

/// Runs blocking-on-async work on a fresh thread with its own runtime, so callers may be
/// inside a tokio runtime (or the UI thread's event loop) without nesting runtimes.
pub(crate) fn run_on_own_thread<F: Future<Output = Result<()>>>(
    work: impl FnOnce() -> F + Send,
) -> Result<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| WeightsError::Setup(format!("no async runtime: {e}")))?;
                runtime.block_on(work())
            })
            .join()
            .unwrap_or_else(|_| Err(WeightsError::Setup("the download thread panicked".into())))
    })
}

/// Runs `work` until it ends or the token is cancelled (`None`); dropping `work` aborts its I/O.
pub(crate) async fn cancellable<T>(
    cancel: &CancelToken,
    work: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = wait_for_cancel(cancel) => None,
    }
}

async fn wait_for_cancel(cancel: &CancelToken) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(CANCEL_POLL).await;
    }
}
