//! The jobs folder: create, load, save, list and delete jobs.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::id::{InvalidJobId, JobId};
use super::lock::{JobLock, LockFailure};
use super::manifest::{JobManifest, StageName, MANIFEST_VERSION};
use crate::atomic_file::write_json_atomic;
use crate::media::{self, MediaError};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    InvalidId(#[from] InvalidJobId),
    #[error("there is no job {0}; `bgm-studio jobs list` shows the jobs")]
    NotFound(JobId),
    #[error("the job file \"{}\" is damaged: {detail}", .path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error("\"{}\": {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("job {id} is being processed by {}; wait for it to finish, or stop it there", holder(*.pid))]
    Busy { id: JobId, pid: Option<u32> },
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(pid) if pid == std::process::id() => "another task of this BGM Studio".into(),
        Some(pid) => format!("another BGM Studio (pid {pid})"),
        None => "another BGM Studio".into(),
    }
}

type Result<T> = std::result::Result<T, JobError>;

/// A line of the job list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub id: JobId,
    pub created_unix: u64,
    pub input: PathBuf,
    pub duration_seconds: f64,
    /// The last stage that finished, if any.
    pub done_through: Option<StageName>,
}

pub struct JobStore {
    root: PathBuf,
}

impl JobStore {
    /// The jobs folder inside the app's data folder.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("jobs"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of a job; `id` is a validated uuid, so this stays inside the jobs folder.
    pub fn dir(&self, id: JobId) -> PathBuf {
        self.root.join(id.to_string())
    }

    fn manifest_path(&self, id: JobId) -> PathBuf {
        self.dir(id).join("job.json")
    }

    /// Makes a job for a video: probes it (bad input is refused here, before any folder exists)
    /// and writes its manifest.
    pub fn create(&self, video: &Path) -> Result<JobManifest> {
        let media = media::probe(video)?;
        media.check_usable(video)?;
        let input = video.canonicalize().map_err(|source| JobError::Io {
            path: video.to_path_buf(),
            source,
        })?;
        let manifest = JobManifest::new(input, media);
        self.save(&manifest)?;
        Ok(manifest)
    }

    pub fn save(&self, manifest: &JobManifest) -> Result<()> {
        let path = self.manifest_path(manifest.id);
        write_json_atomic(&path, manifest).map_err(|source| JobError::Io { path, source })
    }

    pub fn load(&self, id: JobId) -> Result<JobManifest> {
        let path = self.manifest_path(id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(JobError::NotFound(id))
            }
            Err(source) => return Err(JobError::Io { path, source }),
        };
        let manifest: JobManifest =
            serde_json::from_slice(&bytes).map_err(|e| JobError::Damaged {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if manifest.version > MANIFEST_VERSION || manifest.id != id {
            return Err(JobError::Damaged {
                path,
                detail: format!(
                    "it is version {} of job {}, expected version {MANIFEST_VERSION} or older of job {id}",
                    manifest.version, manifest.id
                ),
            });
        }
        Ok(manifest)
    }

    /// Every job, newest first. A damaged job is left out of the list (and logged), not fatal.
    pub fn list(&self) -> Result<Vec<JobSummary>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(JobError::Io {
                    path: self.root.clone(),
                    source,
                })
            }
        };
        let mut jobs: Vec<JobSummary> = entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<JobId>().ok())
            .filter_map(|id| match self.load(id) {
                Ok(manifest) => Some(summarize(&manifest)),
                Err(err) => {
                    tracing::warn!("skipping job {id}: {err}");
                    None
                }
            })
            .collect();
        jobs.sort_by(|a, b| b.created_unix.cmp(&a.created_unix).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }

    /// Takes the job's cross-process lock: no other process or task may run, regenerate,
    /// export, edit or delete it until the lock is dropped.
    pub fn lock(&self, id: JobId) -> Result<JobLock> {
        let dir = self.dir(id);
        if !dir.join("job.json").exists() {
            return Err(JobError::NotFound(id));
        }
        JobLock::try_acquire(&dir).map_err(|failure| match failure {
            LockFailure::Held { pid } => JobError::Busy { id, pid },
            LockFailure::Io(source) => JobError::Io { path: dir, source },
        })
    }

    /// Removes a job's folder and everything in it; refused while the job is being processed.
    pub fn delete(&self, id: JobId) -> Result<()> {
        let _lock = self.lock(id)?;
        let dir = self.dir(id);
        std::fs::remove_dir_all(&dir).map_err(|source| JobError::Io { path: dir, source })
    }
}

fn summarize(manifest: &JobManifest) -> JobSummary {
    let done_through = StageName::ALL
        .into_iter()
        .take_while(|stage| manifest.stage(*stage).state.is_settled())
        .last();
    JobSummary {
        id: manifest.id,
        created_unix: manifest.created_unix,
        input: manifest.input.clone(),
        duration_seconds: manifest.media.duration_seconds,
        done_through,
    }
}
