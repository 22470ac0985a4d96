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

/// Applies one gain per mix so that all reach the same loudness: the target, or less where a
/// mix would otherwise pass the true-peak ceiling (then all follow the quietest, so they stay
/// matched). Silent mixes are left alone. Returns each mix's loudness afterwards.
pub fn normalize_matched(
    mixes: &mut [PcmAudio],
    target: &LoudnessTarget,
) -> Result<Vec<Loudness>, LoudnessError> {
    let before: Vec<Loudness> = mixes.iter().map(measure).collect::<Result<_, _>>()?;
    let audible = |l: &Loudness| l.integrated_lufs.is_finite();
    // The loudest level every mix can reach without its true peak passing the ceiling.
    let reachable = before
        .iter()
        .filter(|l| audible(l))
        .map(|l| l.integrated_lufs + (target.max_true_peak_dbtp - l.true_peak_dbtp))
        .fold(target.integrated_lufs, f64::min);
    for (pcm, loudness) in mixes.iter_mut().zip(&before) {
        if !audible(loudness) {
            continue;
        }
        let gain = 10f64.powf((reachable - loudness.integrated_lufs) / 20.0) as f32;
        for sample in &mut pcm.samples {
            *sample *= gain;
        }
    }
    mixes.iter().map(measure).collect()
}

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
    fn a_peaky_mix_holds_everyone_below_the_ceiling_and_they_stay_matched() {
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
        assert!(after[0].integrated_lufs < -14.0);
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
