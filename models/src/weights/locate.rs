//! Finding a model on disk without the network: a local models folder first, then the hub cache.

use std::path::{Path, PathBuf};

use super::cache_layout::RepoCache;
use super::catalogue::ModelEntry;
use super::config::{WeightsConfig, MODELS_DIR_ENV};
use super::error::{Result, WeightsError};

/// Where a model's files were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelSource {
    /// `<models_dir>/<org>/<repo>/`.
    LocalFolder,
    /// `<hub cache>/models--<org>--<repo>/snapshots/<commit>/`.
    HubCache,
}

/// A model whose required files are all present under `root`.
#[derive(Clone, Debug)]
pub struct ResolvedModel {
    pub entry: ModelEntry,
    pub root: PathBuf,
    pub source: ModelSource,
}

impl ResolvedModel {
    /// Absolute path of a repo-relative file (`unet/config.json`).
    pub fn file(&self, repo_path: &str) -> PathBuf {
        join_repo_path(&self.root, repo_path)
    }
}

/// The folder a models dir would hold this repo in: `<dir>/<org>/<repo>`.
pub fn local_folder(models_dir: &Path, entry: &ModelEntry) -> PathBuf {
    let (org, name) = entry.repo_parts();
    models_dir.join(org).join(name)
}

/// Files of `entry` missing under `root`.
pub(crate) fn missing_files(entry: &ModelEntry, root: &Path) -> Vec<String> {
    entry
        .files
        .iter()
        .filter(|f| !join_repo_path(root, &f.path).is_file())
        .map(|f| f.path.clone())
        .collect()
}

pub(crate) fn join_repo_path(root: &Path, repo_path: &str) -> PathBuf {
    repo_path
        .split('/')
        .fold(root.to_path_buf(), |dir, part| dir.join(part))
}

/// The hub cache snapshot folder for the entry's revision, when the revision is known locally.
pub(crate) fn cache_snapshot(entry: &ModelEntry, config: &WeightsConfig) -> Option<PathBuf> {
    let cache = RepoCache::new(&config.resolved_cache_dir(), &entry.repo);
    cache
        .commit_for(&entry.revision)
        .map(|commit| cache.snapshot_dir(&commit))
}

/// [`locate`] for a built-in model by short name or repo id.
pub fn locate_named(name: &str, config: &WeightsConfig) -> Result<ResolvedModel> {
    locate(&super::catalogue::find_model(name)?, config)
}

/// Finds every required file of `entry` locally, or says what is missing, where it looked and
/// how to get it. Never touches the network.
pub fn locate(entry: &ModelEntry, config: &WeightsConfig) -> Result<ResolvedModel> {
    let mut searched = Vec::new();
    if let Some(models_dir) = &config.models_dir {
        let folder = local_folder(models_dir, entry);
        if folder.is_dir() {
            let missing = missing_files(entry, &folder);
            if missing.is_empty() {
                return Ok(ResolvedModel {
                    entry: entry.clone(),
                    root: folder,
                    source: ModelSource::LocalFolder,
                });
            }
            // A folder the user made wins over the cache; an incomplete one is their mistake to see.
            return Err(WeightsError::NotAvailable {
                model: entry.name.clone(),
                repo: entry.repo.clone(),
                missing,
                fix: format!(
                    "Copy the missing files from https://huggingface.co/{}/tree/{} into {} (same sub-folders), \
                     or remove that folder to use the Hugging Face cache.",
                    entry.repo,
                    entry.revision,
                    folder.display()
                ),
                searched: vec![folder],
            });
        }
        searched.push(folder);
    }

    let snapshot = cache_snapshot(entry, config);
    let missing = match &snapshot {
        Some(dir) => missing_files(entry, dir),
        None => entry.files.iter().map(|f| f.path.clone()).collect(),
    };
    if let (Some(dir), true) = (&snapshot, missing.is_empty()) {
        return Ok(ResolvedModel {
            entry: entry.clone(),
            root: dir.clone(),
            source: ModelSource::HubCache,
        });
    }
    searched.push(snapshot.unwrap_or_else(|| config.resolved_cache_dir()));
    let local_hint = match &config.models_dir {
        Some(dir) => format!(
            " or put the files in {}",
            local_folder(dir, entry).display()
        ),
        None => format!(
            " or set {MODELS_DIR_ENV} to a folder holding {}/<files>",
            entry.repo
        ),
    };
    Err(WeightsError::NotAvailable {
        model: entry.name.clone(),
        repo: entry.repo.clone(),
        missing,
        searched,
        fix: format!(
            "Run `bgm-studio models download {}`{local_hint}.",
            entry.name
        ),
    })
}
