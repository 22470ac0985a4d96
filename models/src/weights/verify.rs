//! Size and hash checks of a downloaded blob against what the hub announced (or, for
//! URL-hosted files, against their pins).

use std::io::Read;
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::remote_file::{ContentId, RemoteFile};
use crate::task::CancelToken;

/// Why a finished blob is not what the hub described.
#[derive(Debug)]
pub(crate) enum VerifyError {
    Cancelled,
    Mismatch(String),
    Unreadable(String),
}

/// Checks the size always, and the content hash the etag names (sha256 for LFS files, the
/// git blob id for small files).
pub(crate) fn verify_blob(
    path: &Path,
    remote: &RemoteFile,
    cancel: &CancelToken,
) -> Result<(), VerifyError> {
    let unreadable =
        |e: std::io::Error| VerifyError::Unreadable(format!("{}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size != remote.size {
        return Err(VerifyError::Mismatch(format!(
            "size {size} bytes, the hub says {}",
            remote.size
        )));
    }
    let (kind, expected, actual) = match remote.content_id() {
        ContentId::Unknown => return Ok(()),
        ContentId::Sha256(expected) => {
            ("sha256", expected, hash_file(path, Sha256::new(), cancel)?)
        }
        ContentId::GitBlob(expected) => {
            let mut hasher = Sha1::new();
            hasher.update(format!("blob {size}\0").as_bytes());
            ("git blob id", expected, hash_file(path, hasher, cancel)?)
        }
    };
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(VerifyError::Mismatch(format!(
            "{kind} {actual}, the hub says {expected}"
        )));
    }
    Ok(())
}

/// The SHA-256 of a file as lowercase hex.
pub(crate) fn sha256_file(path: &Path, cancel: &CancelToken) -> Result<String, VerifyError> {
    hash_file(path, Sha256::new(), cancel)
}

fn hash_file<D: Digest>(
    path: &Path,
    mut hasher: D,
    cancel: &CancelToken,
) -> Result<String, VerifyError> {
    let unreadable =
        |e: std::io::Error| VerifyError::Unreadable(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let read = file.read(&mut buffer).map_err(unreadable)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
