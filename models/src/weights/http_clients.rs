//! The HTTP clients of our own requests (HEAD for metadata, ranged GET for resuming), with
//! the same token hf-hub would send.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use super::error::{Result, WeightsError};

/// The two HTTP clients of our own requests: HEAD must see the hub's redirect answer itself,
/// GET follows it to the CDN.
pub(crate) struct HttpClients {
    pub no_redirect: reqwest::Client,
    pub follow: reqwest::Client,
    pub auth: HeaderMap,
}

impl HttpClients {
    pub fn new() -> Result<Self> {
        let build = |policy| {
            reqwest::Client::builder()
                .user_agent(concat!(
                    "bgm-studio/",
                    env!("CARGO_PKG_VERSION"),
                    "; hf-hub/1"
                ))
                .redirect(policy)
                .connect_timeout(Duration::from_secs(20))
                .build()
                .map_err(|e| WeightsError::Setup(format!("no HTTP client: {e}")))
        };
        let mut auth = HeaderMap::new();
        if let Some(value) =
            hub_token().and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            auth.insert(AUTHORIZATION, value);
        }
        Ok(Self {
            no_redirect: build(reqwest::redirect::Policy::none())?,
            follow: build(reqwest::redirect::Policy::limited(10))?,
            auth,
        })
    }
}

/// The token hf-hub would use: `HF_TOKEN`, else the file `huggingface-cli login` writes.
fn hub_token() -> Option<String> {
    let from_env = std::env::var("HF_TOKEN").ok();
    let from_file = || std::fs::read_to_string(hf_hub::hf_home().join("token")).ok();
    from_env
        .or_else(from_file)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}
