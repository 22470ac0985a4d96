//! Locks that survive a panic elsewhere. A mutex is poisoned when a thread panics while holding
//! it; every table we guard is valid between statements (an insert or a remove, never half of
//! one), so the next user takes the data as it is instead of panicking in turn.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub trait LockRecovering<T> {
    /// Locks, recovering the data from a poisoned lock.
    fn lock_recovering(&self) -> MutexGuard<'_, T>;
}

impl<T> LockRecovering<T> for Mutex<T> {
    fn lock_recovering(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_locked_does_not_spread() {
        let table = std::sync::Arc::new(Mutex::new(vec![1]));
        let holder = table.clone();
        let _ = std::thread::spawn(move || {
            let _guard = holder.lock().unwrap();
            panic!("a task failed while holding the table");
        })
        .join();
        assert!(table.is_poisoned());
        table.lock_recovering().push(2);
        assert_eq!(*table.lock_recovering(), [1, 2]);
    }
}
