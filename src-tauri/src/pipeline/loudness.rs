//! EBU R128 loudness with the `ebur128` crate: measuring a mix, and bringing the four
//! candidates to the same loudness so the user compares music, not volume.

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};

use crate::media::PcmAudio;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Loudness {
    /// Integrated loudness, LUFS.
    pub integrated_lufs: f64,
    /// The highest true peak over the channels, dBTP.
    pub true_peak_dbtp: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoudnessTarget {
    pub integrated_lufs: f64,
    pub max_true_peak_dbtp: f64,
}

impl Default for LoudnessTarget {
    fn default() -> Self {
        Self {
            integrated_lufs: -14.0,
            max_true_peak_dbtp: -1.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("loudness measurement failed: {0}")]
pub struct LoudnessError(String);

pub fn measure(pcm: &PcmAudio) -> Result<Loudness, LoudnessError> {
    let err = |e: ebur128::Error| LoudnessError(e.to_string());
    let mut meter = EbuR128::new(
        u32::from(pcm.channels),
        pcm.sample_rate,
        Mode::I | Mode::TRUE_PEAK,
    )
    .map_err(err)?;
    meter.add_frames_f32(&pcm.samples).map_err(err)?;
    let integrated_lufs = meter.loudness_global().map_err(err)?;
    let mut peak = 0f64;
    for channel in 0..u32::from(pcm.channels) {
        peak = peak.max(meter.true_peak(channel).map_err(err)?);
    }
    Ok(Loudness {
        integrated_lufs,
        true_peak_dbtp: 20.0 * peak.max(1e-12).log10(),
    })
}

/// Brings every mix to the target loudness, so the four candidates are compared on music, not
/// volume: one gain each, then a look-ahead limiter on the peaks that would pass the true-peak
/// ceiling (tightened until the measured true peak holds; limiting short peaks costs a few
/// hundredths of a LU). Silent mixes are left alone. Returns each mix's loudness afterwards.
pub fn normalize_matched(
    mixes: &mut [PcmAudio],
    target: &LoudnessTarget,
) -> Result<Vec<Loudness>, LoudnessError> {
    for pcm in mixes.iter_mut() {
        if !measure(pcm)?.integrated_lufs.is_finite() {
            continue;
        }
        // Gain to the target, then limit what passes the ceiling; limiting takes some energy
        // away, so repeat until both hold. Sample peaks sit below true peaks: the limiter's
        // ceiling starts half a dB under and tightens by whatever is still over.
        let mut ceiling_db = target.max_true_peak_dbtp - 0.5;
        for _ in 0..6 {
            let now = measure(pcm)?;
            let gain = 10f64.powf((target.integrated_lufs - now.integrated_lufs) / 20.0) as f32;
            pcm.samples.iter_mut().for_each(|s| *s *= gain);
            let over = measure(pcm)?.true_peak_dbtp - target.max_true_peak_dbtp;
            if over <= 0.0 {
                break;
            }
            super::limiter::limit(
                pcm,
                10f64.powf(ceiling_db / 20.0) as f32,
                LIMITER_RAMP_SECONDS,
            );
            let still_over = measure(pcm)?.true_peak_dbtp - target.max_true_peak_dbtp;
            if still_over > 0.0 {
                ceiling_db -= still_over.max(0.1);
            }
        }
        // The last round may have ended on a gain step: make sure the ceiling holds.
        if measure(pcm)?.true_peak_dbtp > target.max_true_peak_dbtp {
            super::limiter::limit(
                pcm,
                10f64.powf(ceiling_db / 20.0) as f32,
                LIMITER_RAMP_SECONDS,
            );
        }
    }
    mixes.iter().map(measure).collect()
}

/// The limiter's attack and release: long enough to be inaudible as a click, short enough to
/// touch only the peak.
const LIMITER_RAMP_SECONDS: f64 = 0.005;

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_like(seconds: f64, amplitude: f32, seed: u32) -> PcmAudio {
        // A sum of inharmonic sines: music-like, and repeatable without a random generator.
        let rate = 44_100u32;
        let frames = (seconds * f64::from(rate)) as usize;
        let freqs = [110.0, 233.0, 347.0, 563.0, 911.0, 1487.0, 2411.0];
        let samples = (0..frames)
            .flat_map(|i| {
                let t = i as f32 / rate as f32;
                let v: f32 = freqs
                    .iter()
                    .map(|f| (2.0 * std::f32::consts::PI * (f + seed as f32) * t).sin())
                    .sum::<f32>()
                    * amplitude
                    / freqs.len() as f32;
                [v, v * 0.9]
            })
            .collect();
        PcmAudio {
            samples,
            sample_rate: rate,
            channels: 2,
        }
    }

    #[test]
    fn candidates_reach_the_target_and_match() {
        let mut mixes = vec![
            noise_like(5.0, 0.05, 0),
            noise_like(5.0, 0.3, 1),
            noise_like(5.0, 0.6, 2),
            noise_like(5.0, 0.15, 3),
        ];
        let after = normalize_matched(&mut mixes, &LoudnessTarget::default()).unwrap();
        for l in &after {
            assert!((l.integrated_lufs - -14.0).abs() < 0.1, "{l:?}");
            assert!(l.true_peak_dbtp <= -1.0 + 0.05, "{l:?}");
        }
    }

    #[test]
    fn a_peaky_mix_is_limited_and_still_reaches_the_target() {
        let mut peaky = noise_like(5.0, 0.05, 0);
        // A few loud clicks: reaching -14 LUFS would push its true peak far past -1 dBTP.
        for i in (0..peaky.samples.len()).step_by(40_000) {
            peaky.samples[i] = 0.9;
        }
        let mut mixes = vec![peaky, noise_like(5.0, 0.3, 1)];
        let after = normalize_matched(&mut mixes, &LoudnessTarget::default()).unwrap();
        assert!(
            after.iter().all(|l| l.true_peak_dbtp <= -1.0 + 0.05),
            "{after:?}"
        );
        assert!(
            (after[0].integrated_lufs - after[1].integrated_lufs).abs() < 0.1,
            "{after:?}"
        );
        for l in &after {
            assert!((l.integrated_lufs - -14.0).abs() < 0.5, "{after:?}");
        }
    }

    #[test]
    fn silence_is_left_alone() {
        let mut mixes = vec![PcmAudio {
            samples: vec![0.0; 88_200],
            sample_rate: 44_100,
            channels: 2,
        }];
        normalize_matched(&mut mixes, &LoudnessTarget::default()).unwrap();
        assert!(mixes[0].samples.iter().all(|s| *s == 0.0));
    }
}
