//! The window's commands: thin wrappers over the same functions the command line uses.
//! Blocking work runs on the blocking thread pool, never on the async runtime.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::media::{self, MediaInfo};
use crate::sync::LockRecovering;

mod details;
mod jobs;
mod pipeline;
mod player;
mod settings;
pub use details::*;
pub use jobs::*;
pub use pipeline::*;
pub use player::*;
pub use settings::*;

/// Files the user handed to the app (dropped on the window or picked in a dialog). Commands only
/// touch these, so a compromised page cannot make the app read arbitrary files.
#[derive(Default)]
pub struct UserFiles(Mutex<HashSet<PathBuf>>);

impl UserFiles {
    pub fn allow(&self, paths: impl IntoIterator<Item = PathBuf>) {
        self.0.lock_recovering().extend(paths);
    }

    fn check(&self, path: &Path) -> Result<(), CommandError> {
        if self.0.lock_recovering().contains(path) {
            Ok(())
        } else {
            Err(CommandError {
                kind: ErrorKind::NotPermitted,
                message: format!(
                    "\"{}\" was not chosen by the user; drop it on the window or open it with the file picker",
                    path.display()
                ),
             missing_models: Vec::new(), })
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The file is missing, empty, damaged or not media: the user should pick another file.
    BadInput,
    NotPermitted,
    /// The user cancelled it; nothing is wrong.
    Cancelled,
    /// Another task holds the job (or the models); try again when it finishes.
    Busy,
    /// The job needs models that are not downloaded: `missingModels` lists them.
    ModelsMissing,
    Internal,
}

/// What the window shows when a command fails.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    /// With `modelsMissing`: what to download before the job can run (else empty).
    pub missing_models: Vec<bgm_models::weights::MissingModel>,
}

impl From<media::MediaError> for CommandError {
    fn from(err: media::MediaError) -> Self {
        let kind = if err.is_bad_input() {
            ErrorKind::BadInput
        } else {
            ErrorKind::Internal
        };
        CommandError {
            kind,
            message: err.to_string(),
            missing_models: Vec::new(),
        }
    }
}

fn internal(err: impl std::fmt::Display) -> CommandError {
    CommandError {
        kind: ErrorKind::Internal,
        message: err.to_string(),
        missing_models: Vec::new(),
    }
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    /// The device the model stages will run on.
    pub device: bgm_models::device::DeviceKind,
    pub data_dir: String,
    /// Why the models run on this device rather than a faster one ("CUDA build, no NVIDIA
    /// driver found: using the CPU"); null when they run where the user asked.
    pub device_note: Option<String>,
    /// The GPU's memory (CUDA: the card's; Metal: the recommended working set); null on the CPU.
    pub gpu_memory_bytes: Option<f64>,
    /// Seconds one denoising step of all four candidates took on this device, from the most
    /// recent job that generated music on it.
    pub seconds_per_step: Option<f64>,
}

/// Reads a video's container, streams and duration.
#[tauri::command]
#[specta::specta]
pub async fn probe_media(
    path: String,
    files: tauri::State<'_, UserFiles>,
) -> Result<MediaInfo, CommandError> {
    let path = PathBuf::from(path);
    files.check(&path)?;
    blocking(move || Ok(media::probe(&path)?)).await
}

/// The video named on the command line (`--open`), handed to the window once.
pub struct InitialFile(Mutex<Option<PathBuf>>);

impl InitialFile {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self(Mutex::new(path))
    }
}

/// The video to open at start-up, if the app was started with one; `None` after the first call.
#[tauri::command]
#[specta::specta]
pub async fn take_initial_file(
    initial: tauri::State<'_, InitialFile>,
) -> Result<Option<String>, CommandError> {
    let path = initial.0.lock_recovering().take();
    Ok(path.map(|p| p.display().to_string()))
}

/// Version, compute device and data folder, for the status bar and the about box.
#[tauri::command]
#[specta::specta]
pub async fn app_info() -> Result<AppInfo, CommandError> {
    blocking(|| {
        let studio = studio();
        let opened = studio.open_device().map_err(internal)?;
        let device = opened.kind;
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            seconds_per_step: measured_step_seconds(studio.store(), &device.to_string()),
            device,
            device_note: opened.note.clone(),
            data_dir: studio.paths().data_dir().display().to_string(),
            gpu_memory_bytes: opened.memory().map(|m| m.total as f64),
        })
    })
    .await
}

/// The newest job's measured step time on `device` (jobs are listed newest first).
fn measured_step_seconds(store: &crate::jobs::JobStore, device: &str) -> Option<f64> {
    store.list().ok()?.into_iter().find_map(|job| {
        let files = crate::pipeline::JobFiles::new(&store.dir(job.id));
        let timing = files.load_diffusion_timing().ok()?;
        (timing.device == device)
            .then(|| timing.seconds_per_step())
            .flatten()
    })
}

/// The user's studio, with the settings as saved now (the Settings screen may have changed
/// them since the last command).
fn studio() -> crate::studio::Studio {
    crate::studio::Studio::from_env()
}

/// Runs blocking work (file and model I/O) on the blocking pool, never on the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(internal)?
}

impl From<crate::jobs::JobError> for CommandError {
    fn from(err: crate::jobs::JobError) -> Self {
        use crate::jobs::JobError;
        match err {
            JobError::Media(media) => media.into(),
            JobError::Busy { .. } => CommandError {
                kind: ErrorKind::Busy,
                message: err.to_string(),
                missing_models: Vec::new(),
            },
            JobError::InvalidId(_) | JobError::NotFound(_) => CommandError {
                kind: ErrorKind::BadInput,
                message: err.to_string(),
                missing_models: Vec::new(),
            },
            other => internal(other),
        }
    }
}
