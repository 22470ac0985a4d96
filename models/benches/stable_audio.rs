//! Stable Audio 3's DiT at full small-music size (random weights) on the CPU: one sampling
//! step for four candidates of 60 s (4 rows × 712 latent frames) as the loop runs it (ours:
//! the conditioning's share prepared once per loop, timed apart), ours against the reference
//! code (stable-audio-3 636f906, PyTorch) on the same inputs in the same run, with the ratio
//! (target: ≤ 1.0×), the largest difference between the two velocities, and our peak memory.
//!
//! The weights and inputs come from `tools/parity/stable_audio/bench_dit.py write DIR` (1.8 GB;
//! keep it outside the repository); point `BGM_SA3_RANDOM` at DIR (default
//! /work/bench/sa3-random). The reference side needs `$BGM_PARITY_PYTHON` with torch 2.7.1 and
//! einops, and `SA3_SRC` pointing at the reference checkout; without them only our figures are
//! printed. Run with `cargo bench -p bgm-models --bench stable_audio`.

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::ffi::OsString;
use std::path::PathBuf;

use bench_common::{median_time, peak_rss_mib, reference_values, reset_peak_rss};
use bgm_models::stable_audio::{DiffusionTransformer, DitConfig, DitInputs};
use candle_core::{DType, Device};

const RUNS: usize = 3;

fn main() {
    // As the app does (bgm_studio::cli::main): freed activations stay mapped for the next step.
    bgm_models::heap::reuse_large_allocations();
    let dir = std::env::var_os("BGM_SA3_RANDOM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/bench/sa3-random"));
    let config = DitConfig::from_model_config(&dir.join("model_config.json")).unwrap_or_else(|e| {
        panic!("{e}; write the bench's files with tools/parity/stable_audio/bench_dit.py write")
    });
    let vb = bgm_models::weights::var_builder(
        &[dir.join("model.safetensors")],
        DType::F32,
        &Device::Cpu,
    )
    .expect("weights");
    let model = DiffusionTransformer::load(&config, vb.pp("model.model")).expect("the DiT");
    let inputs = candle_core::safetensors::load(dir.join("inputs.safetensors"), &Device::Cpu)
        .expect("inputs");
    let expected = candle_core::safetensors::load(dir.join("output.safetensors"), &Device::Cpu)
        .expect("output");
    let get = |name: &str| {
        inputs
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in inputs"))
    };
    let times: Vec<f32> = get("t").to_vec1().unwrap();
    let (rows, _, frames) = get("x").dims3().unwrap();
    let inputs = DitInputs {
        latents: get("x"),
        times: &times,
        context: get("context"),
        global: get("global"),
        local: Some(get("local")),
        padding: Some(get("padding")),
    };
    // A step inside the sampling loop: what the context and inpaint inputs give every step is
    // prepared once per loop (the reference recomputes it each step).
    let started = std::time::Instant::now();
    let prepared = model.prepare(&inputs).expect("prepare");
    let prepare_s = started.elapsed().as_secs_f64();
    let step = || {
        model
            .forward_prepared(&inputs, &prepared)
            .expect("DiT step")
    };

    reset_peak_rss();
    let out = step();
    let peak = peak_rss_mib().unwrap_or(f64::NAN);
    let difference: f32 = (&out - &expected["velocity"])
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar())
        .expect("difference");
    let ours = median_time(RUNS, || {
        step();
    });
    println!(
        "ours_dit_step_s={ours:.3} ({rows} rows × {frames} frames, f32, {} threads)",
        rayon::current_num_threads()
    );
    println!("ours_prepare_s={prepare_s:.3} (once per sampling loop)");
    println!("ours_peak_rss_mib={peak:.0}");
    println!("largest difference from the reference's velocity: {difference:.3e}");

    let reference = reference_values(
        "stable_audio/bench_dit.py",
        &[
            OsString::from("time"),
            dir.into_os_string(),
            OsString::from("--runs"),
            OsString::from(RUNS.to_string()),
            OsString::from("--threads"),
            OsString::from(rayon::current_num_threads().to_string()),
        ],
    );
    if let Some(theirs) = reference.get("torch_dit_step_s") {
        println!("torch_dit_step_s={theirs:.3}");
        println!("DiT step, ours / reference: {:.2}x", ours / theirs);
    }
}
