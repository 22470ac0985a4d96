//! The music's level going into the mix. Griffin-Lim's music keeps the level and dynamics its
//! spectrogram gives it, so the mix first brings each candidate, by one gain, to a common
//! reference: -12 dBFS RMS, the level Riffusion gives its clips. `music_level_db` then means
//! the same for every candidate, and loudness is set once, by the mix's levelling.

use super::error::Result;
use crate::media::FrameSource;

/// The music's RMS over all channels before `music_level_db` applies, dBFS.
pub const MUSIC_REFERENCE_RMS_DBFS: f32 = -12.0;

/// Frames read at a time.
const BLOCK: usize = 1 << 17;

/// The gain, in dB, that brings the first `frames` of `music` to the reference RMS; 0 for
/// silence, which no gain can help.
pub fn music_gain_db(music: &mut dyn FrameSource, frames: usize) -> Result<f32> {
    let frames = frames.min(music.frames());
    let (mut sum_sq, mut count) = (0.0f64, 0usize);
    let mut start = 0;
    while start < frames {
        let len = BLOCK.min(frames - start);
        let block = music.read(start as i64, len)?;
        sum_sq += block
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>();
        count += block.len();
        start += len;
    }
    let rms_db = 10.0 * (sum_sq / count.max(1) as f64).log10();
    Ok(if rms_db.is_finite() {
        MUSIC_REFERENCE_RMS_DBFS - rms_db as f32
    } else {
        0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::PcmAudio;

    fn tone(amplitude: f32, frames: usize) -> PcmAudio {
        let left: Vec<f32> = (0..frames)
            .map(|i| amplitude * (i as f32 * 0.05).sin())
            .collect();
        PcmAudio::from_channels(&[left.clone(), left], 44_100)
    }

    #[test]
    fn brings_any_level_to_the_reference_and_leaves_silence_alone() {
        for amplitude in [0.01, 0.5, 30.0] {
            let mut music = tone(amplitude, 300_000);
            let gain = music_gain_db(&mut music, 300_000).unwrap();
            // A sine's RMS is its amplitude / sqrt(2).
            let rms_db = 20.0 * (amplitude / 2f32.sqrt()).log10();
            assert!(
                (rms_db + gain - MUSIC_REFERENCE_RMS_DBFS).abs() < 0.01,
                "{amplitude}"
            );
        }
        let mut silence = tone(0.0, 1000);
        assert_eq!(music_gain_db(&mut silence, 1000).unwrap(), 0.0);
        let mut empty = tone(1.0, 0);
        assert_eq!(music_gain_db(&mut empty, 1000).unwrap(), 0.0);
    }

    #[test]
    fn measures_only_what_the_mix_uses() {
        let mut music = tone(0.5, 200_000);
        // Louder music past the video's end does not count.
        let mut tail = tone(8.0, 100_000);
        music.samples.append(&mut tail.samples);
        let used = music_gain_db(&mut music, 200_000).unwrap();
        let whole = music_gain_db(&mut music, 300_000).unwrap();
        assert!(
            (used - (MUSIC_REFERENCE_RMS_DBFS - 20.0 * (0.5f32 / 2f32.sqrt()).log10())).abs()
                < 0.01
        );
        assert!(whole < used - 10.0);
    }
}
