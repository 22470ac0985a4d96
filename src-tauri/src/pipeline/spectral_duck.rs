//! Spectral ducking: while someone speaks, the music is cut mainly in the speech band (about
//! 300 Hz–3.4 kHz), so the voice stays clear while the music keeps its bass and its air.
//!
//! A short-time Fourier transform (2048-point Hann windows, 75 % overlap), a gain per bin that
//! follows the same attack and release envelope as gain ducking, and weighted overlap-add back
//! to samples. With no speech the music comes back bit for bit but for rounding.

use realfft::num_complex::Complex32;
use realfft::RealFftPlanner;

use crate::media::PcmAudio;

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

/// Cuts `music` by up to `depth_db` in the speech band, as far as `amounts` (0..=1 per frame,
/// from the speech envelope) says.
pub fn spectral_duck(music: &mut PcmAudio, amounts: &[f32], depth_db: f32) {
    let channels = usize::from(music.channels.max(1));
    let frames = music.frames();
    if frames == 0 || amounts.iter().all(|&a| a == 0.0) {
        return;
    }
    let bin_hz = music.sample_rate as f32 / WINDOW as f32;
    let weights: Vec<f32> = (0..=WINDOW / 2)
        .map(|k| band_weight(k as f32 * bin_hz))
        .collect();
    let window: Vec<f32> = (0..WINDOW)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / WINDOW as f32).cos())
        .collect();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(WINDOW);
    let inverse = planner.plan_fft_inverse(WINDOW);
    let mut spectrum = forward.make_output_vec();
    let (mut frame, mut back) = (vec![0f32; WINDOW], vec![0f32; WINDOW]);
    // Frames start a window before the signal and end after it, so every sample is covered
    // by the same four windows and the edges need no special case.
    let starts: Vec<isize> = (-(WINDOW as isize)..frames as isize).step_by(HOP).collect();
    let mut norm = vec![0f32; frames];
    for &start in &starts {
        for (i, w) in window.iter().enumerate() {
            if let Some(n) = index(start, i, frames) {
                norm[n] += w * w;
            }
        }
    }
    for channel in 0..channels {
        let mut out = vec![0f32; frames];
        for &start in &starts {
            for (i, w) in window.iter().enumerate() {
                frame[i] = index(start, i, frames)
                    .map_or(0.0, |n| music.samples[n * channels + channel] * w);
            }
            let centre = (start + WINDOW as isize / 2).clamp(0, frames as isize - 1) as usize;
            let amount = amounts.get(centre).copied().unwrap_or(0.0);
            if forward.process(&mut frame, &mut spectrum).is_err() {
                continue;
            }
            if amount > 0.0 {
                for (bin, weight) in spectrum.iter_mut().zip(&weights) {
                    *bin *= 10f32.powf(-depth_db * amount * weight / 20.0);
                }
            }
            spectrum[0].im = 0.0;
            if let Some(last) = spectrum.last_mut() {
                *last = Complex32::new(last.re, 0.0);
            }
            if inverse.process(&mut spectrum, &mut back).is_err() {
                continue;
            }
            for (i, w) in window.iter().enumerate() {
                if let Some(n) = index(start, i, frames) {
                    out[n] += back[i] * w / WINDOW as f32;
                }
            }
        }
        for (n, value) in out.iter().enumerate() {
            music.samples[n * channels + channel] =
                if norm[n] > 0.0 { value / norm[n] } else { 0.0 };
        }
    }
}

fn index(start: isize, i: usize, frames: usize) -> Option<usize> {
    let n = start + i as isize;
    (0..frames as isize).contains(&n).then_some(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut music = PcmAudio {
            samples: samples.clone(),
            sample_rate: 44_100,
            channels: 2,
        };
        spectral_duck(&mut music, &vec![0.0; 10_000], 12.0);
        assert_eq!(music.samples, samples);
        // Full resynthesis with a zero-depth cut reconstructs the input.
        let mut again = PcmAudio {
            samples: samples.clone(),
            sample_rate: 44_100,
            channels: 2,
        };
        spectral_duck(&mut again, &vec![1.0; 10_000], 0.0);
        let worst = again
            .samples
            .iter()
            .zip(&samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "reconstruction error {worst}");
    }
}
