//! Mel -> linear amplitudes: `relu(lstsq(fb^T, mel))` as torchaudio >= 2.1 computes it.
//!
//! `fb^T` (n_mels x n_freqs) is wide, so LAPACK's `gels` returns the minimum-norm solution
//! `x = fb (fb^T fb)^-1 mel`. Adjacent HTK triangles only overlap their neighbours, so the
//! Gram matrix `fb^T fb` is banded (tridiagonal for Riffusion): we factor it once in f64 with a
//! banded Cholesky and each column then costs O(n_mels * band + active bins).

use super::mel::MelFilterbank;

#[derive(Debug, Clone)]
pub struct InverseMel {
    n: usize,
    /// Half bandwidth of the Gram matrix.
    band: usize,
    /// Banded Cholesky factor L, row i holds L[i][i - band ..= i] (zero padded at the top).
    chol: Vec<f64>,
    /// Filters whose Gram diagonal is zero (no bins): their equation is dropped.
    dead: Vec<bool>,
}

impl InverseMel {
    pub fn new(fb: &MelFilterbank) -> Self {
        let filters = fb.filters();
        let n = filters.len();
        let overlaps = |a: usize, b: usize| {
            let (fa, fb) = (&filters[a], &filters[b]);
            !fa.weights.is_empty()
                && !fb.weights.is_empty()
                && fa.start < fb.start + fb.weights.len()
                && fb.start < fa.start + fa.weights.len()
        };
        let mut band = 0;
        for i in 0..n {
            for j in i + 1..n {
                if overlaps(i, j) {
                    band = band.max(j - i);
                }
            }
        }
        let gram = |i: usize, j: usize| -> f64 {
            let (a, b) = (&filters[i], &filters[j]);
            let lo = a.start.max(b.start);
            let hi = (a.start + a.weights.len()).min(b.start + b.weights.len());
            (lo..hi)
                .map(|k| f64::from(a.weights[k - a.start]) * f64::from(b.weights[k - b.start]))
                .sum()
        };
        let w = band + 1;
        let mut chol = vec![0.0f64; n * w];
        let mut dead = vec![false; n];
        // idx(i, j) for i - band <= j <= i.
        let idx = |i: usize, j: usize| i * w + (j + band - i);
        for i in 0..n {
            let j0 = i.saturating_sub(band);
            for j in j0..=i {
                let mut s = gram(i, j);
                for k in i.saturating_sub(band).max(j.saturating_sub(band))..j {
                    s -= chol[idx(i, k)] * chol[idx(j, k)];
                }
                if j == i {
                    // A filter with no bins (or numerically dependent) is dropped, as a rank
                    // deficient least squares would ignore it.
                    if s <= 1e-300 || dead[i] {
                        dead[i] = true;
                        chol[idx(i, i)] = 1.0;
                    } else {
                        chol[idx(i, i)] = s.sqrt();
                    }
                } else if dead[j] {
                    chol[idx(i, j)] = 0.0;
                } else {
                    chol[idx(i, j)] = s / chol[idx(j, j)];
                }
            }
        }
        Self {
            n,
            band,
            chol,
            dead,
        }
    }

    /// Half bandwidth of the Gram matrix (1 for Riffusion's bank).
    pub fn bandwidth(&self) -> usize {
        self.band
    }

    /// Solves `(fb^T fb) y = mel` in place (`y` holds `mel` on entry).
    pub fn solve_gram(&self, y: &mut [f64]) {
        let w = self.band + 1;
        let idx = |i: usize, j: usize| i * w + (j + self.band - i);
        for i in 0..self.n {
            if self.dead[i] {
                y[i] = 0.0;
                continue;
            }
            let lo = i.saturating_sub(self.band);
            let dot: f64 = (lo..i).map(|k| self.chol[idx(i, k)] * y[k]).sum();
            y[i] = (y[i] - dot) / self.chol[idx(i, i)];
        }
        for i in (0..self.n).rev() {
            if self.dead[i] {
                y[i] = 0.0;
                continue;
            }
            let hi = (i + self.band + 1).min(self.n);
            let dot: f64 = (i + 1..hi).map(|k| self.chol[idx(k, i)] * y[k]).sum();
            y[i] = (y[i] - dot) / self.chol[idx(i, i)];
        }
    }

    /// Linear amplitudes for one frame: `relu(fb y)`, written to `linear[..fb.active_bins()]`.
    /// `y` is a caller-owned scratch of `n_mels` values so the hot path does not allocate.
    pub fn frame(&self, fb: &MelFilterbank, mel: &[f32], y: &mut [f64], linear: &mut [f32]) {
        for (yi, &m) in y.iter_mut().zip(mel) {
            *yi = f64::from(m);
        }
        self.solve_gram(y);
        let active = fb.active_bins();
        // Runs once per image column, outside Griffin-Lim: a small allocation is fine here.
        let mut acc = vec![0.0f64; active];
        for (f, &yi) in fb.filters().iter().zip(y.iter()) {
            for (j, &w) in f.weights.iter().enumerate() {
                acc[f.start + j] += f64::from(w) * yi;
            }
        }
        for (out, &a) in linear[..active].iter_mut().zip(acc.iter()) {
            *out = a.max(0.0) as f32;
        }
    }
}
