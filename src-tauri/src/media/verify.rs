//! An export checks itself before it is saved: the written file is read back, and its video
//! packets must be the input's, bit for bit, and its audio must last as long as the video.
//! A file that fails is never moved into place.

use std::path::Path;

use ffmpeg_next::media::Type as MediaType;
use ffmpeg_next::Packet;
use sha2::{Digest, Sha256};

use super::error::MediaError;
use super::input::{open_input, read_packet};
use super::probe::{primary_video_stream, seconds};

/// How far the audio may end from the video's end: encoder frames (AAC's 1024 samples,
/// Opus's 20 ms) pad the last one, and priming shifts the first.
const AUDIO_SLACK_SECONDS: f64 = 0.15;

/// A running digest of the video packets as they are copied.
#[derive(Default)]
pub(crate) struct VideoDigest {
    hash: Sha256,
    packets: u64,
}

impl VideoDigest {
    pub(crate) fn add(&mut self, data: &[u8]) {
        self.hash.update((data.len() as u64).to_le_bytes());
        self.hash.update(data);
        self.packets += 1;
    }

    fn finish(self) -> (u64, Vec<u8>) {
        (self.packets, self.hash.finalize().to_vec())
    }
}

/// Reads `written` back: its primary video must match `copied` and its audio must cover
/// `video_seconds`. Errors name `dest`, the file the user asked for.
pub(crate) fn check_written(
    written: &Path,
    dest: &Path,
    copied: VideoDigest,
    video_seconds: f64,
) -> Result<(), MediaError> {
    let failed = |why: String| {
        MediaError::destination(
            dest,
            format!("the written file failed its check ({why}); nothing was saved"),
        )
    };
    let mut input =
        open_input(written).map_err(|e| failed(format!("it cannot be read back: {e}")))?;
    let video_index = primary_video_stream(&input, dest)
        .map_err(|_| failed("it has no video".into()))?
        .index();
    let audio = input
        .streams()
        .find(|s| s.parameters().medium() == MediaType::Audio)
        .map(|s| (s.index(), s.time_base()))
        .ok_or_else(|| failed("it has no audio".into()))?;
    let mut read = VideoDigest::default();
    let (mut audio_start, mut audio_end) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut packet = Packet::empty();
    loop {
        match read_packet(&mut packet, &mut input) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => return Err(failed(format!("reading it back stopped: {e}"))),
        }
        if packet.stream() == video_index {
            read.add(packet.data().unwrap_or_default());
        } else if packet.stream() == audio.0 {
            if let Some(pts) = packet.pts() {
                let start = seconds(pts, audio.1);
                audio_start = audio_start.min(start);
                audio_end = audio_end.max(start + seconds(packet.duration(), audio.1));
            }
        }
    }
    let (expected_packets, expected_hash) = copied.finish();
    let (packets, hash) = read.finish();
    if packets != expected_packets || hash != expected_hash {
        return Err(failed(format!(
            "its video differs from the input's: {packets} packets read back, {expected_packets} copied"
        )));
    }
    let audio_seconds = (audio_end - audio_start).max(0.0);
    if (audio_seconds - video_seconds).abs() > AUDIO_SLACK_SECONDS {
        return Err(failed(format!(
            "its audio lasts {audio_seconds:.2} s, the video {video_seconds:.2} s"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/media")
            .join(name)
    }

    /// The digest of a file's own video packets, as the export loop computes it.
    fn digest_of(path: &Path) -> VideoDigest {
        let mut input = open_input(path).unwrap();
        let index = primary_video_stream(&input, path).unwrap().index();
        let mut digest = VideoDigest::default();
        let mut packet = Packet::empty();
        while read_packet(&mut packet, &mut input).is_ok() {
            if packet.stream() == index {
                digest.add(packet.data().unwrap_or_default());
            }
        }
        digest
    }

    #[test]
    fn a_faithful_file_passes_and_each_fault_is_named() {
        let good = fixture("h264_aac.mp4");
        check_written(&good, &good, digest_of(&good), 2.0).unwrap();

        let err = check_written(&good, &good, VideoDigest::default(), 2.0).unwrap_err();
        assert!(err.to_string().contains("video differs"), "{err}");
        let err = check_written(&good, &good, digest_of(&good), 5.0).unwrap_err();
        assert!(err.to_string().contains("audio lasts 2.0"), "{err}");
        let silent = fixture("no_audio.mp4");
        let err = check_written(&silent, &silent, digest_of(&silent), 2.0).unwrap_err();
        assert!(err.to_string().contains("no audio"), "{err}");
        assert!(err.to_string().contains("no_audio.mp4"), "{err}");
    }
}
