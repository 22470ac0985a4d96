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
    let mut stats = LevelStats::default();
    for c in channels.iter() {
        stats.add(c);
    }
    let Some(gain) = stats.gain(opts) else {
        return;
    };
    for c in channels.iter_mut() {
        for x in c.iter_mut() {
            *x *= gain;
        }
    }
    if stats.needs_limiter(gain, opts) {
        let (ceiling, ramp) = opts.limiter(sample_rate);
        limit(channels, ceiling, ramp);
    }
}

impl LoudnessOptions {
    /// The limiter's ceiling (linear, a hair below the target so f32 rounding can never cross
    /// it) and its ramp in samples. `limit` over a stretch with `ramp` samples of context on
    /// each side gives the stretch exactly what it gets in the whole signal.
    pub fn limiter(&self, sample_rate: u32) -> (f32, usize) {
        let ceiling = db_to_gain(self.peak_dbfs) * (1.0 - 1e-6);
        let ramp = ((self.limiter_ramp_s * sample_rate as f32) as usize).max(1);
        (ceiling, ramp)
    }
}

/// What levelling needs to know of audio that arrives a block at a time: its energy and peak.
#[derive(Clone, Copy, Debug, Default)]
pub struct LevelStats {
    sum_sq: f64,
    count: usize,
    peak: f32,
}

impl LevelStats {
    pub fn add(&mut self, samples: &[f32]) {
        self.count += samples.len();
        for &x in samples {
            self.sum_sq += f64::from(x) * f64::from(x);
            self.peak = self.peak.max(x.abs());
        }
    }

    /// The one gain that brings the audio to the RMS target, held back so the limiter never
    /// has to take off more than its maximum; `None` for silence, which stays as it is.
    pub fn gain(&self, opts: &LoudnessOptions) -> Option<f32> {
        if self.count == 0 || self.peak.is_nan() || self.peak <= 0.0 {
            return None;
        }
        let rms = (self.sum_sq / self.count as f64).sqrt() as f32;
        let (ceiling, _) = opts.limiter(1);
        let rms_gain = db_to_gain(opts.target_rms_dbfs) / rms;
        let limit_gain = ceiling / self.peak * db_to_gain(opts.max_limiting_db.max(0.0));
        Some(rms_gain.min(limit_gain))
    }

    /// Whether `gain` takes the peak over the ceiling, so the limiter must run.
    pub fn needs_limiter(&self, gain: f32, opts: &LoudnessOptions) -> bool {
        self.peak * gain > opts.limiter(1).0
    }
}

/// Look-ahead limiter: the required gain per sample, min-held over `ramp` samples ahead and
/// box-averaged over `ramp` samples behind, is never above what any sample needs, so no sample
/// exceeds `ceiling`, and the gain moves in ramps instead of steps.
pub fn limit(channels: &mut [Vec<f32>], ceiling: f32, ramp: usize) {
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
