//! Jobs on disk: one folder per dropped video, `<data_dir>/jobs/<uuid>/`, holding `job.json`
//! and the stage outputs. Every write is atomic, so a crash never leaves a torn manifest.

mod id;
mod lock;
mod manifest;
mod store;

pub use crate::atomic_file::{write_atomic, write_json_atomic};
pub use id::JobId;
pub use lock::{JobLock, LOCK_FILE};
pub(crate) use manifest::now_unix;
pub use manifest::{JobManifest, StageName, StageRecord, StageState, MANIFEST_VERSION};
pub use store::{JobError, JobStore, JobSummary};
