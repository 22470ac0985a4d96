//! Whisper on CPU, ours against transformers in the same run, on identical work: the
//! whisper-base configuration with random weights exported by
//! `tools/parity/whisper/bench_transformers.py --export DIR` (default
//! /work/bench/whisper-base-random, or `$BGM_WHISPER_BENCH_DIR`).
//!
//! - encoder forward of one 30 s window `[1, 80, 3000]`;
//! - 100 decoder steps with the KV cache: the 3-token prompt (SOT, en, transcribe) with the
//!   cross-attention keys/values computed there, then 99 steps of one token each
//!   (ids 220 + i, fixed, so the work does not depend on the weights);
//! - the same 100 steps without a cache (the whole prefix recomputed each step, as candle's
//!   own Whisper does), to measure what the cache saves.
//!
//! Run with `cargo bench -p bgm-models --bench whisper`. The transformers side needs
//! `$BGM_PARITY_PYTHON`, else /work/venv-parity/bin/python.

#[path = "bench_common/mod.rs"]
mod bench_common;

use bench_common::{median_time, python};
use std::path::{Path, PathBuf};
use std::process::Command;

use bgm_models::device::ComputeDevice;
use bgm_models::stt::Whisper;
use candle_core::Tensor;

const RUNS: usize = 5;
const PROMPT: [u32; 3] = [50258, 50259, 50359];
const STEPS: usize = 100;

fn bench_dir() -> PathBuf {
    std::env::var_os("BGM_WHISPER_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/bench/whisper-base-random"))
}

fn time(f: impl FnMut()) -> f64 {
    median_time(RUNS, f)
}

fn step_tokens() -> Vec<u32> {
    (0..STEPS as u32 - 1).map(|i| 220 + i).collect()
}

fn transformers_seconds(dir: &Path) -> Option<(f64, f64)> {
    let python = python()?;
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/parity/whisper/bench_transformers.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg("--time")
        .arg(dir)
        .arg("--runs")
        .arg(RUNS.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "transformers run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))?;
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    Some((
        json.get("encoder_s")?.as_f64()?,
        json.get("decoder_steps_s")?.as_f64()?,
    ))
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let dir = bench_dir();
    let weights = dir.join("model.safetensors");
    if !weights.is_file() {
        eprintln!(
            "no benchmark model at {}: run tools/parity/whisper/bench_transformers.py --export {}",
            dir.display(),
            dir.display()
        );
        return;
    }
    let whisper = Whisper::from_folder(&dir, &[weights], &ComputeDevice::cpu()).expect("load");
    let model = whisper.model();
    let mel: Vec<f32> = (0..80 * 3000)
        .map(|i| ((i as f32 * 0.618_034).fract() * 2.0) - 1.0)
        .collect();
    let mel = Tensor::from_vec(mel, (1, 80, 3000), model.device()).expect("mel");
    let mut audio = None;
    let encoder = time(|| audio = Some(model.encode(&mel).expect("encode")));
    let audio = audio.expect("ran");

    let steps = step_tokens();
    let cached = time(|| {
        let mut cache = model.start(&audio, 1).expect("start");
        let prompt = Tensor::new(&PROMPT, model.device())
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let h = model.decode(&prompt, &mut cache).expect("prompt");
        model.last_logits(&h).expect("logits");
        for &t in &steps {
            let ids = Tensor::new(&[t], model.device())
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let h = model.decode(&ids, &mut cache).expect("step");
            model.last_logits(&h).expect("logits");
        }
    });
    let uncached = time(|| {
        let mut prefix: Vec<u32> = PROMPT.to_vec();
        for i in 0..STEPS {
            if i > 0 {
                prefix.push(steps[i - 1]);
            }
            let mut cache = model.start(&audio, 1).expect("start");
            let ids = Tensor::new(prefix.as_slice(), model.device())
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let h = model.decode(&ids, &mut cache).expect("prefix");
            model.last_logits(&h).expect("logits");
        }
    });

    println!("whisper-base (random weights), CPU, medians of {RUNS}:");
    println!("  ours encoder forward:          {encoder:.3} s");
    println!("  ours {STEPS} decoder steps, cache:  {cached:.3} s");
    println!(
        "  ours {STEPS} decoder steps, no cache (whole prefix each step): {uncached:.3} s = {:.2}x the cached time",
        uncached / cached
    );
    match transformers_seconds(&dir) {
        Some((enc, dec)) => {
            println!("  transformers encoder forward:  {enc:.3} s");
            println!("  transformers {STEPS} decoder steps: {dec:.3} s");
            println!(
                "  ratio encoder (ours / transformers): {:.2}x",
                encoder / enc
            );
            println!(
                "  ratio decoder (ours / transformers): {:.2}x",
                cached / dec
            );
        }
        None => println!(
            "  transformers: not run (set BGM_PARITY_PYTHON to a Python with transformers)"
        ),
    }
}
