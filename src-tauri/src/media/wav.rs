//! WAV files, the one reader and writer of the app: the pipeline's stems and mixes, and the
//! player's candidates. Writing is 32-bit float, atomically (a partial file renamed into place);
//! reading takes integer (1–32 bit) or 32-bit float PCM.

use std::path::{Path, PathBuf};

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
    let mut sink = WavSink::create(path, audio.sample_rate, audio.channels)?;
    sink.write(&audio.samples)?;
    sink.finish()
}

/// A 32-bit float WAV written a block at a time, so long audio never sits in memory. It
/// appears at its path only once `finish` has written all of it; dropped before, it leaves
/// nothing behind.
pub struct WavSink {
    path: PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    partial: PartialFile,
}

impl WavSink {
    pub fn create(path: &Path, sample_rate: u32, channels: u16) -> Result<Self, MediaError> {
        let partial = PartialFile::beside(path);
        let spec = hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::create(partial.path(), spec)
            .map_err(|e| MediaError::destination(path, e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            partial,
        })
    }

    /// Appends interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        for &sample in samples {
            self.writer
                .write_sample(sample)
                .map_err(|e| MediaError::destination(&self.path, e.to_string()))?;
        }
        Ok(())
    }

    /// Completes the header and moves the file into place.
    pub fn finish(self) -> Result<(), MediaError> {
        let fail = |e: String| MediaError::destination(&self.path, e);
        self.writer.finalize().map_err(|e| fail(e.to_string()))?;
        self.partial.commit().map_err(|e| fail(e.to_string()))
    }
}

/// Why a WAV file could not be read; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("{}: file not found", .path.display())]
    NotFound { path: PathBuf },
    /// It exists but cannot be read (permissions, a folder, an I/O error).
    #[error("{}: could not be read: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: not a WAV file ({reason})", .path.display())]
    NotWav { path: PathBuf, reason: String },
    /// A WAV encoding we do not read (64-bit float, A-law, a 0 Hz rate).
    #[error("{}: unsupported WAV format: {detail}", .path.display())]
    Unsupported { path: PathBuf, detail: String },
    /// The header is fine but the samples are not (a truncated file).
    #[error("{}: damaged audio data: {reason}", .path.display())]
    Damaged { path: PathBuf, reason: String },
}

/// Reads a WAV file as interleaved `f32` (integer full scale maps to 1.0).
pub fn read_wav(path: &Path) -> Result<PcmAudio, WavError> {
    let file = std::fs::File::open(path).map_err(|e| open_error(path, hound::Error::IoError(e)))?;
    let file_len = file.metadata().map_or(0, |m| m.len());
    let reader =
        hound::WavReader::new(std::io::BufReader::new(file)).map_err(|e| open_error(path, e))?;
    let spec = reader.spec();
    let reading = sample_reading(path, spec)?;
    let damaged = |e: hound::Error| WavError::Damaged {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    // The header's sample count, but no more than the file can hold: a damaged header must
    // not make us allocate gigabytes (and abort) before the read fails.
    let bytes_per_sample = u64::from(spec.bits_per_sample.div_ceil(8).max(1));
    let capacity = u64::from(reader.len()).min(file_len / bytes_per_sample);
    let mut samples = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    match reading {
        SampleReading::Float => {
            for sample in reader.into_samples::<f32>() {
                samples.push(sample.map_err(damaged)?);
            }
        }
        SampleReading::Int { scale } => {
            for sample in reader.into_samples::<i32>() {
                samples.push(sample.map_err(damaged)? as f32 * scale);
            }
        }
    }
    Ok(PcmAudio {
        samples,
        sample_rate: spec.sample_rate,
        channels: spec.channels,
    })
}

/// How a WAV's samples become f32.
#[derive(Clone, Copy, Debug)]
pub(super) enum SampleReading {
    Float,
    /// Integer PCM, with full scale mapped to 1.0.
    Int {
        scale: f32,
    },
}

/// The encodings we read: integer (1–32 bit) or 32-bit float PCM, at a real rate.
pub(super) fn sample_reading(path: &Path, spec: hound::WavSpec) -> Result<SampleReading, WavError> {
    let unsupported = |detail: String| WavError::Unsupported {
        path: path.to_owned(),
        detail,
    };
    if spec.sample_rate == 0 || spec.channels == 0 {
        return Err(unsupported(format!(
            "{} Hz, {} channel(s)",
            spec.sample_rate, spec.channels
        )));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => Ok(SampleReading::Float),
        (hound::SampleFormat::Int, bits @ 1..=32) => Ok(SampleReading::Int {
            scale: 1.0 / (1u64 << (bits - 1)) as f32,
        }),
        (format, bits) => Err(unsupported(format!("{bits}-bit {format:?} samples"))),
    }
}

/// Errors from reading the header: tells "missing" and "not a WAV" apart, which is what the
/// user can act on.
pub(super) fn open_error(path: &Path, err: hound::Error) -> WavError {
    let path = path.to_owned();
    match err {
        hound::Error::IoError(e) if e.kind() == std::io::ErrorKind::NotFound => {
            WavError::NotFound { path }
        }
        // An error from the OS (permissions, a folder): the file cannot be read at all.
        hound::Error::IoError(e) if e.raw_os_error().is_some() => WavError::Unreadable {
            path,
            reason: e.to_string(),
        },
        // hound's own I/O errors while parsing the header are short reads.
        hound::Error::IoError(_) => WavError::NotWav {
            path,
            reason: "the file ends before a WAV header does".into(),
        },
        hound::Error::FormatError(reason) => WavError::NotWav {
            path,
            reason: reason.into(),
        },
        hound::Error::Unsupported => WavError::Unsupported {
            path,
            detail: "an encoding other than PCM or 32-bit float".into(),
        },
        other => WavError::Damaged {
            path,
            reason: other.to_string(),
        },
    }
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
        let read = read_wav(&path).unwrap();
        assert_eq!(
            (read.samples, read.sample_rate, read.channels),
            (pcm.samples, 44_100, 1)
        );
    }
}
