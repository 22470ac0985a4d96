//! Where weights come from: hub endpoint, Hugging Face cache, local model folders, offline mode.

use std::path::PathBuf;

/// Environment variable naming a folder laid out as `<dir>/<org>/<repo>/<files>`.
pub const MODELS_DIR_ENV: &str = "BGM_MODELS_DIR";

/// Settings shared by lookups and downloads. Build one with [`WeightsConfig::from_env`] and
/// override fields (the CLI's `--models-dir`, tests' endpoint and cache) before use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsConfig {
    /// Local folders override the hub: `<dir>/<org>/<repo>/<files>`.
    pub models_dir: Option<PathBuf>,
    /// Hub base URL; `None` lets hf-hub use `HF_ENDPOINT` or huggingface.co.
    pub endpoint: Option<String>,
    /// Hugging Face hub cache (`.../huggingface/hub`); `None` lets hf-hub resolve
    /// `HF_HUB_CACHE`, `HF_HOME/hub` or `~/.cache/huggingface/hub`.
    pub cache_dir: Option<PathBuf>,
    /// Never touch the network: only local folders and the cache.
    pub offline: bool,
    /// Where converted `.bin` weights go when the folder beside them is read-only;
    /// `None`: `bgm-studio/converted` next to the hub cache folder.
    pub conversion_dir: Option<PathBuf>,
}

impl WeightsConfig {
    /// Reads `BGM_MODELS_DIR` and `HF_HUB_OFFLINE` (as Python's huggingface_hub does);
    /// endpoint and cache stay with hf-hub's own environment handling.
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let offline = std::env::var(OFFLINE_ENV)
            .map(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                )
            })
            .unwrap_or(false);
        Self {
            models_dir: non_empty(MODELS_DIR_ENV).map(PathBuf::from),
            endpoint: None,
            cache_dir: None,
            offline,
            conversion_dir: None,
        }
    }

    /// The hub cache folder this configuration reads and writes.
    pub fn resolved_cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(hf_hub::resolve_cache_dir)
    }

    /// The folder for converted weights that cannot sit beside their source.
    pub fn resolved_conversion_dir(&self) -> PathBuf {
        self.conversion_dir.clone().unwrap_or_else(|| {
            let cache = self.resolved_cache_dir();
            cache
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or(cache)
                .join("bgm-studio")
                .join("converted")
        })
    }

    /// Builds the hf-hub client for this configuration (no network access happens here).
    pub(crate) fn hub_client(&self) -> Result<hf_hub::HFClient, hf_hub::HFError> {
        let mut builder = hf_hub::HFClient::builder().cache_dir(self.resolved_cache_dir());
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint(endpoint.clone());
        }
        builder.build()
    }
}

impl Default for WeightsConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

const OFFLINE_ENV: &str = "HF_HUB_OFFLINE";
