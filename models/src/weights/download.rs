//! Downloading a model into the Hugging Face cache: HEAD every file for size and hash, fetch
//! new files through hf-hub, resume interrupted ones with range requests, verify, link.
//! URL-hosted models take the same entry point and go to `url_download`.

use std::path::Path;
use std::sync::Arc;

use super::cache_layout::{is_commit_hash, RepoCache};
use super::catalogue::ModelEntry;
use super::config::WeightsConfig;
use super::download_lock::DownloadLock;
use super::error::{Result, WeightsError};
use super::http_clients::HttpClients;
use super::locate::{local_folder, locate, ResolvedModel};
use super::progress::{DownloadProgress, DownloadStage, HubProgressBridge, ProgressTracker};
use super::remote_file::{describe_status, probe, resolve_url, ProbeError, RemoteFile};
use super::resume::{resume_download, TransferError};
use super::runtime::{cancellable, run_on_own_thread};
use super::url_download::download_from_urls;
use super::verify::{verify_blob, VerifyError};
use crate::task::CancelToken;

/// Tries per file before giving up on a connection that keeps dropping.
const MAX_ATTEMPTS: usize = 4;

/// Makes every required file of `entry` available locally and returns where it is.
///
/// A complete local folder (`models_dir`) or cache snapshot is returned without network access;
/// in offline mode nothing else is tried. Otherwise missing files are downloaded into the hub
/// cache (resuming partial ones), checked against the hub's size and sha256, and linked into
/// `snapshots/<commit>/`. A URL-hosted model's files are downloaded from their URLs (or
/// [`WeightsConfig::url_mirror`]) into `<url cache>/<name>/<sha256>/` instead, each moved to
/// its final name only after its pinned size and SHA-256 match. Blocks the calling thread;
/// the network work runs on its own thread.
pub fn download_model(
    entry: &ModelEntry,
    config: &WeightsConfig,
    progress: impl DownloadProgress + 'static,
    cancel: &CancelToken,
) -> Result<ResolvedModel> {
    if let Ok(found) = locate(entry, config) {
        return Ok(found);
    }
    let user_folder = config
        .models_dir
        .as_ref()
        .map(|dir| local_folder(dir, entry));
    if user_folder.is_some_and(|folder| folder.is_dir()) {
        // The user chose a local folder for this model; filling the cache instead would hide it.
        return locate(entry, config);
    }
    if config.offline {
        return Err(offline_error(locate(entry, config)));
    }
    if entry.is_url_hosted() {
        let tracker = ProgressTracker::new(&entry.name, Arc::new(progress));
        download_from_urls(entry, config, tracker, cancel)?;
        return locate(entry, config);
    }

    let hub = config
        .hub_client()
        .map_err(|e| WeightsError::Setup(format!("no hub client: {e}")))?;
    let cache = RepoCache::new(hub.cache_dir(), &entry.repo);
    let tracker = ProgressTracker::new(&entry.name, Arc::new(progress));
    let _lock = DownloadLock::acquire(cache.root(), &entry.repo, cancel, || {
        tracing::info!(model = %entry.name, "another process is downloading it; waiting");
    })?;
    // The other process may have finished it while this one waited.
    if let Ok(found) = locate(entry, config) {
        return Ok(found);
    }
    let job = DownloadJob {
        entry,
        cache,
        http: HttpClients::new(config.resolved_token().as_ref())?,
        hub,
        tracker,
        cancel,
    };
    run_on_own_thread(|| job.run())?;
    locate(entry, config)
}

fn offline_error(located: Result<ResolvedModel>) -> WeightsError {
    match located {
        Err(WeightsError::NotAvailable {
            model,
            repo,
            missing,
            searched,
            fix,
        }) => WeightsError::NotAvailable {
            model,
            repo,
            missing,
            searched,
            fix: format!("Offline mode is on, so nothing was downloaded. {fix}"),
        },
        Err(other) => other,
        Ok(_) => WeightsError::Setup("offline lookup raced with a download".into()),
    }
}

struct DownloadJob<'a> {
    entry: &'a ModelEntry,
    cache: RepoCache,
    http: HttpClients,
    hub: hf_hub::HFClient,
    tracker: Arc<ProgressTracker>,
    cancel: &'a CancelToken,
}

/// How one transfer attempt ended.
enum Attempt {
    Cancelled,
    Retry(String),
    Fail(String),
}

impl DownloadJob<'_> {
    async fn run(&self) -> Result<()> {
        let remotes = self.describe_files().await?;
        self.tracker.set_total(remotes.iter().map(|r| r.size).sum());
        for remote in &remotes {
            self.fetch(remote).await?;
        }
        if let Some(first) = remotes.first() {
            self.cache.write_ref(&self.entry.revision, &first.commit)?;
        }
        Ok(())
    }

    /// HEADs every file first, so the total is known before the first byte arrives.
    async fn describe_files(&self) -> Result<Vec<RemoteFile>> {
        let mut revision = self.entry.revision.clone();
        let mut remotes = Vec::with_capacity(self.entry.files.len());
        for file in &self.entry.files {
            self.check_cancel()?;
            self.tracker.file(
                &file.path,
                0,
                file.size.unwrap_or(0),
                DownloadStage::Checking,
            );
            let url = resolve_url(self.hub.endpoint(), &self.entry.repo, &revision, &file.path);
            let described = cancellable(
                self.cancel,
                probe(&self.http.no_redirect, &self.http.auth, &url, &file.path),
            );
            let remote = match described.await {
                None => return Err(self.cancelled()),
                Some(Ok(remote)) => remote,
                Some(Err(ProbeError::Refused(detail))) => return Err(self.hub_error(&file.path, detail)),
                Some(Err(ProbeError::Unreachable(detail))) => {
                    return Err(self.hub_error(
                        &file.path,
                        format!("nothing ({detail}); check the network, or use a local models folder offline"),
                    ))
                }
            };
            // A pinned commit must be the one served: a repo whose history was rewritten (or a
            // mirror that ignores revisions) would otherwise hand over other files.
            if is_commit_hash(&self.entry.revision) && remote.commit != self.entry.revision {
                return Err(WeightsError::Hub {
                    repo: self.entry.repo.clone(),
                    file: file.path.clone(),
                    detail: format!(
                        "commit {} where {} is pinned; nothing was downloaded",
                        remote.commit, self.entry.revision
                    ),
                });
            }
            // All files of one model come from one commit, even if the branch moves meanwhile.
            revision = remote.commit.clone();
            remotes.push(remote);
        }
        Ok(remotes)
    }

    async fn fetch(&self, remote: &RemoteFile) -> Result<()> {
        let blob = self.cache.blob(&remote.etag);
        if let Ok(meta) = std::fs::metadata(&blob) {
            if meta.len() == remote.size {
                return self.finish(remote);
            }
            // Left short by an interrupted transfer that writes in place: start it again.
            let _ = std::fs::remove_file(&blob);
        }
        let partial = self.cache.incomplete_blob(&remote.etag);
        for attempt in 1..=MAX_ATTEMPTS {
            let outcome = if file_len(&partial) > 0 {
                self.resume(remote, &partial).await
            } else {
                self.fetch_with_hub(remote).await
            };
            match outcome {
                Ok(()) => break,
                Err(Attempt::Cancelled) => return Err(self.cancelled()),
                Err(Attempt::Retry(detail)) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(file = %remote.path, %detail, attempt, "download interrupted, resuming");
                }
                Err(Attempt::Retry(detail) | Attempt::Fail(detail)) => {
                    return Err(self.hub_error(&remote.path, detail));
                }
            }
        }
        if !blob.exists() && partial.exists() {
            std::fs::rename(&partial, &blob)
                .map_err(|e| WeightsError::io("cannot move into place", &blob, e))?;
        }
        self.tracker.file(
            &remote.path,
            remote.size,
            remote.size,
            DownloadStage::Verifying,
        );
        match verify_blob(&blob, remote, self.cancel) {
            Ok(()) => self.finish(remote),
            Err(VerifyError::Cancelled) => Err(self.cancelled()),
            Err(VerifyError::Unreadable(detail)) => Err(self.hub_error(&remote.path, detail)),
            Err(VerifyError::Mismatch(detail)) => {
                self.cache
                    .forget(&remote.commit, &remote.path, &remote.etag);
                Err(WeightsError::Corrupt {
                    repo: self.entry.repo.clone(),
                    file: remote.path.clone(),
                    detail,
                })
            }
        }
    }

    /// A fresh file: hf-hub's own download into the cache (plain HTTP or xet).
    async fn fetch_with_hub(&self, remote: &RemoteFile) -> std::result::Result<(), Attempt> {
        let (org, name) = self.entry.repo_parts();
        let repo = self.hub.model(org, name);
        let bridge = HubProgressBridge {
            tracker: Arc::clone(&self.tracker),
            file: remote.path.clone(),
            file_total: remote.size,
        };
        let download = repo
            .download_file()
            .filename(remote.path.clone())
            .revision(remote.commit.clone())
            .progress(bridge)
            .send();
        match cancellable(self.cancel, download).await {
            None => Err(Attempt::Cancelled),
            Some(Ok(_)) => Ok(()),
            // Bytes on disk mean the connection dropped mid-file: the next attempt resumes.
            Some(Err(error @ (hf_hub::HFError::Request { .. } | hf_hub::HFError::Io(_)))) => {
                Err(Attempt::Retry(error.to_string()))
            }
            Some(Err(error)) => Err(Attempt::Fail(error.to_string())),
        }
    }

    async fn resume(
        &self,
        remote: &RemoteFile,
        partial: &Path,
    ) -> std::result::Result<(), Attempt> {
        let work = resume_download(
            &self.http.follow,
            &self.http.auth,
            remote,
            partial,
            &self.tracker,
            self.cancel,
            describe_status,
        );
        match cancellable(self.cancel, work).await {
            None | Some(Err(TransferError::Cancelled)) => Err(Attempt::Cancelled),
            Some(Ok(())) => Ok(()),
            Some(Err(TransferError::Interrupted(detail))) => Err(Attempt::Retry(detail)),
            Some(Err(TransferError::Failed(detail))) => Err(Attempt::Fail(detail)),
        }
    }

    fn finish(&self, remote: &RemoteFile) -> Result<()> {
        self.cache
            .link_snapshot(&remote.commit, &remote.path, &remote.etag)?;
        self.tracker.file(
            &remote.path,
            remote.size,
            remote.size,
            DownloadStage::Finished,
        );
        Ok(())
    }

    fn check_cancel(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(self.cancelled())
        } else {
            Ok(())
        }
    }

    fn cancelled(&self) -> WeightsError {
        WeightsError::Cancelled {
            repo: self.entry.repo.clone(),
        }
    }

    fn hub_error(&self, file: &str, detail: String) -> WeightsError {
        // A gated repo (Stable Audio) answers 401 without a token and 403 before its licence
        // is accepted: say where to accept it.
        let detail = match detail.starts_with("401") || detail.starts_with("403") {
            true => format!(
                "{detail}. Accept the licence at https://huggingface.co/{} with your Hugging \
                 Face account, then add a token of that account (HF_TOKEN, or \
                 `huggingface-cli login`)",
                self.entry.repo
            ),
            false => detail,
        };
        WeightsError::Hub {
            repo: self.entry.repo.clone(),
            file: file.to_string(),
            detail,
        }
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
