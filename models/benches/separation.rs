//! Demucs v4 (htdemucs) at full size with random weights on the CPU: our separation of a mix
//! against the demucs package's on the same mix, checkpoint, settings and thread count, in the
//! same run. Prints seconds per minute of audio for both, the ratio (target: ≤ 1.0×), our
//! peak memory, and the largest difference between the two sets of stems.
//!
//! The checkpoint and mix come from `tools/parity/separation/make_fixtures.py --bench DIR`
//! (85 MB, kept outside the repository); point `BGM_HTDEMUCS_RANDOM` at DIR (default
//! /work/bench/htdemucs-random). `BGM_BENCH_SECONDS` sets the length (default 30). With
//! `BGM_BENCH_STREAM=1` it instead streams that many seconds (the 60 s mix repeated) through
//! `separate_stream`, as the pipeline's stage does, and reports time and peak memory alone: the
//! memory of a long input. The reference
//! needs a Python with the demucs package: `$BGM_PARITY_PYTHON`, else
//! /work/venv-parity/bin/python; without one only our time is printed.
//! Run with `cargo bench -p bgm-models --bench separation`.

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bench_common::{peak_rss_mib, reference_values};
use bgm_models::separation::{checkpoint, separate, separate_stream, HtDemucs, MixStatistics};
use candle_core::Device;

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn reference(folder: &Path, seconds: f64, ours: &Path) -> HashMap<String, f64> {
    let threads = rayon::current_num_threads();
    let args = [
        folder.into(),
        seconds.to_string().into(),
        threads.to_string().into(),
        ours.into(),
    ];
    reference_values("separation/bench_demucs.py", &args)
}

fn main() {
    bgm_models::heap::reuse_large_allocations();
    let folder = PathBuf::from(
        std::env::var("BGM_HTDEMUCS_RANDOM")
            .unwrap_or_else(|_| "/work/bench/htdemucs-random".into()),
    );
    let checkpoint_path = folder.join("htdemucs.th");
    if !checkpoint_path.is_file() {
        eprintln!(
            "no htdemucs.th in {}; write it with tools/parity/separation/make_fixtures.py --bench {}",
            folder.display(),
            folder.display()
        );
        return;
    }
    let seconds: f64 = std::env::var("BGM_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let model = checkpoint::load(&checkpoint_path, &Device::Cpu).expect("loading htdemucs");
    let rate = model.config().samplerate;
    let mix = read_f32(&folder.join("mix_60s.f32"));
    if std::env::var_os("BGM_BENCH_STREAM").is_some() {
        stream(&model, &mix, seconds);
        return;
    }
    let full = mix.len() / 2;
    let length = ((seconds * rate as f64) as usize).min(full);
    let audio: Vec<f32> = [&mix[..length], &mix[full..full + length]].concat();

    // One segment first, so allocations and plans are warm.
    let segment = model.config().segment_samples().min(length);
    let first: Vec<f32> = [&audio[..segment], &audio[length..length + segment]].concat();
    model.forward(&first).expect("one segment");
    let start = Instant::now();
    let stems = separate(&model, &audio).expect("separating");
    let ours = start.elapsed().as_secs_f64();
    let minutes = length as f64 / rate as f64 / 60.0;

    let scratch = tempfile::tempdir().unwrap();
    let ours_path = scratch.path().join("ours.f32");
    let bytes: Vec<u8> = stems.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&ours_path, bytes).unwrap();
    println!(
        "separation of {:.1} s, {} threads: ours {:.2} s ({:.2} s per minute of audio), peak RSS {:.0} MiB",
        length as f64 / rate as f64,
        rayon::current_num_threads(),
        ours,
        ours / minutes,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    let reference = reference(&folder, length as f64 / rate as f64, &ours_path);
    if let Some(theirs) = reference.get("reference_seconds") {
        println!(
            "demucs (PyTorch): {theirs:.2} s ({:.2} s per minute), peak RSS {:.0} MiB; ratio ours/reference {:.2}x",
            theirs / minutes,
            reference.get("reference_peak_rss_mib").unwrap_or(&f64::NAN),
            ours / theirs
        );
    }
    if let (Some(diff), Some(peak)) = (
        reference.get("max_abs_difference"),
        reference.get("max_abs_output"),
    ) {
        println!(
            "largest difference from the reference's stems: {diff:.2e} (stems up to {peak:.2})"
        );
    }
}

/// `seconds` of the mix, repeated, through the streaming separation: nothing of the input or
/// the stems is held beyond the segments in flight.
fn stream(model: &HtDemucs, mix: &[f32], seconds: f64) {
    let rate = model.config().samplerate;
    let period = mix.len() / 2;
    let length = (seconds * rate as f64) as usize;
    let sample = |c: usize, t: usize| mix[c * period + t % period];
    let mut stats = MixStatistics::default();
    for start in (0..length).step_by(period) {
        let n = period.min(length - start);
        let block: Vec<f32> = (0..2)
            .flat_map(|c| (start..start + n).map(move |t| sample(c, t)))
            .collect();
        stats.add(&block, 2);
    }
    let mut read = |start: isize, len: usize| {
        Ok((0..2)
            .flat_map(|c| {
                (0..len).map(move |i| {
                    let t = start + i as isize;
                    if t >= 0 && (t as usize) < length {
                        sample(c, t as usize)
                    } else {
                        0.0
                    }
                })
            })
            .collect())
    };
    let (mut written, mut energy) = (0usize, 0f64);
    let mut write = |block: &[f32], n: usize| {
        written += n;
        energy += block.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
        Ok(())
    };
    let start = Instant::now();
    separate_stream(model, length, stats, &mut read, &mut write, &mut |_, _| {
        true
    })
    .expect("separating");
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(written, length);
    println!(
        "streamed separation of {:.0} s, {} threads: {:.1} s ({:.2} s per minute of audio), peak RSS {:.0} MiB (stem energy {energy:.3e})",
        seconds,
        rayon::current_num_threads(),
        elapsed,
        elapsed / (seconds / 60.0),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
