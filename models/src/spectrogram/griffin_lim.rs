//! Griffin-Lim phase reconstruction with torchaudio.functional.griffinlim semantics
//! (power 1, length None, momentum applied as m / (1 + m), angles normalised with |a| + 1e-16).
//!
//! Each iteration is one parallel pass over frames (STFT of the current signal, momentum
//! update, inverse FFT of the new estimate) followed by one parallel overlap-add. All buffers
//! are allocated before the loop.

use rayon::prelude::*;
use realfft::num_complex::Complex32;

use super::stft::{FramePlan, FrameScratch};
use crate::seed::SplitMix64;

/// How Griffin-Lim picks its starting phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseInit {
    /// torchaudio's `rand_init=True`: complex start with real and imaginary parts uniform in
    /// [0, 1), drawn from our seeded generator.
    Random { seed: u64 },
    /// `Random` for frames that are part of a longer spectrogram starting `first_frame`
    /// columns in: each frame draws what it would draw in the whole spectrogram, so pieces
    /// converted apart start from the same phases where they overlap.
    RandomFrom { seed: u64, first_frame: usize },
    /// torchaudio's `rand_init=False`: every bin starts at 1 + 0i (for parity tests).
    Ones,
}

/// Magnitudes of one channel: `n_frames` rows of `active_bins` values; bins above are zero.
pub struct Magnitudes<'a> {
    pub data: &'a [f32],
    pub n_frames: usize,
    pub active_bins: usize,
}

/// Output samples for `n_frames` columns: `hop * (n_frames - 1)` (torch.istft, length=None).
pub fn output_len(plan: &FramePlan, n_frames: usize) -> usize {
    plan.hop * n_frames.saturating_sub(1)
}

pub fn griffin_lim(
    plan: &FramePlan,
    mags: &Magnitudes<'_>,
    iters: usize,
    momentum: f32,
    init: PhaseInit,
    channel: usize,
) -> Vec<f32> {
    let n = mags.n_frames;
    let k = mags.active_bins;
    let win = plan.win_length();
    let len = output_len(plan, n);
    if n == 0 || k == 0 {
        return vec![0.0; len];
    }
    let inv_env = plan.inverse_envelope(n, len);
    let alpha = momentum / (1.0 + momentum);

    // Contiguous frame groups, one scratch per group: no allocation inside the loop and
    // results independent of the thread count.
    let threads = rayon::current_num_threads().max(1);
    let group = n.div_ceil(threads * 4).max(1);
    let n_groups = n.div_ceil(group);
    let mut scratches: Vec<FrameScratch> = (0..n_groups).map(|_| plan.scratch()).collect();

    let mut angles = vec![Complex32::new(1.0, 0.0); n * k];
    let random = match init {
        PhaseInit::Random { seed } => Some((seed, 0)),
        PhaseInit::RandomFrom { seed, first_frame } => Some((seed, first_frame)),
        PhaseInit::Ones => None,
    };
    if let Some((seed, first_frame)) = random {
        angles.par_chunks_mut(k).enumerate().for_each(|(t, row)| {
            let mut rng = SplitMix64::keyed(seed, channel, first_frame + t);
            for a in row {
                let re = rng.next_f32();
                let im = rng.next_f32();
                *a = Complex32::new(re, im);
            }
        });
    }
    let mut prev = vec![Complex32::default(); n * k];
    let mut frames = vec![0.0f32; n * win];
    let mut signal = vec![0.0f32; len];
    let ola_chunk = 4096;

    // Initial inverse with the starting phases.
    frames
        .par_chunks_mut(group * win)
        .zip(scratches.par_iter_mut())
        .enumerate()
        .for_each(|(g, (out, scratch))| {
            for (i, out) in out.chunks_mut(win).enumerate() {
                let t = g * group + i;
                let row = t * k..(t + 1) * k;
                inverse_of(plan, &mags.data[row.clone()], &angles[row], scratch, out);
            }
        });
    overlap_add_all(plan, &frames, &inv_env, &mut signal, ola_chunk);

    for iter in 0..iters {
        let first = iter == 0;
        let sig = &signal;
        frames
            .par_chunks_mut(group * win)
            .zip(angles.par_chunks_mut(group * k))
            .zip(prev.par_chunks_mut(group * k))
            .zip(scratches.par_iter_mut())
            .enumerate()
            .for_each(|(g, (((out, ang), prv), scratch))| {
                let rows = out
                    .chunks_mut(win)
                    .zip(ang.chunks_mut(k))
                    .zip(prv.chunks_mut(k));
                for (i, ((out, ang), prv)) in rows.enumerate() {
                    let t = g * group + i;
                    plan.forward_frame(sig, t, scratch);
                    for ((a, p), &r) in ang.iter_mut().zip(prv.iter_mut()).zip(&scratch.spec[..k]) {
                        // torch: angles = rebuilt - tprev * alpha (tprev is 0 on the first pass).
                        let v = if first { r } else { r - *p * alpha };
                        // |v| as sqrt(re² + im²): libm's hypot, which `norm` calls, costs
                        // several times more, and these magnitudes cannot overflow.
                        let norm = (v.re * v.re + v.im * v.im).sqrt();
                        *a = v / (norm + 1e-16);
                        *p = r;
                    }
                    inverse_of(plan, &mags.data[t * k..(t + 1) * k], ang, scratch, out);
                }
            });
        overlap_add_all(plan, &frames, &inv_env, &mut signal, ola_chunk);
    }
    signal
}

/// Windowed inverse of `mag * angle` (bins >= `mag.len()` are zero).
fn inverse_of(
    plan: &FramePlan,
    mag: &[f32],
    angle: &[Complex32],
    scratch: &mut FrameScratch,
    out: &mut [f32],
) {
    let k = mag.len();
    for ((s, &m), &a) in scratch.spec[..k].iter_mut().zip(mag).zip(angle) {
        *s = a * m;
    }
    scratch.spec[k..].fill(Complex32::default());
    plan.inverse_frame(scratch, out);
}

fn overlap_add_all(
    plan: &FramePlan,
    frames: &[f32],
    inv_env: &[f32],
    signal: &mut [f32],
    chunk: usize,
) {
    signal
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(c, out)| plan.overlap_add(frames, inv_env, c * chunk, out));
}
