//! Riffusion's components at full SD 1.5 size (random weights) on the CPU: ours against
//! diffusers / transformers doing the same work in the same run, with the ratio per component
//! (target: ≤ 1.0×) and our peak memory.
//!
//! The weights come from `tools/parity/riffusion/make_fixtures.py --bench DIR` (about 4 GB,
//! keep it outside the repository); point `BGM_SD15_RANDOM` at DIR (default
//! /work/bench/sd15-random). The reference side needs a Python with torch, transformers and
//! diffusers: `$BGM_PARITY_PYTHON`, else /work/venv-parity/bin/python; without one only our
//! times are printed. `BGM_BENCH_ONLY=clip,unet_batch2,unet_batch8,vae_decode,generate` picks
//! parts. `generate` is ours alone, run last and once: the app's four candidates at 512², two
//! DPM-Solver++ steps, with the process's peak memory during it (the figure issue 18 asked for).
//! The UNet and VAE parts also hand their inputs and outputs to the reference, which runs the
//! same inputs and reports the largest difference: the fast CPU kernels (Winograd
//! convolutions among them) checked at full size, where the tiny parity models do not reach.
//! Run with `cargo bench -p bgm-models --bench riffusion`.

#[path = "bench_common/mod.rs"]
mod bench_common;

use bench_common::{peak_rss_mib, reference_values, reset_peak_rss};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bgm_models::device::ComputeDevice;
use bgm_models::riffusion::{
    generate, CandidateRequest, GenerateOptions, NoiseRng, RiffusionModel,
};
use bgm_models::task::{no_progress, CancelToken};
use bgm_models::weights::WeightsConfig;
use candle_core::Tensor;

const RUNS: usize = 2;

/// Best wall time of RUNS after one warm-up.
fn best_of(mut f: impl FnMut()) -> f64 {
    f();
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Raw little-endian f32, as the reference reads it with numpy.
fn save(dir: &Path, name: &str, tensor: &Tensor) {
    let values = tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{name}.f32")), bytes).unwrap();
}

fn reference(folder: &Path, only: &[String], compare: &Path) -> HashMap<String, f64> {
    let args = [
        folder.into(),
        RUNS.to_string().into(),
        only.join(",").into(),
        compare.into(),
    ];
    reference_values("riffusion/bench_diffusers.py", &args)
}

/// The app's four candidates in one generate call: its time and the process's peak memory
/// during it (the weights, the batch of eight UNet rows with guidance, four VAE decodes).
fn four_candidates(model: &RiffusionModel) -> (f64, Option<f64>) {
    reset_peak_rss();
    let candidates: Vec<CandidateRequest> =
        ["calm piano", "tense strings", "happy ukulele", "sad cello"]
            .iter()
            .zip(0u64..)
            .map(|(prompt, seed)| CandidateRequest::new(*prompt, seed))
            .collect();
    let options = GenerateOptions {
        steps: 2,
        ..GenerateOptions::default()
    };
    let start = Instant::now();
    let generated = generate(
        model,
        &candidates,
        &options,
        None,
        &mut no_progress(),
        &CancelToken::new(),
    )
    .expect("generating four candidates");
    assert_eq!(generated.images.len(), 4);
    (start.elapsed().as_secs_f64(), peak_rss_mib())
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let folder = PathBuf::from(
        std::env::var("BGM_SD15_RANDOM").unwrap_or_else(|_| "/work/bench/sd15-random".into()),
    );
    if !folder.join("unet").is_dir() {
        eprintln!(
            "no SD 1.5 components in {}; write them with tools/parity/riffusion/make_fixtures.py --bench {}",
            folder.display(),
            folder.display()
        );
        return;
    }
    let all = ["clip", "unet_batch2", "unet_batch8", "vae_decode"];
    let only: Vec<String> = match std::env::var("BGM_BENCH_ONLY") {
        Ok(v) => v.split(',').map(str::to_string).collect(),
        Err(_) => all
            .iter()
            .chain(&["generate"])
            .map(|s| s.to_string())
            .collect(),
    };
    let device = ComputeDevice::cpu();
    let scratch = tempfile::tempdir().unwrap();
    let weights = WeightsConfig::offline_in(scratch.path());
    let model = RiffusionModel::from_folder(&folder, &weights, &device)
        .expect("loading the SD 1.5 components");
    let mut rng = NoiseRng::new(0);
    let mut ours = HashMap::new();
    let compare = scratch.path().join("compare");
    std::fs::create_dir_all(&compare).unwrap();
    if only.iter().any(|o| o == "clip") {
        let ids: Vec<Vec<u32>> = (0..2)
            .map(|_| {
                (0..77)
                    .map(|_| ((rng.normal().abs() * 10000.0) as u32) % 49408)
                    .collect()
            })
            .collect();
        ours.insert(
            "clip",
            best_of(|| {
                model.text_encoder.encode_ids(&ids).unwrap();
            }),
        );
    }
    for batch in [2usize, 8] {
        let name = if batch == 2 {
            "unet_batch2"
        } else {
            "unet_batch8"
        };
        if !only.iter().any(|o| o == name) {
            continue;
        }
        let latents = rng.tensor(&[batch, 4, 64, 64], &device.device).unwrap();
        let hidden = rng.tensor(&[batch, 77, 768], &device.device).unwrap();
        let mut noise = None;
        ours.insert(
            name,
            best_of(|| noise = Some(model.predict_noise(&latents, 481.0, &hidden).unwrap())),
        );
        save(&compare, &format!("{name}.in0"), &latents);
        save(&compare, &format!("{name}.in1"), &hidden);
        save(&compare, &format!("{name}.out"), &noise.unwrap());
    }
    if only.iter().any(|o| o == "vae_decode") {
        let latents = rng.tensor(&[1, 4, 64, 64], &device.device).unwrap();
        let mut images = None;
        ours.insert(
            "vae_decode",
            best_of(|| images = Some(model.vae.decode_raw(&latents).unwrap())),
        );
        save(&compare, "vae_decode.in0", &latents);
        save(&compare, "vae_decode.out", &images.unwrap());
    }
    let peak = peak_rss_mib();
    let generate_part = only
        .iter()
        .any(|o| o == "generate")
        .then(|| four_candidates(&model));
    drop(model);
    let theirs = reference(&folder, &only, &compare);
    println!(
        "{:<12} {:>10} {:>12} {:>7}   max |ours - diffusers| (max |diffusers|)",
        "component", "ours (s)", "diffusers (s)", "ratio"
    );
    for name in all {
        let Some(&t) = ours.get(name) else { continue };
        let difference = match (
            theirs.get(&format!("{name}_max_err")),
            theirs.get(&format!("{name}_max_abs")),
        ) {
            (Some(e), Some(a)) => format!("{e:.2e} ({a:.2})"),
            _ => "-".into(),
        };
        match theirs.get(name) {
            Some(&r) => println!(
                "{name:<12} {t:>10.3} {r:>12.3} {:>6.2}x   {difference}",
                t / r
            ),
            None => println!("{name:<12} {t:>10.3} {:>12} {:>7}", "-", "-"),
        }
    }
    if let Some(peak) = peak {
        println!("peak memory (ours, whole process): {peak:.0} MiB");
    }
    if let Some((seconds, peak)) = generate_part {
        let peak = peak.map_or("-".into(), |p| format!("{p:.0} MiB"));
        println!("4-candidate generate, 2 steps (ours): {seconds:.1} s, peak memory {peak}");
    }
    if let Some(p) = theirs.get("peak_rss_mib") {
        println!("peak memory (diffusers process): {p:.0} MiB");
    }
}
