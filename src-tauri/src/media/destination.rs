//! Where an export goes: which container and audio codec its name asks for, and that it is not
//! an input. The file itself is written through [`crate::atomic_file::PartialFile`].

use std::path::{Path, PathBuf};

use super::error::MediaError;

/// The container and audio encoder an export writes, chosen by the destination's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutputKind {
    /// FFmpeg muxer name.
    pub muxer: &'static str,
    /// Encoders to try in order (the native Opus encoder is experimental, so libopus first).
    pub audio_encoders: &'static [&'static str],
    pub bitrate_per_channel: usize,
}

pub(crate) fn output_kind(dest: &Path) -> Result<OutputKind, MediaError> {
    let extension = dest
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    const AAC: &[&str] = &["aac"];
    const OPUS: &[&str] = &["libopus", "opus"];
    let (muxer, audio_encoders, bitrate_per_channel) = match extension.as_str() {
        "mp4" => ("mp4", AAC, 96_000),
        "m4v" => ("ipod", AAC, 96_000),
        "mov" => ("mov", AAC, 96_000),
        "mkv" => ("matroska", OPUS, 80_000),
        "webm" => ("webm", OPUS, 80_000),
        _ => {
            return Err(MediaError::destination(
                dest,
                format!(
                    "unsupported file type \"{}\"; use .mp4, .mov, .m4v, .mkv or .webm",
                    if extension.is_empty() {
                        "(none)"
                    } else {
                        &extension
                    }
                ),
            ))
        }
    };
    Ok(OutputKind {
        muxer,
        audio_encoders,
        bitrate_per_channel,
    })
}

/// The absolute form of a path that may not exist yet (its folder must).
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(full) = path.canonicalize() {
        return Some(full);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

/// Refuses a destination that is one of the inputs or whose folder does not exist.
pub(crate) fn check_destination(
    dest: &Path,
    inputs: &[&Path],
    overwrite: bool,
) -> Result<PathBuf, MediaError> {
    let resolved =
        resolve(dest).ok_or_else(|| MediaError::destination(dest, "its folder does not exist"))?;
    if let Some(parent) = resolved.parent().filter(|p| !p.is_dir()) {
        return Err(MediaError::destination(
            dest,
            format!("\"{}\" is a file, not a folder", parent.display()),
        ));
    }
    for input in inputs {
        if input.canonicalize().ok().as_deref() == Some(resolved.as_path()) {
            return Err(MediaError::DestinationIsInput {
                path: dest.to_path_buf(),
            });
        }
    }
    if resolved.is_dir() {
        return Err(MediaError::destination(dest, "it is a folder"));
    }
    if resolved.exists() && !overwrite {
        return Err(MediaError::destination(
            dest,
            "the file already exists (allow overwriting to replace it)",
        ));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_follow_the_extension() {
        assert_eq!(output_kind(Path::new("a.MP4")).unwrap().muxer, "mp4");
        assert_eq!(
            output_kind(Path::new("a.webm")).unwrap().audio_encoders[0],
            "libopus"
        );
        let err = output_kind(Path::new("a.avi")).unwrap_err().to_string();
        assert!(err.contains("a.avi") && err.contains(".mp4"), "{err}");
    }

    #[test]
    fn refuses_an_input_as_destination() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mp4");
        std::fs::write(&input, b"x").unwrap();
        let same = dir.path().join(".").join("in.mp4");
        let err = check_destination(&same, &[&input], true).unwrap_err();
        assert!(
            matches!(err, MediaError::DestinationIsInput { .. }),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_missing_folder_and_existing_files_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_destination(&dir.path().join("nope/out.mp4"), &[], true).unwrap_err();
        assert!(err.to_string().contains("folder does not exist"), "{err}");
        let existing = dir.path().join("out.mp4");
        std::fs::write(&existing, b"x").unwrap();
        assert!(check_destination(&existing, &[], false).is_err());
        assert!(check_destination(&existing, &[], true).is_ok());
    }
}
