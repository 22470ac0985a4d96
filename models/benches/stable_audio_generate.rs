//! A whole Stable Audio 3 generation at full small-music size (random weights) on the CPU:
//! four candidates of 60 s in one batch, 8 steps, the text encoder and the SAME-S decoder
//! included, ours against the reference's `StableAudioModel.generate` in the same run, with
//! the ratio (target: ≤ 1.0×, and under 6 minutes on the 2-core machine) and both peaks of
//! memory (target: under 4 GB).
//!
//! The folder comes from `tools/parity/stable_audio/bench_generate.py write DIR` (about
//! 3.4 GB; keep it outside the repository); point `BGM_SA3_FULL` at DIR (default
//! /work/bench/sa3-full). The reference side needs `$BGM_PARITY_PYTHON` (torch 2.7.1,
//! transformers, tokenizers) and `SA3_SRC`; without them only our figures are printed. One run
//! each (a run takes minutes). Run with `cargo bench -p bgm-models --bench
//! stable_audio_generate`; `BGM_SA3_SECONDS` changes the length.

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use bench_common::{peak_rss_mib, reference_values, reset_peak_rss};
use bgm_models::device::ComputeDevice;
use bgm_models::stable_audio::{MusicRequest, StableAudio, DEFAULT_STEPS};
use bgm_models::task::CancelToken;

const ROWS: usize = 4;
const PROMPT: &str =
    "joyful, uplifting bouncy pop piano with handclaps, upbeat fast tempo, bright major key, 120 BPM";

fn main() {
    // As the app does (bgm_studio::cli::main): freed activations stay mapped for the next step.
    bgm_models::heap::reuse_large_allocations();
    let dir = std::env::var_os("BGM_SA3_FULL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/bench/sa3-full"));
    let seconds: f64 = std::env::var("BGM_SA3_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0);

    reset_peak_rss();
    let loaded = Instant::now();
    let model = StableAudio::from_folder(&dir, false, &ComputeDevice::cpu()).unwrap_or_else(|e| {
        panic!("{e}; write the folder with tools/parity/stable_audio/bench_generate.py write")
    });
    let load_s = loaded.elapsed().as_secs_f64();
    let prompts = [PROMPT; ROWS];
    let seeds: Vec<u64> = (0..ROWS as u64).collect();
    let started = Instant::now();
    // Progress comes after each step and at the end: the steps' times, and the decoder's.
    let mut marks = Vec::new();
    let music = model
        .generate(
            &MusicRequest {
                prompts: &prompts,
                seeds: &seeds,
                seconds,
                steps: DEFAULT_STEPS,
                continuation: None,
            },
            &mut |_: f64| marks.push(started.elapsed().as_secs_f64()),
            &CancelToken::new(),
        )
        .expect("generate");
    let ours = started.elapsed().as_secs_f64();
    if let [first, .., last_step, _] = marks[..] {
        let steps = last_step - first;
        println!(
            "ours: text and first step {first:.1} s, the other {} steps {steps:.1} s ({:.1} s each), \
             SAME-S decode of {ROWS} candidates {:.1} s",
            DEFAULT_STEPS - 1,
            steps / (DEFAULT_STEPS - 1) as f64,
            ours - last_step
        );
    }
    let peak = peak_rss_mib().unwrap_or(f64::NAN);
    assert_eq!(music.audio.dims()[0], ROWS);
    println!(
        "ours_generate_s={ours:.1} ({ROWS} × {seconds} s, {DEFAULT_STEPS} steps, f32, {} threads; loading {load_s:.1} s more)",
        rayon::current_num_threads()
    );
    println!("ours_peak_rss_mib={peak:.0}");

    let reference = reference_values(
        "stable_audio/bench_generate.py",
        &[
            OsString::from("time"),
            dir.into_os_string(),
            OsString::from("--seconds"),
            OsString::from(seconds.to_string()),
            OsString::from("--rows"),
            OsString::from(ROWS.to_string()),
            OsString::from("--threads"),
            OsString::from(rayon::current_num_threads().to_string()),
        ],
    );
    if let Some(theirs) = reference.get("torch_generate_s") {
        println!("torch_generate_s={theirs:.1}");
        if let Some(rss) = reference.get("torch_peak_rss_mib") {
            println!("torch_peak_rss_mib={rss:.0}");
        }
        println!("generate, ours / reference: {:.2}x", ours / theirs);
    }
    if let (Some(theirs), [.., last_step, _]) = (reference.get("torch_same_decode_s"), &marks[..]) {
        let ours_each = (ours - last_step) / ROWS as f64;
        println!("torch_same_decode_s={theirs:.1} (one candidate)");
        println!(
            "SAME-S decode of one candidate, ours / reference: {:.2}x ({ours_each:.1} s against {theirs:.1} s)",
            ours_each / theirs
        );
    }
}
