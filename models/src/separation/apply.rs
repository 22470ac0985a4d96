//! A whole recording through HTDemucs in overlapping segments, as `demucs.apply.apply_model`
//! with `split=True, overlap=0.25, shifts=0` under `demucs.separate`'s normalisation: the input is
//! standardised by its mono mix's mean and standard deviation, each segment's output is
//! weighted by a triangle and the overlaps are averaged.
//!
//! It streams: segments are read through a callback and finished samples are handed on in
//! order as soon as no later segment overlaps them, so memory stays at a few segments whatever
//! the length.

use super::error::{Result, SeparationError};
use super::model::HtDemucs;

/// Fraction of each segment shared with the next one.
const OVERLAP: f64 = 0.25;

/// Mean and (unbiased) standard deviation of the mono mix, accumulated block by block.
#[derive(Clone, Copy, Debug, Default)]
pub struct MixStatistics {
    count: u64,
    sum: f64,
    sum_squares: f64,
}

impl MixStatistics {
    /// Adds `channels` planes of samples.
    pub fn add(&mut self, audio: &[f32], channels: usize) {
        let length = audio.len() / channels;
        for i in 0..length {
            let mono = (0..channels)
                .map(|c| audio[c * length + i] as f64)
                .sum::<f64>()
                / channels as f64;
            self.count += 1;
            self.sum += mono;
            self.sum_squares += mono * mono;
        }
    }

    pub fn of(audio: &[f32], channels: usize) -> Self {
        let mut stats = Self::default();
        stats.add(audio, channels);
        stats
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }

    pub fn std(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = self.count as f64;
        ((self.sum_squares - self.sum * self.sum / n) / (n - 1.0))
            .max(0.0)
            .sqrt()
    }
}

/// Where each segment starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub struct SegmentPlan {
    pub segment: usize,
    pub stride: usize,
    pub length: usize,
}

impl SegmentPlan {
    pub fn new(segment: usize, length: usize) -> Self {
        Self {
            segment,
            stride: ((1.0 - OVERLAP) * segment as f64) as usize,
            length,
        }
    }

    pub fn offsets(&self) -> impl Iterator<Item = usize> {
        (0..self.length).step_by(self.stride.max(1))
    }

    pub fn count(&self) -> usize {
        self.length.div_ceil(self.stride.max(1))
    }

    /// The triangle each segment's output is weighted by, peaking at 1 in the middle.
    fn weights(&self) -> Vec<f32> {
        let n = self.segment;
        let rising = (1..=n / 2).map(|i| i as f32);
        let falling = (1..=n - n / 2).rev().map(|i| i as f32);
        let weights: Vec<f32> = rising.chain(falling).collect();
        let peak = weights.iter().cloned().fold(0.0, f32::max);
        weights.into_iter().map(|w| w / peak).collect()
    }
}

/// Reads `channels` planes of `len` samples from `start` (zero outside the recording).
pub type ReadWindow<'a> = dyn FnMut(isize, usize) -> Result<Vec<f32>> + 'a;
/// Receives finished samples in order: `[sources, channels, n]` planar, and `n`.
pub type WriteBlock<'a> = dyn FnMut(&[f32], usize) -> Result<()> + 'a;

/// Separates `length` samples read through `read`, handing the stems to `write`.
/// `progress(done, total)` is told after each segment; returning `false` cancels.
pub fn separate_stream(
    model: &HtDemucs,
    length: usize,
    stats: MixStatistics,
    read: &mut ReadWindow,
    write: &mut WriteBlock,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<()> {
    let config = model.config();
    let channels = config.audio_channels;
    let planes = config.sources.len() * channels;
    let plan = SegmentPlan::new(config.segment_samples(), length);
    if length == 0 {
        return Err(SeparationError::Input(
            "the recording has no samples".into(),
        ));
    }
    let weights = plan.weights();
    let (mean, std) = (stats.mean() as f32, stats.std() as f32);
    // A silent (constant) recording has nothing to separate: every stem but the mix's
    // constant is silence, which the reference would compute as 0 / 0.
    let scale = if std > 0.0 { std } else { 1.0 };

    // Samples from `done` on that some segment has touched, per plane, and their weight sums.
    let mut done = 0usize;
    let mut pending: Vec<Vec<f32>> = vec![Vec::new(); planes];
    let mut pending_weight: Vec<f32> = Vec::new();
    let total = plan.count();
    for (index, offset) in plan.offsets().enumerate() {
        let chunk = (length - offset).min(plan.segment);
        let delta = plan.segment - chunk;
        let start = offset as isize - (delta / 2) as isize;
        let mut window = read(start, plan.segment)?;
        // Standardise what lies inside the recording; the padding stays zero, as in the reference.
        let inside = |i: usize| {
            let t = start + i as isize;
            t >= 0 && (t as usize) < length
        };
        for plane in window.chunks_mut(plan.segment) {
            for (i, v) in plane.iter_mut().enumerate() {
                *v = if inside(i) { (*v - mean) / scale } else { 0.0 };
            }
        }
        let out = model.forward(&window)?;

        let end = offset + chunk - done;
        pending_weight.resize(end, 0.0);
        let from = offset - done;
        for (plane, acc) in pending.iter_mut().enumerate() {
            acc.resize(end, 0.0);
            let source = &out[plane * plan.segment + delta / 2..][..chunk];
            for ((a, s), w) in acc[from..].iter_mut().zip(source).zip(&weights) {
                *a += w * s;
            }
        }
        for (a, w) in pending_weight[from..].iter_mut().zip(&weights) {
            *a += w;
        }

        // Everything before the next segment's start is final.
        let next = (offset + plan.stride).min(length);
        let ready = next - done;
        let mut block = Vec::with_capacity(planes * ready);
        for acc in &mut pending {
            for (v, w) in acc.drain(..ready).zip(&pending_weight) {
                block.push(v / w * scale + mean);
            }
        }
        pending_weight.drain(..ready);
        write(&block, ready)?;
        done = next;
        if !progress(index + 1, total) {
            return Err(SeparationError::Cancelled);
        }
    }
    debug_assert_eq!(done, length);
    Ok(())
}

/// The in-memory form: `audio` is `channels` planes; returns `[sources, channels, length]`.
pub fn separate(model: &HtDemucs, audio: &[f32]) -> Result<Vec<f32>> {
    let channels = model.config().audio_channels;
    let planes = model.config().sources.len() * channels;
    let length = audio.len() / channels;
    let mut read = |start: isize, len: usize| -> Result<Vec<f32>> {
        let mut window = vec![0f32; channels * len];
        for c in 0..channels {
            let plane = &audio[c * length..(c + 1) * length];
            for (i, v) in window[c * len..(c + 1) * len].iter_mut().enumerate() {
                let t = start + i as isize;
                if t >= 0 && (t as usize) < length {
                    *v = plane[t as usize];
                }
            }
        }
        Ok(window)
    };
    let mut stems: Vec<Vec<f32>> = vec![Vec::with_capacity(length); planes];
    let mut write = |block: &[f32], n: usize| -> Result<()> {
        for (stem, part) in stems.iter_mut().zip(block.chunks(n)) {
            stem.extend_from_slice(part);
        }
        Ok(())
    };
    separate_stream(
        model,
        length,
        MixStatistics::of(audio, channels),
        &mut read,
        &mut write,
        &mut |_, _| true,
    )?;
    Ok(stems.concat())
}
