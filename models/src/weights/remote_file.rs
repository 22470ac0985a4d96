//! What the hub says about one file before we download it: the HEAD request on
//! `{endpoint}/{repo}/resolve/{revision}/{file}`, read the way hf-hub and huggingface_hub read it.

use reqwest::header::{HeaderMap, CONTENT_LENGTH, ETAG, LOCATION};
use reqwest::StatusCode;

/// The hub's description of one file at one commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteFile {
    pub path: String,
    /// Blob id: the sha256 of the content for LFS files, the git blob sha1 for small files.
    pub etag: String,
    pub commit: String,
    pub size: u64,
    /// The resolve URL (redirects to a CDN are followed only when downloading).
    pub url: String,
}

/// How the hub's etag identifies a file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentId<'a> {
    /// LFS/xet files: the sha256 of the content.
    Sha256(&'a str),
    /// Files stored in git: the git blob id, sha1 of `blob <len>\0<content>`.
    GitBlob(&'a str),
    /// Anything else (a proxy's own etag): only the size can be checked.
    Unknown,
}

impl RemoteFile {
    pub fn content_id(&self) -> ContentId<'_> {
        let hex = self.etag.bytes().all(|b| b.is_ascii_hexdigit());
        match self.etag.len() {
            64 if hex => ContentId::Sha256(&self.etag),
            40 if hex => ContentId::GitBlob(&self.etag),
            _ => ContentId::Unknown,
        }
    }
}

/// Why a HEAD request did not give us a usable description.
#[derive(Debug)]
pub(crate) enum ProbeError {
    /// The hub answered, but not with what we need (status, missing headers).
    Refused(String),
    /// The request never got an answer (connection refused, DNS, timeout).
    Unreachable(String),
}

/// The download URL, with the revision as one escaped path segment as the hub expects.
pub(crate) fn resolve_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
    let escape = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let file = file.split('/').map(escape).collect::<Vec<_>>().join("/");
    format!(
        "{}/{}/resolve/{}/{}",
        endpoint.trim_end_matches('/'),
        repo,
        escape(revision),
        file
    )
}

/// HEADs the resolve URL without following redirects to the CDN: the commit, etag and size
/// headers are on the hub's own answer. Relative redirects (renamed repos) are followed.
pub(crate) async fn probe(
    client: &reqwest::Client,
    auth: &HeaderMap,
    url: &str,
    path: &str,
) -> Result<RemoteFile, ProbeError> {
    let mut current =
        reqwest::Url::parse(url).map_err(|e| ProbeError::Refused(format!("bad URL {url}: {e}")))?;
    for _ in 0..8 {
        let response = client
            .head(current.clone())
            .headers(auth.clone())
            .send()
            .await
            .map_err(|e| ProbeError::Unreachable(describe_request_error(&e)))?;
        let status = response.status();
        let headers = response.headers();
        if status.is_redirection() {
            let relative = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .filter(|next| !next.starts_with("//") && reqwest::Url::parse(next).is_err());
            if let Some(next) = relative {
                current = current
                    .join(next)
                    .map_err(|e| ProbeError::Refused(format!("bad redirect {next}: {e}")))?;
                continue;
            }
        }
        if !(status.is_success() || status.is_redirection()) {
            return Err(ProbeError::Refused(describe_status(status)));
        }
        let etag = header(headers, "x-linked-etag")
            .or_else(|| header(headers, ETAG.as_str()))
            .map(|raw| raw.trim_start_matches("W/").trim_matches('"').to_string())
            .filter(|e| !e.is_empty() && !e.contains('/') && !e.contains(".."))
            .ok_or_else(|| ProbeError::Refused("no ETag header".into()))?;
        let commit = header(headers, "x-repo-commit")
            .filter(|c| super::cache_layout::is_commit_hash(c))
            .ok_or_else(|| ProbeError::Refused("no X-Repo-Commit header".into()))?;
        let size = header(headers, "x-linked-size")
            .or_else(|| header(headers, CONTENT_LENGTH.as_str()))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                ProbeError::Refused("no file size (X-Linked-Size / Content-Length)".into())
            })?;
        return Ok(RemoteFile {
            path: path.to_string(),
            etag,
            commit,
            size,
            url: url.to_string(),
        });
    }
    Err(ProbeError::Refused("too many redirects".into()))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(crate) fn describe_status(status: StatusCode) -> String {
    match status.as_u16() {
        401 | 403 => {
            format!("{status}: the repo is private or gated; set HF_TOKEN to a token with access")
        }
        404 => format!("{status}: no such repo, revision or file"),
        _ => status.to_string(),
    }
}

pub(crate) fn describe_request_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
