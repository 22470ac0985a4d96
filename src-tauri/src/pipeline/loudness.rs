//! EBU R128 loudness with the `ebur128` crate: measuring a mix, and bringing the four
//! candidates to the same loudness so the user compares music, not volume.

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};

use bgm_models::task::CancelToken;

use super::error::{PipelineError, Result};
use crate::media::{FrameSource, PcmAudio};

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
    let mut meter = Meter::new(pcm.channels, pcm.sample_rate)?;
    meter.add(&pcm.samples)?;
    meter.loudness()
}

/// Integrated loudness and true peak, measured a block at a time.
pub struct Meter {
    meter: EbuR128,
    channels: u16,
}

fn meter_error(e: ebur128::Error) -> LoudnessError {
    LoudnessError(e.to_string())
}

impl Meter {
    pub fn new(channels: u16, sample_rate: u32) -> Result<Self, LoudnessError> {
        let meter = EbuR128::new(u32::from(channels), sample_rate, Mode::I | Mode::TRUE_PEAK)
            .map_err(meter_error)?;
        Ok(Self { meter, channels })
    }

    /// Adds interleaved samples.
    pub fn add(&mut self, samples: &[f32]) -> Result<(), LoudnessError> {
        self.meter.add_frames_f32(samples).map_err(meter_error)
    }

    /// The loudness of everything added so far.
    pub fn loudness(&self) -> Result<Loudness, LoudnessError> {
        let integrated_lufs = self.meter.loudness_global().map_err(meter_error)?;
        let mut peak = 0f64;
        for channel in 0..u32::from(self.channels) {
            peak = peak.max(self.meter.true_peak(channel).map_err(meter_error)?);
        }
        Ok(Loudness {
            integrated_lufs,
            true_peak_dbtp: 20.0 * peak.max(1e-12).log10(),
        })
    }
}

/// Brings every mix to the target loudness (see `level`). Returns each mix's loudness after.
pub fn normalize_matched(mixes: &mut [PcmAudio], target: &LoudnessTarget) -> Result<Vec<Loudness>> {
    let never = CancelToken::new();
    mixes
        .iter_mut()
        .map(|pcm| {
            let mut levelled = Vec::with_capacity(pcm.samples.len());
            let loudness = level(pcm, target, None, &never, &mut |block| {
                levelled.extend_from_slice(block);
                Ok(())
            })?;
            pcm.samples = levelled;
            Ok(loudness)
        })
        .collect()
}

/// The gain and limiter ceiling (linear) that bring audio to the target.
#[derive(Clone, Copy, Debug)]
struct Levelling {
    gain: f32,
    ceiling: Option<f32>,
}

fn db_to_gain(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

/// Brings one mix to the target loudness, so the four candidates are compared on music, not
/// volume: one gain, then a look-ahead limiter on the peaks that would pass the true-peak
/// ceiling (tightened until the measured true peak holds; limiting short peaks costs a few
/// hundredths of a LU). Silence is left alone.
///
/// `source` is read a block at a time, once per round of measurement and once more to hand
/// the levelled blocks to `each`, so hours of audio take no more memory than seconds.
/// `before` is the source's loudness when the caller measured it already. Returns the
/// loudness of what went to `each`.
pub fn level(
    source: &mut dyn FrameSource,
    target: &LoudnessTarget,
    before: Option<Loudness>,
    cancel: &CancelToken,
    each: &mut dyn FnMut(&[f32]) -> Result<()>,
) -> Result<Loudness> {
    let mut levelling = Levelling {
        gain: 1.0,
        ceiling: None,
    };
    let before = match before {
        Some(loudness) => loudness,
        None => render(source, levelling, cancel, &mut |_| Ok(()))?,
    };
    if before.integrated_lufs.is_finite() {
        levelling.gain = db_to_gain(target.integrated_lufs - before.integrated_lufs);
        // Sample peaks sit below true peaks: the ceiling starts half a dB under and tightens
        // by whatever is still over.
        let mut ceiling_db = target.max_true_peak_dbtp - 0.5;
        for _ in 0..6 {
            let now = render(source, levelling, cancel, &mut |_| Ok(()))?;
            let over = now.true_peak_dbtp - target.max_true_peak_dbtp;
            let short = target.integrated_lufs - now.integrated_lufs;
            if over <= 0.0 && short.abs() <= 0.05 {
                break;
            }
            if over > 0.0 {
                if levelling.ceiling.is_some() {
                    ceiling_db -= over.max(0.1);
                }
                levelling.ceiling = Some(db_to_gain(ceiling_db));
            }
            // Limiting took some energy away: make it up, the limiter holding the peaks.
            levelling.gain *= db_to_gain(short);
        }
    }
    render(source, levelling, cancel, &mut |block| each(block))
}

/// `source` with `levelling` applied, a block at a time, to `each`; returns its loudness.
fn render(
    source: &mut dyn FrameSource,
    levelling: Levelling,
    cancel: &CancelToken,
    each: &mut dyn FnMut(&[f32]) -> Result<()>,
) -> Result<Loudness> {
    let channels = usize::from(source.channels().max(1));
    let ramp = super::limiter::ramp_frames(LIMITER_RAMP_SECONDS, source.sample_rate());
    let margin = levelling.ceiling.map_or(0, |_| super::limiter::reach(ramp));
    let mut meter = Meter::new(source.channels(), source.sample_rate())?;
    let frames = source.frames();
    let mut start = 0;
    while start < frames {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let len = LEVEL_BLOCK_FRAMES.min(frames - start);
        let mut samples = source.read(start as i64 - margin as i64, len + 2 * margin)?;
        samples.iter_mut().for_each(|s| *s *= levelling.gain);
        if let Some(ceiling) = levelling.ceiling {
            if let Some(gains) = super::limiter::limiter_gains(&samples, channels, ceiling, ramp) {
                for (frame, g) in samples.chunks_exact_mut(channels).zip(gains) {
                    frame.iter_mut().for_each(|s| *s *= g);
                }
            }
        }
        let block = &samples[margin * channels..(margin + len) * channels];
        meter.add(block)?;
        each(block)?;
        start += len;
    }
    Ok(meter.loudness()?)
}

/// Frames per block when levelling: 3 s at 44.1 kHz.
const LEVEL_BLOCK_FRAMES: usize = 1 << 17;

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
