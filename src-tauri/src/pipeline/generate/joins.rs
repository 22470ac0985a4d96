//! Each candidate's music written window by window: a window's audio takes over from the
//! previous one's at their join, through a short linear fade that ends on the join. Both
//! windows decode the same known latent frames there, so the two sides carry the same music
//! and an equal-gain fade neither dips nor swells. Memory holds one window's audio.

use std::path::PathBuf;

use super::super::error::{PipelineError, Result};
use super::super::stages::{MIX_CHANNELS, MIX_RATE};
use crate::media::WavSink;

const CHANNELS: usize = MIX_CHANNELS as usize;

/// Where one window's audio goes, in samples of the music.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// The sample its audio starts at.
    pub start: usize,
    /// Where it takes over from the previous window (ignored for the first).
    pub join: usize,
    /// Where the next window takes over, or the music's end for the last window.
    pub until: usize,
    pub last: bool,
}

pub struct JoinedMusic {
    sinks: Vec<WavSink>,
    /// Per candidate, the previous window's interleaved audio over the next fade.
    pending: Vec<Vec<f32>>,
    /// Samples (per channel) written so far.
    written: usize,
    fade: usize,
}

impl JoinedMusic {
    /// One 44.1 kHz stereo WAV per path, each appearing only once finished.
    pub fn create(paths: &[PathBuf], fade: usize) -> Result<Self> {
        let sinks = paths
            .iter()
            .map(|path| WavSink::create(path, MIX_RATE, MIX_CHANNELS))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            pending: vec![Vec::new(); sinks.len()],
            sinks,
            written: 0,
            fade,
        })
    }

    /// Lays one window's audio (per candidate, interleaved stereo from `at.start`).
    pub fn place(&mut self, audio: &[Vec<f32>], at: Placement) -> Result<()> {
        let first = self.written == 0 && self.pending[0].is_empty();
        let from = if first { 0 } else { at.join - self.fade };
        let keep_until = if at.last {
            at.until
        } else {
            at.until - self.fade
        };
        if from != self.written || at.start > from || keep_until < at.join.max(from) {
            return Err(PipelineError::MusicFormat(format!(
                "a window at {} (join {}, until {}) does not continue the music written up to {}",
                at.start, at.join, at.until, self.written
            )));
        }
        let fade_end = if first { 0 } else { at.join };
        for ((sink, pending), samples) in self.sinks.iter_mut().zip(&mut self.pending).zip(audio) {
            let window = |from: usize, to: usize| -> Result<&[f32]> {
                samples
                    .get((from - at.start) * CHANNELS..(to - at.start) * CHANNELS)
                    .ok_or_else(|| {
                        PipelineError::MusicFormat(format!(
                            "a window's audio ends at sample {} before {to}",
                            at.start + samples.len() / CHANNELS
                        ))
                    })
            };
            if !first {
                let incoming = window(from, fade_end)?;
                let frames = self.fade as f32;
                let faded: Vec<f32> = pending
                    .iter()
                    .zip(incoming)
                    .enumerate()
                    .map(|(i, (old, new))| {
                        let r = ((i / CHANNELS) as f32 + 0.5) / frames;
                        old * (1.0 - r) + new * r
                    })
                    .collect();
                sink.write(&faded)?;
            }
            sink.write(window(fade_end, keep_until)?)?;
            *pending = if at.last {
                Vec::new()
            } else {
                window(keep_until, at.until)?.to_vec()
            };
        }
        self.written = keep_until;
        Ok(())
    }

    /// Completes every file (after the last window).
    pub fn finish(self) -> Result<()> {
        for sink in self.sinks {
            sink.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Interleaved stereo of `f(sample)` from sample `start` to `end`.
    fn stereo(start: usize, end: usize, f: impl Fn(usize) -> f32) -> Vec<f32> {
        (start..end).flat_map(|t| [f(t), -f(t)]).collect()
    }

    #[test]
    fn windows_meet_at_their_joins_through_a_fade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("music.wav");
        let mut music = JoinedMusic::create(std::slice::from_ref(&path), 100).unwrap();
        let at = |start, join, until, last| Placement {
            start,
            join,
            until,
            last,
        };
        // The first window plays 1.0, the second 3.0, joining at 1,000.
        music
            .place(&[stereo(0, 1_200, |_| 1.0)], at(0, 0, 1_000, false))
            .unwrap();
        // A window that does not start where the music stands is refused.
        let wrong = music.place(&[stereo(500, 2_000, |_| 3.0)], at(500, 1_100, 2_000, true));
        assert!(wrong.is_err());
        music
            .place(&[stereo(400, 2_000, |_| 3.0)], at(400, 1_000, 2_000, true))
            .unwrap();
        music.finish().unwrap();
        let audio = crate::media::read_wav(&path).unwrap();
        let left = audio.channel(0);
        assert_eq!(left.len(), 2_000);
        assert!(left[..900].iter().all(|&s| s == 1.0));
        assert!(left[1_000..].iter().all(|&s| s == 3.0));
        let fade = &left[900..1_000];
        assert!(fade.windows(2).all(|w| w[0] < w[1]), "rises steadily");
        assert!((fade[0] - 1.01).abs() < 1e-5 && (fade[99] - 2.99).abs() < 1e-5);
        assert!(audio.channel(1).iter().zip(&left).all(|(r, l)| *r == -l));
    }

    #[test]
    fn audio_that_stops_short_is_an_error_and_no_file_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("music.wav");
        let mut music = JoinedMusic::create(std::slice::from_ref(&path), 100).unwrap();
        let placed = music.place(
            &[stereo(0, 500, |_| 1.0)],
            Placement {
                start: 0,
                join: 0,
                until: 1_000,
                last: true,
            },
        );
        assert!(placed
            .unwrap_err()
            .to_string()
            .contains("ends at sample 500"));
        drop(music);
        assert!(!path.exists());
    }
}
