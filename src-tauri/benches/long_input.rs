//! A long video through the whole pipeline in bounded memory.
//!
//! `cargo bench -p bgm-studio --bench long_input` makes a 60-minute video with the ffmpeg
//! command line (160x90 test pattern at 5 fps; a beeping 220 Hz tone under an espeak-ng phrase
//! at the start of every minute), then runs every stage with the tiny random models at one
//! diffusion step, and the export. For each it prints the time and the process's peak resident
//! memory during that stage alone (the peak is reset between stages through
//! `/proc/self/clear_refs`). It fails if a stage's peak passes the limit: 1.5 GB besides the
//! process as it stood before the first stage (libraries, the tiny models are a few MB).
//!
//! `BGM_LONG_MINUTES` sets another length: memory must not grow with it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bgm_models::device::ComputeDevice;
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use bgm_studio::jobs::{JobStore, StageName};
use bgm_studio::pipeline::{export_candidate, ExportRequest, Pipeline, PipelineConfig};
use common::{install_tiny_models, run_ffmpeg};

const LIMIT_BYTES: u64 = 1_500_000_000;

const PHRASES: [&str; 6] = [
    "Welcome back to the workshop, today we build a wooden chair.",
    "This part is tricky, so take your time and measure twice.",
    "I am so happy with how this turned out, it looks wonderful.",
    "Careful now, the saw is sharp and the board is slipping.",
    "That was a disaster, the glue did not hold at all.",
    "Thank you for watching, see you next week.",
];

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number of kB");
    kb * 1024
}

/// Starts a new peak: VmHWM goes back to the current resident size.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS (Linux 4.0+)");
}

fn make_video(dir: &Path, minutes: u32) -> std::path::PathBuf {
    let mut list = String::new();
    for (i, phrase) in PHRASES.iter().enumerate() {
        let spoken = dir.join(format!("phrase{i}.wav"));
        let status = Command::new("espeak-ng")
            .args(["-w", spoken.to_str().unwrap(), phrase])
            .status()
            .expect("espeak-ng is installed");
        assert!(status.success());
        // Each phrase at the start of its own minute.
        let minute = dir.join(format!("minute{i}.wav"));
        run_ffmpeg(&[
            "-i",
            spoken.to_str().unwrap(),
            "-af",
            "apad=whole_dur=60",
            "-ar",
            "48000",
            "-ac",
            "1",
            minute.to_str().unwrap(),
        ]);
    }
    for m in 0..minutes as usize {
        let minute = dir.join(format!("minute{}.wav", m % PHRASES.len()));
        list.push_str(&format!("file '{}'\n", minute.display()));
    }
    let list_path = dir.join("speech.txt");
    std::fs::write(&list_path, list).unwrap();
    let seconds = (minutes * 60).to_string();
    let out = dir.join(format!("long_{minutes}min.mp4"));
    let picture = format!("testsrc2=size=160x90:rate=5:duration={seconds}");
    let tone = format!("sine=frequency=220:beep_factor=4:sample_rate=48000:duration={seconds}");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &picture,
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        list_path.to_str().unwrap(),
        "-f",
        "lavfi",
        "-i",
        &tone,
        "-filter_complex",
        "[2:a]volume=0.15[bed];[1:a][bed]amix=inputs=2:duration=longest:normalize=0[a]",
        "-map",
        "0:v",
        "-map",
        "[a]",
        "-t",
        &seconds,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "35",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-ac",
        "2",
        out.to_str().unwrap(),
    ]);
    out
}

struct Measured {
    what: String,
    seconds: f64,
    /// Resident when the stage began: what earlier stages left behind.
    resident_before: u64,
    peak: u64,
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let minutes: u32 = std::env::var("BGM_LONG_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(60);
    let root = tempfile::tempdir().unwrap();
    println!("making a {minutes}-minute test video…");
    let started = Instant::now();
    let video = make_video(root.path(), minutes);
    println!(
        "  {:.0} s, {:.1} MB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&video).unwrap().len() as f64 / 1e6
    );

    let models = root.path().join("models");
    install_tiny_models(&models);
    let weights = WeightsConfig {
        models_dir: Some(models),
        ..WeightsConfig::offline_in(root.path())
    };
    let mut config = PipelineConfig::new(weights, ComputeDevice::cpu());
    config.steps = Some(1);
    let store = JobStore::in_data_dir(&root.path().join("data"));
    let job = store.create(&video).unwrap();
    let cancel = CancelToken::new();

    let baseline = status_bytes("VmRSS:");
    let mut measured = Vec::new();
    let mut measure = |what: String, work: &mut dyn FnMut()| {
        reset_peak();
        let resident_before = status_bytes("VmRSS:");
        let started = Instant::now();
        work();
        let m = Measured {
            what,
            seconds: started.elapsed().as_secs_f64(),
            resident_before,
            peak: status_bytes("VmHWM:"),
        };
        println!(
            "{:<10} {:>8.1} s   peak RSS {:>6.3} GB ({:+.3} GB over the start; {:.3} GB when it began)",
            m.what,
            m.seconds,
            gb(m.peak),
            gb(m.peak.saturating_sub(baseline)),
            gb(m.resident_before)
        );
        measured.push(m);
    };
    println!("before the first stage: {:.3} GB resident", gb(baseline));
    for stage in StageName::ALL {
        measure(format!("{stage:?}"), &mut || {
            Pipeline::new(&store, &config)
                .run(job.id, stage, &mut |_| {}, &cancel)
                .unwrap_or_else(|e| panic!("{stage:?}: {e}"));
        });
    }
    let dest = root.path().join("exported.mp4");
    measure("Export".into(), &mut || {
        let request = ExportRequest {
            job: job.id,
            candidate: 0,
            dest: &dest,
            overwrite: false,
        };
        export_candidate(
            &store,
            &request,
            &config,
            &mut bgm_models::task::no_progress(),
            &cancel,
        )
        .unwrap();
    });
    let total: f64 = measured.iter().map(|m| m.seconds).sum();
    println!("all stages and the export: {total:.0} s for {minutes} minutes of video");
    let over: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.peak.saturating_sub(baseline) > LIMIT_BYTES)
        .collect();
    for m in &over {
        eprintln!(
            "{}: peak {:.3} GB, more than {:.1} GB over the start",
            m.what,
            gb(m.peak),
            gb(LIMIT_BYTES)
        );
    }
    assert!(over.is_empty(), "memory is not bounded");
}
