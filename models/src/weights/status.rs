//! What `models list` shows: each model's state, size on disk against the expected size, and path.

use std::path::{Path, PathBuf};

use super::cache_layout::{is_commit_hash, RepoCache};
use super::catalogue::{catalogue, find_model, ModelEntry};
use super::config::WeightsConfig;
use super::error::Result;
use super::locate::{
    cache_snapshot, join_repo_path, local_folder, locate, locate_named, missing_files,
    present_file, url_cache_folder, ModelSource,
};
use super::url_download::partial_path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ModelState {
    /// Nothing on disk.
    Missing,
    /// Some files (or an interrupted download) on disk, not all.
    Partial,
    /// Every required file is present.
    Ready,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelStatus {
    pub name: String,
    /// Hub repo id, or a URL-hosted model's URL (see [`ModelEntry::repo`]).
    pub repo: String,
    /// Hub revision, or a URL-hosted model's pinned SHA-256.
    pub revision: String,
    pub state: ModelState,
    /// Bytes of required files present, plus interrupted downloads in the cache.
    pub bytes_on_disk: u64,
    /// Best known total size of the required files.
    pub expected_bytes: u64,
    /// The folder the model is (or would be) loaded from.
    pub path: PathBuf,
    /// Where it was found; `None` when it is not ready.
    pub source: Option<ModelSource>,
    pub missing: Vec<String>,
}

/// The state of one model. Reads the disk only.
pub fn model_status(entry: &ModelEntry, config: &WeightsConfig) -> ModelStatus {
    let ready = locate(entry, config).ok();
    let folder = config
        .models_dir
        .as_ref()
        .map(|dir| local_folder(dir, entry))
        .filter(|f| f.is_dir());
    let root = match (&ready, folder) {
        (Some(found), _) => found.root.clone(),
        (None, Some(folder)) => folder,
        (None, None) => cache_snapshot(entry, config).unwrap_or_else(|| {
            // Where a download would put it: the pinned snapshot, or the repo's cache folder.
            let cache = RepoCache::new(&config.resolved_cache_dir(), &entry.repo);
            if is_commit_hash(&entry.revision) {
                cache.snapshot_dir(&entry.revision)
            } else {
                cache.root().to_path_buf()
            }
        }),
    };
    let missing = missing_files(entry, &root);
    let present_bytes: u64 = entry
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(present_file(&root, &f.path)?).ok())
        .map(|m| m.len())
        .sum();
    let partial_bytes = match ready.as_ref().map(|r| r.source) {
        Some(ModelSource::LocalFolder) => 0,
        _ if entry.is_url_hosted() => incomplete_url_bytes(entry, config),
        _ => incomplete_download_bytes(&config.resolved_cache_dir(), &entry.repo),
    };
    let state = if missing.is_empty() {
        ModelState::Ready
    } else if missing.len() < entry.files.len() || partial_bytes > 0 {
        ModelState::Partial
    } else {
        ModelState::Missing
    };
    ModelStatus {
        name: entry.name.clone(),
        repo: entry.repo.clone(),
        revision: entry.revision.clone(),
        state,
        bytes_on_disk: present_bytes + partial_bytes,
        expected_bytes: entry.expected_size(),
        path: root,
        source: ready.map(|r| r.source),
        missing,
    }
}

/// The state of every built-in model, in catalogue order.
pub fn catalogue_status(config: &WeightsConfig) -> Vec<ModelStatus> {
    catalogue()
        .iter()
        .map(|entry| model_status(entry, config))
        .collect()
}

/// A model a task needs that this machine does not have yet (or only partly).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct MissingModel {
    /// Catalogue name, as `models download` takes it.
    pub name: String,
    pub repo: String,
    /// Bytes still to download (best known sizes, less what is already on disk).
    pub bytes_to_download: u64,
}

/// Which of the catalogue models `names` are not ready here, in the order given. Every front
/// end words its own remedy (a download button, a `models download` command line).
pub fn missing_models(names: &[&str], config: &WeightsConfig) -> Result<Vec<MissingModel>> {
    let mut missing = Vec::new();
    for name in names {
        let entry = find_model(name)?;
        let status = model_status(&entry, config);
        if status.state != ModelState::Ready {
            missing.push(MissingModel {
                name: entry.name,
                repo: entry.repo,
                bytes_to_download: status.expected_bytes.saturating_sub(status.bytes_on_disk),
            });
        }
    }
    Ok(missing)
}

/// The folder a built-in model loads from, or an error saying how to get it.
pub fn model_path(name: &str, config: &WeightsConfig) -> Result<PathBuf> {
    Ok(locate_named(name, config)?.root)
}

/// Bytes of a URL-hosted model's interrupted downloads (`<file>.incomplete` in its folder).
fn incomplete_url_bytes(entry: &ModelEntry, config: &WeightsConfig) -> u64 {
    let folder = url_cache_folder(entry, config);
    entry
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(partial_path(&join_repo_path(&folder, &f.path))).ok())
        .map(|m| m.len())
        .sum()
}

fn incomplete_download_bytes(cache_dir: &Path, repo: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(RepoCache::new(cache_dir, repo).blobs_dir()) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
