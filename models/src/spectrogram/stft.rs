//! Frame-level STFT / ISTFT with torch.stft / torch.istft conventions: centred frames,
//! reflect padding, periodic Hann window zero-padded to `n_fft` in the middle, unnormalised
//! forward transform, `1 / n_fft` inverse and division by the summed squared window.
//!
//! Only the `win_length` samples under the window are ever touched: the rest of each
//! `n_fft` frame is zero on the way in and discarded on the way out.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::params::SpectrogramParams;

/// `torch.hann_window(n)` (periodic).
pub fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (0.5 - 0.5 * x.cos()) as f32
        })
        .collect()
}

/// Reflect an index into `0..len` (numpy/torch "reflect": the edge sample is not repeated).
pub fn reflect(i: isize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let mut j = i.rem_euclid(period);
    if j >= len as isize {
        j = period - j;
    }
    j as usize
}

/// Plans and window shared by every frame; cheap to share across threads.
#[derive(Clone)]
pub struct FramePlan {
    pub n_fft: usize,
    pub hop: usize,
    pub window: Vec<f32>,
    /// Where the window starts inside the `n_fft` frame.
    pub win_offset: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

/// Per-thread buffers so the transforms never allocate.
pub struct FrameScratch {
    pub time: Vec<f32>,
    pub spec: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
}

impl FramePlan {
    pub fn new(params: &SpectrogramParams) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        Self {
            n_fft: params.n_fft,
            hop: params.hop_length,
            window: hann_periodic(params.win_length),
            win_offset: (params.n_fft - params.win_length) / 2,
            forward: planner.plan_fft_forward(params.n_fft),
            inverse: planner.plan_fft_inverse(params.n_fft),
        }
    }

    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn win_length(&self) -> usize {
        self.window.len()
    }

    pub fn scratch(&self) -> FrameScratch {
        let len = self
            .forward
            .get_scratch_len()
            .max(self.inverse.get_scratch_len());
        FrameScratch {
            time: vec![0.0; self.n_fft],
            spec: vec![Complex32::default(); self.n_freqs()],
            fft_scratch: vec![Complex32::default(); len],
        }
    }

    /// Frames of a centred STFT of `len` samples.
    pub fn n_frames(&self, len: usize) -> usize {
        len / self.hop + 1
    }

    /// Signal index (unpadded) of the first windowed sample of frame `t`.
    pub fn window_start(&self, t: usize) -> isize {
        (t * self.hop + self.win_offset) as isize - (self.n_fft / 2) as isize
    }

    /// Spectrum of frame `t` of `signal` into `scratch.spec`.
    pub fn forward_frame(&self, signal: &[f32], t: usize, scratch: &mut FrameScratch) {
        let start = self.window_start(t);
        let time = &mut scratch.time;
        // realfft uses its input as scratch, so the zero padding is rewritten every time.
        time.fill(0.0);
        let dst = &mut time[self.win_offset..self.win_offset + self.window.len()];
        let len = signal.len();
        let inside = start >= 0 && start as usize + dst.len() <= len;
        if inside {
            let src = &signal[start as usize..start as usize + dst.len()];
            for ((d, &s), &w) in dst.iter_mut().zip(src).zip(&self.window) {
                *d = s * w;
            }
        } else {
            for (j, (d, &w)) in dst.iter_mut().zip(&self.window).enumerate() {
                *d = signal[reflect(start + j as isize, len)] * w;
            }
        }
        self.forward
            .process_with_scratch(time, &mut scratch.spec, &mut scratch.fft_scratch)
            .expect("buffer sizes come from the plan");
    }

    /// Inverse of `scratch.spec` (destroyed); writes the windowed, `1/n_fft`-scaled samples
    /// under the window into `out` (`win_length` long).
    pub fn inverse_frame(&self, scratch: &mut FrameScratch, out: &mut [f32]) {
        // A real signal's DC and Nyquist bins are real; torch's irfft ignores their imaginary part.
        let last = scratch.spec.len() - 1;
        scratch.spec[0].im = 0.0;
        scratch.spec[last].im = 0.0;
        self.inverse
            .process_with_scratch(
                &mut scratch.spec,
                &mut scratch.time,
                &mut scratch.fft_scratch,
            )
            .expect("buffer sizes come from the plan");
        let scale = 1.0 / self.n_fft as f32;
        let src = &scratch.time[self.win_offset..self.win_offset + self.window.len()];
        for ((o, &s), &w) in out.iter_mut().zip(src).zip(&self.window) {
            *o = s * w * scale;
        }
    }

    /// 1 / (sum of squared windows) for each of `len` output samples of `n_frames` frames;
    /// zero where torch would reject the envelope as too small.
    pub fn inverse_envelope(&self, n_frames: usize, len: usize) -> Vec<f32> {
        let mut env = vec![0.0f64; len];
        for t in 0..n_frames {
            let start = self.window_start(t);
            for (j, &w) in self.window.iter().enumerate() {
                let s = start + j as isize;
                if s >= 0 && (s as usize) < len {
                    env[s as usize] += f64::from(w) * f64::from(w);
                }
            }
        }
        env.iter()
            .map(|&e| if e > 1e-11 { (1.0 / e) as f32 } else { 0.0 })
            .collect()
    }

    /// Overlap-adds windowed frames (`frames[t]` = `win_length` samples) into `out[..]`, whose
    /// first sample is signal index `offset`, and applies the inverse envelope.
    pub fn overlap_add(&self, frames: &[f32], inv_env: &[f32], offset: usize, out: &mut [f32]) {
        let win = self.window.len();
        let n_frames = frames.len() / win;
        out.fill(0.0);
        let chunk_lo = offset as isize;
        let chunk_hi = chunk_lo + out.len() as isize;
        // Frames whose window [start, start + win) meets [chunk_lo, chunk_hi).
        let base = self.window_start(0);
        let hop = self.hop as isize;
        let t_lo = (chunk_lo - base - win as isize + 1).div_euclid(hop).max(0) as usize;
        let t_hi = ((chunk_hi - 1 - base).div_euclid(hop) + 1).clamp(0, n_frames as isize) as usize;
        for t in t_lo..t_hi {
            let start = self.window_start(t);
            let lo = start.max(chunk_lo);
            let hi = (start + win as isize).min(chunk_hi);
            if lo >= hi {
                continue;
            }
            let frame = &frames[t * win..(t + 1) * win];
            let src = &frame[(lo - start) as usize..(hi - start) as usize];
            let dst = &mut out[(lo - chunk_lo) as usize..(hi - chunk_lo) as usize];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
        let env = &inv_env[offset..offset + out.len()];
        for (o, &e) in out.iter_mut().zip(env) {
            *o *= e;
        }
    }
}
