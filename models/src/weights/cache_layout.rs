//! The Hugging Face cache layout, shared with hf-hub and Python tools:
//! `<cache>/models--<org>--<name>/{blobs/<etag>, snapshots/<commit>/<file>, refs/<branch>}`.

use std::path::{Path, PathBuf};

use super::error::{Result, WeightsError};

/// One repo's folder inside the hub cache.
#[derive(Clone, Debug)]
pub(crate) struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    pub fn new(cache_dir: &Path, repo: &str) -> Self {
        let folder = std::iter::once("models")
            .chain(repo.split('/'))
            .collect::<Vec<_>>()
            .join("--");
        Self {
            root: cache_dir.join(folder),
        }
    }

    /// `<cache>/models--<org>--<name>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn blob(&self, etag: &str) -> PathBuf {
        self.blobs_dir().join(etag)
    }

    /// Partial download of a blob; the same name hf-hub and huggingface_hub use, so a download
    /// interrupted in any of them resumes in the others.
    pub fn incomplete_blob(&self, etag: &str) -> PathBuf {
        self.blobs_dir().join(format!("{etag}.incomplete"))
    }

    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.root.join("snapshots").join(commit)
    }

    pub fn snapshot_file(&self, commit: &str, file: &str) -> PathBuf {
        file.split('/')
            .fold(self.snapshot_dir(commit), |dir, part| dir.join(part))
    }

    /// The commit a revision names: itself when it is a sha, else what `refs/<branch>` says.
    pub fn commit_for(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return Some(revision.to_string());
        }
        let text = std::fs::read_to_string(self.root.join("refs").join(revision)).ok()?;
        let commit = text.trim();
        is_commit_hash(commit).then(|| commit.to_string())
    }

    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<()> {
        if is_commit_hash(revision) {
            return Ok(());
        }
        let path = self.root.join("refs").join(revision);
        create_parent(&path)?;
        std::fs::write(&path, commit).map_err(|e| WeightsError::io("cannot write", &path, e))
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative link, as hf-hub does
    /// (a copy where links are not allowed).
    pub fn link_snapshot(&self, commit: &str, file: &str, etag: &str) -> Result<PathBuf> {
        let pointer = self.snapshot_file(commit, file);
        create_parent(&pointer)?;
        let blob = self.blob(etag);
        let _ = std::fs::remove_file(&pointer);
        link_or_copy(&blob, &pointer)?;
        Ok(pointer)
    }

    /// Removes a blob and its snapshot pointer, e.g. after a failed hash check.
    pub fn forget(&self, commit: &str, file: &str, etag: &str) {
        let _ = std::fs::remove_file(self.snapshot_file(commit, file));
        let _ = std::fs::remove_file(self.blob(etag));
        let _ = std::fs::remove_file(self.incomplete_blob(etag));
    }
}

#[cfg(unix)]
fn link_or_copy(blob: &Path, pointer: &Path) -> Result<()> {
    let depth = pointer
        .parent()
        .and_then(|p| p.strip_prefix(blob.parent()?.parent()?).ok())
        .map(|rel| rel.components().count())
        .unwrap_or(0);
    // From snapshots/<commit>/<dirs...>/ back up to the repo folder, then into blobs/.
    let mut relative = PathBuf::new();
    for _ in 0..depth {
        relative.push("..");
    }
    relative.push("blobs");
    relative.push(blob.file_name().unwrap_or_default());
    std::os::unix::fs::symlink(&relative, pointer)
        .map_err(|e| WeightsError::io("cannot link", pointer, e))
}

#[cfg(not(unix))]
fn link_or_copy(blob: &Path, pointer: &Path) -> Result<()> {
    std::fs::copy(blob, pointer)
        .map(|_| ())
        .map_err(|e| WeightsError::io("cannot copy", pointer, e))
}

pub(crate) fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent)
            .map_err(|e| WeightsError::io("cannot create", parent, e)),
        None => Ok(()),
    }
}

pub(crate) fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}
