//! Conversion parameters; the defaults are Riffusion's.

use super::error::{Result, SpectrogramError};

/// Parameters shared by both directions (image -> audio and audio -> image).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrogramParams {
    pub sample_rate: u32,
    /// Samples between frames (one image column).
    pub hop_length: usize,
    /// Length of the periodic Hann window, centred inside `n_fft`.
    pub win_length: usize,
    pub n_fft: usize,
    /// Mel bins = image rows.
    pub n_mels: usize,
    pub min_frequency: f32,
    pub max_frequency: f32,
    /// Pixel curve: pixel = (amplitude / max)^power.
    pub power_for_image: f32,
    /// Mel amplitude of a black pixel when reading an image.
    pub max_value: f32,
    pub griffin_lim_iters: usize,
    /// Momentum as given to torchaudio; it applies `m / (1 + m)`.
    pub momentum: f32,
    /// Stereo: left in the green channel, right in blue. Mono: red.
    pub stereo: bool,
}

impl Default for SpectrogramParams {
    fn default() -> Self {
        Self {
            sample_rate: 44_100,
            hop_length: 441,
            win_length: 4410,
            n_fft: 17_640,
            n_mels: 512,
            min_frequency: 0.0,
            max_frequency: 10_000.0,
            power_for_image: 0.25,
            max_value: 30e6,
            griffin_lim_iters: 32,
            momentum: 0.99,
            stereo: false,
        }
    }
}

impl SpectrogramParams {
    /// Riffusion's parameters with stereo images (G = left, B = right).
    pub fn stereo() -> Self {
        Self {
            stereo: true,
            ..Self::default()
        }
    }

    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn channels(&self) -> usize {
        if self.stereo {
            2
        } else {
            1
        }
    }

    /// The fewest image columns we convert (the reflect padding needs a few frames of signal).
    pub fn min_frames(&self) -> usize {
        self.win_length.div_ceil(2 * self.hop_length) + 2
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SpectrogramError::InvalidParams(m));
        if self.sample_rate == 0 {
            return bad("sample rate must be positive".into());
        }
        if self.hop_length == 0 || self.win_length == 0 || self.n_mels == 0 {
            return bad("hop, window length and mel count must be positive".into());
        }
        if self.n_fft < 2 || !self.n_fft.is_multiple_of(2) {
            return bad(format!("n_fft must be even and >= 2, got {}", self.n_fft));
        }
        // Far beyond any audio use; keeps a typo from asking for gigabytes.
        if self.n_fft > 1 << 20 || self.n_mels > 1 << 14 {
            return bad(format!(
                "n_fft {} or n_mels {} is unreasonably large",
                self.n_fft, self.n_mels
            ));
        }
        if self.win_length > self.n_fft {
            return bad(format!(
                "window length {} exceeds n_fft {}",
                self.win_length, self.n_fft
            ));
        }
        if self.hop_length > self.win_length {
            return bad("hop must not exceed the window length (gaps in the overlap-add)".into());
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        if !(self.min_frequency >= 0.0
            && self.min_frequency < self.max_frequency
            && self.max_frequency <= nyquist)
        {
            return bad(format!(
                "need 0 <= min_frequency < max_frequency <= {nyquist}, got {}..{}",
                self.min_frequency, self.max_frequency
            ));
        }
        if !(self.power_for_image.is_finite() && self.power_for_image > 0.0) {
            return bad("power_for_image must be positive".into());
        }
        if !(self.max_value.is_finite() && self.max_value >= 0.0) {
            return bad("max_value must be finite and non-negative".into());
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        Ok(())
    }
}
