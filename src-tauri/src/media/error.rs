//! The one error type of the media layer. Every message names the file and says what is wrong.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("\"{}\" does not exist", .path.display())]
    NotFound { path: PathBuf },

    #[error("\"{}\" is a folder, not a video file", .path.display())]
    NotAFile { path: PathBuf },

    #[error("\"{}\" is empty (0 bytes)", .path.display())]
    EmptyFile { path: PathBuf },

    #[error("\"{}\" could not be read: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("\"{}\" is not a video or audio file that BGM Studio can read", .path.display())]
    NotMedia { path: PathBuf },

    #[error(
        "\"{}\" looks like {container} but is damaged or incomplete (perhaps a copy or download that did not finish): {detail}",
        .path.display()
    )]
    Damaged {
        path: PathBuf,
        container: &'static str,
        detail: String,
    },

    #[error("\"{}\" is {kind}, which can make BGM Studio read other files; open the video itself", .path.display())]
    ReachesOtherFiles { path: PathBuf, kind: &'static str },

    #[error("\"{}\" has no audio track", .path.display())]
    NoAudio { path: PathBuf },

    #[error("\"{}\" has no video track", .path.display())]
    NoVideo { path: PathBuf },

    #[error("\"{}\" is a still image, not a video; BGM Studio gives music to videos", .path.display())]
    StillImage { path: PathBuf },

    #[error("\"{}\" is only {seconds:.2} s long; BGM Studio needs a video of at least {min} s", .path.display(), min = super::MIN_VIDEO_SECONDS)]
    TooShort { path: PathBuf, seconds: f64 },

    #[error("\"{}\": the {codec} codec cannot be decoded by this FFmpeg build", .path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },

    #[error("refusing to write \"{}\": it is one of the input files; choose another name", .path.display())]
    DestinationIsInput { path: PathBuf },

    #[error("cannot write \"{}\": {problem}", .path.display())]
    Destination { path: PathBuf, problem: String },

    #[error("this FFmpeg build has no {codec} encoder; install an FFmpeg with {codec} support")]
    EncoderMissing { codec: &'static str },

    #[error("the {codec} audio encoder failed: {source}")]
    Encoder {
        codec: &'static str,
        #[source]
        source: ffmpeg_next::Error,
    },

    #[error("\"{}\": {operation} failed: {source}", .path.display())]
    Ffmpeg {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: ffmpeg_next::Error,
    },

    #[error("cancelled")]
    Cancelled,
}

impl MediaError {
    pub(crate) fn ffmpeg(
        path: &Path,
        operation: &'static str,
    ) -> impl FnOnce(ffmpeg_next::Error) -> Self {
        let path = path.to_path_buf();
        move |source| MediaError::Ffmpeg {
            path,
            operation,
            source,
        }
    }

    pub(crate) fn destination(path: &Path, problem: impl Into<String>) -> Self {
        MediaError::Destination {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    /// True for errors caused by the input file itself rather than by the machine or the user.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            MediaError::NotFound { .. }
                | MediaError::NotAFile { .. }
                | MediaError::EmptyFile { .. }
                | MediaError::NotMedia { .. }
                | MediaError::Damaged { .. }
                | MediaError::NoAudio { .. }
                | MediaError::NoVideo { .. }
                | MediaError::StillImage { .. }
                | MediaError::ReachesOtherFiles { .. }
                | MediaError::TooShort { .. }
                | MediaError::UnsupportedCodec { .. }
        )
    }
}
