//! Model weights: the catalogue of models the app uses, downloads from the Hugging Face hub
//! (through hf-hub, into the cache Python tools share) or from a publisher's pinned URLs,
//! local folders for offline use, and safetensors paths ready to memory-map (PyTorch `.bin`
//! and Demucs `.th` files converted once).
//!
//! Lookup order for a hub model: `<models_dir>/<org>/<repo>/` (from `BGM_MODELS_DIR` or the
//! CLI's `--models-dir`), then `<hub cache>/models--<org>--<repo>/snapshots/<commit>/`.
//! For a URL-hosted model (`htdemucs`): `<models_dir>/<name>/`, then
//! `<hub cache>/../bgm-urls/<name>/<sha256>/` (see [`WeightsConfig::resolved_url_cache_dir`];
//! `BGM_URL_MIRROR` / [`WeightsConfig::url_mirror`] fetches such files from another host).
//!
//! Typical use (the CLI's `models list|download|path`, and every stage before loading):
//! build a [`WeightsConfig::from_env`], set `models_dir` from `--models-dir`, then
//! [`catalogue_status`] to list, [`find_model`] + [`download_model`] to fetch (blocking; run it
//! on `spawn_blocking` from async code), [`model_path`] or [`locate`] to find, and
//! [`ResolvedModel::safetensors_paths`] for files ready to memory-map.

mod cache_layout;
mod catalogue;
mod config;
mod convert;
mod download;
mod download_lock;
mod error;
mod http_clients;
mod locate;
mod progress;
mod remote_file;
mod resume;
mod runtime;
mod status;
mod tensor_loader;
mod url_download;
mod verify;

pub use catalogue::{
    catalogue, find_model, licence, Licence, ModelEntry, ModelKind, PinnedUrl, RequiredFile,
};
pub use config::{HubToken, WeightsConfig, MODELS_DIR_ENV, URL_MIRROR_ENV};
pub use convert::ensure_safetensors;
pub use download::download_model;
pub use error::{Result, WeightsError};
pub use locate::{local_folder, locate, locate_named, ModelSource, ResolvedModel};
pub use progress::{ignore_progress, DownloadProgress, DownloadStage, DownloadUpdate};
pub use status::{
    catalogue_status, missing_models, model_path, model_status, MissingModel, ModelState,
    ModelStatus,
};
pub use tensor_loader::{var_builder, ReleasingSafetensors};
