//! A cross-process lock on one job: an advisory lock on `<job>/.lock`, so the window and the
//! command line never run, regenerate or export the same job at once.
//!
//! The operating system drops the lock when its holder exits, killed or not, so a lock left by
//! a dead process is simply taken over; the file only tells the next process whose it was.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The lock file's name inside the job folder.
pub const LOCK_FILE: &str = ".lock";

/// Held while a job is being processed; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct JobLock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockFailure {
    /// Another process (or another task of this one) holds it; the pid it wrote, if readable.
    Held {
        pid: Option<u32>,
    },
    Io(std::io::Error),
}

impl JobLock {
    /// Takes the lock of the job folder `dir` without waiting.
    pub fn try_acquire(dir: &Path) -> Result<JobLock, LockFailure> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(LockFailure::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockFailure::Held {
                    pid: holder_pid(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(LockFailure::Io(e)),
        }
        // Whose lock it is, for the message another process shows.
        file.set_len(0).map_err(LockFailure::Io)?;
        file.rewind().map_err(LockFailure::Io)?;
        write!(file, "{}", std::process::id()).map_err(LockFailure::Io)?;
        Ok(JobLock { _file: file })
    }
}

fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = JobLock::try_acquire(dir.path()).unwrap();
        match JobLock::try_acquire(dir.path()) {
            Err(LockFailure::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        drop(held);
        JobLock::try_acquire(dir.path()).expect("released on drop");
    }

    /// A lock file left by a process that died names it, but locks nothing.
    #[test]
    fn a_dead_holders_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "4000000").unwrap();
        let _lock = JobLock::try_acquire(dir.path()).unwrap();
        let written = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(written, std::process::id().to_string());
    }
}
