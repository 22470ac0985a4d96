//! Triangular HTK mel filterbank with torchaudio's `melscale_fbanks` semantics (norm=None).
//!
//! The bank is stored sparsely: each filter is non-zero over one short run of FFT bins, which
//! makes the forward product and the normal equations of the inverse cheap.

use super::params::SpectrogramParams;

/// One triangular filter: weights for bins `start..start + weights.len()`.
#[derive(Debug, Clone)]
pub struct MelFilter {
    pub start: usize,
    pub weights: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct MelFilterbank {
    n_freqs: usize,
    /// The `n_mels + 2` break frequencies in Hz.
    f_pts: Vec<f32>,
    filters: Vec<MelFilter>,
    /// One past the highest bin any filter touches; bins above it are always zero.
    active_bins: usize,
}

pub fn hz_to_mel_htk(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

pub fn mel_to_hz_htk(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

impl MelFilterbank {
    pub fn new(params: &SpectrogramParams) -> Self {
        let n_mels = params.n_mels;
        let m_min = hz_to_mel_htk(f64::from(params.min_frequency));
        let m_max = hz_to_mel_htk(f64::from(params.max_frequency));
        // Break points computed in f64 and rounded once: torch computes them in f32 with its
        // own rounding, which is where our last-ulp differences from it come from.
        let f_pts: Vec<f32> = (0..n_mels + 2)
            .map(|i| {
                let m = m_min + (m_max - m_min) * i as f64 / (n_mels + 1) as f64;
                mel_to_hz_htk(m) as f32
            })
            .collect();
        Self::from_break_frequencies(params, f_pts)
    }

    /// Bank with given break frequencies (`n_mels + 2` values, Hz); lets tests separate the
    /// triangle construction from the rounding of the break points.
    pub fn from_break_frequencies(params: &SpectrogramParams, f_pts: Vec<f32>) -> Self {
        let n_freqs = params.n_freqs();
        let n_mels = f_pts.len().saturating_sub(2);
        let nyquist = f64::from(params.sample_rate / 2);
        let bin_hz: Vec<f32> = (0..n_freqs)
            .map(|k| (k as f64 * nyquist / (n_freqs - 1).max(1) as f64) as f32)
            .collect();
        let filters: Vec<MelFilter> = (0..n_mels)
            .map(|i| triangle(&bin_hz, f_pts[i], f_pts[i + 1], f_pts[i + 2]))
            .collect();
        let active_bins = filters
            .iter()
            .filter(|f| !f.weights.is_empty())
            .map(|f| f.start + f.weights.len())
            .max()
            .unwrap_or(0);
        Self {
            n_freqs,
            f_pts,
            filters,
            active_bins,
        }
    }

    pub fn n_freqs(&self) -> usize {
        self.n_freqs
    }

    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    pub fn active_bins(&self) -> usize {
        self.active_bins
    }

    pub fn break_frequencies(&self) -> &[f32] {
        &self.f_pts
    }

    pub fn filters(&self) -> &[MelFilter] {
        &self.filters
    }

    /// Dense `(n_freqs, n_mels)` row-major matrix, laid out like torchaudio's `fb`.
    pub fn to_dense(&self) -> Vec<f32> {
        let n_mels = self.n_mels();
        let mut fb = vec![0.0; self.n_freqs * n_mels];
        for (i, f) in self.filters.iter().enumerate() {
            for (j, &w) in f.weights.iter().enumerate() {
                fb[(f.start + j) * n_mels + i] = w;
            }
        }
        fb
    }

    /// Mel amplitudes of one frame's linear spectrum; bins beyond `spectrum` count as zero.
    pub fn apply(&self, spectrum: &[f32], mel: &mut [f32]) {
        for (out, f) in mel.iter_mut().zip(&self.filters) {
            let end = (f.start + f.weights.len()).min(spectrum.len());
            let bins = spectrum.get(f.start..end).unwrap_or(&[]);
            // f64 accumulation: the sum then matches the reference to its own rounding.
            let acc: f64 = bins
                .iter()
                .zip(&f.weights)
                .map(|(&s, &w)| f64::from(s) * f64::from(w))
                .sum();
            *out = acc as f32;
        }
    }
}

/// Weights of one triangle, in f32 arithmetic as torchaudio's `_create_triangular_filterbank`.
fn triangle(bin_hz: &[f32], lo: f32, mid: f32, hi: f32) -> MelFilter {
    let weight = |f: f32| {
        let down = -(lo - f) / (mid - lo);
        let up = (hi - f) / (hi - mid);
        let w = down.min(up).max(0.0);
        if w.is_finite() {
            w
        } else {
            0.0
        }
    };
    let first = bin_hz.iter().position(|&f| f > lo && weight(f) > 0.0);
    let Some(start) = first else {
        return MelFilter {
            start: 0,
            weights: Vec::new(),
        };
    };
    let mut weights: Vec<f32> = bin_hz[start..]
        .iter()
        .take_while(|&&f| f < hi)
        .map(|&f| weight(f))
        .collect();
    while weights.last() == Some(&0.0) {
        weights.pop();
    }
    MelFilter { start, weights }
}
