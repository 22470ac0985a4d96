//! Writing PCM to WAV files (32-bit float), atomically: a partial file renamed into place.

use std::path::Path;

use super::audio::PcmAudio;
use super::error::MediaError;
use crate::atomic_file::PartialFile;

impl PcmAudio {
    /// Interleaves one buffer per channel (all the same length).
    pub fn from_channels(channels: &[Vec<f32>], sample_rate: u32) -> Self {
        let frames = channels.first().map_or(0, Vec::len);
        let mut samples = Vec::with_capacity(frames * channels.len());
        for i in 0..frames {
            samples.extend(channels.iter().map(|c| c.get(i).copied().unwrap_or(0.0)));
        }
        Self {
            samples,
            sample_rate,
            channels: channels.len() as u16,
        }
    }

    /// The samples of one channel.
    pub fn channel(&self, index: usize) -> Vec<f32> {
        let n = usize::from(self.channels.max(1));
        self.samples
            .iter()
            .skip(index)
            .step_by(n)
            .copied()
            .collect()
    }
}

/// Writes `audio` as a 32-bit float WAV at `path`, replacing any file there.
pub fn write_wav(path: &Path, audio: &PcmAudio) -> Result<(), MediaError> {
    let partial = PartialFile::beside(path);
    let spec = hound::WavSpec {
        channels: audio.channels,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let fail = |e: hound::Error| MediaError::destination(path, e.to_string());
    let mut writer = hound::WavWriter::create(partial.path(), spec).map_err(fail)?;
    for &sample in &audio.samples {
        writer.write_sample(sample).map_err(fail)?;
    }
    writer.finalize().map_err(fail)?;
    partial
        .commit()
        .map_err(|e| MediaError::destination(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_interleave_and_split_back() {
        let pcm = PcmAudio::from_channels(&[vec![1.0, 2.0], vec![-1.0, -2.0]], 8000);
        assert_eq!(pcm.samples, vec![1.0, -1.0, 2.0, -2.0]);
        assert_eq!(pcm.channel(1), vec![-1.0, -2.0]);
    }

    #[test]
    fn writes_a_readable_wav() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let pcm = PcmAudio::from_channels(&[vec![0.5, -0.25, 0.0]], 44_100);
        write_wav(&path, &pcm).unwrap();
        let back = crate::media::decode_audio(
            &path,
            44_100,
            1,
            &mut |_| {},
            &bgm_models::task::CancelToken::new(),
        )
        .unwrap();
        assert_eq!(back.samples, pcm.samples);
    }
}
