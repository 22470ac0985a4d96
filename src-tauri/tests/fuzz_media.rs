//! Damaged media never panics or hangs the app: the committed fixtures, mutated (truncated,
//! bits flipped, a container box zeroed), go through probe, audio decoding and thumbnails.
//! Each case ends within 10 s with a valid result or an error that names the file.
//!
//! `cargo test` runs `BGM_FUZZ_CASES` cases (2,000 by default, about 15 s); `make fuzz` runs
//! 50,000. Cases are reproducible: a failure names the case number, which seeds everything
//! about it; `BGM_FUZZ_VERBOSE=1` prints each case first (a crash inside FFmpeg ends the
//! process) and `BGM_FUZZ_KEEP=DIR` keeps the damaged files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bgm_models::seed::SplitMix64;
use bgm_models::task::CancelToken;
use bgm_studio::media::{decode_audio, probe, thumbnails, MediaError};
use common::fixture;

const SOURCES: &[&str] = &[
    "h264_aac.mp4",
    "clip.mov",
    "rotated.mp4",
    "clip.mkv",
    "vp9_opus.webm",
    "audio_only.m4a",
    "no_audio.mp4",
];
const LIMIT: Duration = Duration::from_secs(10);

/// MP4/MOV boxes and Matroska element ids worth breaking: the index, the sample tables.
const MARKERS: &[&[u8]] = &[
    b"moov",
    b"trak",
    b"mdia",
    b"minf",
    b"stbl",
    b"stsd",
    b"stsz",
    b"stco",
    b"stts",
    b"stsc",
    b"avcC",
    b"esds",
    b"mdat",
    &[0x1A, 0x45, 0xDF, 0xA3],
    &[0x18, 0x53, 0x80, 0x67],
    &[0x16, 0x54, 0xAE, 0x6B],
    &[0x1F, 0x43, 0xB6, 0x75],
];

/// Case `n`: which fixture, and how it is broken.
fn mutate(n: u64, bytes: &[u8]) -> (Vec<u8>, String) {
    let mut rng = SplitMix64::keyed(0xF022, n as usize, 0);
    let mut out = bytes.to_vec();
    let pick = |rng: &mut SplitMix64, below: usize| (rng.next_u64() % below.max(1) as u64) as usize;
    let how = match n % 3 {
        0 => {
            let keep = pick(&mut rng, out.len());
            out.truncate(keep);
            format!("truncated to {keep} bytes")
        }
        1 => {
            let flips = 1 + pick(&mut rng, 16);
            for _ in 0..flips {
                let at = pick(&mut rng, out.len());
                out[at] ^= 1 << pick(&mut rng, 8);
            }
            format!("{flips} bits flipped")
        }
        _ => {
            let marker = MARKERS[pick(&mut rng, MARKERS.len())];
            let found: Vec<usize> = out
                .windows(marker.len())
                .enumerate()
                .filter(|(_, w)| w == &marker)
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                let at = pick(&mut rng, out.len());
                let end = (at + 64).min(out.len());
                out[at..end].fill(0);
                format!("64 bytes zeroed at {at}")
            } else {
                // The box's size field and the first bytes of its content.
                let at = found[pick(&mut rng, found.len())].saturating_sub(4);
                let end = (at + 4 + marker.len() + pick(&mut rng, 256)).min(out.len());
                out[at..end].fill(0);
                format!(
                    "{:?} zeroed at {at}..{end}",
                    String::from_utf8_lossy(marker)
                )
            }
        }
    };
    (out, how)
}

/// Probe, decode and thumbnails on `path`; a panic becomes an error message.
fn exercise(path: &Path) -> Result<(), String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let named = |err: MediaError| {
        let text = err.to_string();
        if text.contains(&name) {
            Ok(())
        } else {
            Err(format!("an error that does not name the file: {text}"))
        }
    };
    let run = || -> Result<(), String> {
        match probe(path) {
            Ok(info) => {
                if let Err(e) = decode_audio(path, 16_000, 1, &mut |_| {}, &CancelToken::new()) {
                    named(e)?;
                }
                if info.has_video() {
                    if let Err(e) = thumbnails(path, 3, 64) {
                        named(e)?;
                    }
                }
                Ok(())
            }
            Err(e) => named(e),
        }
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err("panicked".into()))
}

#[test]
fn damaged_media_gives_a_result_or_a_clear_error_never_a_panic_or_a_hang() {
    let cases: u64 = std::env::var("BGM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let sources: Vec<(String, Vec<u8>)> = SOURCES
        .iter()
        .map(|name| (name.to_string(), std::fs::read(fixture(name)).unwrap()))
        .collect();
    let verbose = std::env::var_os("BGM_FUZZ_VERBOSE").is_some();
    let dir = tempfile::tempdir().unwrap();
    // To reproduce a crash by hand: BGM_FUZZ_KEEP=folder keeps every case's file there.
    let keep = std::env::var_os("BGM_FUZZ_KEEP").map(PathBuf::from);
    let started = Instant::now();
    let (mut errors, mut slowest) = (0u64, Duration::ZERO);
    for n in 0..cases {
        let (name, bytes) = &sources[(n as usize / 3) % sources.len()];
        let (damaged, how) = mutate(n, bytes);
        let path: PathBuf = keep
            .as_deref()
            .unwrap_or(dir.path())
            .join(format!("case{n}-{name}"));
        std::fs::write(&path, &damaged).unwrap();
        if verbose {
            // A crash inside FFmpeg ends the process: the last case printed is the culprit.
            eprintln!("case {n}: {name}, {how}");
        }
        let (done, result) = mpsc::channel();
        let worker_path = path.clone();
        let case_started = Instant::now();
        std::thread::spawn(move || {
            let _ = done.send(exercise(&worker_path));
        });
        let outcome = result
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("case {n} ({name}, {how}) ran over {LIMIT:?}"));
        slowest = slowest.max(case_started.elapsed());
        if let Err(problem) = outcome {
            panic!("case {n} ({name}, {how}): {problem}");
        }
        if probe(&path).is_err() {
            errors += 1;
        }
        if keep.is_none() {
            let _ = std::fs::remove_file(&path);
        }
    }
    println!(
        "{cases} cases in {:.1} s ({errors} refused at probe), slowest {:.2} s",
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64()
    );
}
