//! One download of a model at a time across processes (the window and a CLI, two CLIs): an
//! exclusive lock on a file in the model's cache folder, held for the whole download. The
//! second process waits, then finds the files there.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::Duration;

use super::error::{Result, WeightsError};
use crate::task::CancelToken;

/// The lock file, beside the hub cache's `blobs/` and `snapshots/`.
const LOCK_FILE: &str = ".bgm-download.lock";
/// How often a waiting process looks again (and at its cancel token).
const POLL: Duration = Duration::from_millis(100);

/// Held while it lives; the OS releases it when the file closes, also when a process dies.
pub(crate) struct DownloadLock {
    _file: File,
}

impl DownloadLock {
    /// Waits for the lock of the cache folder `root` (`repo` names it in errors); `waiting` is
    /// called once if another process holds it.
    pub(crate) fn acquire(
        root: &Path,
        repo: &str,
        cancel: &CancelToken,
        waiting: impl FnOnce(),
    ) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| WeightsError::io("cannot create", root, e))?;
        let path = root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| WeightsError::io("cannot open", &path, e))?;
        let mut waiting = Some(waiting);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) => {
                    if let Some(tell) = waiting.take() {
                        tell();
                    }
                    if cancel.is_cancelled() {
                        return Err(WeightsError::Cancelled {
                            repo: repo.to_string(),
                        });
                    }
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::Error(e)) => {
                    return Err(WeightsError::io("cannot lock", &path, e))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            DownloadLock::acquire(dir.path(), "org/model", &CancelToken::new(), || {}).unwrap();
        let root = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let second = std::thread::spawn(move || {
            let waited = std::cell::Cell::new(false);
            let lock =
                DownloadLock::acquire(&root, "org/model", &CancelToken::new(), || waited.set(true));
            tx.send(()).unwrap();
            (lock.is_ok(), waited.get())
        });
        // Still waiting while the first holds it.
        assert!(rx.recv_timeout(Duration::from_millis(400)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(second.join().unwrap(), (true, true));
    }

    #[test]
    fn a_cancelled_wait_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let _held =
            DownloadLock::acquire(dir.path(), "org/model", &CancelToken::new(), || {}).unwrap();
        let cancel = CancelToken::new();
        cancel.cancel();
        let err = DownloadLock::acquire(dir.path(), "org/model", &cancel, || {});
        assert!(matches!(err, Err(WeightsError::Cancelled { .. })));
    }
}
