//! Sampling as the reference runs the post-trained (ARC) small model: 8 "ping-pong" steps of
//! rectified flow on a log-SNR-spaced schedule, fresh noise at every step, and the latent
//! length padded past the requested duration with a padding mask over the extra frames.

use candle_core::{Result, Tensor};

use super::dit::{DiffusionTransformer, DitInputs};

/// The post-trained model's step count.
pub const DEFAULT_STEPS: usize = 8;
/// Audio samples per latent frame (SAME-S's downsampling).
pub const SAMPLES_PER_FRAME: usize = 4096;
pub const SAMPLE_RATE: usize = 44_100;
/// The longest audio the model makes in one pass: 1,292 frames of SAME-S, 120 s.
pub const MAX_SAMPLES: usize = 5_292_032;
/// Seconds of headroom the reference generates past the requested duration.
const PADDING_SECONDS: f64 = 6.0;
/// Frame counts are even (SAME-S decodes pairs of frames).
const FRAME_MULTIPLE: usize = 2;

/// The default shift: log-SNR from 2 (data end) to -6.2 (noise end), independent of length.
const LOGSNR_END: f32 = 2.0;
const LOGSNR_START: f32 = -6.2;

/// `steps + 1` flow times from 1 (noise) to 0 (data), spaced evenly in log-SNR: the reference's
/// `build_schedule` with `LogSNRShift(rate=0)`, in f32 as it computes them.
pub fn pingpong_schedule(steps: usize) -> Vec<f32> {
    let n = steps + 1;
    let span = LOGSNR_END - LOGSNR_START;
    (0..n)
        .map(|i| {
            // torch.linspace(1, 0, n): counts down from 1 for the first half, up from 0 after.
            let step = -1.0f32 / steps.max(1) as f32;
            let t = if i < n / 2 {
                1.0 + step * i as f32
            } else {
                -step * (n - 1 - i) as f32
            };
            if t >= 1.0 {
                1.0
            } else if t <= 0.0 {
                0.0
            } else {
                let logsnr = LOGSNR_END - t * span;
                1.0 / (1.0 + logsnr.exp())
            }
        })
        .collect()
}

/// How long the latent is for a request, and how much of it is real for each row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatentLength {
    /// Frames of the latent every row shares.
    pub frames: usize,
    /// Frames that are not padding (the duration plus the reference's 6 s of headroom).
    pub valid: usize,
}

impl LatentLength {
    /// The reference's arithmetic for `seconds` of music (every row the same duration), with
    /// `samples_per_frame` audio samples per latent frame (SAME-S: [`SAMPLES_PER_FRAME`]).
    pub fn for_seconds(seconds: f64, samples_per_frame: usize) -> Self {
        let audio = ((seconds + PADDING_SECONDS) * SAMPLE_RATE as f64) as usize;
        let frames = audio.div_ceil(samples_per_frame * FRAME_MULTIPLE) * FRAME_MULTIPLE;
        let frames = frames.min(MAX_SAMPLES / samples_per_frame);
        let effective = ((seconds * SAMPLE_RATE as f64) as usize).div_ceil(samples_per_frame);
        let headroom = (PADDING_SECONDS * SAMPLE_RATE as f64 / samples_per_frame as f64) as usize;
        Self {
            frames,
            valid: (effective + headroom).min(frames),
        }
    }
}

/// What every step of one sampling run is conditioned on (see [`DitInputs`]).
pub struct Conditioning<'a> {
    pub context: &'a Tensor,
    pub global: &'a Tensor,
    pub local: Option<&'a Tensor>,
    pub padding: Option<&'a Tensor>,
}

impl<'a> Conditioning<'a> {
    /// One step's inputs: these latents at these times, under this conditioning.
    fn inputs<'b>(&self, latents: &'b Tensor, times: &'b [f32]) -> DitInputs<'b>
    where
        'a: 'b,
    {
        DitInputs {
            latents,
            times,
            context: self.context,
            global: self.global,
            local: self.local,
            padding: self.padding,
        }
    }
}

/// Runs the ping-pong loop from `start` (the noise at t = 1) over `schedule`; `noise(i)` gives
/// the fresh noise of step `i` (shaped as the latents), so tests can replay the reference's
/// and the app draws from its own seeded generator. `step_done(i)` is called after each step.
pub fn sample_pingpong(
    model: &DiffusionTransformer,
    start: &Tensor,
    schedule: &[f32],
    conditioning: &Conditioning,
    mut noise: impl FnMut(usize) -> Result<Tensor>,
    mut step_done: impl FnMut(usize) -> Result<()>,
) -> Result<Tensor> {
    let rows = start.dim(0)?;
    let mut x = start.to_dtype(candle_core::DType::F32)?;
    // The context and the inpaint inputs are the same at every step.
    let prepared = model.prepare(&conditioning.inputs(&x, &[]))?;
    for (i, pair) in schedule.windows(2).enumerate() {
        let (t, next) = (pair[0], pair[1]);
        let times = vec![t; rows];
        let velocity = model.forward_prepared(&conditioning.inputs(&x, &times), &prepared)?;
        let denoised = (&x - (velocity * t as f64)?)?;
        x = ((denoised * (1.0 - next as f64))?
            + (noise(i)?.to_device(x.device())? * next as f64)?)?;
        step_done(i)?;
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_step_schedule_is_the_references() {
        let expected = [
            1.0, 0.994376, 0.98448, 0.957912, 0.890903, 0.745547, 0.512497, 0.273885, 0.0,
        ];
        let ours = pingpong_schedule(DEFAULT_STEPS);
        for (a, b) in ours.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{ours:?}");
        }
    }

    #[test]
    fn latent_lengths_follow_the_references_padding() {
        // (seconds, frames, valid) from the reference's arithmetic.
        for (seconds, frames, valid) in [
            (1.0, 76, 75),
            (10.0, 174, 172),
            (30.0, 388, 387),
            (60.0, 712, 710),
            (90.0, 1034, 1033),
            (120.0, 1292, 1292),
        ] {
            assert_eq!(
                LatentLength::for_seconds(seconds, SAMPLES_PER_FRAME),
                LatentLength { frames, valid },
                "{seconds} s"
            );
        }
    }
}
