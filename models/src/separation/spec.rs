//! HTDemucs's spectrogram front end and its inverse (`_spec` + `_magnitude` with complex as
//! channels, and `_ispec`): a normalised STFT (`torch.stft(normalized=True)`, periodic Hann
//! window, hop `nfft / 4`) of the signal reflect-padded by 1.5 hops, keeping `ceil(len / hop)`
//! frames and `nfft / 2` bins, with each channel's real and imaginary parts as two planes.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::spectrogram::stft::{hann_periodic, reflect};

/// Plans and window for one `nfft`; cheap to share across threads.
pub struct DemucsStft {
    nfft: usize,
    hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl DemucsStft {
    pub fn new(nfft: usize) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        Self {
            nfft,
            hop: nfft / 4,
            window: hann_periodic(nfft),
            forward: planner.plan_fft_forward(nfft),
            inverse: planner.plan_fft_inverse(nfft),
        }
    }

    /// Frequency bins kept (the Nyquist bin is dropped).
    pub fn bins(&self) -> usize {
        self.nfft / 2
    }

    /// Frames for `length` samples.
    pub fn frames(&self, length: usize) -> usize {
        length.div_ceil(self.hop)
    }

    /// Samples of reflection on each side before framing.
    fn margin(&self) -> usize {
        self.hop / 2 * 3
    }

    /// `audio`: `channels` planes of `length` samples. Returns `[channels x 2, bins, frames]`.
    pub fn analyse(&self, audio: &[f32], channels: usize) -> Vec<f32> {
        let length = audio.len() / channels;
        let (bins, frames) = (self.bins(), self.frames(length));
        let norm = 1.0 / (self.nfft as f32).sqrt();
        let mut out = vec![0f32; channels * 2 * bins * frames];
        // One task per channel: each writes its own two planes.
        out.par_chunks_mut(2 * bins * frames)
            .enumerate()
            .for_each(|(c, planes)| {
                let padded = self.padded(&audio[c * length..(c + 1) * length], frames);
                let (re, im) = planes.split_at_mut(bins * frames);
                let mut frame = vec![0f32; self.nfft];
                let mut spectrum = vec![Complex32::default(); self.nfft / 2 + 1];
                let mut scratch = self.forward.make_scratch_vec();
                for t in 0..frames {
                    let start = t * self.hop;
                    for (i, f) in frame.iter_mut().enumerate() {
                        *f = padded[start + i] * self.window[i];
                    }
                    self.forward
                        .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                        .expect("buffer sizes come from the plan");
                    for (k, value) in spectrum[..bins].iter().enumerate() {
                        re[k * frames + t] = value.re * norm;
                        im[k * frames + t] = value.im * norm;
                    }
                }
            });
        out
    }

    /// `pad1d(x, (margin, margin + frames x hop - length), "reflect")`, with pad1d's zero
    /// extension first when the signal is shorter than the reflection.
    fn padded(&self, signal: &[f32], frames: usize) -> Vec<f32> {
        let length = signal.len();
        let left = self.margin();
        let right = left + frames * self.hop - length;
        let (mut left_zeros, mut right_zeros) = (0, 0);
        let longest = left.max(right);
        if length <= longest {
            let extra = longest - length + 1;
            right_zeros = right.min(extra);
            left_zeros = extra - right_zeros;
        }
        let mut source = vec![0f32; left_zeros];
        source.extend_from_slice(signal);
        source.resize(source.len() + right_zeros, 0.0);
        let (left, right) = (left - left_zeros, right - right_zeros);
        (0..left + source.len() + right)
            .map(|i| source[reflect(i as isize - left as isize, source.len())])
            .collect()
    }

    /// The inverse: `spec` is `[planes, bins, frames]` with `planes = signals x 2` (real and
    /// imaginary interleaved). Returns `signals` planes of `length` samples.
    pub fn synthesise(
        &self,
        spec: &[f32],
        signals: usize,
        frames: usize,
        length: usize,
    ) -> Vec<f32> {
        let bins = self.bins();
        let hop = self.hop;
        let margin = self.margin();
        // istft over the frames with two silent frames on each side, as `_ispec` pads them.
        let all_frames = frames + 4;
        let wanted = hop * length.div_ceil(hop) + 2 * margin;
        let full = self.nfft + hop * (all_frames - 1);
        let mut envelope = vec![0f32; full];
        for f in 0..all_frames {
            for (i, w) in self.window.iter().enumerate() {
                envelope[f * hop + i] += w * w;
            }
        }
        let scale = (self.nfft as f32).sqrt() / self.nfft as f32;
        let mut out = vec![0f32; signals * length];
        out.par_chunks_mut(length)
            .enumerate()
            .for_each(|(s, signal)| {
                let re = &spec[(2 * s) * bins * frames..(2 * s + 1) * bins * frames];
                let im = &spec[(2 * s + 1) * bins * frames..(2 * s + 2) * bins * frames];
                let mut sum = vec![0f32; full];
                let mut spectrum = vec![Complex32::default(); self.nfft / 2 + 1];
                let mut frame = vec![0f32; self.nfft];
                let mut scratch = self.inverse.make_scratch_vec();
                for t in 0..frames {
                    for (k, value) in spectrum[..bins].iter_mut().enumerate() {
                        *value = Complex32::new(re[k * frames + t], im[k * frames + t]);
                    }
                    // The inverse real FFT ignores the imaginary parts of DC and Nyquist, as torch's does.
                    spectrum[0].im = 0.0;
                    spectrum[bins] = Complex32::default();
                    self.inverse
                        .process_with_scratch(&mut spectrum, &mut frame, &mut scratch)
                        .expect("buffer sizes come from the plan");
                    let start = (t + 2) * hop;
                    for (i, (x, w)) in frame.iter().zip(&self.window).enumerate() {
                        sum[start + i] += x * w * scale;
                    }
                }
                // istft drops nfft / 2 samples of centring, then `_ispec` drops the margin.
                let offset = self.nfft / 2 + margin;
                debug_assert!(offset + length <= self.nfft / 2 + wanted);
                for (j, y) in signal.iter_mut().enumerate() {
                    let e = envelope[offset + j];
                    *y = if e > 1e-11 { sum[offset + j] / e } else { 0.0 };
                }
            });
        out
    }
}
