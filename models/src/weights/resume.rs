//! Finishing an interrupted download: `GET` with `Range: bytes=<have>-`, appended to the
//! `.incomplete` blob. hf-hub 1 restarts from zero, so this is ours. URL-hosted models use it
//! for every transfer (from byte 0 when nothing is on disk yet).

use std::io::Write;
use std::path::Path;

use reqwest::header::{HeaderMap, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;

use super::progress::{DownloadStage, ProgressTracker};
use super::remote_file::{describe_request_error, RemoteFile};
use crate::task::CancelToken;

/// Why a resumed transfer stopped.
#[derive(Debug)]
pub(crate) enum TransferError {
    Cancelled,
    /// Worth another try: the connection dropped or the server hiccupped.
    Interrupted(String),
    /// Not worth another try.
    Failed(String),
}

/// Appends the rest of `remote` to `partial` (which holds a prefix of it). An answer that is
/// not a success is worded by `describe_status`.
pub(crate) async fn resume_download(
    client: &reqwest::Client,
    auth: &HeaderMap,
    remote: &RemoteFile,
    partial: &Path,
    tracker: &ProgressTracker,
    cancel: &CancelToken,
    describe_status: fn(StatusCode) -> String,
) -> Result<(), TransferError> {
    let have = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    if have >= remote.size {
        // Nothing left to fetch; a longer file is caught by the size check.
        return Ok(());
    }
    let response = client
        .get(&remote.url)
        .headers(auth.clone())
        .header(RANGE, format!("bytes={have}-"))
        .send()
        .await
        .map_err(|e| TransferError::Interrupted(describe_request_error(&e)))?;

    let start = match response.status() {
        StatusCode::PARTIAL_CONTENT => content_range_start(response.headers())
            .filter(|start| *start == have)
            .ok_or_else(|| {
                TransferError::Failed(format!(
                    "the server resumed at the wrong offset (wanted {have})"
                ))
            })?,
        // The server ignored the range: start over.
        StatusCode::OK => 0,
        status if status.is_server_error() => {
            return Err(TransferError::Interrupted(describe_status(status)))
        }
        status => return Err(TransferError::Failed(describe_status(status))),
    };
    if let Some(length) = content_length(response.headers()) {
        if start + length != remote.size {
            return Err(TransferError::Failed(format!(
                "the server sends {} bytes, {} expected",
                start + length,
                remote.size
            )));
        }
    }

    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(start > 0)
        .write(true)
        .truncate(start == 0)
        .open(partial)
        .map_err(|e| TransferError::Failed(format!("cannot write {}: {e}", partial.display())))?;

    let mut done = start;
    let mut response = response;
    tracker.file(&remote.path, done, remote.size, DownloadStage::Transferring);
    loop {
        if cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(TransferError::Interrupted(describe_request_error(&e))),
        };
        file.write_all(&chunk).map_err(|e| {
            TransferError::Failed(format!("cannot write {}: {e}", partial.display()))
        })?;
        done += chunk.len() as u64;
        tracker.file(
            &remote.path,
            done.min(remote.size),
            remote.size,
            DownloadStage::Transferring,
        );
    }
    file.flush()
        .map_err(|e| TransferError::Failed(format!("cannot write {}: {e}", partial.display())))?;
    if done < remote.size {
        return Err(TransferError::Interrupted(format!(
            "connection closed after {done} of {} bytes",
            remote.size
        )));
    }
    Ok(())
}

/// The length of the body as stored, when the server announces it and sends it uncompressed.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    if headers.contains_key(CONTENT_ENCODING) {
        return None;
    }
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// First byte of `Content-Range: bytes <start>-<end>/<total>`.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}
