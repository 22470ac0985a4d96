//! The Hugging Face token the user gave the app (Settings, or `models token`), for gated
//! repos such as Stable Audio's: one line in its own file in the config folder, readable by
//! the user alone (mode 0600 from the moment it exists), never in settings.json or a log.

use std::io::Write;
use std::path::Path;

use bgm_models::weights::HubToken;

use crate::atomic_file::PartialFile;

/// The saved token; `None` when there is none (or the file cannot be read).
pub fn load(path: &Path) -> Option<HubToken> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| HubToken::new(&text))
}

/// Saves `token` atomically, owner-only.
pub fn save(path: &Path, token: &HubToken) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let partial = PartialFile::beside(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(partial.path())?;
    file.write_all(token.secret().as_bytes())?;
    file.write_all(b"\n")?;
    drop(file);
    partial.commit()
}

/// Forgets the saved token; none saved is fine.
pub fn clear(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_saved_for_the_owner_alone_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/hub-token");
        assert_eq!(load(&path), None);
        save(&path, &HubToken::new("hf_first").unwrap()).unwrap();
        save(&path, &HubToken::new(" hf_second ").unwrap()).unwrap();
        assert_eq!(load(&path).unwrap().secret(), "hf_second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["hub-token"], "no temporaries left");
        clear(&path).unwrap();
        clear(&path).unwrap();
        assert_eq!(load(&path), None);
    }
}
