//! Download progress: per file and in total, in bytes, for a CLI bar or a GUI channel.

use std::sync::{Arc, Mutex};

use hf_hub::progress::{DownloadEvent, ProgressEvent, ProgressHandler};

/// One progress report. `done`/`total` cover the whole model; `file_done`/`file_total` the file
/// named by `file`. Totals come from the hub's HEAD answers, so they are exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadUpdate {
    pub model: String,
    pub file: String,
    pub file_done: u64,
    pub file_total: u64,
    pub done: u64,
    pub total: u64,
    pub stage: DownloadStage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum DownloadStage {
    /// Asking the hub for the file's size and hash.
    Checking,
    /// Bytes arriving (fresh or resumed).
    Transferring,
    /// Hashing the finished file.
    Verifying,
    /// The file is in place and verified (or was already).
    Finished,
}

/// Receives download progress. Called from the download thread: keep it quick.
pub trait DownloadProgress: Send + Sync {
    fn update(&self, update: &DownloadUpdate);
}

impl<F: Fn(&DownloadUpdate) + Send + Sync> DownloadProgress for F {
    fn update(&self, update: &DownloadUpdate) {
        self(update)
    }
}

/// A progress sink for callers that do not care.
pub fn ignore_progress() -> impl DownloadProgress {
    |_: &DownloadUpdate| {}
}

/// Keeps the running totals of one model's download and forwards updates to the sink.
pub(crate) struct ProgressTracker {
    sink: Arc<dyn DownloadProgress>,
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    model: String,
    total: u64,
    finished: u64,
}

impl ProgressTracker {
    pub fn new(model: &str, sink: Arc<dyn DownloadProgress>) -> Arc<Self> {
        Arc::new(Self {
            sink,
            state: Mutex::new(TrackerState {
                model: model.to_string(),
                ..TrackerState::default()
            }),
        })
    }

    pub fn set_total(&self, total: u64) {
        self.lock().total = total;
    }

    pub fn file(&self, file: &str, file_done: u64, file_total: u64, stage: DownloadStage) {
        let update = {
            let mut state = self.lock();
            if stage == DownloadStage::Finished {
                state.finished += file_total;
            }
            let in_flight = if stage == DownloadStage::Finished {
                0
            } else {
                file_done
            };
            DownloadUpdate {
                model: state.model.clone(),
                file: file.to_string(),
                file_done,
                file_total,
                done: (state.finished + in_flight).min(state.total.max(state.finished)),
                total: state.total,
                stage,
            }
        };
        self.sink.update(&update);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        // A panicking sink must not take progress reporting down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Turns hf-hub's per-file events into our updates for one file.
pub(crate) struct HubProgressBridge {
    pub tracker: Arc<ProgressTracker>,
    pub file: String,
    pub file_total: u64,
}

impl ProgressHandler for HubProgressBridge {
    fn on_progress(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Download(DownloadEvent::Progress { files }) => {
                for f in files.iter().filter(|f| f.filename == self.file) {
                    let done = f.bytes_completed.min(self.file_total);
                    self.tracker.file(
                        &self.file,
                        done,
                        self.file_total,
                        DownloadStage::Transferring,
                    );
                }
            }
            ProgressEvent::Download(DownloadEvent::AggregateProgress {
                bytes_completed, ..
            }) => {
                // xet transfers report only batch totals; ours is a batch of one file.
                let done = (*bytes_completed).min(self.file_total);
                self.tracker.file(
                    &self.file,
                    done,
                    self.file_total,
                    DownloadStage::Transferring,
                );
            }
            _ => {}
        }
    }
}
