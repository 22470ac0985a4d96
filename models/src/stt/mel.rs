//! Whisper's front end: 16 kHz mono PCM → log-mel spectrogram, one 30 s window at a time.
//!
//! Same arithmetic as the reference feature extractors: periodic Hann window of 400, hop 160,
//! centred frames with reflect padding, power spectrum, Slaney-style mel filterbank (computed
//! here, not loaded), log10 with a 1e-10 floor, clamp to 8 below the window's maximum, then
//! `(x + 4) / 4`. FFTs run in f64, which keeps us within ~1e-6 of the f64 reference.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP_LENGTH: usize = 160;
pub const CHUNK_SECONDS: usize = 30;
/// Samples in one window.
pub const N_SAMPLES: usize = CHUNK_SECONDS * SAMPLE_RATE;
/// Mel frames in one window.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;
const N_FREQS: usize = N_FFT / 2 + 1;

/// Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's `htk=False`).
pub fn hz_to_mel_slaney(hz: f64) -> f64 {
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = 15.0;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        3.0 * hz / 200.0
    }
}

pub fn mel_to_hz_slaney(mel: f64) -> f64 {
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = 15.0;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep * (mel - MIN_LOG_MEL)).exp()
    } else {
        200.0 * mel / 3.0
    }
}

/// Triangular filters on the Slaney mel scale from 0 to 8 kHz, each scaled to unit area
/// ("slaney" normalisation), as a dense `[n_mels][201]` table.
pub fn mel_filterbank(n_mels: usize) -> Vec<Vec<f32>> {
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let (m_lo, m_hi) = (hz_to_mel_slaney(0.0), hz_to_mel_slaney(nyquist));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz_slaney(m_lo + (m_hi - m_lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let fft_freqs: Vec<f64> = (0..N_FREQS)
        .map(|k| nyquist * k as f64 / (N_FREQS - 1) as f64)
        .collect();
    (0..n_mels)
        .map(|m| {
            let (lo, centre, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let area_norm = 2.0 / (hi - lo);
            fft_freqs
                .iter()
                .map(|&f| {
                    let rising = (f - lo) / (centre - lo);
                    let falling = (hi - f) / (hi - centre);
                    (rising.min(falling).max(0.0) * area_norm) as f32
                })
                .collect()
        })
        .collect()
}

/// One filter's non-zero run, so the mel product skips the zeros (most of the table).
struct SparseFilter {
    start: usize,
    weights: Vec<f64>,
}

/// Computes log-mel windows for a fixed number of mel bins (80, or 128 for large-v3).
pub struct LogMel {
    n_mels: usize,
    filters: Vec<SparseFilter>,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl LogMel {
    pub fn new(n_mels: usize) -> Self {
        let filters = mel_filterbank(n_mels)
            .into_iter()
            .map(|row| {
                let start = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(start, |e| e + 1);
                SparseFilter {
                    start,
                    weights: row[start..end].iter().map(|&w| f64::from(w)).collect(),
                }
            })
            .collect();
        let window = (0..N_FFT)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos())
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        Self {
            n_mels,
            filters,
            window,
            fft,
        }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The log-mel of one window, `[n_mels][N_FRAMES]` row-major. `samples` holds up to 30 s;
    /// shorter input is zero-padded to 30 s as the model expects (the caller knows how many
    /// frames are real: `samples.len() / HOP_LENGTH`).
    pub fn window(&self, samples: &[f32]) -> Vec<f32> {
        let samples = &samples[..samples.len().min(N_SAMPLES)];
        let padded = reflect_pad(samples);
        let mut mel = vec![0f64; self.n_mels * N_FRAMES];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f64; N_FREQS];
        // The reference computes N_FRAMES + 1 frames and drops the last one.
        for frame in 0..N_FRAMES {
            let start = frame * HOP_LENGTH;
            for (i, slot) in input.iter_mut().enumerate() {
                *slot = padded[start + i] * self.window[i];
            }
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("buffers come from the same plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for (m, filter) in self.filters.iter().enumerate() {
                let bins = &power[filter.start..filter.start + filter.weights.len()];
                let energy: f64 = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
                mel[m * N_FRAMES + frame] = energy.max(1e-10).log10();
            }
        }
        let max = mel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mel.iter()
            .map(|&v| ((v.max(max - 8.0) + 4.0) / 4.0) as f32)
            .collect()
    }
}

/// The window's samples, zero-padded to 30 s, with `N_FFT / 2` reflected samples on each side
/// (numpy's "reflect": the edge sample itself is not repeated).
fn reflect_pad(samples: &[f32]) -> Vec<f64> {
    let half = N_FFT / 2;
    let mut body = vec![0f64; N_SAMPLES];
    for (b, &s) in body.iter_mut().zip(samples) {
        *b = f64::from(s);
    }
    let mut out = Vec::with_capacity(N_SAMPLES + 2 * half);
    out.extend((1..=half).rev().map(|i| body[i]));
    out.extend_from_slice(&body);
    out.extend((1..=half).map(|i| body[N_SAMPLES - 1 - i]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips() {
        for hz in [0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz_slaney(hz_to_mel_slaney(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn filters_have_unit_area_in_hz() {
        // Slaney normalisation: each triangle's area over Hz is 1 (2 / width × width / 2).
        // Only wide (upper) filters are sampled finely enough by 40 Hz bins to check this way.
        let bank = mel_filterbank(80);
        let bin_hz = 8000.0 / 200.0;
        for row in &bank[60..] {
            let area: f64 = row.iter().map(|&w| f64::from(w) * bin_hz).sum();
            assert!((area - 1.0).abs() < 0.05, "{area}");
        }
    }

    #[test]
    fn silence_is_flat_and_tone_peaks_at_its_band() {
        let front = LogMel::new(80);
        let silent = front.window(&[]);
        assert_eq!(silent.len(), 80 * N_FRAMES);
        assert!(silent.iter().all(|&v| v == silent[0]));

        let tone: Vec<f32> = (0..SAMPLE_RATE)
            .map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / SAMPLE_RATE as f32).sin())
            .collect();
        let mel = front.window(&tone);
        let frame = 50;
        let loudest = (0..80)
            .max_by(|&a, &b| mel[a * N_FRAMES + frame].total_cmp(&mel[b * N_FRAMES + frame]))
            .unwrap();
        let centre_hz = mel_to_hz_slaney(hz_to_mel_slaney(8000.0) * (loudest + 1) as f64 / 81.0);
        assert!((centre_hz - 1000.0).abs() < 80.0, "peak at {centre_hz} Hz");
        // Frames past the tone's end are quieter than the tone.
        assert!(mel[loudest * N_FRAMES + 200] < mel[loudest * N_FRAMES + frame]);
    }
}
