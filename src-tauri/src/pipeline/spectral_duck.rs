//! Spectral ducking: while someone speaks, the music is cut mainly in the speech band (about
//! 300 Hz–3.4 kHz), so the voice stays clear while the music keeps its bass and its air.
//!
//! A short-time Fourier transform (2048-point Hann windows, 75 % overlap), a gain per bin that
//! follows the same attack and release envelope as gain ducking, and weighted overlap-add back
//! to samples. With no speech the music comes back bit for bit but for rounding.

use realfft::num_complex::Complex32;
use realfft::RealFftPlanner;

const WINDOW: usize = 2048;
const HOP: usize = WINDOW / 4;

/// How much of the duck depth each frequency gets: all of it across the speech band, none of it
/// below 200 Hz or above 4.5 kHz, with raised-cosine slopes between so nothing rings.
pub fn band_weight(hz: f32) -> f32 {
    const FLOOR: f32 = 200.0;
    const LOW: f32 = 300.0;
    const HIGH: f32 = 3_400.0;
    const CEILING: f32 = 4_500.0;
    let slope = |x: f32| 0.5 - 0.5 * (std::f32::consts::PI * x.clamp(0.0, 1.0)).cos();
    if hz < LOW {
        slope((hz - FLOOR) / (LOW - FLOOR))
    } else if hz <= HIGH {
        1.0
    } else {
        slope((CEILING - hz) / (CEILING - HIGH))
    }
}

/// Frames of context a block needs on each side: one window.
pub const MARGIN: usize = WINDOW;

/// The short-time Fourier transform, per-bin cut and overlap-add, for one block of a signal at
/// a time. Windows start on one grid over the whole signal (a window before its start, every
/// `HOP` frames), so blocks join seamlessly: the result is the same however the signal is cut.
pub struct SpectralDucker {
    depth_db: f32,
    weights: Vec<f32>,
    window: Vec<f32>,
    /// The sum of squared windows over each frame, by frame position modulo `HOP`: every
    /// frame lies under exactly `WINDOW / HOP` windows.
    norm: Vec<f32>,
    forward: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    inverse: std::sync::Arc<dyn realfft::ComplexToReal<f32>>,
}

impl SpectralDucker {
    pub fn new(sample_rate: u32, depth_db: f32) -> Self {
        let bin_hz = sample_rate as f32 / WINDOW as f32;
        let window: Vec<f32> = (0..WINDOW)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / WINDOW as f32).cos())
            .collect();
        let norm = (0..HOP)
            .map(|p| {
                (p..WINDOW)
                    .step_by(HOP)
                    .map(|i| window[i] * window[i])
                    .sum()
            })
            .collect();
        let mut planner = RealFftPlanner::<f32>::new();
        Self {
            depth_db,
            weights: (0..=WINDOW / 2)
                .map(|k| band_weight(k as f32 * bin_hz))
                .collect(),
            window,
            norm,
            forward: planner.plan_fft_forward(WINDOW),
            inverse: planner.plan_fft_inverse(WINDOW),
        }
    }

    /// The ducked frames `block` of a signal `frames` long. `input` holds its interleaved
    /// frames from `block.start - MARGIN` to `block.end + MARGIN`, silence outside the signal;
    /// `amounts[i]` is how far ducked frame `amounts_from + i` is (missing frames: not at all).
    pub fn process(
        &mut self,
        input: &[f32],
        channels: usize,
        block: std::ops::Range<usize>,
        frames: usize,
        amounts: &[f32],
        amounts_from: usize,
    ) -> Vec<f32> {
        let base = block.start as isize - MARGIN as isize;
        let hop = HOP as isize;
        // The grid's first window that reaches into the block, and the last that starts in it.
        let first = (base + hop).div_euclid(hop) * hop;
        let first = first.max(-(WINDOW as isize));
        let end = (block.end.min(frames)) as isize;
        let amount_at = |start: isize| {
            let centre = (start + WINDOW as isize / 2).clamp(0, frames as isize - 1) as usize;
            centre
                .checked_sub(amounts_from)
                .and_then(|i| amounts.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        let len = block.len();
        let mut out = vec![0f32; len * channels];
        let mut spectrum = self.forward.make_output_vec();
        let (mut frame, mut back) = (vec![0f32; WINDOW], vec![0f32; WINDOW]);
        for channel in 0..channels {
            let mut start = first;
            while start < end {
                for (i, w) in self.window.iter().enumerate() {
                    let at = (start + i as isize - base) as usize;
                    frame[i] = input[at * channels + channel] * w;
                }
                let amount = amount_at(start);
                let position = start;
                start += hop;
                if self.forward.process(&mut frame, &mut spectrum).is_err() {
                    continue;
                }
                if amount > 0.0 {
                    for (bin, weight) in spectrum.iter_mut().zip(&self.weights) {
                        *bin *= 10f32.powf(-self.depth_db * amount * weight / 20.0);
                    }
                }
                spectrum[0].im = 0.0;
                if let Some(last) = spectrum.last_mut() {
                    *last = Complex32::new(last.re, 0.0);
                }
                if self.inverse.process(&mut spectrum, &mut back).is_err() {
                    continue;
                }
                for (i, w) in self.window.iter().enumerate() {
                    let n = position + i as isize;
                    if n >= block.start as isize && n < block.end as isize {
                        let k = (n - block.start as isize) as usize;
                        out[k * channels + channel] += back[i] * w / WINDOW as f32;
                    }
                }
            }
        }
        for (k, frame) in out.chunks_exact_mut(channels).enumerate() {
            let n = block.start + k;
            let norm = self.norm[n % HOP];
            frame.iter_mut().for_each(|s| {
                *s = if n < frames { *s / norm } else { 0.0 };
            });
        }
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::media::PcmAudio;

    /// Cuts `music` by up to `depth_db` in the speech band, as far as `amounts` (0..=1 per frame,
    /// from the speech envelope) says. The whole signal as one block of `SpectralDucker`.
    pub(in crate::pipeline) fn spectral_duck(music: &mut PcmAudio, amounts: &[f32], depth_db: f32) {
        let channels = usize::from(music.channels.max(1));
        let frames = music.frames();
        if frames == 0 {
            return;
        }
        let mut padded = vec![0f32; (frames + 2 * MARGIN) * channels];
        padded[MARGIN * channels..(MARGIN + frames) * channels].copy_from_slice(&music.samples);
        let mut ducker = SpectralDucker::new(music.sample_rate, depth_db);
        music.samples = ducker.process(&padded, channels, 0..frames, frames, amounts, 0);
    }

    #[test]
    fn the_weight_covers_the_speech_band_and_spares_the_rest() {
        assert_eq!(band_weight(100.0), 0.0);
        assert_eq!(band_weight(1_000.0), 1.0);
        assert_eq!(band_weight(3_400.0), 1.0);
        assert!((band_weight(250.0) - 0.5).abs() < 1e-6);
        assert_eq!(band_weight(8_000.0), 0.0);
    }

    #[test]
    fn without_speech_the_music_is_unchanged() {
        let samples: Vec<f32> = (0..20_000)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let resynthesised = |amounts: &[f32], depth_db: f32| {
            let mut music = PcmAudio {
                samples: samples.clone(),
                sample_rate: 44_100,
                channels: 2,
            };
            spectral_duck(&mut music, amounts, depth_db);
            music
                .samples
                .iter()
                .zip(&samples)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max)
        };
        // Through the whole transform and back: no speech, nothing cut.
        let worst = resynthesised(&[0.0; 10_000], 12.0);
        assert!(worst < 1e-4, "reconstruction error without speech {worst}");
        // Speech everywhere with a cut of 0 dB: nothing cut either.
        let worst = resynthesised(&[1.0; 10_000], 0.0);
        assert!(worst < 1e-4, "reconstruction error at 0 dB {worst}");
        // And the check can see a cut: speech everywhere at 12 dB changes the music.
        assert!(resynthesised(&[1.0; 10_000], 12.0) > 0.01);
    }
}
