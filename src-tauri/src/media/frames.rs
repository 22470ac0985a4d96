//! Audio read a stretch at a time by position, from memory or from a WAV file, so that the mix
//! can work through hours of sound in bounded memory. Positions before the start or past the end
//! read as silence: block processing with margins needs nothing special at the edges.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::audio::PcmAudio;
use super::wav::{open_error, sample_reading, SampleReading, WavError};

/// Interleaved f32 audio that can be read from any frame position.
pub trait FrameSource {
    fn sample_rate(&self) -> u32;
    fn channels(&self) -> u16;
    /// Frames (samples per channel) it holds.
    fn frames(&self) -> usize;
    /// `count` frames from `start`; outside `0..frames()` they are silence.
    fn read(&mut self, start: i64, count: usize) -> Result<Vec<f32>, WavError>;
}

/// The part of `start..start + count` that lies inside `0..frames`, as an offset into the
/// requested stretch and a frame range.
fn overlap(start: i64, count: usize, frames: usize) -> Option<(usize, std::ops::Range<usize>)> {
    let from = start.max(0);
    let to = (start + count as i64).min(frames as i64);
    (from < to).then(|| ((from - start) as usize, from as usize..to as usize))
}

impl FrameSource for PcmAudio {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn frames(&self) -> usize {
        PcmAudio::frames(self)
    }

    fn read(&mut self, start: i64, count: usize) -> Result<Vec<f32>, WavError> {
        let channels = usize::from(self.channels.max(1));
        let mut out = vec![0f32; count * channels];
        if let Some((at, range)) = overlap(start, count, PcmAudio::frames(self)) {
            let len = range.len() * channels;
            out[at * channels..at * channels + len]
                .copy_from_slice(&self.samples[range.start * channels..range.end * channels]);
        }
        Ok(out)
    }
}

/// A WAV file read by position (integer or 32-bit float PCM, like `read_wav`).
pub struct WavFrames {
    path: PathBuf,
    reader: hound::WavReader<BufReader<std::fs::File>>,
    reading: SampleReading,
    frames: usize,
    /// The frame the reader stands at, to skip seeking when reads follow each other.
    position: usize,
}

impl WavFrames {
    pub fn open(path: &Path) -> Result<Self, WavError> {
        let file =
            std::fs::File::open(path).map_err(|e| open_error(path, hound::Error::IoError(e)))?;
        let reader =
            hound::WavReader::new(BufReader::new(file)).map_err(|e| open_error(path, e))?;
        let reading = sample_reading(path, reader.spec())?;
        Ok(Self {
            path: path.to_path_buf(),
            frames: reader.duration() as usize,
            reader,
            reading,
            position: 0,
        })
    }
}

impl FrameSource for WavFrames {
    fn sample_rate(&self) -> u32 {
        self.reader.spec().sample_rate
    }

    fn channels(&self) -> u16 {
        self.reader.spec().channels
    }

    fn frames(&self) -> usize {
        self.frames
    }

    fn read(&mut self, start: i64, count: usize) -> Result<Vec<f32>, WavError> {
        let channels = usize::from(self.channels());
        let mut out = vec![0f32; count * channels];
        let Some((at, range)) = overlap(start, count, self.frames) else {
            return Ok(out);
        };
        let damaged = |path: &Path, reason: String| WavError::Damaged {
            path: path.to_path_buf(),
            reason,
        };
        if self.position != range.start {
            self.reader
                .seek(range.start as u32)
                .map_err(|e| damaged(&self.path, e.to_string()))?;
        }
        let slots = &mut out[at * channels..(at + range.len()) * channels];
        match self.reading {
            SampleReading::Float => {
                for (slot, sample) in slots.iter_mut().zip(self.reader.samples::<f32>()) {
                    *slot = sample.map_err(|e| damaged(&self.path, e.to_string()))?;
                }
            }
            SampleReading::Int { scale } => {
                for (slot, sample) in slots.iter_mut().zip(self.reader.samples::<i32>()) {
                    *slot = sample.map_err(|e| damaged(&self.path, e.to_string()))? as f32 * scale;
                }
            }
        }
        self.position = range.end;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_like_memory_at_any_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.wav");
        let mut pcm = PcmAudio {
            samples: (0..2000).map(|i| i as f32 / 2000.0).collect(),
            sample_rate: 8000,
            channels: 2,
        };
        super::super::write_wav(&path, &pcm).unwrap();
        let mut file = WavFrames::open(&path).unwrap();
        assert_eq!((file.frames(), file.channels()), (1000, 2));
        for (start, count) in [
            (-5, 10),
            (0, 1000),
            (990, 20),
            (400, 7),
            (2000, 3),
            (-20, 5),
        ] {
            assert_eq!(
                file.read(start, count).unwrap(),
                pcm.read(start, count).unwrap(),
                "{start}+{count}"
            );
        }
        assert_eq!(pcm.read(-1, 2).unwrap(), vec![0.0, 0.0, 0.0, 0.0005]);
    }
}
