//! The media layer, on FFmpeg through ffmpeg-next: probing, audio decoding, thumbnails, export.

mod audio;
mod cuts;
mod destination;
mod error;
mod frames;
mod input;
mod mux;
mod probe;
mod resample;
mod rotation;
mod thumbnails;
mod verify;
mod wav;

pub use audio::{decode_audio, decode_audio_to_wav, AudioReader, PcmAudio};
pub use cuts::{detect_cuts, Cut, CutOptions};
pub use error::MediaError;
pub use frames::{FrameSource, WavFrames};
pub use mux::{mux, MuxOptions, MuxReport};
pub use probe::{probe, AudioStreamInfo, MediaInfo, VideoStreamInfo, MIN_VIDEO_SECONDS};
pub use thumbnails::{thumbnails, Thumbnail};
pub use wav::{read_wav, write_wav, WavError, WavSink};

/// Initialises FFmpeg once per process. Its own log is silenced unless asked for
/// (`BGM_FFMPEG_LOG=1`): our errors already say what went wrong, in words a user can act on.
pub(crate) fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(err) = ffmpeg_next::init() {
            tracing::error!("FFmpeg failed to initialise: {err}");
        }
        let level = if std::env::var_os("BGM_FFMPEG_LOG").is_some() {
            ffmpeg_next::util::log::Level::Info
        } else {
            ffmpeg_next::util::log::Level::Quiet
        };
        ffmpeg_next::util::log::set_level(level);
    });
}
