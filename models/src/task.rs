//! Progress reporting and cooperative cancellation for long work, shared by every stage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cheap, clonable flag that long-running work polls between units of work.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Receives the fraction done (0.0..=1.0) of a long operation.
pub trait Progress: Send {
    fn report(&mut self, fraction: f64);
}

impl<F: FnMut(f64) + Send> Progress for F {
    fn report(&mut self, fraction: f64) {
        self(fraction.clamp(0.0, 1.0))
    }
}

/// A progress sink for callers that do not care.
pub fn no_progress() -> impl Progress {
    |_: f64| {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_is_seen_by_clones() {
        let token = CancelToken::new();
        let clone = token.clone();
        assert!(!clone.is_cancelled());
        token.cancel();
        assert!(clone.is_cancelled());
    }

    #[test]
    fn progress_is_clamped() {
        let mut seen = Vec::new();
        {
            let mut sink = |f: f64| seen.push(f);
            Progress::report(&mut sink, 1.5);
            Progress::report(&mut sink, -0.2);
        }
        assert_eq!(seen, vec![1.0, 0.0]);
    }
}
