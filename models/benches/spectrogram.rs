//! Spectrogram image -> audio for one 512 x 512 image (5.12 s): ours against torchaudio's
//! path (Riffusion's arguments) in the same run. Run with
//! `cargo bench -p bgm-models --bench spectrogram`. The torchaudio side needs a Python with
//! torch and torchaudio: `$BGM_PARITY_PYTHON`, else /work/venv-parity/bin/python; without one
//! only our time is printed.

#[path = "bench_common/mod.rs"]
mod bench_common;

#[path = "../tests/speech_common/mod.rs"]
mod speech_common;

use bench_common::peak_rss_mib;
use bench_common::python;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bgm_models::spectrogram::{
    ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};
use image::{DynamicImage, RgbImage};

const RUNS: usize = 3;
/// Seeds for the round-trip comparison.
const SEEDS: u64 = 3;

/// A 5.12 s chord progression, so the image looks like music rather than noise.
fn chord_audio(sr: f32, len: usize) -> Vec<f32> {
    let chords: [[f32; 3]; 4] = [
        [261.63, 329.63, 392.00],
        [220.00, 261.63, 329.63],
        [174.61, 220.00, 261.63],
        [196.00, 246.94, 293.66],
    ];
    (0..len)
        .map(|i| {
            let t = i as f32 / sr;
            let chord = &chords[((t / 1.28) as usize).min(3)];
            chord
                .iter()
                .flat_map(|&f| (1..=4).map(move |h| (f, h as f32)))
                .map(|(f, h)| (2.0 * std::f32::consts::PI * f * h * t).sin() * 0.15 / h)
                .sum::<f32>()
        })
        .collect()
}

/// This process's user + system CPU time, seconds (Linux only).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// What one run of the torchaudio script gave.
struct TorchRun {
    seconds: f64,
    cpu_seconds: Option<f64>,
    /// Griffin-Lim's raw output for seeds 0..SEEDS (empty unless asked for).
    waves: Vec<Vec<f32>>,
}

/// Times torchaudio's path on an image's red channel, and with `waves` also returns its raw
/// Griffin-Lim output for each seed.
fn torchaudio_run(red: &[u8], width: usize, runs: usize, waves: bool) -> Option<TorchRun> {
    let python = python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/parity/spectrogram/bench_torchaudio.py");
    let dir = tempfile::tempdir().ok()?;
    let raw = dir.path().join("red.u8");
    std::fs::write(&raw, red).ok()?;
    let prefix = dir.path().join("wave-");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .arg(&raw)
        .arg(width.to_string())
        .arg(runs.to_string());
    if waves {
        command.arg(&prefix).arg(SEEDS.to_string());
    }
    let out = match command.output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "torchaudio run failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("cannot run {}: {e}", python.display());
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let waves = if waves {
        (0..SEEDS)
            .map(|seed| read_f32s(&PathBuf::from(format!("{}{seed}.f32", prefix.display()))))
            .collect::<Option<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Some(TorchRun {
        seconds: field("seconds=")?,
        cpu_seconds: field("cpu_seconds="),
        waves,
    })
}

fn read_f32s(path: &Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// 5.12 s of espeak-ng speech at 44.1 kHz.
fn speech_audio(len: usize) -> Option<Vec<f32>> {
    let text = "Background music for every video, made on your own machine, in a minute or two.";
    match speech_common::espeak_speech(text) {
        Ok(mut speech) => {
            speech.resize(len, 0.0);
            Some(speech)
        }
        Err(e) => {
            eprintln!("no speech image: {e}");
            None
        }
    }
}

/// Mean absolute difference in pixel levels between an image and the image of `wave`.
fn round_trip_error(conv: &SpectrogramConverter, image: &RgbImage, wave: &[f32]) -> f64 {
    let back = conv
        .audio_to_image(&[wave])
        .expect("audio -> image")
        .image
        .to_rgb8();
    let width = image.width().min(back.width());
    let mut sum = 0u64;
    for x in 0..width {
        for y in 0..image.height() {
            sum += u64::from(image.get_pixel(x, y)[0].abs_diff(back.get_pixel(x, y)[0]));
        }
    }
    sum as f64 / f64::from(width * image.height())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Round-trip error of our unlevelled output and torchaudio's raw Griffin-Lim on one image,
/// averaged over seeds 0..SEEDS.
fn compare_round_trip(conv: &SpectrogramConverter, name: &str, image: &DynamicImage) {
    let rgb = image.to_rgb8();
    let ours: Vec<f64> = (0..SEEDS)
        .map(|seed| {
            let opts = ImageToAudioOptions {
                phase_init: PhaseInit::Random { seed },
            };
            let audio = conv.image_to_audio(image, &opts).expect("image -> audio");
            round_trip_error(conv, &rgb, &audio.channels[0])
        })
        .collect();
    let red: Vec<u8> = rgb.pixels().map(|p| p.0[0]).collect();
    match torchaudio_run(&red, rgb.width() as usize, 1, true) {
        Some(run) => {
            let theirs: Vec<f64> = run
                .waves
                .iter()
                .map(|w| round_trip_error(conv, &rgb, w))
                .collect();
            println!(
                "  {name}: ours {:.2}, torchaudio's raw Griffin-Lim {:.2} pixel levels; ratio {:.3}",
                mean(&ours),
                mean(&theirs),
                mean(&ours) / mean(&theirs)
            );
        }
        None => println!(
            "  {name}: ours {:.2} pixel levels (torchaudio not run)",
            mean(&ours)
        ),
    }
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let params = SpectrogramParams::default();
    let start = Instant::now();
    let conv = SpectrogramConverter::new(params.clone()).expect("default parameters");
    let setup = start.elapsed().as_secs_f64();

    let len = params.hop_length * 511;
    let audio = chord_audio(params.sample_rate as f32, len);
    let image = conv.audio_to_image(&[audio]).expect("audio -> image").image;
    assert_eq!((image.width(), image.height()), (512, 512));

    let opts = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed: 7 },
    };
    let mut best = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    for _ in 0..RUNS {
        let cpu = cpu_seconds();
        let t = Instant::now();
        let out = conv.image_to_audio(&image, &opts).expect("image -> audio");
        best = best.min(t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu, cpu_seconds()) {
            best_cpu = best_cpu.min(b - a);
        }
        assert_eq!(out.len(), 225_351);
    }
    // Where the time goes.
    let t = Instant::now();
    let mel = conv.mel_from_image(&image).expect("mel").remove(0);
    let t_mel = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let linear = conv.linear_from_mel(&mel);
    let t_inv = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = conv.griffin_lim(&linear, PhaseInit::Random { seed: 7 }, 0);
    let t_gl = t.elapsed().as_secs_f64();
    let threads = rayon::current_num_threads();
    println!("spectrogram 512x512 image -> audio ({threads} threads)");
    println!("  ours:       {best:.3} s (best of {RUNS}; converter setup {setup:.3} s, once)");
    if best_cpu.is_finite() {
        println!("  ours CPU:   {best_cpu:.2} s");
    }
    println!(
        "    pixels -> mel {:.1} ms, inverse mel {:.1} ms, Griffin-Lim {:.1} ms",
        t_mel * 1e3,
        t_inv * 1e3,
        t_gl * 1e3
    );
    if let Some(mib) = peak_rss_mib() {
        println!("  ours peak RSS (VmHWM): {mib:.0} MiB");
    }
    let red: Vec<u8> = image.to_rgb8().pixels().map(|p| p.0[0]).collect();
    match torchaudio_run(&red, image.width() as usize, 2, false) {
        Some(run) => {
            let theirs = run.seconds;
            println!("  torchaudio: {theirs:.3} s (best of 2)");
            println!("  speed-up:   {:.1}x", theirs / best);
            if let Some(cpu) = run.cpu_seconds.filter(|_| best_cpu.is_finite()) {
                println!(
                    "  torchaudio CPU: {cpu:.2} s, CPU-time ratio {:.1}x",
                    cpu / best_cpu
                );
            }
        }
        None => {
            println!("  torchaudio: not run (set BGM_PARITY_PYTHON to a Python with torchaudio)")
        }
    }

    println!(
        "round trip, image -> audio -> image, mean |pixel difference| over seeds 0-{}:",
        SEEDS - 1
    );
    compare_round_trip(&conv, "chords", &image);
    match speech_audio(len) {
        Some(speech) => {
            let speech_image = conv
                .audio_to_image(&[speech])
                .expect("speech -> image")
                .image;
            compare_round_trip(&conv, "speech", &speech_image);
        }
        None => println!("  speech: not run"),
    }
}
