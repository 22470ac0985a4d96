//! Helpers for the tests that open a real (ALSA) audio output on a machine without a sound card.
//!
//! ALSA's `null` PCM is no use for timing tests: it swallows audio as fast as the CPU can make
//! it (about 100x real time), so the playback position races to the end. Instead the test
//! process points ALSA at its own configuration (`ALSA_CONFIG_PATH`), whose default PCM is the
//! `file` plugin writing into a FIFO, and a thread of the test process drains that FIFO at
//! exactly 44.1 kHz stereo f32. The writes block when the FIFO is full, so the audio callback
//! runs at real-time speed, just like with a sound card. The position then leads wall-clock time
//! by what fits in the FIFO and ALSA's buffer, about 0.2-0.3 s; the tests allow for that.
//!
//! Linux only (ALSA, `mkfifo`). The variable must be set before the process first touches ALSA,
//! so every test calls [`paced_null_audio`] first; it also serialises the tests, because all
//! players of the process share the one FIFO.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The `plug` PCM converts whatever cpal opens to this format before the FIFO.
const BYTES_PER_SECOND: f64 = 44_100.0 * 2.0 * 4.0;

/// How far the reader may catch up after the scheduler held it back, so that a loaded machine
/// slows the simulated device down less (a real sound card does not slow down at all).
const CATCH_UP: Duration = Duration::from_millis(50);

/// Sets up the paced output once per process and returns a guard that serialises its users.
pub fn paced_null_audio() -> MutexGuard<'static, ()> {
    static SETUP: OnceLock<tempfile::TempDir> = OnceLock::new();
    static SERIAL: Mutex<()> = Mutex::new(());
    SETUP.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("player-alsa")
            .tempdir()
            .unwrap();
        let fifo = dir.path().join("out.fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success(), "mkfifo failed");
        let config = dir.path().join("asound.conf");
        std::fs::write(&config, alsa_config(&fifo)).unwrap();
        std::thread::spawn(move || drain_in_real_time(&fifo));
        std::env::set_var("ALSA_CONFIG_PATH", &config);
        dir
    });
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn alsa_config(fifo: &Path) -> String {
    format!(
        r#"pcm.!default {{
    type plug
    slave {{
        pcm {{
            type file
            slave.pcm {{ type null }}
            file "{}"
            format "raw"
        }}
        format FLOAT_LE
        rate 44100
        channels 2
    }}
}}
"#,
        fifo.display()
    )
}

/// Reads the FIFO at real-time speed forever; each player's stream opens and closes it.
fn drain_in_real_time(fifo: &Path) {
    let mut buf = vec![0u8; 3528]; // 10 ms
    loop {
        // Blocks until a stream opens the FIFO for writing.
        let Ok(mut file) = std::fs::File::open(fifo) else {
            return;
        };
        let mut due = Instant::now();
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break, // the stream closed; wait for the next one
                Ok(n) => {
                    let now = Instant::now();
                    if let Some(earliest) = now.checked_sub(CATCH_UP) {
                        due = due.max(earliest);
                    }
                    due += Duration::from_secs_f64(n as f64 / BYTES_PER_SECOND);
                    std::thread::sleep(due.saturating_duration_since(now));
                }
            }
        }
    }
}

/// Writes a `seconds`-long 44.1 kHz stereo sine, 16-bit or 32-bit float, as the app does.
pub fn write_sine(path: &Path, freq: f32, seconds: f32, float: bool) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: if float { 32 } else { 16 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    let frames = (seconds * 44_100.0).round() as usize;
    for i in 0..frames {
        let x = 0.3 * (std::f32::consts::TAU * freq * i as f32 / 44_100.0).sin();
        for _ in 0..2 {
            if float {
                writer.write_sample(x).unwrap();
            } else {
                writer.write_sample((x * 32_767.0) as i16).unwrap();
            }
        }
    }
    writer.finalize().unwrap();
}

/// Four 2-second candidates with different tones; the last one is 32-bit float.
pub fn four_candidates(dir: &Path) -> Vec<PathBuf> {
    [220.0, 330.0, 440.0, 550.0]
        .iter()
        .enumerate()
        .map(|(i, &freq)| {
            let path = dir.join(format!("candidate-{i}.wav"));
            write_sine(&path, freq, 2.0, i == 3);
            path
        })
        .collect()
}

/// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}
