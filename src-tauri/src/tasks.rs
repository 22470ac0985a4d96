//! Long work started from the window (pipeline runs, regenerations, exports, downloads): each on
//! its own named thread, never on the async runtime, with a cancel token the window can trip.
//!
//! One task per key (a job id or a model name) at a time, and at most one task that loads
//! models, so two runs never compete for the GPU's memory.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use bgm_models::task::CancelToken;
use tokio::sync::oneshot;

use crate::sync::LockRecovering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Runs model stages (run, regenerate): exclusive among themselves.
    Models,
    /// Touches files only (export, download): may run beside anything but its own key.
    Files,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TaskError {
    #[error("{0} is already busy; wait for it to finish or cancel it")]
    Busy(String),
    #[error("another job is using the models; wait for it to finish or cancel it")]
    ModelsBusy,
    #[error("the task stopped unexpectedly: {0}")]
    Crashed(String),
}

struct Running {
    kind: TaskKind,
    cancel: CancelToken,
}

#[derive(Clone, Default)]
pub struct Tasks(Arc<Mutex<HashMap<String, Running>>>);

impl Tasks {
    /// Starts `work` on a new thread under `key`. The result arrives through the receiver; a
    /// panic in `work` becomes [`TaskError::Crashed`] instead of taking the app down.
    pub fn start<T: Send + 'static>(
        &self,
        key: &str,
        kind: TaskKind,
        work: impl FnOnce(&CancelToken) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T, TaskError>>, TaskError> {
        let cancel = CancelToken::new();
        {
            let mut running = self.0.lock_recovering();
            if running.contains_key(key) {
                return Err(TaskError::Busy(key.to_string()));
            }
            if kind == TaskKind::Models && running.values().any(|r| r.kind == TaskKind::Models) {
                return Err(TaskError::ModelsBusy);
            }
            running.insert(
                key.to_string(),
                Running {
                    kind,
                    cancel: cancel.clone(),
                },
            );
        }
        let (send, receive) = oneshot::channel();
        let table = self.clone();
        let owned_key = key.to_string();
        let spawned = std::thread::Builder::new()
            .name(format!("task {key}"))
            .spawn(move || {
                crate::priority::lower_this_thread();
                let outcome = catch_unwind(AssertUnwindSafe(|| work(&cancel)))
                    .map_err(|panic| TaskError::Crashed(panic_message(&panic)));
                table.finish(&owned_key);
                // The window may have gone away; nobody is left to tell.
                let _ = send.send(outcome);
            });
        if let Err(e) = spawned {
            self.finish(key);
            return Err(TaskError::Crashed(format!("no thread for the task: {e}")));
        }
        Ok(receive)
    }

    /// Asks the task under `key` to stop; `false` when nothing runs under it.
    pub fn cancel(&self, key: &str) -> bool {
        let running = self.0.lock_recovering();
        running.get(key).map(|r| r.cancel.cancel()).is_some()
    }

    pub fn is_running(&self, key: &str) -> bool {
        self.0
            .lock()
            .expect("task table not poisoned")
            .contains_key(key)
    }

    fn finish(&self, key: &str) {
        self.0.lock_recovering().remove(key);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wait<T>(receiver: oneshot::Receiver<T>) -> T {
        receiver.blocking_recv().expect("the task reports")
    }

    #[test]
    fn runs_on_its_own_thread_and_reports() {
        let tasks = Tasks::default();
        let name = wait(
            tasks
                .start("a", TaskKind::Files, |_| {
                    std::thread::current().name().map(str::to_string)
                })
                .unwrap(),
        );
        assert_eq!(name.unwrap().as_deref(), Some("task a"));
        assert!(!tasks.is_running("a"));
    }

    #[test]
    fn one_task_per_key_and_one_model_task() {
        let tasks = Tasks::default();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = tasks
            .start("job1", TaskKind::Models, move |_| hold.recv().ok())
            .unwrap();
        assert_eq!(
            tasks.start("job1", TaskKind::Files, |_| ()).unwrap_err(),
            TaskError::Busy("job1".into())
        );
        assert_eq!(
            tasks.start("job2", TaskKind::Models, |_| ()).unwrap_err(),
            TaskError::ModelsBusy
        );
        // A file task beside a model task is fine.
        wait(tasks.start("job2", TaskKind::Files, |_| ()).unwrap()).unwrap();
        release.send(()).unwrap();
        wait(first).unwrap();
        wait(tasks.start("job2", TaskKind::Models, |_| ()).unwrap()).unwrap();
    }

    #[test]
    fn cancel_reaches_the_work() {
        let tasks = Tasks::default();
        let receiver = tasks
            .start("job", TaskKind::Models, |cancel| {
                while !cancel.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                "stopped"
            })
            .unwrap();
        assert!(tasks.cancel("job"));
        assert_eq!(wait(receiver).unwrap(), "stopped");
        assert!(!tasks.cancel("job"));
    }

    #[test]
    fn a_panic_is_an_error_not_a_crash() {
        let tasks = Tasks::default();
        let outcome = wait(
            tasks
                .start("job", TaskKind::Files, |_| -> u32 { panic!("boom") })
                .unwrap(),
        );
        assert_eq!(outcome.unwrap_err(), TaskError::Crashed("boom".into()));
        assert!(!tasks.is_running("job"));
    }
}
