//! A look-ahead peak limiter, so a mix can reach its loudness target without passing the
//! true-peak ceiling: short peaks are turned down smoothly instead of the whole mix.

/// The ramp in frames (at least one).
pub fn ramp_frames(ramp_seconds: f64, sample_rate: u32) -> usize {
    ((ramp_seconds * f64::from(sample_rate)) as usize).max(1)
}

/// How far a frame's limiter gain looks either side: a block limited on its own gives the
/// same gains as the whole signal when read with this many frames of context on each side.
pub fn reach(ramp: usize) -> usize {
    ramp + ramp / 2 + 1
}

/// The limiter's gain for each frame of interleaved `samples`, or `None` if nothing passes
/// the ceiling.
pub fn limiter_gains(
    samples: &[f32],
    channels: usize,
    ceiling: f32,
    ramp: usize,
) -> Option<Vec<f32>> {
    // The gain each frame needs on its own.
    let needed: Vec<f32> = samples
        .chunks_exact(channels)
        .map(|frame| {
            let peak = frame.iter().fold(0f32, |m, s| m.max(s.abs()));
            if peak > ceiling {
                ceiling / peak
            } else {
                1.0
            }
        })
        .collect();
    if needed.iter().all(|&g| g >= 1.0) {
        return None;
    }
    // The lowest need within ±ramp, then averaged over ±ramp/2: the average of a window that
    // lies inside the min-filter's span never exceeds the need at its centre, so the ceiling
    // holds, and the gain moves linearly instead of jumping.
    let held = sliding_min(&needed, ramp);
    Some(moving_average(&held, ramp / 2))
}

/// Minimum over `[i - radius, i + radius]`, by a monotonic queue (O(n)).
fn sliding_min(values: &[f32], radius: usize) -> Vec<f32> {
    let n = values.len();
    let mut out = vec![0f32; n];
    let mut queue: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        let hi = (i + radius).min(n - 1);
        while next <= hi {
            while queue.back().is_some_and(|&j| values[j] >= values[next]) {
                queue.pop_back();
            }
            queue.push_back(next);
            next += 1;
        }
        while queue.front().is_some_and(|&j| j + radius < i) {
            queue.pop_front();
        }
        *slot = values[*queue.front().expect("window is never empty")];
    }
    out
}

/// Mean over `[i - radius, i + radius]` (clipped at the ends), by prefix sums.
fn moving_average(values: &[f32], radius: usize) -> Vec<f32> {
    let mut prefix = Vec::with_capacity(values.len() + 1);
    prefix.push(0f64);
    for &v in values {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(v));
    }
    (0..values.len())
        .map(|i| {
            let lo = i.saturating_sub(radius);
            let hi = (i + radius + 1).min(values.len());
            ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::PcmAudio;

    /// Limits every sample of `pcm` to `ceiling` (linear), with gain changes spread over
    /// `ramp_seconds` before and after each peak (no clicks).
    pub fn limit(pcm: &mut PcmAudio, ceiling: f32, ramp_seconds: f64) {
        let channels = usize::from(pcm.channels.max(1));
        let ramp = ramp_frames(ramp_seconds, pcm.sample_rate);
        if let Some(gains) = limiter_gains(&pcm.samples, channels, ceiling, ramp) {
            for (frame, g) in pcm.samples.chunks_exact_mut(channels).zip(gains) {
                frame.iter_mut().for_each(|s| *s *= g);
            }
        }
    }

    fn pcm(samples: Vec<f32>) -> PcmAudio {
        PcmAudio {
            samples,
            sample_rate: 1000,
            channels: 1,
        }
    }

    #[test]
    fn peaks_are_held_under_the_ceiling_and_the_rest_is_untouched() {
        let mut samples = vec![0.2f32; 1000];
        samples[500] = 1.5;
        samples[501] = -1.2;
        let mut audio = pcm(samples);
        limit(&mut audio, 0.5, 0.02);
        assert!(audio.samples.iter().all(|s| s.abs() <= 0.5 + 1e-6));
        assert_eq!(audio.samples[100], 0.2);
        assert_eq!(audio.samples[900], 0.2);
    }

    #[test]
    fn the_gain_changes_gradually() {
        let mut samples = vec![0.4f32; 1000];
        samples[500] = 2.0;
        let mut audio = pcm(samples);
        limit(&mut audio, 0.5, 0.02);
        let steps: Vec<f32> = audio
            .samples
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .collect();
        let largest = steps
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != 499 && i != 500)
            .map(|(_, s)| *s)
            .fold(0f32, f32::max);
        assert!(largest < 0.05, "{largest}");
    }

    #[test]
    fn sliding_min_and_average() {
        assert_eq!(
            sliding_min(&[3.0, 1.0, 4.0, 1.5, 5.0], 1),
            vec![1.0, 1.0, 1.0, 1.5, 1.5]
        );
        assert_eq!(moving_average(&[1.0, 2.0, 3.0], 1), vec![1.5, 2.0, 2.5]);
    }
}
