//! PyTorch `.bin` (zip + pickle) weights and Demucs `.th` checkpoints, converted once to
//! safetensors so every later load is memory-mapped. The converted file sits beside its source
//! (`<file>.bin.safetensors`, `<file>.th.safetensors`), or in the configured conversion folder
//! when the source's folder is read-only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::config::WeightsConfig;
use super::error::{Result, WeightsError};
use super::locate::ResolvedModel;

impl ResolvedModel {
    /// Every weight file of the model as a safetensors path, in catalogue order, converting
    /// `.bin` and `.th` files on first use. Feed them to `weights::var_builder`.
    pub fn safetensors_paths(&self, config: &WeightsConfig) -> Result<Vec<PathBuf>> {
        self.entry
            .files
            .iter()
            .filter(|f| f.is_weights())
            .map(|f| ensure_safetensors(&self.file(&f.path), &config.resolved_conversion_dir()))
            .collect()
    }

    /// One weight file (e.g. `unet/diffusion_pytorch_model.bin`, `htdemucs.th`) as a
    /// safetensors path.
    pub fn safetensors_path(&self, repo_path: &str, config: &WeightsConfig) -> Result<PathBuf> {
        ensure_safetensors(&self.file(repo_path), &config.resolved_conversion_dir())
    }
}

/// The dictionary key a Demucs `.th` package keeps its state dict under (beside the model's
/// class and constructor arguments).
const DEMUCS_STATE_KEY: &str = "state";

/// `source` itself when it is safetensors; otherwise its converted copy, made now if missing
/// or older than the source. Tensors keep their names, dtypes and values. A `.bin` is a
/// PyTorch state dict; a `.th` is a Demucs checkpoint, whose state dict is under `"state"`.
pub fn ensure_safetensors(source: &Path, fallback_dir: &Path) -> Result<PathBuf> {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".safetensors") {
        return Ok(source.to_path_buf());
    }
    let key = if name.ends_with(".bin") {
        None
    } else if name.ends_with(".th") {
        Some(DEMUCS_STATE_KEY)
    } else {
        return Err(conversion_error(
            source,
            "only .safetensors, PyTorch .bin and Demucs .th weights are supported",
        ));
    };
    let converted_name = format!("{name}.safetensors");
    let beside = source.with_file_name(&converted_name);
    let elsewhere = fallback_dir.join(path_key(source)).join(&converted_name);
    for candidate in [&beside, &elsewhere] {
        if is_up_to_date(candidate, source) {
            return Ok(candidate.clone());
        }
    }

    let tensors = read_pytorch(source, key)?;
    match write_atomically(&beside, &tensors) {
        Ok(()) => Ok(beside),
        Err(error) => {
            tracing::info!(path = %beside.display(), %error, "cannot write beside the weights, using the conversion folder");
            write_atomically(&elsewhere, &tensors).map_err(|e| conversion_error(source, &e))?;
            Ok(elsewhere)
        }
    }
}

/// The tensors of a PyTorch zip pickle: the top-level state dict, or the one under `key`.
fn read_pytorch(source: &Path, key: Option<&str>) -> Result<HashMap<String, candle_core::Tensor>> {
    let tensors = candle_core::pickle::read_all_with_key(source, key)
        .map_err(|e| conversion_error(source, &e.to_string()))?;
    if tensors.is_empty() {
        let detail = match key {
            None => "no tensors found; is it a PyTorch state dict?".to_string(),
            Some(key) => format!("no tensors under \"{key}\"; is it a Demucs checkpoint?"),
        };
        return Err(conversion_error(source, &detail));
    }
    Ok(tensors.into_iter().collect())
}

fn write_atomically(
    target: &Path,
    tensors: &HashMap<String, candle_core::Tensor>,
) -> std::result::Result<(), String> {
    let parent = target.parent().ok_or("no parent folder")?;
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let temporary = temporary_for(target, std::process::id());
    sweep_abandoned_temporaries(target);
    let written = candle_core::safetensors::save(tensors, &temporary)
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))
        .and_then(|()| {
            std::fs::rename(&temporary, target)
                .map_err(|e| format!("cannot move into {}: {e}", target.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Where a process writes `target` before moving it into place.
fn temporary_for(target: &Path, pid: u32) -> PathBuf {
    target.with_file_name(format!(
        ".{}.{pid}.tmp",
        target.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// Removes the half-written copies of `target` that killed conversions left behind (their
/// process is gone); a live process's copy stays, it is still being written.
fn sweep_abandoned_temporaries(target: &Path) {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let pid = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid.filter(|&pid| !process_is_alive(pid)) {
            tracing::info!(path = %entry.path().display(), pid, "removing an abandoned conversion");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn process_is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_is_alive(pid: u32) -> bool {
    // No cheap check here: only this process's own copies count as abandoned.
    pid != std::process::id()
}

/// A converted file is reusable when it is at least as new as its source.
fn is_up_to_date(converted: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(converted), modified(source)) {
        (Some(converted), Some(source)) => converted >= source,
        _ => false,
    }
}

/// A short stable folder name for a source path, so converted copies of different models'
/// `pytorch_model.bin` do not collide in the conversion folder.
fn path_key(source: &Path) -> String {
    let full = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let digest = Sha256::digest(full.to_string_lossy().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn conversion_error(path: &Path, detail: &str) -> WeightsError {
    WeightsError::Conversion {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}
