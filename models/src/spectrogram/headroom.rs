//! Griffin-Lim's output keeps its own level and dynamics: loudness is set once, in the mix.
//! Audio that would clip in an integer format (a sample beyond full scale) is scaled down by
//! one linear gain, so its peak sits at -0.1 dBFS; nothing else touches its level.

/// Where audio that would clip is brought to: -0.1 dBFS.
pub const PEAK_CEILING: f32 = 0.988_553;

/// Largest absolute sample (NaNs are ignored).
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

/// The gain for audio with this peak: 1 when it fits in full scale already, otherwise the
/// one that brings the peak to `PEAK_CEILING`.
pub fn gain_to_fit(peak: f32) -> f32 {
    if peak > 1.0 && peak.is_finite() {
        PEAK_CEILING / peak
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_audio_beyond_full_scale_is_scaled() {
        assert_eq!(gain_to_fit(0.0), 1.0);
        assert_eq!(gain_to_fit(0.7), 1.0);
        assert_eq!(gain_to_fit(1.0), 1.0);
        assert!((gain_to_fit(4.0) * 4.0 - PEAK_CEILING).abs() < 1e-6);
        assert!((20.0 * PEAK_CEILING.log10() + 0.1).abs() < 1e-4);
        assert_eq!(peak(&[0.1, -2.5, f32::NAN, 1.0]), 2.5);
    }
}
