//! Where weights come from: hub endpoint, Hugging Face cache, local model folders, offline mode,
//! and a mirror for models published at their own URLs.

use std::path::{Path, PathBuf};

/// Environment variable naming a folder laid out as `<dir>/<org>/<repo>/<files>` (hub models)
/// and `<dir>/<name>/<files>` (URL-hosted models such as `htdemucs`).
pub const MODELS_DIR_ENV: &str = "BGM_MODELS_DIR";

/// Environment variable giving a base URL that URL-hosted files are fetched from instead of
/// their publisher's host: see [`WeightsConfig::url_mirror`].
pub const URL_MIRROR_ENV: &str = "BGM_URL_MIRROR";

/// The folder, next to the hub cache, that URL-hosted models are downloaded into.
const URL_CACHE_FOLDER: &str = "bgm-urls";

/// Settings shared by lookups and downloads. Build one with [`WeightsConfig::from_env`] and
/// override fields (the CLI's `--models-dir`, tests' endpoint and cache) before use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsConfig {
    /// Local folders override the hub and the URL downloads: `<dir>/<org>/<repo>/<files>` for
    /// hub models, `<dir>/<name>/<files>` for URL-hosted ones (`<dir>/htdemucs/htdemucs.th`).
    pub models_dir: Option<PathBuf>,
    /// Hub base URL; `None` lets hf-hub use `HF_ENDPOINT` or huggingface.co.
    pub endpoint: Option<String>,
    /// Hugging Face hub cache (`.../huggingface/hub`); `None` lets hf-hub resolve
    /// `HF_HUB_CACHE`, `HF_HOME/hub` or `~/.cache/huggingface/hub`.
    pub cache_dir: Option<PathBuf>,
    /// Never touch the network: only local folders and the cache.
    pub offline: bool,
    /// Where converted `.bin`/`.th` weights go when the folder beside them is read-only;
    /// `None`: `bgm-studio/converted` next to the hub cache folder.
    pub conversion_dir: Option<PathBuf>,
    /// Base URL replacing the scheme and host of every URL-hosted file, keeping its path:
    /// with `http://127.0.0.1:8000/mirror`, `https://dl.fbaipublicfiles.com/demucs/x.th` is
    /// fetched from `http://127.0.0.1:8000/mirror/demucs/x.th`. The pinned SHA-256 and size
    /// are still checked. `None`: the publisher's URL. [`WeightsConfig::from_env`] reads it
    /// from `BGM_URL_MIRROR`; tests point it at a local server.
    pub url_mirror: Option<String>,
    /// The app's own Hugging Face token (its settings), used before `HF_TOKEN` and the token
    /// file `huggingface-cli login` writes. Gated repos (Stable Audio) need one.
    pub token: Option<HubToken>,
}

/// A Hugging Face access token. Never printed: its `Debug` shows only that there is one.
#[derive(Clone, PartialEq, Eq)]
pub struct HubToken(String);

impl HubToken {
    /// The token, trimmed; `None` when empty.
    pub fn new(token: &str) -> Option<Self> {
        let token = token.trim();
        (!token.is_empty()).then(|| Self(token.to_string()))
    }

    /// The token itself, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for HubToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HubToken(<hidden>)")
    }
}

impl WeightsConfig {
    /// Reads `BGM_MODELS_DIR`, `BGM_URL_MIRROR` and `HF_HUB_OFFLINE` (as Python's
    /// huggingface_hub does); endpoint and cache stay with hf-hub's own environment handling.
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
            url_mirror: std::env::var(URL_MIRROR_ENV)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            token: None,
        }
    }

    /// Everything under `root` and nothing from the network: `root/hub` as the hub cache,
    /// `root/converted` for converted weights, no models folder, no mirror. Tests and
    /// benchmarks start from this and set the fields they need.
    pub fn offline_in(root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        Self {
            models_dir: None,
            endpoint: None,
            cache_dir: Some(root.join("hub")),
            offline: true,
            conversion_dir: Some(root.join("converted")),
            url_mirror: None,
            token: None,
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
        self.conversion_dir
            .clone()
            .unwrap_or_else(|| self.beside_hub_cache().join("bgm-studio").join("converted"))
    }

    /// Where URL-hosted models are downloaded: `bgm-urls` next to the hub cache folder
    /// (`~/.cache/huggingface/bgm-urls`), each model in `<name>/<revision>/` (the revision
    /// being its pinned SHA-256).
    pub fn resolved_url_cache_dir(&self) -> PathBuf {
        self.beside_hub_cache().join(URL_CACHE_FOLDER)
    }

    /// The address a URL-hosted file is fetched from: `url` itself, or its path on the mirror.
    pub fn download_url(&self, url: &str) -> String {
        let Some(mirror) = &self.url_mirror else {
            return url.to_string();
        };
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return url.to_string();
        };
        let mut tail = parsed.path().to_string();
        if let Some(query) = parsed.query() {
            tail.push('?');
            tail.push_str(query);
        }
        format!("{}{tail}", mirror.trim_end_matches('/'))
    }

    /// The folder holding the hub cache folder (`~/.cache/huggingface`).
    fn beside_hub_cache(&self) -> PathBuf {
        let cache = self.resolved_cache_dir();
        cache.parent().map(|p| p.to_path_buf()).unwrap_or(cache)
    }

    /// Builds the hf-hub client for this configuration (no network access happens here).
    pub(crate) fn hub_client(&self) -> Result<hf_hub::HFClient, hf_hub::HFError> {
        let mut builder = hf_hub::HFClient::builder().cache_dir(self.resolved_cache_dir());
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint(endpoint.clone());
        }
        if let Some(token) = self.resolved_token() {
            builder = builder.token(token.secret());
        }
        builder.build()
    }

    /// The token requests carry: the app's own, else `HF_TOKEN`, else the token file
    /// `huggingface-cli login` writes.
    pub(crate) fn resolved_token(&self) -> Option<HubToken> {
        let from_env = || std::env::var("HF_TOKEN").ok();
        let from_file = || std::fs::read_to_string(hf_hub::hf_home().join("token")).ok();
        self.token.clone().or_else(|| {
            from_env()
                .or_else(from_file)
                .and_then(|t| HubToken::new(&t))
        })
    }
}

impl Default for WeightsConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

const OFFLINE_ENV: &str = "HF_HUB_OFFLINE";

#[cfg(test)]
mod tests {
    use super::WeightsConfig;

    fn with_mirror(mirror: Option<&str>) -> WeightsConfig {
        WeightsConfig {
            models_dir: None,
            endpoint: None,
            cache_dir: Some("/cache/huggingface/hub".into()),
            offline: false,
            conversion_dir: None,
            url_mirror: mirror.map(str::to_string),
            token: None,
        }
    }

    #[test]
    fn a_token_is_never_printed() {
        let config = WeightsConfig {
            token: super::HubToken::new("  hf_secret123 \n"),
            ..with_mirror(None)
        };
        assert_eq!(config.token.as_ref().unwrap().secret(), "hf_secret123");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("secret") && shown.contains("<hidden>"),
            "{shown}"
        );
        assert_eq!(super::HubToken::new(" "), None);
    }

    #[test]
    fn a_mirror_keeps_the_path_of_the_url() {
        let url = "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/955717e8-8726e21a.th";
        assert_eq!(with_mirror(None).download_url(url), url);
        assert_eq!(
            with_mirror(Some("http://127.0.0.1:8000/m/")).download_url(url),
            "http://127.0.0.1:8000/m/demucs/hybrid_transformer/955717e8-8726e21a.th"
        );
        assert_eq!(
            with_mirror(Some("http://h")).download_url("https://a.b/x.th?v=2"),
            "http://h/x.th?v=2"
        );
    }

    #[test]
    fn url_downloads_and_conversions_sit_next_to_the_hub_cache() {
        let config = with_mirror(None);
        assert_eq!(
            config.resolved_url_cache_dir(),
            std::path::Path::new("/cache/huggingface/bgm-urls")
        );
        assert_eq!(
            config.resolved_conversion_dir(),
            std::path::Path::new("/cache/huggingface/bgm-studio/converted")
        );
    }
}
