//! Output levelling. Riffusion peak-normalises, applies gain to -12 dBFS RMS (hard-clipping
//! whatever goes over full scale) and normalises to -0.1 dBFS peak. We keep the RMS target but
//! replace the clipping by a smooth look-ahead limiter, and give up loudness (less gain) rather
//! than limit by more than `max_limiting_db`.

/// Loudness settings for the final audio.
#[derive(Debug, Clone, PartialEq)]
pub struct LoudnessOptions {
    /// RMS target over all channels, dBFS.
    pub target_rms_dbfs: f32,
    /// Ceiling for every sample, dBFS.
    pub peak_dbfs: f32,
    /// Most gain reduction the limiter may apply; beyond it the whole clip gets less gain.
    pub max_limiting_db: f32,
    /// Limiter attack = release ramp, seconds.
    pub limiter_ramp_s: f32,
}

impl Default for LoudnessOptions {
    fn default() -> Self {
        Self {
            target_rms_dbfs: -12.0,
            peak_dbfs: -0.1,
            max_limiting_db: 6.0,
            limiter_ramp_s: 0.005,
        }
    }
}

fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Levels `channels` in place (same gain on every channel); silence stays silent.
pub fn normalize(channels: &mut [Vec<f32>], sample_rate: u32, opts: &LoudnessOptions) {
    let count: usize = channels.iter().map(Vec::len).sum();
    let peak = channels
        .iter()
        .flat_map(|c| c.iter())
        .fold(0.0f32, |m, &x| m.max(x.abs()));
    if count == 0 || peak.is_nan() || peak <= 0.0 {
        return;
    }
    let sum_sq: f64 = channels
        .iter()
        .flat_map(|c| c.iter())
        .map(|&x| f64::from(x) * f64::from(x))
        .sum();
    let rms = (sum_sq / count as f64).sqrt() as f32;
    // Ceiling a hair below the target so f32 rounding can never cross it.
    let ceiling = db_to_gain(opts.peak_dbfs) * (1.0 - 1e-6);
    let rms_gain = db_to_gain(opts.target_rms_dbfs) / rms;
    let limit_gain = ceiling / peak * db_to_gain(opts.max_limiting_db.max(0.0));
    let gain = rms_gain.min(limit_gain);
    for c in channels.iter_mut() {
        for x in c.iter_mut() {
            *x *= gain;
        }
    }
    if peak * gain > ceiling {
        let ramp = ((opts.limiter_ramp_s * sample_rate as f32) as usize).max(1);
        limit(channels, ceiling, ramp);
    }
}

/// Look-ahead limiter: the required gain per sample, min-held over `ramp` samples ahead and
/// box-averaged over `ramp` samples behind, is never above what any sample needs, so no sample
/// exceeds `ceiling`, and the gain moves in ramps instead of steps.
fn limit(channels: &mut [Vec<f32>], ceiling: f32, ramp: usize) {
    let len = channels.iter().map(Vec::len).max().unwrap_or(0);
    let need: Vec<f32> = (0..len)
        .map(|i| {
            let a = channels
                .iter()
                .filter_map(|c| c.get(i))
                .fold(0.0f32, |m, &x| m.max(x.abs()));
            if a > ceiling {
                ceiling / a
            } else {
                1.0
            }
        })
        .collect();
    let held = sliding_min_ahead(&need, ramp);
    // Running mean of `held` over [i - ramp + 1, i]; out-of-range samples count as 1 (no
    // limiting needed before the start).
    let mut gain = vec![0.0f32; len];
    let mut sum = ramp as f64;
    for i in 0..len {
        sum += f64::from(held[i]);
        sum -= if i >= ramp {
            f64::from(held[i - ramp])
        } else {
            1.0
        };
        gain[i] = ((sum / ramp as f64) as f32).min(held[i]);
    }
    for c in channels.iter_mut() {
        for (x, &g) in c.iter_mut().zip(&gain) {
            *x *= g;
        }
    }
}

/// `out[i] = min(v[i .. i + w])` with a monotonic deque, O(n).
fn sliding_min_ahead(v: &[f32], w: usize) -> Vec<f32> {
    let n = v.len();
    let mut out = vec![0.0; n];
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    // Walk backwards: window of i is [i, i + w).
    for i in (0..n).rev() {
        while dq.back().is_some_and(|&j| v[j] >= v[i]) {
            dq.pop_back();
        }
        dq.push_back(i);
        while dq.front().is_some_and(|&j| j >= i + w) {
            dq.pop_front();
        }
        out[i] = v[*dq.front().expect("just pushed")];
    }
    out
}
