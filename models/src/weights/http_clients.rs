//! The HTTP clients of our own requests (HEAD for metadata, ranged GET for resuming), with
//! the same token hf-hub would send.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use super::config::HubToken;
use super::error::{Result, WeightsError};

/// The two HTTP clients of our own requests: HEAD must see the hub's redirect answer itself,
/// GET follows it to the CDN.
pub(crate) struct HttpClients {
    pub no_redirect: reqwest::Client,
    pub follow: reqwest::Client,
    pub auth: HeaderMap,
}

impl HttpClients {
    /// Clients sending `token` (see [`super::config::WeightsConfig::resolved_token`]).
    pub fn new(token: Option<&HubToken>) -> Result<Self> {
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
        if let Some(mut value) =
            token.and_then(|t| HeaderValue::from_str(&format!("Bearer {}", t.secret())).ok())
        {
            value.set_sensitive(true);
            auth.insert(AUTHORIZATION, value);
        }
        Ok(Self {
            no_redirect: build(reqwest::redirect::Policy::none())?,
            follow: build(reqwest::redirect::Policy::limited(10))?,
            auth,
        })
    }
}
