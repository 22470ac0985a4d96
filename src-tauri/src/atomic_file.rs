//! Atomic file writes, the one way the app replaces a file: write a hidden temporary file
//! beside the target, flush it to disk, then rename it over the target. Readers see the old
//! file or the new one, never half of either, and a crash leaves only the hidden temporary.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A file being written beside its destination. Dropped before `commit`, it removes itself,
/// so a failed or cancelled write leaves nothing behind.
pub struct PartialFile {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PartialFile {
    /// `.<name>.<pid>.partial` beside `dest`: the pid keeps two processes' writes apart.
    pub fn beside(dest: &Path) -> Self {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dest.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        Self {
            temp,
            dest: dest.to_path_buf(),
            committed: false,
        }
    }

    /// Where to write the content.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Flushes the finished file to disk and moves it into place in one step.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::File::open(&self.temp)?.sync_all()?;
        std::fs::rename(&self.temp, &self.dest)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Replaces `path` with `bytes` atomically, creating its folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let partial = PartialFile::beside(path);
    std::fs::File::create(partial.path())?.write_all(bytes)?;
    partial.commit()
}

/// Replaces `path` with `value` as pretty JSON (with a final newline), atomically.
pub fn write_json_atomic(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/job.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        write_json_atomic(&path, &serde_json::json!({"a": 2})).unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(value["a"], 2);
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(entries, vec![std::ffi::OsString::from("job.json")]);
    }

    #[test]
    fn an_uncommitted_partial_file_disappears() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.mp4");
        let partial = PartialFile::beside(&dest);
        std::fs::write(partial.path(), b"half").unwrap();
        let temp = partial.path().to_path_buf();
        drop(partial);
        assert!(!temp.exists() && !dest.exists());
    }
}
