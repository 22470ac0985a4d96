//! Downloading a URL-hosted model: each file fetched from its pinned URL (or the configured
//! mirror) into `<url cache>/<name>/<revision>/`, resumed with range requests, and moved to its
//! final name only once its size and SHA-256 match the pins.
//!
//! While a file arrives it is `<file>.incomplete` beside its final path; an interrupted or
//! cancelled transfer leaves that prefix for the next download to continue. No hub token is
//! sent: these are other publishers' servers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::cache_layout::create_parent;
use super::catalogue::{ModelEntry, RequiredFile};
use super::config::WeightsConfig;
use super::error::{Result, WeightsError};
use super::http_clients::HttpClients;
use super::locate::{join_repo_path, url_cache_folder};
use super::progress::{DownloadStage, ProgressTracker};
use super::remote_file::RemoteFile;
use super::resume::{resume_download, TransferError};
use super::runtime::{cancellable, run_on_own_thread};
use super::verify::{sha256_file, VerifyError};
use crate::task::CancelToken;

/// Tries per file before giving up on a connection that keeps dropping.
const MAX_ATTEMPTS: usize = 4;

/// Where a file is written while it arrives: `<final path>.incomplete`.
pub(crate) fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".incomplete");
    target.with_file_name(name)
}

/// Fetches every file of `entry` not yet in its download folder. Blocks; the network work runs
/// on its own thread.
pub(crate) fn download_from_urls(
    entry: &ModelEntry,
    config: &WeightsConfig,
    tracker: Arc<ProgressTracker>,
    cancel: &CancelToken,
) -> Result<()> {
    let job = UrlJob {
        entry,
        config,
        folder: url_cache_folder(entry, config),
        client: HttpClients::new(None)?.follow,
        tracker,
        cancel,
    };
    run_on_own_thread(|| job.run())
}

struct UrlJob<'a> {
    entry: &'a ModelEntry,
    config: &'a WeightsConfig,
    folder: PathBuf,
    client: reqwest::Client,
    tracker: Arc<ProgressTracker>,
    cancel: &'a CancelToken,
}

impl UrlJob<'_> {
    async fn run(&self) -> Result<()> {
        self.tracker.set_total(self.entry.expected_size());
        for file in &self.entry.files {
            self.fetch(file).await?;
        }
        Ok(())
    }

    async fn fetch(&self, file: &RequiredFile) -> Result<()> {
        let (Some(pin), Some(size)) = (&file.url, file.size) else {
            return Err(WeightsError::InvalidEntry(format!(
                "{} of {} has no pinned URL and size",
                file.path, self.entry.name
            )));
        };
        let target = join_repo_path(&self.folder, &file.path);
        if target.is_file() {
            // Only verified files are ever moved to their final path.
            self.tracker
                .file(&file.path, size, size, DownloadStage::Finished);
            return Ok(());
        }
        let partial = partial_path(&target);
        create_parent(&partial)?;
        if file_len(&partial) > size {
            // Longer than the pinned file: not a prefix of it.
            let _ = std::fs::remove_file(&partial);
        }
        let remote = RemoteFile {
            path: file.path.clone(),
            etag: pin.sha256.clone(),
            commit: String::new(),
            size,
            url: self.config.download_url(&pin.url),
        };
        self.transfer(&remote, &partial).await?;

        self.tracker
            .file(&file.path, size, size, DownloadStage::Verifying);
        self.check_pins(&remote, &partial)?;
        std::fs::rename(&partial, &target)
            .map_err(|e| WeightsError::io("cannot move into place", &target, e))?;
        self.tracker
            .file(&file.path, size, size, DownloadStage::Finished);
        Ok(())
    }

    /// Brings `partial` to the full file, resuming after dropped connections.
    async fn transfer(&self, remote: &RemoteFile, partial: &Path) -> Result<()> {
        let no_token = HeaderMap::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let work = resume_download(
                &self.client,
                &no_token,
                remote,
                partial,
                &self.tracker,
                self.cancel,
                describe_status,
            );
            match cancellable(self.cancel, work).await {
                None | Some(Err(TransferError::Cancelled)) => return Err(self.cancelled()),
                Some(Ok(())) => return Ok(()),
                Some(Err(TransferError::Interrupted(detail))) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(url = %remote.url, %detail, attempt, "download interrupted, resuming");
                }
                Some(Err(TransferError::Interrupted(detail) | TransferError::Failed(detail))) => {
                    return Err(WeightsError::Download {
                        url: remote.url.clone(),
                        file: remote.path.clone(),
                        detail,
                    });
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Size and SHA-256 against the pins; a mismatching file is deleted.
    fn check_pins(&self, remote: &RemoteFile, partial: &Path) -> Result<()> {
        let mismatch = |check, expected: String, actual: String| {
            let _ = std::fs::remove_file(partial);
            WeightsError::Mismatch {
                url: remote.url.clone(),
                file: remote.path.clone(),
                check,
                expected,
                actual,
            }
        };
        let size = file_len(partial);
        if size != remote.size {
            return Err(mismatch(
                "size",
                format!("{} bytes", remote.size),
                format!("{size} bytes"),
            ));
        }
        match sha256_file(partial, self.cancel) {
            Ok(actual) if actual == remote.etag => Ok(()),
            Ok(actual) => Err(mismatch("sha256", remote.etag.clone(), actual)),
            Err(VerifyError::Cancelled) => Err(self.cancelled()),
            Err(VerifyError::Unreadable(detail) | VerifyError::Mismatch(detail)) => {
                Err(WeightsError::Download {
                    url: remote.url.clone(),
                    file: remote.path.clone(),
                    detail,
                })
            }
        }
    }

    fn cancelled(&self) -> WeightsError {
        WeightsError::Cancelled {
            repo: self.entry.repo.clone(),
        }
    }
}

fn describe_status(status: StatusCode) -> String {
    format!("the server answered {status}")
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::partial_path;
    use std::path::Path;

    #[test]
    fn a_partial_file_sits_beside_its_final_path() {
        assert_eq!(
            partial_path(Path::new("/c/htdemucs/abc/htdemucs.th")),
            Path::new("/c/htdemucs/abc/htdemucs.th.incomplete")
        );
    }
}
