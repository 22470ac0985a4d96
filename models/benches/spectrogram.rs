//! Spectrogram image -> audio for one 512 x 512 image (5.12 s): ours against torchaudio's
//! path (Riffusion's arguments) in the same run. Run with
//! `cargo bench -p bgm-models --bench spectrogram`. The torchaudio side needs a Python with
//! torch and torchaudio: `$BGM_PARITY_PYTHON`, else /work/venv-parity/bin/python; without one
//! only our time is printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bgm_models::spectrogram::{
    ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};

const RUNS: usize = 3;

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

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BGM_PARITY_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = Path::new("/work/venv-parity/bin/python");
    default.exists().then(|| default.to_path_buf())
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

/// (wall, CPU) seconds of torchaudio's path.
fn torchaudio_seconds(red: &[u8], width: usize) -> Option<(f64, Option<f64>)> {
    let python = python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/parity/spectrogram/bench_torchaudio.py");
    let raw = std::env::temp_dir().join(format!("bgm-spectrogram-bench-{}.u8", std::process::id()));
    std::fs::write(&raw, red).ok()?;
    let out = Command::new(&python)
        .arg(&script)
        .arg(&raw)
        .arg(width.to_string())
        .arg("2")
        .output();
    let _ = std::fs::remove_file(&raw);
    let out = match out {
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
    Some((field("seconds=")?, field("cpu_seconds=")))
}

fn main() {
    let params = SpectrogramParams::default();
    let start = Instant::now();
    let conv = SpectrogramConverter::new(params.clone()).expect("default parameters");
    let setup = start.elapsed().as_secs_f64();

    let audio = chord_audio(params.sample_rate as f32, params.hop_length * 511);
    let image = conv.audio_to_image(&[audio]).expect("audio -> image").image;
    assert_eq!((image.width(), image.height()), (512, 512));

    let opts = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed: 7 },
        ..ImageToAudioOptions::default()
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
    match torchaudio_seconds(&red, image.width() as usize) {
        Some((theirs, theirs_cpu)) => {
            println!("  torchaudio: {theirs:.3} s (best of 2)");
            println!("  speed-up:   {:.1}x", theirs / best);
            if let Some(cpu) = theirs_cpu.filter(|_| best_cpu.is_finite()) {
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
}
