//! Finding a model on disk without the network: a local models folder first, then the hub cache
//! (or, for URL-hosted models, their download folder next to it).

use std::path::{Path, PathBuf};

use super::cache_layout::RepoCache;
use super::catalogue::ModelEntry;
use super::config::{WeightsConfig, MODELS_DIR_ENV};
use super::error::{Result, WeightsError};

/// Where a model's files were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelSource {
    /// `<models_dir>/<org>/<repo>/`, or `<models_dir>/<name>/` for a URL-hosted model.
    LocalFolder,
    /// `<hub cache>/models--<org>--<repo>/snapshots/<commit>/`.
    HubCache,
    /// A URL-hosted model's download folder, `<hub cache>/../bgm-urls/<name>/<sha256>/`.
    UrlCache,
}

/// A model whose required files are all present under `root`.
#[derive(Clone, Debug)]
pub struct ResolvedModel {
    pub entry: ModelEntry,
    pub root: PathBuf,
    pub source: ModelSource,
}

impl ResolvedModel {
    /// Absolute path of a repo-relative file (`unet/config.json`); for a `.bin` weights file
    /// that is absent, its safetensors twin when that is present.
    pub fn file(&self, repo_path: &str) -> PathBuf {
        present_file(&self.root, repo_path).unwrap_or_else(|| join_repo_path(&self.root, repo_path))
    }
}

/// The safetensors file that newer Hub snapshots and most fine-tunes hold instead of a PyTorch
/// `.bin`: `pytorch_model.bin` (transformers) becomes `model.safetensors`, any other
/// `X.bin` (diffusers' `diffusion_pytorch_model.bin`) becomes `X.safetensors`.
fn safetensors_twin(repo_path: &str) -> Option<String> {
    let stem = repo_path.strip_suffix(".bin")?;
    Some(match stem.strip_suffix("pytorch_model") {
        Some(dir) if !dir.ends_with('_') => format!("{dir}model.safetensors"),
        _ => format!("{stem}.safetensors"),
    })
}

/// Where `repo_path` is under `root`: the file itself, or a `.bin`'s safetensors twin.
pub(crate) fn present_file(root: &Path, repo_path: &str) -> Option<PathBuf> {
    let exact = join_repo_path(root, repo_path);
    if exact.is_file() {
        return Some(exact);
    }
    let twin = join_repo_path(root, &safetensors_twin(repo_path)?);
    twin.is_file().then_some(twin)
}

/// The folder a models dir would hold this model in: `<dir>/<org>/<repo>` for a hub repo,
/// `<dir>/<name>` for a URL-hosted model (`<dir>/htdemucs/htdemucs.th`).
pub fn local_folder(models_dir: &Path, entry: &ModelEntry) -> PathBuf {
    if entry.is_url_hosted() {
        return models_dir.join(&entry.name);
    }
    let (org, name) = entry.repo_parts();
    models_dir.join(org).join(name)
}

/// `org/repo` or the URL-hosted model's name: where it sits under a models dir, for messages.
fn local_folder_name(entry: &ModelEntry) -> String {
    if entry.is_url_hosted() {
        entry.name.clone()
    } else {
        let (org, name) = entry.repo_parts();
        format!("{org}/{name}")
    }
}

/// Where a URL-hosted model is downloaded: `<url cache>/<name>/<revision>/` (the revision is
/// its pinned SHA-256, so a changed pin never reuses older files).
pub(crate) fn url_cache_folder(entry: &ModelEntry, config: &WeightsConfig) -> PathBuf {
    config
        .resolved_url_cache_dir()
        .join(&entry.name)
        .join(&entry.revision)
}

/// Files of `entry` missing under `root`.
pub(crate) fn missing_files(entry: &ModelEntry, root: &Path) -> Vec<String> {
    entry
        .files
        .iter()
        .filter(|f| present_file(root, &f.path).is_none())
        .map(|f| f.path.clone())
        .collect()
}

pub(crate) fn join_repo_path(root: &Path, repo_path: &str) -> PathBuf {
    repo_path
        .split('/')
        .fold(root.to_path_buf(), |dir, part| dir.join(part))
}

/// The hub cache snapshot folder for the entry's revision, when the revision is known locally;
/// for a URL-hosted model, its download folder.
pub(crate) fn cache_snapshot(entry: &ModelEntry, config: &WeightsConfig) -> Option<PathBuf> {
    if entry.is_url_hosted() {
        return Some(url_cache_folder(entry, config));
    }
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
                fix: incomplete_folder_fix(entry, &folder),
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
            source: if entry.is_url_hosted() {
                ModelSource::UrlCache
            } else {
                ModelSource::HubCache
            },
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
            local_folder_name(entry)
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

/// How to complete a local folder the user made: where each file comes from.
fn incomplete_folder_fix(entry: &ModelEntry, folder: &Path) -> String {
    if entry.is_url_hosted() {
        let sources: Vec<String> = entry
            .files
            .iter()
            .filter_map(|f| Some(format!("{} from {}", f.path, f.url.as_ref()?.url)))
            .collect();
        format!(
            "Download {} into {}, or remove that folder to download it with `bgm-studio models download {}`.",
            sources.join(", "),
            folder.display(),
            entry.name
        )
    } else {
        format!(
            "Copy the missing files from https://huggingface.co/{}/tree/{} into {} (same sub-folders), \
             or remove that folder to use the Hugging Face cache.",
            entry.repo,
            entry.revision,
            folder.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::safetensors_twin;

    #[test]
    fn bin_weights_have_their_safetensors_twins() {
        let twin = |p: &str| safetensors_twin(p).unwrap();
        assert_eq!(twin("pytorch_model.bin"), "model.safetensors");
        assert_eq!(
            twin("text_encoder/pytorch_model.bin"),
            "text_encoder/model.safetensors"
        );
        assert_eq!(
            twin("unet/diffusion_pytorch_model.bin"),
            "unet/diffusion_pytorch_model.safetensors"
        );
        assert_eq!(safetensors_twin("config.json"), None);
    }
}
