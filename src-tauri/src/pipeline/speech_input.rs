//! The decode stage's speech WAV as Whisper's input, read one 30 s window at a time: an hour
//! of 16 kHz float samples is 230 MB, and the transcriber only ever needs one window of it.

use std::borrow::Cow;
use std::path::Path;

use bgm_models::stt::{SpeechSource, SttError};

use super::error::{PipelineError, Result};
use super::stages::SPEECH_RATE;
use crate::media::{FrameSource, WavFrames};

pub(super) struct SpeechFile {
    frames: WavFrames,
}

impl SpeechFile {
    /// Opens `path`, which must be 16 kHz mono as the decode stage writes it.
    pub fn open(path: &Path) -> Result<Self> {
        let frames = WavFrames::open(path)?;
        if frames.channels() != 1 || frames.sample_rate() != SPEECH_RATE {
            return Err(PipelineError::File {
                path: path.to_path_buf(),
                message: format!(
                    "Whisper's input must be 16 kHz mono, this is {} Hz with {} channel(s); \
                     run the job from its decode stage again",
                    frames.sample_rate(),
                    frames.channels()
                ),
            });
        }
        Ok(Self { frames })
    }
}

impl SpeechSource for SpeechFile {
    fn sample_count(&self) -> usize {
        self.frames.frames()
    }

    fn read(&mut self, from: usize, to: usize) -> std::result::Result<Cow<'_, [f32]>, SttError> {
        let count = to.saturating_sub(from);
        let samples = self
            .frames
            .read(from as i64, count)
            .map_err(|e| SttError::Input(Box::new(e)))?;
        Ok(Cow::Owned(samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{write_wav, PcmAudio};

    #[test]
    fn reads_the_stretch_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speech.wav");
        let samples: Vec<f32> = (0..40_000).map(|i| i as f32 / 40_000.0).collect();
        write_wav(
            &path,
            &PcmAudio::from_channels(std::slice::from_ref(&samples), SPEECH_RATE),
        )
        .unwrap();
        let mut speech = SpeechFile::open(&path).unwrap();
        assert_eq!(speech.sample_count(), 40_000);
        assert_eq!(
            &*speech.read(16_000, 32_000).unwrap(),
            &samples[16_000..32_000]
        );
        // Back to the start, as language detection then the first window do.
        assert_eq!(&*speech.read(0, 10).unwrap(), &samples[..10]);
    }

    #[test]
    fn refuses_audio_that_is_not_whispers_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speech.wav");
        write_wav(&path, &PcmAudio::from_channels(&[vec![0.0; 100]], 44_100)).unwrap();
        let err = SpeechFile::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("speech.wav") && err.contains("44100 Hz"),
            "{err}"
        );
    }

    #[test]
    fn a_truncated_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speech.wav");
        write_wav(
            &path,
            &PcmAudio::from_channels(&[vec![0.25; 32_000]], SPEECH_RATE),
        )
        .unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(44 + 4 * 1_000).unwrap();
        let mut speech = SpeechFile::open(&path).unwrap();
        let err = speech.read(0, 32_000).err().unwrap().to_string();
        assert!(err.contains("speech.wav"), "{err}");
    }
}
